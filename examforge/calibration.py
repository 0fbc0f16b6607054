"""How tall each question's statement area and answer box must be, decided before any student.

A height the spec gives (question_height, box_height, parts) is used as it is. Otherwise LaTeX
measures the question on a fixed set of calibration draws (seeds derived from the exam seed,
never from the roster, so adding a student never moves a box) and the slot gets the tallest
one plus a margin, rounded up to a quarter centimetre. A question whose every variant is measured
(an authored question: calibration draws each of its variants) needs no margin for draws
calibration did not see. An answer box is as tall as what the student needs: the box of a
free-response question, or the options of a multiple-choice, select-all or true/false one (laid
out in the most compact arrangement in which every calibration draw's options fit, see
examforge.layout.ARRANGEMENTS); the key's content (its answer, the filled bubble and "Answer: B"
beside the options) must fit in that box and is measured too. A student whose content is still
taller fails the build by name; the message says which height to set."""

from __future__ import annotations

from dataclasses import dataclass

from examforge import fairness, registry
from examforge.layout import (
    ARRANGEMENTS,
    BOX_PAD_PT,
    BOX_RULE_PT,
    FALLBACK_MC_BOX_CM,
    FALLBACK_SETUP_CM,
    FALLBACK_STATEMENT_CM,
    FALLBACK_TF_BOX_CM,
    SlotHeights,
    cm_sp,
    length_sp,
    pt_sp,
    round_up_cm,
)
from examforge.seeding import question_seed, variant_rngs
from examforge.spec import ExamSpec, QuestionSpec
from examforge.variant import Variant, draw_in_build, make_variant

CALIBRATION_DRAWS = 24
STATEMENT_MARGIN = 1.08  # times the tallest calibration draw ...
STATEMENT_EXTRA_CM = 0.3  # ... plus this, or less when the draws hardly differ:
SPREAD_EXTRA_CM = 0.15  # the tallest plus the spread between the draws plus this
EXACT_STATEMENT_EXTRA_CM = 0.05  # every variant measured: rounding up, and a hair more
BOX_EXTRA_CM = 0.2  # room left in a free-response box beyond its key's answer
CHOICE_EXTRA_CM = 0.0  # options are filled in, not written: their box is what they take
FRAME_SP = 2 * pt_sp(BOX_RULE_PT) + 2 * pt_sp(BOX_PAD_PT)


def _explicit_statement(q: QuestionSpec) -> int | None:
    return length_sp(q.question_height) if q.question_height else None


def _explicit_boxes(q: QuestionSpec) -> tuple[int, ...] | None:
    if q.parts:
        return tuple(length_sp(p.box_height) for p in q.parts)
    if q.box_height:
        return (length_sp(q.box_height),)
    return None


def needs_calibration(q: QuestionSpec) -> bool:
    return _explicit_statement(q) is None or _explicit_boxes(q) is None


def fallback_heights(spec: ExamSpec) -> dict[int, SlotHeights]:
    """Heights without measuring: the spec's, else the type's box height and fixed fallbacks."""
    out = {}
    for slot, s_index, q in spec.slots():
        setup = cm_sp(FALLBACK_SETUP_CM) if setup_slot(spec, slot, s_index) else 0
        statement = _explicit_statement(q) or cm_sp(FALLBACK_STATEMENT_CM)
        boxes = _explicit_boxes(q)
        if boxes is None:
            forms = {q.form_for(m) for m in q.members}
            if forms <= {"mc", "multi"}:
                boxes = (cm_sp(FALLBACK_MC_BOX_CM),)
            elif forms == {"tf"}:
                boxes = (cm_sp(FALLBACK_TF_BOX_CM),)
            else:
                boxes = (_free_box(q),)
        out[slot] = SlotHeights(statement, boxes, setup=setup)
    return out


def setup_slot(spec: ExamSpec, slot: int, s_index: int) -> bool:
    """The first question of a section that prints its questions' shared setup under its heading."""
    section = spec.sections[s_index]
    return section.shared_setup and slot == sum(len(s.questions) for s in spec.sections[:s_index])


def _free_box(q: QuestionSpec) -> int:
    """The tallest free-response box any member of the slot asks for."""
    return max(length_sp(registry.get(m).box_height) for m in q.members if q.form_for(m) == "free")


@dataclass(frozen=True)
class Sample:
    slot: int
    variant: Variant


