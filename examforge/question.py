"""The question-type contract: one class per type, registered once by its stable dotted id.

A type declares a pydantic `Params` model (exactly what the student sees, already rounded),
an `Answer` model, `sample(rng)` that draws valid hand-computable params directly, `solve`
(torch ground truth, via examforge.solvers) and `reference` (an independent closed form used
by the tests). Multiple choice comes from `mistakes`: named, deliberately wrong solver paths.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from numbers import Real
from typing import Any, ClassVar, Iterator

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

FORMS = ("free", "mc", "tf", "multi")

# How an answer is entered and compared. Typed: number (a tolerance for decimals, integers
# exact), vector (numbers in order), shape (dimensions, e.g. 126 x 42), matrix (rows), set (in
# any order), bool. Not typed: choice (picked among the options by letter: an answer in words)
# and open (the student's own words, compared with the model answer, never graded).
TYPED_KINDS = ("number", "vector", "shape", "matrix", "set", "bool")
ANSWER_KINDS = (*TYPED_KINDS, "choice", "open")


@dataclass(frozen=True)
class AnswerFormat:
    """How the quantity a type asks for (`choice_value`) is entered and compared: a type's
    `answer_format`, read by the drill (and any export), never guessed from rendered text."""

    kind: str  # one of ANSWER_KINDS
    tol: float | None = None  # absolute tolerance for decimals; None: the type's Answer.grading_tol
    rank: int | None = None  # shape: how many dimensions (the question states it); else None
    multiple: bool = False  # choice: several options may be right (select all)
    # The words around the typed numbers, e.g. ("\u03bc\u0302 = ", ", \u03c3\u0302\u00b2 = ", ""): what each number is,
    # one box per number. As the options print them, for every variant.
    labels: tuple[str, ...] | None = None
    # The answer is a probability or another fraction of one: "25%" is read as 0.25. Anywhere
    # else a % is refused (never silently divided by 100).
    percent: bool = False

    def __post_init__(self):
        if self.kind not in ANSWER_KINDS:
            raise ValueError(f"answer kind {self.kind!r} is not one of {', '.join(ANSWER_KINDS)}")
        if self.tol is not None and not (self.tol >= 0 and math.isfinite(self.tol)):
            raise ValueError(f"answer tolerance {self.tol!r} must be a finite number >= 0")
        if self.labels is not None and (self.kind not in ("number", "vector", "shape") or len(self.labels) < 2):
            raise ValueError(f"labels {self.labels!r} need a number, vector or shape answer and two pieces at least")

    @property
    def typed(self) -> bool:
        return self.kind in TYPED_KINDS

    @property
    def hint(self) -> str:
        """How to enter it, for a student."""
        if self.percent and self.kind == "number":
            return "a number, e.g. 0.25, 1/4 or 25%"
        return {
            "number": "a number, e.g. 0.25, -3 or 1/3",
            "vector": "numbers separated by commas or spaces, e.g. 3, 1, 4",
            "shape": "dimensions separated by x, e.g. 28 x 28",
            "matrix": "rows separated by ';' or new lines, entries by spaces or commas, e.g. 1 2; 3 4",
            "set": "the elements separated by commas, in any order",
            "bool": "true or false",
            "choice": "the letters of all correct options, e.g. A, C" if self.multiple else "the option's letter",
            "open": "your own answer, in a few sentences; then compare it with the model answer",
        }[self.kind]

    @property
    def template(self) -> str | None:
        """The labels with blanks, for the terminal: "\u03bc\u0302 = _, \u03c3\u0302\u00b2 = _"."""
        return "_".join(self.labels) if self.labels is not None else None

    def public(self) -> dict[str, Any]:
        """What a student may know before answering: the format, never the answer."""
        data: dict[str, Any] = {"kind": self.kind, "hint": self.hint}
        if self.rank is not None:
            data["rank"] = self.rank
        if self.kind == "choice":
            data["multiple"] = self.multiple
        if self.labels is not None:
            data["labels"] = list(self.labels)
        if self.percent:
            data["percent"] = True
        return data


def _is_number_type(tp) -> bool:
    return isinstance(tp, type) and tp is not bool and (issubclass(tp, (Real, Fraction)) or tp in (int, float))


def _kind_of_type(tp) -> str | None:
    """The answer kind a Python type annotation describes, or None when it is not one we type
    (str, a Literal, a mix): then the answer is picked among the options."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return _kind_of_type(args[0])
    if tp is bool:
        return "bool"
    if _is_number_type(tp):
        return "number"
    if origin in (typing.Union, types.UnionType):
        kinds = {_kind_of_type(a) for a in args if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    if isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "__annotations__"):  # a NamedTuple
        origin, args = tuple, tuple(typing.get_type_hints(tp).values())
    if origin in (set, frozenset):
        return "set"
    if origin is tuple and args:
        items = [a for a in args if a is not Ellipsis]
        kinds = {_kind_of_type(a) for a in items}
        if kinds == {"number"}:
            return "vector"
        if kinds == {"vector"} and Ellipsis in args:  # rows of numbers
            return "matrix"
    return None


