"""Softmax questions: temperature softmax and its limits, the softmax Jacobian, and the gradient
of softmax cross-entropy with respect to the logits."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from examforge.drawing import draw_until
from examforge.errors import GenerationError
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import Latex, fmt, frac, matrix
from examforge.solvers import clean
from examforge.solvers.softmax import (
    cross_entropy_gradient, softmax_jacobian, softmax_values, temperature_statement_truths,
)
from examforge.bank._options import params_rng


def _rounded(values) -> tuple:
    return tuple(_rounded(v) if isinstance(v, (list, tuple)) else clean(v) for v in values)


def _softmax(z, scale: float = 1.0) -> tuple[float, ...]:
    """Plain-Python softmax of scale * z (shifted by the max for stability)."""
    m = max(scale * v for v in z)
    e = [math.exp(scale * v - m) for v in z]
    total = sum(e)
    return tuple(v / total for v in e)


def _split_max(z, *, pick_min: bool = False) -> tuple[float, ...]:
    """Mass 1/m on each of the m largest (or smallest) entries: the T -> 0+ limit."""
    target = min(z) if pick_min else max(z)
    m = sum(1 for v in z if v == target)
    return tuple(1.0 / m if v == target else 0.0 for v in z)


def _vector_latex(value) -> str:
    return "$(" + ", ".join(frac(v) for v in value) + ")$"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClassesRanges(RangesModel):
    min_classes: Annotated[int, Field(ge=2, le=5)] = 3
    max_classes: Annotated[int, Field(ge=2, le=5)] = 4


# == softmax.temperature ========================================================================

Logit = Annotated[int, Field(ge=-9, le=9)]

_S = r"$\operatorname{softmax}_T(\mathbf{z})$"
# Statements about softmax_T(z) for "which statement is false?" (seed 002 MC1). The true ones,
# in the order the options take them; a student who calls one of them false made the mistake
# named after it.
_TRUE_STATEMENTS = ("hot_limit_uniform", "cold_limit_argmax", "all_positive", "shift_invariant",
                    "hotter_lowers_max")
_DOUBTED = {
    "hot_limit_uniform": "doubted_hot_limit",
    "cold_limit_argmax": "doubted_cold_limit",
    "all_positive": "doubted_positivity",
    "shift_invariant": "doubted_shift_invariance",
    "hotter_lowers_max": "doubted_flattening",
}
# The false ones (the answer), each with the plain words the key is checked for, and the true
# statement it contradicts, left out of its options so that the pair does not give it away.
FalseStatement = Literal["uniform_never", "cold_limit_wrong", "hot_limit_argmax", "zero_for_small_t",
                         "hotter_raises_max", "doubling_invariant"]
_FALSE_STATEMENTS: tuple[str, ...] = FalseStatement.__args__
_GIST = {
    "uniform_never": "no finite temperature",
    "cold_limit_wrong": "as the temperature goes to zero",
    "hot_limit_argmax": "as the temperature grows without bound",
    "zero_for_small_t": "some component of",
    "hotter_raises_max": "raises the largest component",
    "doubling_invariant": "Doubling every logit",
}
_CONTRADICTS = {"cold_limit_wrong": "cold_limit_argmax", "hot_limit_argmax": "hot_limit_uniform",
                "zero_for_small_t": "all_positive", "hotter_raises_max": "hotter_lowers_max"}


def _wrong_cold_limit(z) -> tuple[float, ...]:
    """A wrong T -> 0+ limit: all the mass on the first of tied maxima, else the uniform one."""
    if sum(1 for v in z if v == max(z)) > 1:
        return tuple(1.0 if i == list(z).index(max(z)) else 0.0 for i in range(len(z)))
    return tuple([1.0 / len(z)] * len(z))


def statement_latex(name: str, z, t: float) -> Latex:
    """The statement `name` about softmax_T(z) for the logits z and the temperature t."""
    hotter = rf"Raising $T$ from ${fmt(t)}$ to ${fmt(2 * t)}$"
    return Latex({
        "hot_limit_uniform": rf"As $T \to \infty$, {_S} approaches the uniform distribution.",
        "cold_limit_argmax": rf"As $T \to 0^+$, {_S} approaches {_vector_latex(_split_max(z))}.",
        "all_positive": rf"For every $T > 0$, every component of {_S} is positive.",
        "shift_invariant": rf"Adding the same constant to every logit leaves {_S} unchanged.",
        "hotter_lowers_max": rf"{hotter} lowers the largest component of {_S}.",
        "uniform_never": rf"For every $\mathbf{{z}}$, no finite temperature $T > 0$ makes {_S} uniform.",
        "cold_limit_wrong": rf"{_S} approaches {_vector_latex(_wrong_cold_limit(z))} "
                            r"as the temperature goes to zero ($T \to 0^+$).",
        "hot_limit_argmax": rf"{_S} approaches {_vector_latex(_split_max(z))} "
                            r"as the temperature grows without bound ($T \to \infty$).",
        "zero_for_small_t": rf"For a small enough $T > 0$, some component of {_S} is exactly $0$.",
        "hotter_raises_max": rf"{hotter} raises the largest component of {_S}.",
        "doubling_invariant": rf"Doubling every logit leaves {_S} unchanged.",
    }[name])


def statement_truths(z) -> dict[str, bool]:
    """Which statements hold, by reasoning: the limits are the argmax (ties shared) and the
    uniform distribution, every component is positive, a shift changes nothing, and a hotter
    softmax is flatter; equal logits are the one case where scaling and limits change nothing."""
    equal = len(set(z)) == 1
    return {
        "hot_limit_uniform": True, "cold_limit_argmax": True, "all_positive": True, "shift_invariant": True,
        "hotter_lowers_max": not equal,
        "uniform_never": False, "cold_limit_wrong": False, "hot_limit_argmax": equal, "zero_for_small_t": False,
        "hotter_raises_max": False, "doubling_invariant": equal,
    }


class TemperatureParams(ParamsModel):
    z: Annotated[tuple[Logit, ...], Field(min_length=2, max_length=6)]
    temperature: Annotated[float, Field(gt=0, le=20, allow_inf_nan=False)]
    # what the multiple-choice / true-false form asks; "false_statement" (seed 002 MC1, never
    # drawn: a spec asks for it) is multiple choice or free response
    ask: Literal["values", "cold_limit", "false_statement"] = "values"
    statement: FalseStatement | None = None  # ask false_statement: the false one (None: picked from z and T)

    @model_validator(mode="after")
    def _printable(self):
        smallest = min(_softmax(self.z, 1.0 / self.temperature))
        if smallest < 5e-4:
            raise ValueError(
                f"softmax(z / T) has an entry {smallest:.2g} that rounds to 0 at 4 decimals; "
                f"use a larger temperature than {self.temperature} or closer logits than {list(self.z)}"
            )
        if self.statement is not None and statement_truths(self.z)[self.statement]:
            raise ValueError(f"statement {self.statement!r} is true for the equal logits {list(self.z)}; "
                             "choose another or logits that differ")
        return self

    # -- "which statement is false?" -----------------------------------------------------------
    def _picks(self) -> tuple[float, float]:
        """Two uniform numbers fixed by z and T: which false statement, and where it is listed."""
        rng = params_rng(self, exclude=("ask", "statement"))
        return float(rng.random()), float(rng.random())

    @property
    def false_statement(self) -> str:
        if self.statement is not None:
            return self.statement
        truths = statement_truths(self.z)
        names = [n for n in _FALSE_STATEMENTS if not truths[n]]
        return names[int(self._picks()[0] * len(names))]

    @property
    def true_statements(self) -> tuple[str, ...]:
        """The three true statements shown with the false one."""
        truths = statement_truths(self.z)
        left_out = _CONTRADICTS.get(self.false_statement)
        return tuple(n for n in _TRUE_STATEMENTS if truths[n] and n != left_out)[:3]

    @property
    def statement_list(self) -> tuple[tuple[str, Latex], ...]:
        """(name, LaTeX) of the four statements in the order the free-response form lists them."""
        names = list(self.true_statements)
        names.insert(int(self._picks()[1] * (len(names) + 1)), self.false_statement)
        return tuple((n, statement_latex(n, self.z, self.temperature)) for n in names)


class TemperatureRanges(ClassesRanges):
    min_temperature: Annotated[float, Field(gt=0, le=20)] = 0.5
    max_temperature: Annotated[float, Field(gt=0, le=20)] = 4.0


class TemperatureAnswer(AnswerModel):
    scaled: tuple[float, ...]  # z / T
    shifted: tuple[float, ...]  # (z - max z) / T
    exps: tuple[float, ...]  # exp of the shifted logits
    total: float
    probs: tuple[float, ...]  # softmax(z / T)
    cold_limit: tuple[float, ...]  # T -> 0+
    hot_limit: tuple[float, ...]  # T -> infinity
    n_max: int  # how many logits tie for the largest
    all_equal: bool
    asked: Literal["values", "cold_limit", "false_statement"]
    tolerance: float = 0.0005
    # ask false_statement: every candidate statement's truth, the false one asked about, its
    # LaTeX and the plain words the key is checked for, and its place in the free-response list
    truths: tuple[tuple[str, bool], ...] = ()
    false_statement: str = ""
    false_text: str = ""
    false_gist: str = ""
    false_position: int = 0  # 1-based, in the free-response form's list
    hotter_probs: tuple[float, ...] = ()  # softmax(z / 2T), for the worked solution
    doubled_probs: tuple[float, ...] = ()  # softmax(2z / T)


def _temperature_answer(p: TemperatureParams, probs, truths: dict[str, bool] | None = None,
                        hotter=(), doubled=()) -> TemperatureAnswer:
    top = max(p.z)
    shifted = tuple((v - top) / p.temperature for v in p.z)
    exps = tuple(math.exp(v) for v in shifted)
    extra = {}
    if p.ask == "false_statement":
        name = p.false_statement
        if truths[name]:
            raise ArithmeticError(f"softmax.temperature: the statement {name!r} is not false for z = {list(p.z)}")
        extra = dict(
            truths=tuple(sorted(truths.items())), false_statement=name,
            false_text=statement_latex(name, p.z, p.temperature), false_gist=_GIST[name],
            false_position=[n for n, _ in p.statement_list].index(name) + 1,
            hotter_probs=_rounded(hotter), doubled_probs=_rounded(doubled),
        )
    return TemperatureAnswer(**extra,
        scaled=_rounded(v / p.temperature for v in p.z),
        shifted=_rounded(shifted),
        exps=_rounded(exps),
        total=clean(sum(exps)),
        probs=_rounded(probs),
        cold_limit=_rounded(_split_max(p.z)),
        hot_limit=_rounded([1.0 / len(p.z)] * len(p.z)),
        n_max=sum(1 for v in p.z if v == top),
        all_equal=len(set(p.z)) == 1,
        asked=p.ask,
    )


_TEMPS = (0.5, 2.0, 3.0, 4.0, 0.25, 5.0, 10.0)


@register
class SoftmaxTemperature(QuestionType):
    id = "softmax.temperature"
    summary = ("Temperature softmax softmax(z/T): its values at one T, its limits as T -> 0+ and T -> infinity, "
               "and (ask: false_statement) which of four statements about it is false.")
    mirrors = "002 Part 1 MC1 (temp-softmax_T(z) = softmax(z/T); which statement is false)"
    Params = TemperatureParams
    Answer = TemperatureAnswer
    answer_format = AnswerFormat("vector", percent=True)  # probabilities

    def variant_format(self, p: TemperatureParams) -> AnswerFormat:
        # "which statement is false?": picked among the statements
        return AnswerFormat("choice") if p.ask == "false_statement" else self.answer_format
    Ranges = TemperatureRanges
    forms = ("free", "mc", "tf")
    # The seed's own question: its logits (statement C), its four statements, T = 2 ours. Its
    # key is right: the false statement is the first, since z = (a, a, a, a) is uniform at every T.
    seed_example = {"z": [4, 3, 2, 1], "temperature": 2.0, "ask": "false_statement", "statement": "uniform_never"}
    options = {"ask: false_statement": "which of four statements about softmax_T(z) is false (002 MC1); mc or free, "
                                       "the false one pinned with `statement`"}
    box_height = "5cm"
    mistake_sentences = {
        "doubted_hot_limit": "That one is true: as T grows every z_i/T goes to 0, so the softmax tends to the uniform distribution.",
        "doubted_cold_limit": "That one is true: as T -> 0+ all the mass goes to the largest logit (shared equally among tied ones).",
        "doubted_positivity": "That one is true: every exponential is positive, so no component is 0 at any finite T.",
        "doubted_shift_invariance": "That one is true: adding c to every logit multiplies every exponential by e^(c/T), which cancels.",
        "doubted_flattening": "That one is true: a higher temperature flattens the softmax, so its largest component shrinks.",
    }

    def sample(self, rng: np.random.Generator, ranges: TemperatureRanges) -> TemperatureParams:
        r = ranges
        temps = [t for t in _TEMPS if r.min_temperature <= t <= r.max_temperature] or [r.min_temperature]
        ask = "values" if rng.random() < 0.6 else "cold_limit"
        def draw(rng):
            k = int(rng.integers(r.min_classes, r.max_classes + 1))
            z = [int(v) for v in rng.integers(-2, 6, size=k)]
            if ask == "cold_limit" and rng.random() < 0.4:  # a tie for the largest logit
                z[int(rng.integers(1, k))] = max(z)
                if z.count(max(z)) == 1:
                    z[0] = max(z)
            if len(set(z)) == 1:
                return None
            t = float(rng.choice(temps))
            if min(_softmax(z, 1.0 / t)) < 0.002:
                return None
            return TemperatureParams(z=tuple(z), temperature=t, ask=ask)

        return draw_until(rng, draw, tries=200, type_id=self.id, what="printable logits", ranges=r)

    def solve(self, p: TemperatureParams) -> TemperatureAnswer:
        probs = softmax_values(p.z, temperature=p.temperature)
        if p.ask != "false_statement":
            return _temperature_answer(p, probs)
        return _temperature_answer(
            p, probs, temperature_statement_truths(p.z, p.temperature),
            hotter=softmax_values(p.z, temperature=2 * p.temperature),
            doubled=softmax_values([2 * v for v in p.z], temperature=p.temperature),
        )

    def reference(self, p: TemperatureParams) -> TemperatureAnswer:
        def plain(z, t):  # unshifted: logits here are small
            e = [math.exp(v / t) for v in z]
            return [v / sum(e) for v in e]

        probs = plain(p.z, p.temperature)
        if p.ask != "false_statement":
            return _temperature_answer(p, probs)
        return _temperature_answer(p, probs, statement_truths(p.z), hotter=plain(p.z, 2 * p.temperature),
                                   doubled=plain([2 * v for v in p.z], p.temperature))

    def form_problem(self, p: TemperatureParams, form: str) -> str:
        if p.ask == "false_statement" and form == "tf":
            return ("ask 'false_statement' asks which of four statements is false: use form mc (or free); "
                    "a true/false question asks 'values' or 'cold_limit'")
        return ""

    def answer_latex(self, a: TemperatureAnswer) -> str:
        if a.asked == "false_statement":
            return rf"the false statement: {a.false_text}"
        return (
            rf"$\operatorname{{softmax}}(\mathbf{{z}}/T) = {fmt(a.probs)}$; "
            rf"$T \to 0^+$: ${fmt(a.cold_limit)}$; $T \to \infty$: ${fmt(a.hot_limit)}$"
        )

    def key_texts(self, a: TemperatureAnswer) -> list[str]:
        if a.asked == "false_statement":
            return [a.false_gist]
        return [str(fmt(a.probs if a.asked == "values" else a.cold_limit))]

    def choice_value(self, a: TemperatureAnswer):
        if a.asked == "false_statement":
            return a.false_text
        return a.probs if a.asked == "values" else a.cold_limit

    def choice_latex(self, value) -> str:
        return value if isinstance(value, str) else _vector_latex(value)

    def mistakes(self, p: TemperatureParams) -> dict:
        t = p.temperature
        at_t = _softmax(p.z, 1.0 / t)
        if p.ask == "false_statement":
            return {_DOUBTED[n]: statement_latex(n, p.z, t) for n in p.true_statements}
        if p.ask == "values":
            wrong = {
                "forgot_temperature": _softmax(p.z, 1.0),
                "multiplied_by_temperature": _softmax(p.z, t),
                "cold_limit_instead": _split_max(p.z),
                "hot_limit_instead": tuple([1.0 / len(p.z)] * len(p.z)),
            }
            if min(p.z) > 0:
                wrong["no_exponential"] = tuple(v / sum(p.z) for v in p.z)
            return wrong
        wrong = {}
        if _split_max(p.z) != tuple(1.0 if i == p.z.index(max(p.z)) else 0.0 for i in range(len(p.z))):
            wrong["tie_to_first_max"] = tuple(1.0 if i == p.z.index(max(p.z)) else 0.0 for i in range(len(p.z)))
        wrong.update({
            "uniform_limit": tuple([1.0 / len(p.z)] * len(p.z)),
            "finite_temperature_values": at_t,
            "argmin_limit": _split_max(p.z, pick_min=True),
            "softmax_at_t1": _softmax(p.z, 1.0),
        })
        return wrong

    def statement_of(self, mistake: str | None, a: TemperatureAnswer) -> str:
        """The statement behind a "which is false?" option: the answer's, or the true one a
        student doubted."""
        if mistake is None:
            return a.false_statement
        return next(name for name, doubted in _DOUBTED.items() if doubted == mistake)

    def fallback_mistakes(self, p: TemperatureParams, a: TemperatureAnswer) -> dict:
        if a.asked == "false_statement":
            return {}
        right = self.choice_value(a)
        return {
            "probabilities_reversed": tuple(reversed(right)),
            "temperature_squared": _softmax(p.z, 1.0 / (p.temperature * p.temperature)),
            "square_root_temperature": _softmax(p.z, 1.0 / math.sqrt(p.temperature)),
        }


# == the exact-logit questions: softmax.jacobian and softmax.ce_gradient =======================

ExpLogit = Annotated[int, Field(ge=1, le=99)]


class _ExpLogits(ParamsModel):
    """Logits z_i = ln c_i given through c = e^z (positive integers), so s_i = c_i / sum(c)."""

    exp_logits: Annotated[tuple[ExpLogit, ...], Field(min_length=2, max_length=6)]


def _compositions(rng: np.random.Generator, k: int, totals: dict[int, float], who: str) -> tuple[int, ...]:
    """k positive integers, not all equal, summing to one of `totals` (drawn with the given
    weights), so that s = c / sum(c) is a short decimal. Parts are at most 9 for totals up to
    20 and at most 60 above, so e^z stays a readable number."""
    possible = [t for t in totals if k <= t <= (9 if t <= 20 else 60) * k]
    if not possible:
        raise GenerationError(f"{who}: no total in {sorted(totals)} fits {k} classes")
    weights = np.array([totals[t] for t in possible], dtype=float)
    def draw(rng):
        total = int(rng.choice(possible, p=weights / weights.sum()))
        cuts = np.sort(rng.choice(np.arange(1, total), size=k - 1, replace=False))
        parts = np.diff(np.concatenate(([0], cuts, [total])))
        if parts.max() <= (9 if total <= 20 else 60) and len(set(parts.tolist())) > 1:
            return tuple(int(v) for v in parts)
        return None

    return draw_until(rng, draw, tries=200, type_id=who, what=f"composition of {possible} into {k} parts")


def _probs(c) -> list[Fraction]:
    total = sum(c)
    return [Fraction(v, total) for v in c]


def _logits(c) -> list[float]:
    return [math.log(v) for v in c]


# -- softmax.jacobian ------------------------------------------------------------------------


class JacobianParams(_ExpLogits):
    pass


class JacobianEntry(_Frozen):
    i: int  # 1-based
    j: int
    left: float  # s_i
    right: float  # 1 - s_i on the diagonal, s_j off it
    value: float


class JacobianAnswer(AnswerModel):
    total: int  # sum of e^{z_j}
    probs: tuple[float, ...]
    jacobian: tuple[tuple[float, ...], ...]
    diagonal: tuple[JacobianEntry, ...]  # s_i (1 - s_i)
    off_diagonal: tuple[JacobianEntry, ...]  # -s_i s_j for i < j
    row_sums: tuple[float, ...]


def _jacobian_answer(c, probs, jac) -> JacobianAnswer:
    k = len(c)
    jac = _rounded(jac)
    return JacobianAnswer(
        total=sum(c),
        probs=_rounded(probs),
        jacobian=jac,
        diagonal=tuple(
            JacobianEntry(i=i + 1, j=i + 1, left=clean(probs[i]), right=clean(1 - probs[i]), value=jac[i][i])
            for i in range(k)
        ),
        off_diagonal=tuple(
            JacobianEntry(i=i + 1, j=j + 1, left=clean(probs[i]), right=clean(probs[j]), value=jac[i][j])
            for i in range(k) for j in range(i + 1, k)
        ),
        row_sums=_rounded(sum(row) for row in jac),
    )


def _closed_form(s: list, *, diag_sign: int = 1, outer_sign: int = -1, off: bool = True,
                 diag_outer: bool = True) -> tuple[tuple[float, ...], ...]:
    """diag(s) + outer_sign * s s^T, with switches for the named wrong versions."""
    k = len(s)
    rows = []
    for i in range(k):
        row = []
        for j in range(k):
            if i == j:
                v = diag_sign * s[i] + (outer_sign * s[i] * s[i] if diag_outer else 0)
            else:
                v = outer_sign * s[i] * s[j] if off else 0
            row.append(float(v))
        rows.append(tuple(row))
    return tuple(rows)


# Totals dividing 100: s has at most 2 decimals and J = diag(s) - s s^T at most 4.
_JAC_TOTALS = {4: 0.5, 5: 0.5, 10: 1.5, 20: 2.0, 25: 2.0, 50: 3.0, 100: 3.0}


@register
class SoftmaxJacobian(QuestionType):
    id = "softmax.jacobian"
    summary = "The Jacobian ds/dz = diag(s) - s s^T of softmax at logits with exact probabilities."
    mirrors = "003 Q1 (backprop through softmax: derive ds_i/dz_j)"
    Params = JacobianParams
    Answer = JacobianAnswer
    answer_format = AnswerFormat("matrix")
    Ranges = ClassesRanges
    # 003 Q1 is symbolic (its key diag(s) - s s^T is right); our example has e^z = (2, 1, 1),
    # so s = (1/2, 1/4, 1/4).
    seed_example = {"exp_logits": [2, 1, 1]}
    box_height = "5cm"

    def sample(self, rng: np.random.Generator, ranges: ClassesRanges) -> JacobianParams:
        k = int(rng.integers(ranges.min_classes, ranges.max_classes + 1))
        return JacobianParams(exp_logits=_compositions(rng, k, _JAC_TOTALS, self.id))

    def solve(self, p: JacobianParams) -> JacobianAnswer:
        s, jac = softmax_jacobian(_logits(p.exp_logits))
        return _jacobian_answer(p.exp_logits, s, jac)

    def reference(self, p: JacobianParams) -> JacobianAnswer:
        s = _probs(p.exp_logits)
        return _jacobian_answer(p.exp_logits, [float(v) for v in s], _closed_form(s))

    def answer_latex(self, a: JacobianAnswer) -> str:
        # One row per line: pdftotext reads the rows of a tall matrix interleaved with the
        # text beside it, and rows set inline cannot be broken without running into the margin.
        rows = ",\\newline ".join(f"${fmt(row)}$" for row in a.jacobian)
        return rf"$J = \partial \mathbf{{s}}/\partial \mathbf{{z}}$ has rows\newline {rows}"

    def key_texts(self, a: JacobianAnswer) -> list[str]:
        return [str(fmt(row)) for row in a.jacobian]

    def choice_value(self, a: JacobianAnswer):
        return a.jacobian

    def choice_latex(self, value) -> str:
        return f"${matrix(value)}$"

    def mistakes(self, p: JacobianParams) -> dict:
        s = _probs(p.exp_logits)
        return {
            "forgot_off_diagonal": _closed_form(s, off=False),
            "plus_outer_product": _closed_form(s, outer_sign=1),
            "positive_off_diagonal": tuple(
                tuple(float(s[i] * (1 - s[i])) if i == j else float(s[i] * s[j]) for j in range(len(s)))
                for i in range(len(s))
            ),
            "only_diag_s": _closed_form(s, off=False, diag_outer=False),
            "minus_outer_only": _closed_form(s, diag_sign=0),
        }


# -- softmax.ce_gradient -----------------------------------------------------------------------


class CEGradientParams(_ExpLogits):
    target: Annotated[int, Field(ge=1, le=6)]  # 1-based index of the true class

    @model_validator(mode="after")
    def _target_exists(self):
        if self.target > len(self.exp_logits):
            raise ValueError(f"target class {self.target} does not exist: there are {len(self.exp_logits)} classes")
        return self


class CEGradientAnswer(AnswerModel):
    total: int
    probs: tuple[float, ...]
    onehot: tuple[int, ...]
    loss: float  # -ln s_target = ln(total / c_target)
    grad: tuple[float, ...]  # s - y
    grad_sum: float


def _ce_answer(p: CEGradientParams, probs, loss, grad) -> CEGradientAnswer:
    grad = _rounded(grad)
    return CEGradientAnswer(
        total=sum(p.exp_logits),
        probs=_rounded(probs),
        onehot=tuple(int(i + 1 == p.target) for i in range(len(p.exp_logits))),
        loss=clean(loss),
        grad=grad,
        grad_sum=clean(sum(grad)),
    )


# Totals whose 1/total is a short decimal: s - y is exact.
_CE_TOTALS = {4: 0.5, 5: 0.5, 8: 1.0, 10: 1.5, 16: 1.0, 20: 2.0, 25: 1.0, 40: 1.5, 50: 1.5, 100: 1.5}


@register
class SoftmaxCEGradient(QuestionType):
    id = "softmax.ce_gradient"
    summary = "Softmax cross-entropy loss and its gradient s - y with respect to the logits."
    mirrors = "003 Q2 (gradient of softmax cross-entropy: show dL/dz = s - y)"
    Params = CEGradientParams
    Answer = CEGradientAnswer
    answer_format = AnswerFormat("vector")
    Ranges = ClassesRanges
    # 003 Q2 is symbolic (its key s - y is right); our example has e^z = (2, 1, 1) and true
    # class 2: s - y = (0.5, -0.75, 0.25).
    seed_example = {"exp_logits": [2, 1, 1], "target": 2}
    box_height = "4cm"

    def sample(self, rng: np.random.Generator, ranges: ClassesRanges) -> CEGradientParams:
        k = int(rng.integers(ranges.min_classes, ranges.max_classes + 1))
        c = _compositions(rng, k, _CE_TOTALS, self.id)
        return CEGradientParams(exp_logits=c, target=int(rng.integers(1, k + 1)))

    def solve(self, p: CEGradientParams) -> CEGradientAnswer:
        s, loss, grad = cross_entropy_gradient(_logits(p.exp_logits), p.target - 1)
        return _ce_answer(p, s, loss, grad)

    def reference(self, p: CEGradientParams) -> CEGradientAnswer:
        s = _probs(p.exp_logits)
        y = [int(i + 1 == p.target) for i in range(len(s))]
        total = sum(p.exp_logits)
        return _ce_answer(
            p, [float(v) for v in s], math.log(total / p.exp_logits[p.target - 1]),
            [float(si - yi) for si, yi in zip(s, y)],
        )

    def answer_latex(self, a: CEGradientAnswer) -> str:
        return rf"$L = {fmt(a.loss)}$; $\partial L/\partial \mathbf{{z}} = \mathbf{{s}} - \mathbf{{y}} = {fmt(a.grad)}$"

    def key_texts(self, a: CEGradientAnswer) -> list[str]:
        return [str(fmt(a.grad))]

    def choice_value(self, a: CEGradientAnswer):
        return a.grad

    def choice_latex(self, value) -> str:
        return f"${fmt(tuple(value))}$"

    def mistakes(self, p: CEGradientParams) -> dict:
        s = [float(v) for v in _probs(p.exp_logits)]
        t = p.target - 1
        y = [float(i == t) for i in range(len(s))]
        return {
            "y_minus_s": tuple(yi - si for si, yi in zip(s, y)),
            "forgot_target": tuple(s),
            "target_entry_only": tuple(s[i] - 1 if i == t else 0.0 for i in range(len(s))),
            "gradient_wrt_s": tuple(-1 / s[i] if i == t else 0.0 for i in range(len(s))),
            "one_minus_s": tuple(1 - si for si in s),
        }
