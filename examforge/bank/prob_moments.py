"""prob.moments: mean and variance of a Bernoulli, binomial, Poisson, uniform or exponential
variable with hand-friendly parameters (seed 003 Q9 (a)-(e)).

The distribution is a Params field, so a spec pins it with `overrides: {distribution: poisson}`.
Every draw fills the parameters of all five distributions (from the same lists whichever is
asked), so a pinned slot gives every student the same kind of question at the same difficulty;
the statement shows only the asked distribution's parameters. Params written by hand need only
those (`examforge solve prob.moments --params examples/params/moments_seed003.json`).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from examforge.drawing import pick, short_decimal
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import fmt
from examforge.solvers import clean
from examforge.solvers.expectation import distribution_moments

Distribution = Literal["bernoulli", "binomial", "poisson", "uniform", "exponential"]
DISTRIBUTIONS: tuple[str, ...] = ("bernoulli", "binomial", "poisson", "uniform", "exponential")
NEEDS = {"bernoulli": ("p",), "binomial": ("n", "p"), "poisson": ("rate",), "uniform": ("low", "high"),
         "exponential": ("rate",)}

_PROBS = (0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9)
# 1/rate and 1/rate^2 are short decimals for every rate here (exponential); any is a fine Poisson mean
_RATES = (0.1, 0.2, 0.25, 0.4, 0.5, 0.8, 1.0, 1.25, 2.0, 2.5, 4.0, 5.0, 8.0, 10.0)
_WIDTH_STEP = 3  # uniform widths are multiples of 3, so (b - a)^2 / 12 = 3 k^2 / 4 is a short decimal
_LOWS = tuple(range(-10, 11))

Value = tuple[float, float]  # (E[X], Var(X)): what the options show


class MomentsParams(ParamsModel):
    distribution: Distribution
    p: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] | None = None  # bernoulli, binomial
    n: Annotated[int, Field(ge=1, le=1000)] | None = None  # binomial trials
    rate: Annotated[float, Field(gt=0, le=20, allow_inf_nan=False)] | None = None  # poisson mean, exponential rate
    low: Annotated[float, Field(ge=-1000, le=1000, allow_inf_nan=False)] | None = None  # uniform
    high: Annotated[float, Field(ge=-1000, le=1000, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _complete(self):
        missing = [name for name in NEEDS[self.distribution] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.distribution} question needs {' and '.join(missing)}")
        for name, places in (("p", 4), ("rate", 4), ("low", 3), ("high", 3)):
            if getattr(self, name) is not None:
                short_decimal(getattr(self, name), name, places)
        if self.low is not None and self.high is not None and self.low >= self.high:
            raise ValueError(f"low {self.low} must be smaller than high {self.high}")
        return self

    @property
    def q(self) -> float:
        return clean(1 - self.p)


class MomentsRanges(RangesModel):
    min_trials: Annotated[int, Field(ge=2, le=100)] = 5
    max_trials: Annotated[int, Field(ge=2, le=100)] = 50
    min_width: Annotated[int, Field(ge=3, le=30)] = 3
    max_width: Annotated[int, Field(ge=3, le=30)] = 24

    @model_validator(mode="after")
    def _ordered(self):
        if not self.widths():
            raise ValueError(f"no uniform width in [{self.min_width}, {self.max_width}]; "
                             f"widths are multiples of {_WIDTH_STEP}")
        return self

    def widths(self) -> list[int]:
        return [w for w in range(_WIDTH_STEP, 31, _WIDTH_STEP) if self.min_width <= w <= self.max_width]


class MomentsAnswer(AnswerModel):
    distribution: Distribution
    mean: float
    variance: float
    second_moment: float  # E[X^2] = Var(X) + E[X]^2
    mean_squared: float  # E[X]^2
    std: float
    # the pieces the worked solution multiplies (None where they do not apply)
    q: float | None = None  # 1 - p
    total: float | None = None  # a + b
    width: float | None = None  # b - a
    width_squared: float | None = None
    inverse_rate: float | None = None  # 1 / lambda
    grading_tol = 0.001


def closed_form(p: MomentsParams) -> tuple[Fraction, Fraction]:
    """(E[X], Var(X)) as exact fractions, from the textbook formulas."""
    f = lambda v: Fraction(repr(float(v)))  # noqa: E731
    if p.distribution == "bernoulli":
        return f(p.p), f(p.p) * (1 - f(p.p))
    if p.distribution == "binomial":
        return p.n * f(p.p), p.n * f(p.p) * (1 - f(p.p))
    if p.distribution == "poisson":
        return f(p.rate), f(p.rate)
    if p.distribution == "uniform":
        return (f(p.low) + f(p.high)) / 2, (f(p.high) - f(p.low)) ** 2 / 12
    return 1 / f(p.rate), 1 / f(p.rate) ** 2


def _steps(p: MomentsParams) -> dict:
    steps: dict = {}
    if p.distribution in ("bernoulli", "binomial"):
        steps["q"] = clean(1 - p.p)
    if p.distribution == "uniform":
        steps.update(total=clean(p.low + p.high), width=clean(p.high - p.low),
                     width_squared=clean((p.high - p.low) ** 2))
    if p.distribution == "exponential":
        steps["inverse_rate"] = clean(1 / p.rate)
    return steps


@register
class ProbMoments(QuestionType):
    id = "prob.moments"
    kind_field = "distribution"  # one kind per slot for the whole class (examforge.fairness)
    summary = ("Mean, variance and E[X^2] of a Bernoulli, binomial, Poisson, uniform or exponential variable "
               "(the distribution is a Params field, so a spec can pin it).")
    mirrors = "003 Q9 (E[X] and Var(X) of Bernoulli(p), Binomial(n, p), Poisson, Uniform(a, b), Exponential; (b) derived from (a))"
    Params = MomentsParams
    Answer = MomentsAnswer
    answer_format = AnswerFormat("vector", labels=("E[X] = ", ", Var(X) = ", ""))
    Ranges = MomentsRanges
    forms = ("free", "mc", "tf")
    seed_example = {"distribution": "binomial", "n": 10, "p": 0.3}
    seed_comment = ("The seed asks for the formulas of all five distributions and derives (b) from (a); this is "
                    "part (b) with n = 10, p = 0.3. examples/params/moments_seed003.json holds one instance of each "
                    "part, (a) to (e).")
    box_height = "5cm"  # the binomial part (b) asks for a derivation

    def sample(self, rng: np.random.Generator, ranges: MomentsRanges) -> MomentsParams:
        r = ranges
        distribution = pick(rng, DISTRIBUTIONS, "distribution", self.id)
        # every distribution's parameters, always in this order: a pinned distribution keeps its numbers' lists
        prob = pick(rng, _PROBS, "p", self.id)
        n = int(rng.integers(r.min_trials, r.max_trials + 1))
        rate = pick(rng, _RATES, "rate", self.id)
        low = pick(rng, _LOWS, "low", self.id)
        width = pick(rng, r.widths(), "width", self.id)
        return MomentsParams(distribution=distribution, p=prob, n=n, rate=rate, low=float(low), high=float(low + width))

    def solve(self, p: MomentsParams) -> MomentsAnswer:
        m = distribution_moments(p.distribution, p=p.p, n=p.n, rate=p.rate, low=p.low, high=p.high)
        return MomentsAnswer(distribution=p.distribution, mean=m.mean, variance=m.variance,
                             second_moment=m.second_moment, mean_squared=clean(m.mean**2), std=m.std, **_steps(p))

    def reference(self, p: MomentsParams) -> MomentsAnswer:
        mean, var = closed_form(p)
        return MomentsAnswer(distribution=p.distribution, mean=clean(mean), variance=clean(var),
                             second_moment=clean(var + mean * mean), mean_squared=clean(mean * mean),
                             std=clean(math.sqrt(var)), **_steps(p))

    # -- presentation -----------------------------------------------------------------------
    def answer_latex(self, a: MomentsAnswer) -> str:
        return rf"{self.choice_latex((a.mean, a.variance))}; $E[X^2] = {fmt(a.second_moment)}$"

    def key_texts(self, a: MomentsAnswer) -> list[str]:
        return [f"E[X] = {fmt(a.mean)}", f"Var(X) = {fmt(a.variance)}"]

    def choice_value(self, a: MomentsAnswer) -> Value:
        return (a.mean, a.variance)

    def choice_latex(self, value: Value) -> str:
        return rf"$E[X] = {fmt(value[0])}$, $\operatorname{{Var}}(X) = {fmt(value[1])}$"

    def mistakes(self, p: MomentsParams) -> dict[str, Value]:
        mean, var = closed_form(p)
        second = var + mean * mean
        std = math.sqrt(var)
        d = p.distribution
        if d == "bernoulli":
            wrong = {"variance_is_p": (mean, mean), "variance_p_squared": (mean, mean**2),
                     "std_not_variance": (mean, std), "swapped_p_and_q": (1 - mean, var)}
        elif d == "binomial":
            prob = Fraction(repr(p.p))
            wrong = {"forgot_n_in_variance": (mean, prob * (1 - prob)), "poisson_variance": (mean, mean),
                     "n_squared_in_variance": (mean, p.n * var), "std_not_variance": (mean, std),
                     "second_moment_as_variance": (mean, second)}
        elif d == "poisson":
            wrong = {"variance_squared": (mean, mean**2), "std_not_variance": (mean, std),
                     "exponential_formulas": (1 / mean, 1 / mean**2), "second_moment_as_variance": (mean, second)}
        elif d == "uniform":
            lo, hi = Fraction(repr(p.low)), Fraction(repr(p.high))
            wrong = {"width_not_squared": (mean, (hi - lo) / 12), "divided_by_4": (mean, (hi - lo) ** 2 / 4),
                     "half_width_as_mean": ((hi - lo) / 2, var), "sum_in_variance": (mean, (hi + lo) ** 2 / 12),
                     "second_moment_as_variance": (mean, second)}
        else:
            rate = Fraction(repr(p.rate))
            wrong = {"rate_as_mean": (rate, rate**2), "forgot_square": (mean, mean),
                     "second_moment_as_variance": (mean, second), "poisson_formulas": (rate, rate)}
        return {name: (clean(m), clean(v)) for name, (m, v) in wrong.items()}

    def fallback_mistakes(self, p: MomentsParams, a: MomentsAnswer) -> dict[str, Value]:
        return {"variance_doubled": (a.mean, clean(2 * a.variance)), "variance_halved": (a.mean, clean(a.variance / 2)),
                "mean_doubled": (clean(2 * a.mean), a.variance), "variance_plus_one": (a.mean, clean(a.variance + 1))}
