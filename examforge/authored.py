"""Authored questions: YAML files in a question folder, no Python needed.

A file holds one question (a mapping) or a list of them. Forms: `tf` (a statement, true or
false), `mc` (one correct choice), `multi` (select all that apply, scored all-or-nothing or
with partial credit), `numeric` (a number, graded with a tolerance) and `free` (an open
answer: a box, a model answer and a rubric for the key). `variants:` lets one question hold
several statements or wordings; each student gets one, drawn from their seed like every other
draw, and the options of `mc`/`multi` are shuffled per student unless `shuffle: false`.

Text fields are LaTeX written by the author, compiled with the same safety as everything else
(no shell escape, paranoid file access); commands that read or write files, change catcodes or
define macros are refused here, with the file, the question and the field.
Each question becomes an `AuthoredQuestion`, a `QuestionType` like the computed ones, so the
exam, the key, answers.csv, the manifest, the Gradescope outline and the drills need nothing
special for it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from examforge.errors import InputError, describe_validation_error
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel

FORMS = ("tf", "mc", "multi", "numeric", "free")
_ID = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
_MAX_TEXT = 4000
_MAX_FILE_BYTES = 2_000_000
_FIGURE_TYPES = (".pdf", ".png", ".jpg", ".jpeg")
# Primitives and macros that touch files, the shell, catcodes or definitions; the LaTeX runner
# is locked down already (no shell escape, paranoid openin/openout), this is the clear message.
_FORBIDDEN = re.compile(
    r"\\(input|include|includeonly|InputIfFileExists|IfFileExists|openin|openout|read|readline|write|"
    r"immediate|closein|closeout|newread|newwrite|catcode|lccode|uccode|def|edef|gdef|xdef|let|"
    r"futurelet|csname|expandafter|special|pdfobj|pdfliteral|pdfximage|directlua|latelua|usepackage|"
    r"RequirePackage|documentclass|makeatletter|makeatother|endinput|end(?=\s*\{document\})|"
    r"begin(?=\s*\{document\})|newcommand|renewcommand|providecommand|DeclareRobustCommand|"
    r"includegraphics|verbatiminput|lstinputlisting|shipout|output|everypar|jobname|dump|batchmode|"
    r"nonstopmode|scrollmode|errorstopmode)(?![A-Za-z@])"
)
_LENGTH = re.compile(r"^\d+(\.\d+)?(cm|mm|in|pt)$")


def check_latex(text: str, field: str) -> str:
    """Author LaTeX that compiles on its own: balanced braces and `$`, no forbidden commands."""
    if len(text) > _MAX_TEXT:
        raise ValueError(f"{field}: {len(text)} characters; at most {_MAX_TEXT}")
    bad = _FORBIDDEN.search(text)
    if bad:
        raise ValueError(f"{field}: \\{bad.group(1)} is not allowed in question text")
    depth, dollars, i = 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "%":
            raise ValueError(f"{field}: an unescaped % starts a LaTeX comment; write \\% for a percent sign")
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth < 0:
                raise ValueError(f"{field}: a '}}' closes a group that was never opened")
        elif ch == "$":
            dollars += 1
        elif ch in "#" or (ord(ch) < 32 and ch not in "\n\t"):
            raise ValueError(f"{field}: the character {ch!r} must be written as LaTeX (e.g. \\#)")
        i += 1
    if depth:
        raise ValueError(f"{field}: {depth} '{{' never closed")
    if dollars % 2:
        raise ValueError(f"{field}: an odd number of '$': math is not closed")
    return text


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChoiceSpec(_Strict):
    text: str = Field(min_length=1)
    correct: bool = False
    mistake: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,60}$")
    why: str | None = None  # one sentence for a student who picked it
    fixed: bool = False  # stays where it is (e.g. "None of the above" last)

    @field_validator("text", "why")
    @classmethod
    def _latex(cls, value: str | None, info) -> str | None:
        return None if value is None else check_latex(value, info.field_name)


class RubricItem(_Strict):
    points: float = Field(gt=0, le=1000)
    text: str = Field(min_length=1)

    @field_validator("text")
    @classmethod
    def _latex(cls, value: str) -> str:
        return check_latex(value, "text")


Answer = bool | int | float | str


class VariantSpec(_Strict):
    """One statement or wording; fields left out come from the question."""

    text: str | None = None
    answer: Answer | None = None
    explanation: str | None = None
    choices: list[ChoiceSpec] | None = Field(default=None, min_length=2, max_length=8)
    figure: str | None = None

    @field_validator("text", "explanation")
    @classmethod
    def _latex(cls, value: str | None, info) -> str | None:
        return None if value is None else check_latex(value, info.field_name)


class AuthoredSpec(VariantSpec):
    id: str = Field(pattern=_ID, max_length=100)
    form: Literal["tf", "mc", "multi", "numeric", "free"]
    topic: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_]{0,40}$")
    mirrors: str = Field(default="", max_length=200)
    summary: str = Field(default="", max_length=200)
    variants: list[VariantSpec] | None = Field(default=None, min_length=1, max_length=50)
    shuffle: bool = True
    scoring: Literal["all_or_nothing", "partial"] = "all_or_nothing"
    tolerance: float | None = Field(default=None, ge=0)
    rel_tolerance: float | None = Field(default=None, ge=0, lt=1)
    box_height: str | None = None
    rubric: list[RubricItem] | None = Field(default=None, min_length=1, max_length=20)

    @field_validator("box_height")
    @classmethod
    def _length(cls, value: str | None) -> str | None:
        if value is not None and (not _LENGTH.match(value) or float(re.sub(r"[a-z]+$", "", value)) <= 0):
            raise ValueError("must be a positive LaTeX length such as '4cm' or '30mm'")
        return value

    def resolved(self) -> list[VariantSpec]:
        """Every variant with the question's own fields filled in."""
        base = {k: getattr(self, k) for k in ("text", "answer", "explanation", "choices", "figure")}
        if not self.variants:
            return [VariantSpec(**base)]
        out = []
        for v in self.variants:
            merged = dict(base)
            merged.update({k: val for k, val in v.model_dump(exclude_none=True).items()})
            if v.choices is not None:
                merged["choices"] = v.choices
            out.append(VariantSpec(**merged))
        return out

    @model_validator(mode="after")
    def _consistent(self):
        if self.form != "multi" and self.scoring != "all_or_nothing":
            raise ValueError("scoring: only a 'multi' (select all) question has a scoring rule")
        if self.form != "numeric" and (self.tolerance is not None or self.rel_tolerance is not None):
            raise ValueError("tolerance: only a 'numeric' question has a tolerance")
        if self.tolerance is not None and self.rel_tolerance is not None:
            raise ValueError("give either tolerance (absolute) or rel_tolerance, not both")
        if self.rubric is not None and self.form != "free":
            raise ValueError("rubric: only a 'free' question has a rubric")
        for index, v in enumerate(self.resolved()):
            where = f"variants[{index}]" if self.variants else "question"
            _check_variant(self, v, where)
        return self


