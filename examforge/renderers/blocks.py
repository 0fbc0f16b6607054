"""One drawn variant as LaTeX blocks: the question (with its answer area) and the worked
solution. The exam, the key, `examforge sample` and the drills all go through these.

`figure_mode`: "picture" prints each figure as a LaTeX picture (the PDFs); "data" prints the
figure's model instead (`\\effigure{...}`, examforge.figures), for the drill and the text views,
which draw it as SVG or text."""

from __future__ import annotations

from examforge.renderers.latex import Latex, render
from examforge.variant import Variant


def question_text(v: Variant, *, figure_mode: str = "picture") -> Latex:
    """The question statement only; it reads params, never the answer."""
    claim = Latex(v.claim) if v.claim is not None else None
    return render(v.qtype.template_names()[0], p=v.params, form=v.form, claim=claim, t=v.qtype,
                  figure_mode=figure_mode)


def answer_area(v: Variant, *, key: bool, height: str | None = None) -> Latex:
    return render(
        "blocks/answer_area.tex.j2",
        choices=v.choices,
        key=key,
        height=height or v.qtype.box_height,
        answer=Latex(v.qtype.answer_latex(v.answer)) if key else Latex(""),
        correct=_correct_label(v),
        form=v.form,
    )


def _correct_label(v: Variant) -> str:
    return v.correct_label


def question_latex(v: Variant, *, key: bool = False, height: str | None = None) -> Latex:
    return Latex(question_text(v) + "\n" + answer_area(v, key=key, height=height))


def solution_latex(v: Variant, *, figure_mode: str = "picture") -> Latex:
    """The worked solution, from the numbers the solver recorded."""
    return render(
        v.qtype.template_names()[1],
        t=v.qtype,
        choices=v.choices,
        p=v.params,
        a=v.answer,
        form=v.form,
        correct=_correct_label(v),
        claim=Latex(v.claim) if v.claim is not None else None,
        claim_true=v.claim_is_true,
        figure_mode=figure_mode,
    )