@lru_cache(maxsize=None)
def derived_format(cls: type) -> AnswerFormat:
    """The generic answer format of a type that declares none: from the return annotation of its
    `choice_value` (or, when it keeps the default one, its Answer's first field). A flat tuple of
    numbers is a vector (declare a shape), a tuple of such rows a matrix; str and other types
    are picked among the options. Raises TypeError when there is no annotation to read."""
    if cls.choice_value is QuestionType.choice_value:
        tp = next(iter(cls.Answer.model_fields.values())).annotation
    else:
        tp = typing.get_type_hints(cls.choice_value).get("return")
        if tp is None or tp is Any:
            raise TypeError(f"{getattr(cls, 'id', cls.__name__)}: choice_value has no return annotation and the "
                            "type declares no answer_format; annotate it or declare answer_format")
    return AnswerFormat(_kind_of_type(tp) or "choice")


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
    Bad ranges are rejected when validated, with a message naming the values: every `min_x`
    that has a `max_x` must be at most it ("min_n 5 is larger than max_n 3"), checked here
    before a subclass's own validators run, so those may assume ordered pairs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="after")
    def _ordered_pairs(self):
        for low, high in range_pairs(type(self)):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} {getattr(self, low)} is larger than {high} {getattr(self, high)}")
        return self


@lru_cache(maxsize=None)
def range_pairs(ranges: type[RangesModel]) -> tuple[tuple[str, str], ...]:
    """The (`min_x`, `max_x`) field pairs of a Ranges class, in field order."""
    fields = ranges.model_fields
    return tuple((name, "max_" + name[4:]) for name in fields
                 if name.startswith("min_") and "max_" + name[4:] in fields)


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
    # Question options a spec asks for with `overrides` (never drawn by `sample`): the pin as written
    # in YAML ("ask: false_statement") and what it asks, for `examforge list` and docs/bank.md.
    options: ClassVar[dict[str, str]] = {}
    box_height: ClassVar[str] = "4cm"  # free-response answer box
    template_folder = None  # set by the registry: the folder holding `<id>/question.tex.j2`
    n_choices: ClassVar[int] = 4
    scoring: ClassVar[str] = "all_or_nothing"  # select-all questions: or "partial"
    # The Params field that chooses between kinds of question (a Literal); a slot keeps one kind
    # for the whole class (examforge.fairness).
    kind_field: ClassVar[str | None] = None
    # One sentence per named mistake, written for a student who made it (the drills show it
    # when a typed answer equals that mistake's value or a wrong option is picked).
    mistake_sentences: ClassVar[dict[str, str]] = {}
    # How the answer `choice_value` gives is entered and compared. None: `derived_format`, from
    # choice_value's return annotation. Declared where that is not right (a shape, labelled
    # numbers, a probability that may be typed as a percentage, options in words).
    answer_format: ClassVar[AnswerFormat | None] = None

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
        from examforge.text import latex_to_text

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

    def variant_format(self, params: ParamsModel) -> AnswerFormat | None:
        """The declared format of the variant with these params: `answer_format`, unless the type
        asks for a quantity of another form for some params (override then)."""
        return self.answer_format

    def format_of(self, params: ParamsModel | None = None) -> AnswerFormat:
        """How the answer of this type (params None) or of one variant is entered and compared:
        the declaration or `derived_format`, with the tolerance filled in from the Answer's
        grading_tol. The one place the drill and exports learn an answer's format."""
        declared = self.answer_format if params is None else self.variant_format(params)
        fmt = declared if declared is not None else derived_format(type(self))
        if fmt.tol is None:
            fmt = replace(fmt, tol=float(getattr(self.Answer, "grading_tol", 0.01)))
        return fmt

    def mistakes(self, params: ParamsModel) -> dict[str, Any]:
        """Named wrong values of `choice_value`, each from a deliberately wrong solver path."""
        raise NotImplementedError

    def why(self, params: ParamsModel, mistake: str) -> str:
        """The sentence for a student who made `mistake`; "" when the type has none for it."""
        return self.mistake_sentences.get(mistake, "")

    def fallback_mistakes(self, params: ParamsModel, answer: AnswerModel) -> dict[str, Any]:
        """Used only when the named mistakes collide with the answer or each other. After these,
        the draw takes `generic_mistakes`, which never run out for the value kinds it knows."""
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

    def generic_mistakes(self, params: ParamsModel, answer: AnswerModel) -> Iterator[tuple[str, Any]]:
        """The last resort of every multiple-choice and true/false draw: near misses of the
        answer's `choice_value` by its kind (see `generic_fallbacks`). Override where they would
        not be believable, or where the value is of a kind they do not know (a string)."""
        return generic_fallbacks(self.choice_value(answer))

    def choice_latex(self, value: Any) -> str:
        from examforge.formatting import fmt

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


