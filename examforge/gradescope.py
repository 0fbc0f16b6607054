"""The Gradescope outputs: the regions of every question and part on the shared layout,
gradescope/outline.json (Gradescope's outline format), gradescope/layout.json and the bubbles'
positions for `examforge scan` (gradescope/marks.json)."""

from __future__ import annotations

import json
from pathlib import Path

from examforge import layout as L
from examforge.spec import ExamSpec


QUESTION_MARGIN_PT = 4.0  # Gradescope regions start this far above a question's header line


def regions(layout: L.Layout, points: dict[str, tuple[int, int, int]]) -> dict[str, list[int]]:
    """Every region as [page, x1, y1, x2, y2] in sp (x1, y1 = top-left corner, x2, y2 =
    bottom-right; y from the bottom of the page, as LaTeX records it), from the recorded corners."""
    out = {}
    for name, _ in layout.boxes():
        (page, x1, y1), (_, x2, y2) = points[f"{name}:tl"], points[f"{name}:br"]
        out[name] = [page, x1, y1, x2, y2]
    for slot in layout.slots:
        (page, x1, y1), (_, _, y2) = points[f"q{slot.number}:top"], points[f"q{slot.number}:bottom"]
        out[f"q{slot.number}:statement"] = [page, x1, y1, x1 + layout.text_w, y2]
    return out


def _gradescope_rect(layout: L.Layout, region: list[int]) -> dict:
    """Gradescope's crop rectangle: page from 1, corners in percent of the page width and height
    (one decimal), origin top-left."""
    page, x1, y1, x2, y2 = region
    w, h = layout.paper_w, layout.paper_h
    return {
        "page_number": page,
        "x1": round(100.0 * x1 / w, 1),
        "y1": round(100.0 * (1 - y1 / h), 1),
        "x2": round(100.0 * x2 / w, 1),
        "y2": round(100.0 * (1 - y2 / h), 1),
    }


def outline(spec: ExamSpec, layout: L.Layout, template_points) -> dict:
    """The Gradescope outline: name and ID regions, and one region per question (its statement
    and answer box, since every student's numbers differ), with one child per sub-question."""
    reg = regions(layout, template_points)
    questions = []
    for slot in layout.slots:
        q = spec.slots()[slot.slot][2]
        page, x1, top, x2, bottom = reg[f"q{slot.number}:statement"]
        statement = [page, x1, top + L.pt_sp(QUESTION_MARGIN_PT), x2, bottom]  # a little air above the header
        last = reg[slot.boxes[-1].name]
        whole = [page, x1, statement[2], last[3], last[4]]
        item = {
            "title": f"Question {slot.number}",
            "weight": q.points,
            "crop_rect_list": [_gradescope_rect(layout, whole)],
        }
        if q.parts:
            item["children"] = [
                {
                    "title": f"Question {slot.number}({p.label})",
                    "weight": p.points,
                    "crop_rect_list": [_gradescope_rect(layout, statement), _gradescope_rect(layout, reg[b.name])],
                }
                for p, b in zip(q.parts, slot.boxes)
            ]
        questions.append(item)
    return {
        "assignment": {
            "identification_regions": {
                "name": _gradescope_rect(layout, reg["name"]),
                "sid": _gradescope_rect(layout, reg["sid"]),
            }
        },
        "question_data": questions,
    }


def write_gradescope(spec, layout, template_points, staging: Path) -> None:
    (staging / "gradescope" / "outline.json").write_text(
        json.dumps(outline(spec, layout, template_points), indent=1) + "\n"
    )
    plan = layout.to_json()
    plan["regions_sp"] = regions(layout, template_points)
    plan["regions"] = {  # fractions of the page, origin top-left
        name: {"page": page, "box": [round(x1 / layout.paper_w, 5), round(1 - y1 / layout.paper_h, 5),
                                     round(x2 / layout.paper_w, 5), round(1 - y2 / layout.paper_h, 5)]}
        for name, (page, x1, y1, x2, y2) in plan["regions_sp"].items()
    }
    (staging / "gradescope" / "layout.json").write_text(json.dumps(plan, indent=1) + "\n")


def write_marks(layout, template_points, builds, code: str, staging: Path) -> None:
    """gradescope/marks.json: every student's bubbles where LaTeX printed them, for `examforge scan`."""
    from examforge.marks import marks_document, marks_json

    doc = marks_document(layout, builds, code, regions(layout, template_points))
    (staging / "gradescope" / "marks.json").write_text(marks_json(doc), encoding="utf-8")