def _check_variant(q: AuthoredSpec, v: VariantSpec, where: str) -> None:
    if not v.text:
        raise ValueError(f"{where}: 'text' is required (on the question or on every variant)")
    if q.form in ("mc", "multi"):
        if not v.choices:
            raise ValueError(f"{where}: a '{q.form}' question needs 'choices'")
        n_correct = sum(c.correct for c in v.choices)
        if q.form == "mc" and n_correct != 1:
            raise ValueError(f"{where}: a multiple-choice question has exactly one correct choice, found {n_correct}")
        if q.form == "multi" and n_correct < 1:
            raise ValueError(f"{where}: a select-all question needs at least one correct choice")
        if q.form == "mc" and len(v.choices) < 3:
            raise ValueError(f"{where}: a multiple-choice question needs at least 3 choices")
        texts = ["".join(c.text.split()) for c in v.choices]
        if len(set(texts)) != len(texts):
            raise ValueError(f"{where}: two choices have the same text")
        names = [c.mistake for c in v.choices if c.mistake]
        if len(set(names)) != len(names):
            raise ValueError(f"{where}: two choices name the same mistake")
        if v.answer is not None:
            raise ValueError(f"{where}: a '{q.form}' question marks its answer with 'correct: true' on a choice")
    elif v.choices:
        raise ValueError(f"{where}: only 'mc' and 'multi' questions have choices")
    if q.form == "tf" and not isinstance(v.answer, bool):
        raise ValueError(f"{where}: a true/false question needs 'answer: true' or 'answer: false'")
    if q.form == "numeric" and (isinstance(v.answer, bool) or not isinstance(v.answer, (int, float))):
        raise ValueError(f"{where}: a numeric question needs a number as 'answer'")
    if q.form == "numeric" and not np.isfinite(float(v.answer)):
        raise ValueError(f"{where}: the answer must be a finite number")
    if q.form == "free":
        if not isinstance(v.answer, str) or not v.answer.strip():
            raise ValueError(f"{where}: a free-response question needs a model 'answer' (LaTeX text)")
        check_latex(v.answer, "answer")


