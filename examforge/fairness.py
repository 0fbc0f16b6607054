"""Equal exams: every student's copy of a slot asks the same kind of question, and no student
gets the same question twice.

- **One kind per slot.** A type whose draw chooses between kinds of question (the attention or
  the MLP block, which distribution, L1 or L2...) names that Params field in `kind_field`. Unless
  the spec pins the kind (`kind: mlp`, or the field in `overrides`) or lets it vary (`kind: any`),
  the slot's kind is drawn once from (exam seed, slot, type) and every student gets it.
- **No repeats.** Within one student's exam no two slots give the same question (type and
  params), and no two free-response questions the same answer. A draw that would repeat one is
  drawn again from the next seed in a fixed sequence derived from (exam seed, student id, slot,
  attempt); the seed used is the one recorded in the manifest.
"""

from __future__ import annotations

import hashlib
import typing
from typing import Any

import numpy as np

from examforge.errors import GenerationError, InputError
from examforge.seeding import question_seed

_KIND_TAG = 0x6B696E64  # "kind"
MAX_REDRAWS = 50
ANY = "any"


def kinds_of(qtype) -> tuple:
    """The values of a type's kind field (from its Params annotation), () for a type without one."""
    name = getattr(qtype, "kind_field", None)
    if not name:
        return ()
    annotation = qtype.Params.model_fields[name].annotation
    return tuple(typing.get_args(annotation))


def slot_kind(exam_seed: int, slot: int, qtype) -> Any:
    """The kind every student gets in this slot, drawn once from (exam seed, slot, type id)."""
    values = kinds_of(qtype)
    words = [int.from_bytes(hashlib.sha256(qtype.id.encode()).digest()[i:i + 4], "little") for i in (0, 4)]
    rng = np.random.default_rng(np.random.SeedSequence([exam_seed, slot, _KIND_TAG, *words]))
    return values[int(rng.integers(len(values)))]


def slot_overrides(q, qtype, exam_seed: int, slot: int) -> dict | None:
    """The slot's overrides with its kind pinned (see the module docstring)."""
    overrides = dict(q.overrides or {})
    name = getattr(qtype, "kind_field", None)
    if not name or q.params is not None or name in overrides:
        return overrides or None
    kind = getattr(q, "kind", None)
    if kind == ANY:
        return overrides or None
    values = kinds_of(qtype)
    if kind is not None:
        if kind not in values:
            raise InputError(f"kind {kind!r} is not a kind of {qtype.id}; its kinds are "
                             f"{', '.join(map(str, values))} (or 'any' to let it vary)")
        overrides[name] = kind
    else:
        overrides[name] = slot_kind(exam_seed, slot, qtype)
    return overrides


def redraw_seed(exam_seed: int, student_id: str, slot: int, attempt: int) -> int:
    """The seed of a slot's `attempt`-th draw (attempt 0 is the slot's own seed)."""
    if attempt == 0:
        return question_seed(exam_seed, student_id, slot)
    return question_seed(exam_seed, f"{student_id}\x00redraw-{attempt}", slot)


def signature(variant) -> str:
    return variant.qtype.id + "|" + variant.params.model_dump_json()


def answer_text(variant) -> str | None:
    """The answer of a free-response question as compared across slots (None for other forms)."""
    if variant.form != "free":
        return None
    from examforge.text import latex_to_text

    return "".join(latex_to_text(variant.qtype.answer_latex(variant.answer)).split())


def repeats(variant, seen_questions: set, seen_answers: set) -> bool:
    if signature(variant) in seen_questions:
        return True
    text = answer_text(variant)
    return text is not None and text in seen_answers


def give_up(q, slot: int, student_id: str) -> GenerationError:
    return GenerationError(
        f"student {student_id}: question {slot + 1} ({q.label}) repeats another question or answer of "
        f"the same exam in {MAX_REDRAWS} draws; give the slot other ranges, another form or another type"
    )
