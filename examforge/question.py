"""The question-type contract: one class per type, registered once by its stable dotted id.

A type declares a pydantic `Params` model (exactly what the student sees, already rounded),
an `Answer` model, `sample(rng)` that draws valid hand-computable params directly, `solve`
(torch ground truth, via examforge.solvers) and `reference` (an independent closed form used
by the tests). Multiple choice comes from `mistakes`: named, deliberately wrong solver paths.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

FORMS = ("free", "mc", "tf", "multi")


class ParamsModel(BaseModel):
    """Base for Params: strict about unknown fields so typos in overrides are caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AnswerModel(BaseModel):
    """Base for answers. `rtol`/`atol` bound how closely torch and the reference must agree;
    `grading_tol` is the absolute tolerance a student's numeric answer is graded with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rtol: ClassVar[float] = 1e-9
    atol: ClassVar[float] = 1e-9
    grading_tol: ClassVar[float] = 0.01


class RangesModel(BaseModel):
    """Base for a type's difficulty ranges: keyword-only `min_*`/`max_*` fields with defaults.
    Bad ranges are rejected when validated, with a message naming the values."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class QuestionType:
    """Subclass, set the class attributes, and decorate with `@register`."""

    id: ClassVar[str]
    summary: ClassVar[str]  # one line, shown by `examforge list`
    mirrors: ClassVar[str]  # the seed question it is modelled on
    Params: ClassVar[type[ParamsModel]]
    Answer: ClassVar[type[AnswerModel]]
    Ranges: ClassVar[type[RangesModel]] = RangesModel  # difficulty ranges, defaults sensible
    forms: ClassVar[tuple[str, ...]] = ("free", "mc")
    # The seed question's own numbers (params JSON) and, where the seed's key is wrong, why.
    seed_example: ClassVar[dict[str, Any] | None] = None
    seed_note: ClassVar[str] = ""  # only where the seed's key is wrong
    seed_comment: ClassVar[str] = ""  # how the seed example was chosen, when the seed is symbolic
    box_height: ClassVar[str] = "4cm"  # free-response answer box
    template_folder = None  # set by the registry: the folder holding `<id>/question.tex.j2`
    n_choices: ClassVar[int] = 4
    scoring: ClassVar[str] = "all_or_nothing"  # select-all questions: or "partial"
    # One sentence per named mistake, written for a student who made it (the drills show it
    # when a typed answer equals that mistake's value or a wrong option is picked).
    mistake_sentences: ClassVar[dict[str, str]] = {}

    # -- drawing and solving -------------------------------------------------
    def sample(self, rng: np.random.Generator, ranges: RangesModel) -> ParamsModel:
        """Draw valid, hand-computable params directly, within `ranges` (an instance of Ranges)."""
        raise NotImplementedError

    def solve(self, params: ParamsModel) -> AnswerModel:
        """Ground truth, computed by a torch solver."""
        raise NotImplementedError

    def reference(self, params: ParamsModel) -> AnswerModel:
        """An independent closed form or numpy computation, used to check `solve`."""
        raise NotImplementedError

    # -- presentation ----------------------------------------------------------
    def answer_latex(self, answer: AnswerModel) -> str:
        """The short final answer, as LaTeX, for the key's answer box."""
        raise NotImplementedError

    def key_texts(self, answer: AnswerModel) -> list[str]:
        """Strings that must appear in the key's extracted text (pdftotext), spaces ignored."""
        from examforge.renderers.text import latex_to_text

        return [latex_to_text(self.answer_latex(answer))]

    # -- sub-questions -------------------------------------------------------------
    # What each part asks, in part order, for a type whose free-response question is asked in
    # parts (the spec's `parts:`, one answer box and one Gradescope sub-question each); empty
    # when the type has one answer only. A spec asking for parts must ask for exactly these.
    part_labels: ClassVar[tuple[str, ...]] = ()

    def part_answers(self, answer: AnswerModel) -> list[str] | None:
        """Each part's answer as LaTeX, in part order (one per `part_labels`), for the key's part
        boxes, answers.csv and the grader sheets; None for a type not asked in parts."""
        return None

    # -- forms ------------------------------------------------------------------------
    def form_problem(self, params: ParamsModel, form: str) -> str:
        """Why these params cannot be asked in `form` (a question option asked in some forms
        only, e.g. "which statement is false?" as multiple choice); "" when they can."""
        return ""

    # -- multiple choice ---------------------------------------------------------
    def choice_value(self, answer: AnswerModel) -> Any:
        """The quantity the options show; by default the answer's first field."""
        return next(iter(answer.model_dump().values()))

    def mistakes(self, params: ParamsModel) -> dict[str, Any]:
        """Named wrong values of `choice_value`, each from a deliberately wrong solver path."""
        raise NotImplementedError

    def why(self, params: ParamsModel, mistake: str) -> str:
        """The sentence for a student who made `mistake`; "" when the type has none for it."""
        return self.mistake_sentences.get(mistake, "")

    def fallback_mistakes(self, params: ParamsModel, answer: AnswerModel) -> dict[str, Any]:
        """Used only when the named mistakes collide with the answer or each other."""
        value = self.choice_value(answer)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            step = 1 if float(value).is_integer() else max(abs(value) * 0.25, 0.05)
            return {
                "off_by_one_up": value + step,
                "off_by_one_down": value - step,
                "doubled": value * 2 if value else 2 * step,
                "halved": value / 2 if value else -2 * step,
                "sign_flip": -value if value else 3 * step,
            }
        return {}

    def own_choices(self, params: ParamsModel, answer: AnswerModel, form: str):
        """`(claim, choices)` for a type whose options are its own (authored questions), or None
        for the generic options built from `mistakes`."""
        return None

    def choice_latex(self, value: Any) -> str:
        from examforge.renderers.latex import fmt

        return f"${fmt(value)}$"

    # -- helpers ------------------------------------------------------------------
    def template_names(self) -> tuple[str, str]:
        """The Jinja names of the question and solution templates (files in `<folder>/<id>/`)."""
        return f"questions/{self.id}/question.tex.j2", f"questions/{self.id}/solution.tex.j2"

    @property
    def topic(self) -> str:
        return self.id.split(".", 1)[0]

    def __repr__(self) -> str:
        return f"<QuestionType {self.id}>"


def values_agree(a: Any, b: Any, *, rtol: float, atol: float) -> bool:
    """Recursive comparison of JSON-like values with a numeric tolerance."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if math.isinf(a) or math.isinf(b):
            return a == b
        return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_agree(a[k], b[k], rtol=rtol, atol=atol) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(values_agree(x, y, rtol=rtol, atol=atol) for x, y in zip(a, b))
    return a == b