class AuthoredParams(ParamsModel):
    """What the student sees: which variant, and the order of its options."""

    variant: int = Field(ge=0, lt=50)
    order: tuple[int, ...] = ()


class AuthoredAnswer(AnswerModel):
    value: bool | float | str | tuple[str, ...]


LETTERS = "ABCDEFGH"


class AuthoredQuestion(QuestionType):
    """One authored question, loaded from YAML. Instances carry their own id and texts."""

    Params = AuthoredParams
    Answer = AuthoredAnswer
    Ranges = RangesModel
    authored: ClassVar[bool] = True

    def __init__(self, spec: AuthoredSpec, file: Path):
        self.spec = spec
        self.file = file
        self.id = spec.id
        self.variants = spec.resolved()
        first = self.variants[0].text or ""
        self.summary = spec.summary or _one_line(first)
        self.mirrors = spec.mirrors
        self.kind = spec.form
        self.forms = ("free",) if spec.form in ("numeric", "free") else (spec.form,)
        # numeric: a typed number (graded with the tolerance below); free: the student's own
        # words (compared with the model answer); tf, mc, multi: option letters
        self.answer_format = AnswerFormat({"numeric": "number", "free": "open"}.get(spec.form, "choice"),
                                          multiple=spec.form == "multi")
        self.scoring = spec.scoring
        if spec.box_height:
            self.box_height = spec.box_height
        elif spec.form == "free":
            self.box_height = "5cm"
        else:
            self.box_height = "2cm"
        if spec.form == "numeric":
            tol = spec.tolerance
            if tol is None:
                smallest = min(abs(float(v.answer)) for v in self.variants) or 1.0
                tol = (spec.rel_tolerance or 1e-9) * smallest
            self.Answer = type("AuthoredNumericAnswer", (AuthoredAnswer,), {"grading_tol": tol})
        from examforge.assets import register_figure

        self.figures = {}  # the figure as written -> the name LaTeX runs use
        for v in self.variants:
            if v.figure and v.figure not in self.figures:
                self.figures[v.figure] = register_figure(_figure(file, v.figure))

    # -- drawing --------------------------------------------------------------------------------
    @property
    def topic(self) -> str:
        if self.spec.topic:
            return self.spec.topic
        parts = self.id.split(".")
        return parts[1] if parts[0] in ("concepts", "open") and len(parts) > 2 else parts[0]

    def sample(self, rng: np.random.Generator, ranges: RangesModel) -> AuthoredParams:
        index = int(rng.integers(len(self.variants)))
        return AuthoredParams(variant=index, order=self._order(index, rng))

    def _order(self, index: int, rng: np.random.Generator | None) -> tuple[int, ...]:
        choices = self.variants[index].choices or []
        if not choices:
            return ()
        movable = [i for i, c in enumerate(choices) if not c.fixed]
        if self.spec.shuffle and rng is not None:
            movable = [movable[i] for i in rng.permutation(len(movable))]
        order, it = [], iter(movable)
        for i, c in enumerate(choices):
            order.append(i if c.fixed else next(it))
        return tuple(order)

    def calibration_params(self) -> list[AuthoredParams]:
        """Every variant once (layout calibration measures all of them)."""
        return [AuthoredParams(variant=i, order=self._order(i, None)) for i in range(len(self.variants))]

    def variant_of(self, params: AuthoredParams) -> VariantSpec:
        if params.variant >= len(self.variants):
            raise InputError(f"{self.id}: variant {params.variant} does not exist "
                             f"(it has {len(self.variants)})")
        return self.variants[params.variant]

    def ordered_choices(self, params: AuthoredParams) -> list[ChoiceSpec]:
        choices = self.variant_of(params).choices or []
        order = params.order or tuple(range(len(choices)))
        if sorted(order) != list(range(len(choices))):
            raise InputError(f"{self.id}: order {list(order)} is not a permutation of {len(choices)} choices")
        return [choices[i] for i in order]

    def solve(self, params: AuthoredParams) -> AuthoredAnswer:
        v = self.variant_of(params)
        if self.kind in ("mc", "multi"):
            letters = tuple(LETTERS[i] for i, c in enumerate(self.ordered_choices(params)) if c.correct)
            return self.Answer(value=letters[0] if self.kind == "mc" else letters)
        if self.kind == "numeric":
            return self.Answer(value=float(v.answer))
        return self.Answer(value=v.answer)

    reference = solve  # the key is the author's: there is no second computation to compare

    # -- presentation -------------------------------------------------------------------------------
    def template_names(self) -> tuple[str, str]:
        return "authored/question.tex.j2", "authored/solution.tex.j2"

    def statement(self, params: AuthoredParams) -> str:
        return self.variant_of(params).text or ""

    def explanation(self, params: AuthoredParams) -> str:
        return self.variant_of(params).explanation or ""

    def figure_name(self, params: AuthoredParams) -> str | None:
        """The figure as the LaTeX run sees it: copied next to the .tex under a content name."""
        figure = self.variant_of(params).figure
        return self.figures[figure] if figure else None

    def rubric(self) -> list[RubricItem]:
        return list(self.spec.rubric or [])

    def answer_latex(self, answer: AuthoredAnswer) -> str:
        value = answer.value
        if self.kind == "tf":
            return "True" if value else "False"
        if self.kind == "multi":
            return ", ".join(value) if value else "none"
        if self.kind == "numeric":
            from examforge.formatting import fmt

            return f"${fmt(value, 6)}$"
        return str(value)

    def key_texts(self, answer: AuthoredAnswer) -> list[str]:
        if self.kind == "free":
            return []  # the model answer is the author's LaTeX; the box is checked by position
        from examforge.text import latex_to_text

        return [latex_to_text(self.answer_latex(answer))]

    def choice_value(self, answer: AuthoredAnswer) -> Any:
        return answer.value

    def choice_latex(self, value: Any) -> str:
        if isinstance(value, bool):
            return "True" if value else "False"
        if isinstance(value, tuple):
            return ", ".join(value)
        if isinstance(value, float):
            from examforge.formatting import fmt

            return f"${fmt(value, 6)}$"
        return str(value)

    def mistakes(self, params: AuthoredParams) -> dict[str, Any]:
        return {name: c.text for name, c in self._wrong(params)}

    def _wrong(self, params: AuthoredParams) -> list[tuple[str, ChoiceSpec]]:
        return [(c.mistake or f"chose_{LETTERS[i].lower()}", c)
                for i, c in enumerate(self.ordered_choices(params)) if not c.correct]

    def why(self, params: AuthoredParams, mistake: str) -> str:
        """The sentence for a student who made `mistake` (a wrong choice's `why`)."""
        for name, c in self._wrong(params):
            if name == mistake:
                return c.why or ""
        return ""

    def own_choices(self, params: AuthoredParams, answer: AuthoredAnswer, form: str):
        """The options as written (after the student's shuffle), each wrong one named."""
        from examforge.variant import Choice

        if self.kind == "tf":
            true = bool(answer.value)
            return None, (Choice("T", "True", None if true else "believes_a_false_statement"),
                          Choice("F", "False", "rejects_a_true_statement" if true else None))
        if self.kind in ("mc", "multi"):
            out = []
            for i, c in enumerate(self.ordered_choices(params)):
                name = None if c.correct else (c.mistake or f"chose_{LETTERS[i].lower()}")
                out.append(Choice(LETTERS[i], c.text, name))
            return None, tuple(out)
        return None


