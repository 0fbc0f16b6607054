"""gradescope/marks.json: where every student's option bubbles are printed, for `examforge scan`.

LaTeX records each bubble's centre while typesetting the student (`<box>@<letter>`, with
\\pdfsavepos, as it records the box corners), since an option that wraps moves the bubbles after
it and so they may differ from student to student. With them go what a scan needs to read and
score a page without the build: the exam code and page count the QR codes carry, the page size,
where the QR code sits, the boxes' frames, and for each auto-graded question its page, form,
points, scoring rule, correct letters and the named mistake behind every wrong option.

Positions are in TeX scaled points (sp) from the bottom-left corner of the page, as LaTeX
records them."""

from __future__ import annotations

import json

from examforge import layout as L

AUTO_FORMS = ("mc", "tf", "multi")  # forms whose answer is a set of marked bubbles
SCORING = ("all_or_nothing", "partial")


def qr_square(layout: L.Layout, recorded: tuple[int, int, int] | None = None) -> list[int]:
    """[x1, y1, x2, y2] of the QR code on every exam page: a square of QR_SIZE_CM whose bottom-left
    corner LaTeX recorded (`qr`), or else where the footer puts it: its bottom right corner at the
    right end of the footer's baseline (see the `examforge` page style)."""
    from examforge.renderers.exam import FOOTSKIP_PT, QR_SIZE_CM

    size = L.cm_sp(QR_SIZE_CM)
    if recorded is not None:
        _, x1, y1 = recorded
        return [x1, y1, x1 + size, y1 + size]
    x2 = layout.margin_x + layout.text_w
    y1 = layout.paper_h - layout.margin_top - layout.text_h - L.pt_sp(FOOTSKIP_PT)
    return [x2 - size, y1, x2, y1 + size]


def scoring_rule(qtype) -> str:
    rule = getattr(qtype, "scoring", "all_or_nothing")
    if rule not in SCORING:
        raise ValueError(f"{qtype.id}: scoring {rule!r} is not one of {', '.join(SCORING)}")
    return rule


def student_marks(layout: L.Layout, questions, points: dict[str, tuple[int, int, int]]) -> list[dict]:
    """Every auto-graded question of one student, with its bubbles where LaTeX printed them."""
    slots = {s.slot: s for s in layout.slots}
    out = []
    for dq in questions:
        v = dq.variant
        if v.form not in AUTO_FORMS or not v.choices:
            continue
        slot = slots[dq.slot]
        box = slot.boxes[0].name
        options = {}
        for c in v.choices:
            page, x, y = points[f"{box}@{c.letter}"]
            options[c.letter] = [page, x, y]
        out.append({
            "number": slot.number,
            "box": box,
            "form": v.form,
            "points": dq.spec.points,
            "scoring": scoring_rule(v.qtype) if v.form == "multi" else "all_or_nothing",
            "correct": [c.letter for c in v.choices if c.mistake is None],
            "mistakes": {c.letter: c.mistake for c in v.choices if c.mistake is not None},
            "options": options,
        })
    return out


def marks_document(layout: L.Layout, builds, code: str, box_regions: dict[str, list[int]]) -> dict:
    radius = 0
    recorded_qr = next((b.points["exam"]["qr"] for b in builds if "qr" in b.points.get("exam", {})), None)
    for b in builds:
        pts = b.points.get("exam", {})
        if "bubble:r" in pts:
            centre = [v for k, v in pts.items() if "@" in k][-1]  # the bubble written last, as bubble:r was
            radius = pts["bubble:r"][1] - centre[1]
            break
    return {
        "exam_code": code,
        "pages": layout.n_pages,
        "paper_sp": [layout.paper_w, layout.paper_h],
        "qr": layout.qr,
        "qr_sp": qr_square(layout, recorded_qr),
        "bubble_radius_sp": radius,
        "boxes": {name: region for name, region in box_regions.items() if not name.endswith(":statement")},
        "students": [{"id": b.student.id, "questions": student_marks(layout, b.questions, b.points["exam"])}
                     for b in builds],
    }


def marks_json(doc: dict) -> str:
    """One student per line: readable, and quick to write for a large class."""
    head = [f" {json.dumps(k)}: {json.dumps(v)}" for k, v in doc.items() if k != "students"]
    students = [f"  {json.dumps(s, ensure_ascii=False)}" for s in doc["students"]]
    return "{\n" + ",\n".join(head + [' "students": [\n' + ",\n".join(students) + "\n ]"]) + "\n}\n"