def calibration_samples(spec: ExamSpec, *, spec_path: str = "spec", draws: int = CALIBRATION_DRAWS) -> list[Sample]:
    """Draws that measure each slot: `draws` of a question type; for a pool, every member (each
    variant of an authored question, a share of the draws for a computed one)."""
    samples = []
    for slot, s_index, q in spec.slots():
        if not needs_calibration(q) and not setup_slot(spec, slot, s_index):
            continue
        members = q.members
        where = f"{spec_path}: sections[{s_index}] question slot {slot}"
        if q.params is not None:
            qtype = registry.get(q.generator)
            seed = question_seed(spec.seed, "~calibration", slot)
            samples.append(Sample(slot, draw_in_build(
                qtype, seed, context=f"calibration draw 0 of slot {slot}", form=q.form_for(qtype.id),
                params=q.params, where=where)))
            continue
        share = draws if len(members) == 1 else max(3, -(-draws // len(members)))
        for m_index, type_id in enumerate(members):
            qtype = registry.get(type_id)
            form = q.form_for(type_id)
            own = getattr(qtype, "calibration_params", None)
            if own is not None:
                for i, params in enumerate(own()):
                    seed = question_seed(spec.seed, f"~calibration-{m_index}-{i}", slot)
                    samples.append(Sample(slot, make_variant(qtype, params, form=form, seed=seed,
                                                             layout_rng=variant_rngs(seed)[1])))
                continue
            overrides = fairness.slot_overrides(q, qtype, spec.seed, slot)  # the slot's one kind
            for i in range(share):
                tag = f"~calibration-{i}" if len(members) == 1 else f"~calibration-{m_index}-{i}"
                seed = question_seed(spec.seed, tag, slot)
                samples.append(Sample(slot, draw_in_build(
                    qtype, seed, context=f"calibration draw {i} of slot {slot}", form=form,
                    overrides=overrides, ranges=q.ranges, where=where)))
    return samples


def _every_variant_measured(q: QuestionSpec) -> bool:
    """Calibration measures each variant of every member (authored questions): no draw is unseen."""
    return q.params is None and all(getattr(registry.get(m), "calibration_params", None) is not None
                                    for m in q.members)


def _with_margin(tallest: int, shortest: int) -> float:
    """Room for a student's draw taller than any calibration draw: 8% and 0.3 cm, or, when the
    draws' heights hardly vary (a statement whose numbers change but not its lines), their
    spread and 0.15 cm, whichever is less."""
    return tallest + min(tallest * (STATEMENT_MARGIN - 1) + cm_sp(STATEMENT_EXTRA_CM),
                         (tallest - shortest) + cm_sp(SPREAD_EXTRA_CM))


def choice_arrangement(measured: dict[tuple[int, str], int], slot: int) -> str | None:
    """The most compact arrangement of the slot's options in which no calibration draw had an
    option too wide for its cell; None when the slot has no multiple-choice options."""
    if not any((slot, f"box@{a}") in measured for a in ARRANGEMENTS):
        return None
    for a in ARRANGEMENTS[:-1]:
        if measured.get((slot, f"wide@{a}"), 1) == 0:
            return a
    return ARRANGEMENTS[-1]


def heights_from_measurements(spec: ExamSpec, measured: dict[tuple[int, str], int]) -> dict[int, SlotHeights]:
    """`measured[(slot, what)]` is the tallest natural height seen, in sp: "statement", a section's
    shared "setup" (at its first slot), and the answer box's content in the exam ("box") and in the key ("key"), for multiple choice in each
    arrangement ("box@row", "key@row", ... with "wide@row" 1 when an option did not fit its cell)."""
    out = fallback_heights(spec)
    for slot, _, q in spec.slots():
        statement = _explicit_statement(q)
        exact = _every_variant_measured(q)
        if statement is None and (slot, "statement") in measured:
            if exact:
                statement = round_up_cm(measured[slot, "statement"] + cm_sp(EXACT_STATEMENT_EXTRA_CM))
            else:
                statement = round_up_cm(_with_margin(measured[slot, "statement"],
                                                     measured.get((slot, "statement~min"), 0)))
            statement = max(statement, round_up_cm(measured.get((slot, "template"), 0)))  # the blank template's
        arrangement = choice_arrangement(measured, slot)
        boxes = _explicit_boxes(q)
        if boxes is None:
            contents = []
            if arrangement is not None:
                contents.append(max(measured[slot, f"box@{arrangement}"], measured.get((slot, f"key@{arrangement}"), 0)))
            if (slot, "key") in measured:
                contents.append(max(measured.get((slot, "box"), 0), measured[slot, "key"]))
            if contents:
                free = any(q.form_for(m) == "free" for m in q.members)
                # a box the exam prints something in (options, axes to sketch on) is as tall as
                # that and the key's content; an empty one leaves room to write beyond the key's answer
                printed = arrangement is not None or measured.get((slot, "box"), 0) > 0
                extra = CHOICE_EXTRA_CM if printed else BOX_EXTRA_CM
                need = round_up_cm(max(contents) + FRAME_SP + cm_sp(extra))
                if free:
                    need = max(need, _free_box(q))
                boxes = (need,)
        setup = out[slot].setup
        if setup and (slot, "setup") in measured:
            setup = round_up_cm(measured[slot, "setup"] + cm_sp(EXACT_STATEMENT_EXTRA_CM))  # the same text for all
        out[slot] = SlotHeights(statement or out[slot].statement, boxes or out[slot].boxes,
                                arrangement or out[slot].choices, setup)
    return out


def parse_measurements(efl_text: str) -> dict[tuple[int, str], int]:
    """The tallest of each measurement, and of statements also the shortest ("statement~min")."""
    measured: dict[tuple[int, str], int] = {}
    for line in efl_text.splitlines():
        if not line.startswith("M|"):
            continue
        _, slot, what, value = line.split("|")
        key = (int(slot), what)
        measured[key] = max(measured.get(key, 0), int(value))
        if what == "statement":
            low = (int(slot), "statement~min")
            measured[low] = min(measured.get(low, int(value)), int(value))
    return measured