def _figure(file: Path, name: str) -> Path:
    path = (file.parent / name)
    if path.suffix.lower() not in _FIGURE_TYPES:
        raise ValueError(f"figure {name!r}: use a .pdf, .png or .jpg file")
    if not path.is_file():
        raise ValueError(f"figure {name!r}: no such file next to {file.name}")
    return path.resolve()


def _one_line(text: str, limit: int = 90) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def load_file(file: Path) -> list[AuthoredQuestion]:
    """The questions of one YAML file; errors name the file, the question id and the field."""
    from examforge.yamlio import load_yaml

    try:
        size = file.stat().st_size
    except OSError as err:
        raise InputError(f"{file}: cannot read: {err.strerror}") from None
    if size > _MAX_FILE_BYTES:
        raise InputError(f"{file}: {size} bytes; a question file holds at most {_MAX_FILE_BYTES}")
    data = load_yaml(file)
    if data is None:
        return []
    items = data if isinstance(data, list) else [data]
    out = []
    for index, item in enumerate(items):
        label = f"question {index + 1}"
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            label = f"question {item['id']!r}"
        if not isinstance(item, dict):
            raise InputError(f"{file}: {label}: each question is a mapping with id, form and text")
        try:
            spec = AuthoredSpec.model_validate(item)
            out.append(AuthoredQuestion(spec, file))
        except ValidationError as err:
            raise InputError(describe_validation_error(err, where=f"{file}: {label}")) from None
        except ValueError as err:
            raise InputError(f"{file}: {label}: {err}") from None
    return out
