"""The exam and key documents: the same drawn questions through one outer template."""

from __future__ import annotations

from dataclasses import dataclass

from examforge.renderers.blocks import question_latex, solution_latex
from examforge.renderers.latex import Latex, escape, render
from examforge.roster import Student
from examforge.spec import ExamSpec, QuestionSpec
from examforge.variant import Variant


@dataclass(frozen=True)
class DrawnQuestion:
    slot: int
    section: int
    spec: QuestionSpec
    variant: Variant


def _points(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def render_document(
    spec: ExamSpec, student: Student, questions: list[DrawnQuestion], *, key: bool
) -> str:
    sections = []
    for s_index, section in enumerate(spec.sections):
        items = []
        for dq in (q for q in questions if q.section == s_index):
            items.append(
                {
                    "slot": dq.slot,
                    "generator": dq.variant.qtype.id,
                    "seed": dq.variant.seed if dq.variant.seed is not None else "fixed",
                    "points": _points(dq.spec.points),
                    "body": question_latex(dq.variant, key=key, height=dq.spec.box_height),
                    "solution": solution_latex(dq.variant) if key else Latex(""),
                }
            )
        sections.append(
            {
                "number": s_index + 1,
                "title": section.title,
                "instructions": section.instructions or "",
                "points": _points(section.points),
                "questions": items,
            }
        )
    return render(
        "exam.tex.j2",
        key=key,
        title=spec.title,
        course=spec.course,
        date=spec.date,
        instructions=spec.instructions,
        student_name=student.name,
        student_id=student.id,
        version_label=escape(f"ID {student.id}"),
        sections=sections,
        total_points=_points(spec.total_points),
    )
