"""How tall each question's statement area and answer box must be, decided before any student.

A height the spec gives (question_height, box_height, parts) is used as it is. Otherwise LaTeX
measures the question on a fixed set of calibration draws (seeds derived from the exam seed,
never from the roster, so adding a student never moves a box) and the slot gets the tallest
one plus a margin, rounded up to a quarter centimetre. A student whose content is still taller
fails the build by name; the message says which height to set."""

from __future__ import annotations

from dataclasses import dataclass

from examforge import registry
from examforge.layout import (
    BOX_PAD_PT,
    BOX_RULE_PT,
    FALLBACK_MC_BOX_CM,
    FALLBACK_STATEMENT_CM,
    FALLBACK_TF_BOX_CM,
    SlotHeights,
    cm_sp,
    length_sp,
    pt_sp,
    round_up_cm,
)
from examforge.seeding import question_seed
from examforge.spec import ExamSpec, QuestionSpec
from examforge.variant import Variant, draw_in_build

CALIBRATION_DRAWS = 24
STATEMENT_MARGIN = 1.08  # times the tallest calibration draw ...
STATEMENT_EXTRA_CM = 0.3  # ... plus this
BOX_EXTRA_CM = 0.2
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
    for slot, _, q in spec.slots():
        statement = _explicit_statement(q) or cm_sp(FALLBACK_STATEMENT_CM)
        boxes = _explicit_boxes(q)
        if boxes is None:
            if q.form == "mc":
                boxes = (cm_sp(FALLBACK_MC_BOX_CM),)
            elif q.form == "tf":
                boxes = (cm_sp(FALLBACK_TF_BOX_CM),)
            else:
                boxes = (length_sp(registry.get(q.generator).box_height),)
        out[slot] = SlotHeights(statement, boxes)
    return out


@dataclass(frozen=True)
class Sample:
    slot: int
    variant: Variant


def calibration_samples(spec: ExamSpec, *, spec_path: str = "spec", draws: int = CALIBRATION_DRAWS) -> list[Sample]:
    samples = []
    for slot, s_index, q in spec.slots():
        if not needs_calibration(q):
            continue
        qtype = registry.get(q.generator)
        where = f"{spec_path}: sections[{s_index}] question slot {slot}"
        for i in range(1 if q.params is not None else draws):
            label = "~calibration" if q.params is not None else f"~calibration-{i}"
            seed = question_seed(spec.seed, label, slot)
            samples.append(Sample(slot, draw_in_build(
                qtype, seed, context=f"calibration draw {i} of slot {slot}", form=q.form, params=q.params,
                overrides=q.overrides, ranges=q.ranges, where=where)))
    return samples


def calibration_document(spec: ExamSpec, layout_geometry: dict, samples: list[Sample]) -> str:
    from examforge.renderers.blocks import question_text
    from examforge.renderers.exam import _answer_box
    from examforge.renderers.latex import render

    items = [
        {
            "slot": s.slot,
            "generator": s.variant.qtype.id,
            "seed": s.variant.seed,
            "statement": question_text(s.variant),
            "exam_box": _answer_box(s.variant, key=False),
            "key_box": _answer_box(s.variant, key=True),
        }
        for s in samples
    ]
    from examforge.renderers.exam import memoize_figures

    return memoize_figures(render("measure.tex.j2", g=layout_geometry, title=spec.title, course=spec.course, items=items))


def heights_from_measurements(spec: ExamSpec, measured: dict[tuple[int, str], int]) -> dict[int, SlotHeights]:
    """`measured[(slot, "statement"|"box"|"key")]` is the tallest natural height seen, in sp."""
    out = fallback_heights(spec)
    for slot, _, q in spec.slots():
        statement = _explicit_statement(q)
        if statement is None and (slot, "statement") in measured:
            statement = round_up_cm(measured[slot, "statement"] * STATEMENT_MARGIN + cm_sp(STATEMENT_EXTRA_CM))
        boxes = _explicit_boxes(q)
        if boxes is None and (slot, "key") in measured:
            content = max(measured.get((slot, "box"), 0), measured[slot, "key"])
            need = round_up_cm(content + FRAME_SP + cm_sp(BOX_EXTRA_CM))
            if q.form == "free":
                need = max(need, length_sp(registry.get(q.generator).box_height))
            boxes = (need,)
        out[slot] = SlotHeights(statement or out[slot].statement, boxes or out[slot].boxes)
    return out


def parse_measurements(efl_text: str) -> dict[tuple[int, str], int]:
    measured: dict[tuple[int, str], int] = {}
    for line in efl_text.splitlines():
        if not line.startswith("M|"):
            continue
        _, slot, what, value = line.split("|")
        key = (int(slot), what)
        measured[key] = max(measured.get(key, 0), int(value))
    return measured