# -- generic near misses ----------------------------------------------------------------------
#
# Every value kind the bank's options show has an endless supply of distinct near misses, so a
# draw can always fill its options however many named mistakes coincide. The rules keep them
# believable: integers stay integers, positive counts stay positive, non-negative values stay
# non-negative, values in [0, 1] (probabilities, fractions) stay in [0, 1], a probability
# vector stays a probability vector, shapes and matrices keep their shape. Floats move by at
# least 0.05, so options printed to four decimals never look alike.

GENERIC_STEPS = 24  # near misses per scalar; a vector or matrix has this many per entry


def _int_steps(v: int) -> Iterator[tuple[str, int]]:
    low = 1 if v >= 1 else (0 if v >= 0 else None)
    for k in range(1, GENERIC_STEPS + 1):
        for sign, name in ((1, "plus"), (-1, "minus")):
            w = v + sign * k
            if low is None or w >= low:
                yield f"{name}_{k}", w


def _float_steps(v: float) -> Iterator[tuple[str, float]]:
    if not math.isfinite(v):
        return
    unit = 0.0 <= v <= 1.0
    step = 0.05 if unit else max(0.05, float(f"{0.25 * abs(v):.1g}"))  # one significant digit
    for k in range(1, GENERIC_STEPS + 1):
        for sign, name in ((1, "plus"), (-1, "minus")):
            w = round(v + sign * k * step, 12) + 0.0
            if (unit and not 0.0 <= w <= 1.0) or (v >= 0 and w < 0):
                continue
            yield f"{name}_{k}_steps", w


def _fraction_steps(v: Fraction) -> Iterator[tuple[str, Fraction]]:
    if 0 <= v <= 1:  # the nearest fractions in [0, 1] with denominators d, 2d, 3d, ...
        d, count = v.denominator, 0
        for m in range(d, d * (GENERIC_STEPS + 1), d):
            for j in sorted(range(m + 1), key=lambda j: (abs(Fraction(j, m) - v), j)):
                w = Fraction(j, m)
                if w != v and w.denominator == m:  # each fraction once, in lowest terms
                    yield f"near_{w.numerator}_over_{w.denominator}", w
                    count += 1
                    if count >= GENERIC_STEPS:
                        return
        return
    step = Fraction(1, v.denominator)
    for k in range(1, GENERIC_STEPS + 1):
        for sign, name in ((1, "plus"), (-1, "minus")):
            w = v + sign * k * step
            if v < 0 or w >= 0:
                yield f"{name}_{k}_over_{v.denominator}", w


