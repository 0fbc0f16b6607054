"""attention.score_variance: why attention scores are divided by sqrt(d_k) (seed 003 Q24):
Var(q . k) = d_k s_q^2 s_k^2 for independent zero-mean entries, the variance after the usual
1/sqrt(d_k) scaling, and the divisor that makes the variance exactly 1.

The free-response form asks all three; the multiple-choice and true/false forms ask the one named
by the Params field `ask` (a spec pins it with `overrides: {ask: scale}`).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from examforge.drawing import pick, short_decimal
from examforge.question import AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import fmt
from examforge.solvers import clean
from examforge.solvers.attention import dot_product_score_moments

Ask = Literal["variance", "scaled_variance", "scale"]
ASKS: tuple[str, ...] = ("variance", "scaled_variance", "scale")
_DIMS = (16, 32, 36, 49, 64, 100, 128, 144, 256, 512, 1024)
_STDS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)


class ScoreVarianceParams(ParamsModel):
    d_k: Annotated[int, Field(ge=1, le=65536)]
    q_std: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]  # standard deviation of each q_i
    k_std: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]  # standard deviation of each k_i
    ask: Ask = "variance"  # the multiple-choice / true-false quantity

    @model_validator(mode="after")
    def _printable(self):
        short_decimal(self.q_std, "q_std", 3)
        short_decimal(self.k_std, "k_std", 3)
        return self


class ScoreVarianceRanges(RangesModel):
    min_dk: Annotated[int, Field(ge=16, le=1024)] = 16
    max_dk: Annotated[int, Field(ge=16, le=1024)] = 512
    max_std: Annotated[float, Field(ge=1, le=4)] = 3.0

    @model_validator(mode="after")
    def _ordered(self):
        if not any(self.min_dk <= d <= self.max_dk for d in _DIMS):
            raise ValueError(f"no d_k in [{self.min_dk}, {self.max_dk}]; choose from {_DIMS}")
        return self


class ScoreVarianceAnswer(AnswerModel):
    q_var: float  # s_q^2
    k_var: float  # s_k^2
    term_variance: float  # Var(q_i k_i) = s_q^2 s_k^2
    variance: float  # Var(q . k) = d_k s_q^2 s_k^2
    std: float
    sqrt_dk: float
    scaled_variance: float  # Var(q . k / sqrt(d_k)) = s_q^2 s_k^2
    scale: float  # c with Var(q . k / c) = 1: sqrt(d_k) s_q s_k
    std_product: float  # s_q s_k
    asked: Ask
    grading_tol = 0.01


def _answer(p: ScoreVarianceParams, term: float, variance: float, std: float) -> ScoreVarianceAnswer:
    sqrt_dk = math.sqrt(p.d_k)
    return ScoreVarianceAnswer(
        q_var=clean(p.q_std**2), k_var=clean(p.k_std**2), term_variance=clean(term), variance=clean(variance),
        std=clean(std), sqrt_dk=clean(sqrt_dk), scaled_variance=clean(variance / p.d_k), scale=clean(std),
        std_product=clean(p.q_std * p.k_std), asked=p.ask,
    )


@register
class AttentionScoreVariance(QuestionType):
    id = "attention.score_variance"
    kind_field = "ask"  # one kind per slot for the whole class (examforge.fairness)
    summary = ("Variance of an attention score q.k with i.i.d. zero-mean entries (d_k s_q^2 s_k^2), after the "
               "1/sqrt(d_k) scaling, and the divisor that makes it 1.")
    mirrors = "003 Q24 (why divide QK^T by sqrt(d_k): Var(q . k) = d_k for unit-variance entries)"
    Params = ScoreVarianceParams
    Answer = ScoreVarianceAnswer
    Ranges = ScoreVarianceRanges
    forms = ("free", "mc", "tf")
    seed_example = {"d_k": 64, "q_std": 1, "k_std": 1, "ask": "scale"}
    seed_comment = ("The seed derives Var(q . k) = d_k for unit-variance entries and mentions d_k = 64 "
                    "(scores of order sqrt(64) = 8); this is that instance.")
    box_height = "4.5cm"

    def sample(self, rng: np.random.Generator, ranges: ScoreVarianceRanges) -> ScoreVarianceParams:
        r = ranges
        dims = [d for d in _DIMS if r.min_dk <= d <= r.max_dk]
        stds = [s for s in _STDS if s <= r.max_std]
        return ScoreVarianceParams(d_k=pick(rng, dims, "d_k", self.id), q_std=pick(rng, stds, "q_std", self.id),
                                   k_std=pick(rng, stds, "k_std", self.id), ask=pick(rng, ASKS, "ask", self.id))

    def solve(self, p: ScoreVarianceParams) -> ScoreVarianceAnswer:
        m = dot_product_score_moments(p.d_k, p.q_std, p.k_std)
        return _answer(p, m.term_variance, m.variance, m.std)

    def reference(self, p: ScoreVarianceParams) -> ScoreVarianceAnswer:
        term = Fraction(repr(p.q_std)) ** 2 * Fraction(repr(p.k_std)) ** 2
        return _answer(p, float(term), float(p.d_k * term), math.sqrt(p.d_k) * p.q_std * p.k_std)

    # -- presentation ------------------------------------------------------------------------------
    def answer_latex(self, a: ScoreVarianceAnswer) -> str:
        return (rf"$\operatorname{{Var}}(s) = {fmt(a.variance)}$; $\operatorname{{Var}}(s/\sqrt{{d_k}}) = "
                rf"{fmt(a.scaled_variance)}$; $c = {fmt(a.scale)}$")

    def key_texts(self, a: ScoreVarianceAnswer) -> list[str]:
        return [f"Var(s) = {fmt(a.variance)}", f"c = {fmt(a.scale)}"]

    def choice_value(self, a: ScoreVarianceAnswer) -> float:
        return {"variance": a.variance, "scaled_variance": a.scaled_variance, "scale": a.scale}[a.asked]

    def mistakes(self, p: ScoreVarianceParams) -> dict[str, float]:
        d, sq, sk = p.d_k, p.q_std, p.k_std
        var = d * sq * sq * sk * sk
        if p.ask == "variance":
            right = var
            wrong = {"forgot_d_k": sq * sq * sk * sk, "std_not_variance": math.sqrt(var),
                     "added_variances": d * (sq * sq + sk * sk), "used_stds": d * sq * sk,
                     "squared_d_k": d * var}
        elif p.ask == "scaled_variance":
            right = var / d
            wrong = {"assumed_one": 1.0, "divided_variance_by_sqrt_d_k": var / math.sqrt(d), "unscaled": var,
                     "used_stds": sq * sk, "divided_by_d_k_squared": var / d / d}
        else:
            right = math.sqrt(var)
            wrong = {"sqrt_d_k_only": math.sqrt(d), "variance_not_std": var, "d_k_not_sqrt": d * sq * sk,
                     "variances_not_stds": math.sqrt(d) * sq * sq * sk * sk, "forgot_d_k": sq * sk}
        # a distractor within grading tolerance of the answer would be marked right too
        return {name: clean(v) for name, v in wrong.items() if abs(v - right) > 2 * self.Answer.grading_tol}
