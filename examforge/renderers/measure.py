"""The calibration document: every calibration draw's statement and answer boxes (exam and key,
each option arrangement), typeset once so LaTeX measures the heights the one layout is planned
with (examforge.calibration reads the measurements back)."""

from __future__ import annotations

from examforge.calibration import Sample, setup_slot
from examforge.layout import ARRANGEMENTS
from examforge.renderers.exam import _answer_box, exam_statement, memoize_figures, points_label, template_statement
from examforge.renderers.latex import render
from examforge.spec import ExamSpec
from examforge.variant import Variant


def _measured_boxes(v: Variant, sketch=None, key_sketch=None) -> list[dict]:
    """The box contents a calibration draw is measured with, exam and key: the options in each
    arrangement (multiple choice, select all), or the one content (true/false, free response,
    with the sketch area the exam and the key put in the box)."""
    if v.choices and v.form in ("mc", "multi"):
        return [{"suffix": f"@{a}", "exam": _answer_box(v, key=False, arrangement=a),
                 "key": _answer_box(v, key=True, arrangement=a)} for a in ARRANGEMENTS]
    return [{"suffix": "", "exam": _answer_box(v, key=False, sketch=sketch),
             "key": _answer_box(v, key=True, sketch=key_sketch)}]


def calibration_document(spec: ExamSpec, layout_geometry: dict, samples: list[Sample]) -> str:
    items = []
    slots = spec.slots()
    for s in samples:
        _, s_index, q = slots[s.slot]
        parts = exam_statement(s.variant, shared_setup=spec.sections[s_index].shared_setup,
                               sketch_in_box=not q.parts, where=f"sections[{s_index}] (question {s.slot + 1})")
        items.append({
            "slot": s.slot,
            "generator": s.variant.qtype.id,
            "seed": s.variant.seed,
            "statement": parts.text,
            "what": "statement",
            "number": s.slot + 1,
            "points": points_label(q.points),
            "setup": parts.setup if setup_slot(spec, s.slot, s_index) else None,
            "boxes": _measured_boxes(s.variant, parts.sketch, parts.key_sketch),
        })
    firsts = {}
    for s in samples:  # the blank template's statement must fit the slot too
        firsts.setdefault((s.slot, s.variant.qtype.id), s)
    items += [
        {
            "slot": s.slot,
            "generator": s.variant.qtype.id,
            "seed": s.variant.seed,
            "statement": template_statement(s.variant),
            "number": s.slot + 1,
            "points": points_label(slots[s.slot][2].points),
            "what": "template",  # measured apart: it is no draw, and only its height must fit
            "setup": None,
            "boxes": [],
        }
        for s in firsts.values()
    ]
    return memoize_figures(render("measure.tex.j2", g=layout_geometry, title=spec.title, course=spec.course, items=items))