def _scalar_steps(v: Any) -> list[tuple[str, Any]]:
    if isinstance(v, bool):
        return [("negated", not v)]
    if isinstance(v, int):
        return list(_int_steps(v))
    if isinstance(v, float):
        return list(_float_steps(v))
    if isinstance(v, Fraction):
        return list(_fraction_steps(v))
    return []


def _is_distribution(v: tuple) -> bool:
    return (len(v) >= 2 and all(isinstance(x, float) and 0.0 <= x <= 1.0 for x in v)
            and abs(math.fsum(v) - 1.0) < 1e-6)


def _distribution_steps(v: tuple[float, ...]) -> Iterator[tuple[str, tuple[float, ...]]]:
    n = len(v)
    for i in range(n):
        yield f"all_mass_on_{i + 1}", tuple(1.0 if j == i else 0.0 for j in range(n))
    yield "uniform", tuple(1.0 / n for _ in range(n))
    # Mass moved towards one entry, the smallest first: that entry moves by at least
    # 0.1 * (1 - 1/n) >= 0.05 from one step to the next, so these alone are 9 distinct options.
    for i in sorted(range(n), key=lambda i: (v[i], i)):
        for t in (2, 4, 6, 8, 1, 3, 5, 7, 9):
            moved = tuple(round((1 - t / 10) * x + (t / 10 if j == i else 0.0), 12) + 0.0 for j, x in enumerate(v))
            yield f"moved_{10 * t}pct_to_{i + 1}", moved


def _leaves(v: Any, path: tuple[int, ...] = ()) -> Iterator[tuple[tuple[int, ...], Any]]:
    if isinstance(v, (tuple, list)):
        for i, x in enumerate(v):
            yield from _leaves(x, (*path, i))
    else:
        yield path, v


def _replaced(v: Any, path: tuple[int, ...], leaf: Any) -> Any:
    if not path:
        return leaf
    items = list(v)
    items[path[0]] = _replaced(items[path[0]], path[1:], leaf)
    return tuple(items)


def generic_fallbacks(value: Any) -> Iterator[tuple[str, Any]]:
    """Named near misses of `value`, distinct from it and from each other, in a fixed order.

    Scalars (int, float, Fraction, bool): off by 1, 2, 3, ... (floats by steps of at least 0.05).
    Probability vectors: all the mass on one entry, uniform, then mass moved towards one entry.
    Other tuples, nested tuples (shapes, vectors, matrices, spectra): one entry at a time off by
    its scalar steps. Sets: one element dropped or one added. Strings and unknown kinds: none
    (such a type gives its own `fallback_mistakes` or `generic_mistakes`)."""
    seen = {repr(value)}
    for name, near in _near_misses(value):
        if repr(near) not in seen:  # e.g. a peaked distribution is its own "all mass on" one
            seen.add(repr(near))
            yield name, near


def _near_misses(value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, (bool, int, float, Fraction)):
        yield from _scalar_steps(value)
    elif isinstance(value, (set, frozenset)):
        kind = type(value)
        if all(isinstance(x, int) and not isinstance(x, bool) for x in value):
            top = max(value, default=0)
            for x in sorted(value):
                if len(value) > 1:
                    yield f"dropped_{x}", kind(value - {x})
            for k in range(1, GENERIC_STEPS + 1):
                yield f"added_{top + k}", kind(value | {top + k})
    elif isinstance(value, (tuple, list)) and value:
        if _is_distribution(tuple(value)):
            yield from _distribution_steps(tuple(value))
            return
        leaves = [(path, _scalar_steps(leaf)) for path, leaf in _leaves(value)]
        for k in range(max((len(s) for _, s in leaves), default=0)):  # entry by entry, nearest first
            for path, steps in leaves:
                if k < len(steps):
                    name, leaf = steps[k]
                    where = "_".join(str(i + 1) for i in path)
                    yield f"entry_{where}_{name}", _replaced(value, path, leaf)


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
