"""linalg.pca_svd: PCA read off the SVD of a centred data matrix (seed 003 Q4): covariance
eigenvalues sigma_i^2 / (n - 1), the fraction of variance the first k components explain, and
the Frobenius error of the best rank-k approximation (Eckart-Young).

The free-response form asks all three; the multiple-choice and true/false forms ask the one named
by the Params field `ask` (a spec pins it with `overrides: {ask: error}`).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from examforge.drawing import pick, short_decimal
from examforge.errors import GenerationError
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import fmt
from examforge.solvers import clean
from examforge.solvers.linalg import centred_data, pca_of_centred_data

Ask = Literal["eigenvalues", "explained", "error"]
ASKS: tuple[str, ...] = ("eigenvalues", "explained", "error")
# n - 1 is 2^a 5^b, so every sigma^2 / (n - 1) is a short decimal
_SAMPLES = (5, 6, 9, 11, 17, 21, 26, 41, 51, 101)
MAX_COMPONENTS = 6


class PcaParams(ParamsModel):
    n: Annotated[int, Field(ge=3, le=100000)]  # samples (rows of X)
    singular_values: tuple[Annotated[float, Field(gt=0, le=1000, allow_inf_nan=False)], ...]
    k: Annotated[int, Field(ge=1, le=MAX_COMPONENTS - 1)]  # components kept
    ask: Ask = "explained"  # the multiple-choice / true-false quantity

    @model_validator(mode="after")
    def _consistent(self):
        s = self.singular_values
        if not 2 <= len(s) <= MAX_COMPONENTS:
            raise ValueError(f"give 2 to {MAX_COMPONENTS} singular values, got {len(s)}")
        for v in s:
            short_decimal(v, "singular_values", 2)
        if any(a <= b for a, b in zip(s, s[1:])):
            raise ValueError(f"singular values must be strictly decreasing, got {list(s)}")
        if len(s) >= self.n:
            raise ValueError(f"a centred {self.n} x {len(s)} matrix has rank at most n - 1 = {self.n - 1}; "
                             f"give at most {self.n - 1} singular values or more samples")
        if self.k >= len(s):
            raise ValueError(f"k = {self.k} keeps every component; choose k below d = {len(s)}")
        return self

    @property
    def d(self) -> int:
        return len(self.singular_values)


class PcaRanges(RangesModel):
    min_features: Annotated[int, Field(ge=2, le=MAX_COMPONENTS)] = 3
    max_features: Annotated[int, Field(ge=2, le=MAX_COMPONENTS)] = 5
    max_singular: Annotated[int, Field(ge=MAX_COMPONENTS, le=100)] = 12


class PcaAnswer(AnswerModel):
    squares: tuple[float, ...]  # sigma_i^2
    n_minus_1: int
    eigenvalues: tuple[float, ...]  # sigma_i^2 / (n - 1), decreasing
    total: float  # sum of sigma_i^2
    ratios: tuple[float, ...]  # sigma_i^2 / total
    kept: float  # sum of the first k sigma_i^2
    explained: float  # kept / total
    dropped: float  # sum of the other sigma_i^2
    error: float  # sqrt(dropped) = ||X - X_k||_F
    k: int
    asked: Ask
    grading_tol = 0.005


def _answer(p: PcaParams, eigenvalues, ratios, error) -> PcaAnswer:
    squares = [Fraction(repr(s)) ** 2 for s in p.singular_values]
    total, kept = sum(squares), sum(squares[: p.k])
    return PcaAnswer(
        squares=tuple(clean(v) for v in squares), n_minus_1=p.n - 1, eigenvalues=tuple(clean(v) for v in eigenvalues),
        total=clean(total), ratios=tuple(clean(v) for v in ratios), kept=clean(kept),
        explained=clean(sum(ratios[: p.k])), dropped=clean(total - kept), error=clean(error), k=p.k, asked=p.ask,
    )


@register
class LinalgPcaSvd(QuestionType):
    id = "linalg.pca_svd"
    kind_field = "ask"  # one kind per slot for the whole class (examforge.fairness)
    summary = ("PCA from the singular values of a centred data matrix: covariance eigenvalues sigma^2/(n-1), "
               "variance explained by the first k components, and the rank-k Frobenius error.")
    mirrors = "003 Q4 (PCA via SVD: lambda_i = sigma_i^2/(n-1), variance explained, Eckart-Young rank-k error)"
    Params = PcaParams
    Answer = PcaAnswer
    answer_format = AnswerFormat("number")  # the default ask; see variant_format
    Ranges = PcaRanges
    forms = ("free", "mc", "tf")
    seed_example = {"n": 11, "singular_values": [10, 6, 3, 1], "k": 2, "ask": "explained"}
    seed_comment = ("The seed is symbolic; this instance has n = 11 samples, singular values 10, 6, 3, 1 and k = 2 "
                    "(covariance eigenvalues 10, 3.6, 0.9, 0.1).")
    box_height = "5cm"

    def sample(self, rng: np.random.Generator, ranges: PcaRanges) -> PcaParams:
        r = ranges
        d = int(rng.integers(r.min_features, r.max_features + 1))
        samples = [n for n in _SAMPLES if n > d]
        n = pick(rng, samples, "sample size", self.id)
        if r.max_singular < d:  # the validators keep max_singular >= MAX_COMPONENTS
            raise GenerationError(f"{self.id}: max_singular {r.max_singular} is below d = {d}")
        values = sorted(rng.choice(np.arange(1, r.max_singular + 1), size=d, replace=False).tolist(), reverse=True)
        k = int(rng.integers(1, d))
        return PcaParams(n=n, singular_values=[float(v) for v in values], k=k, ask=pick(rng, ASKS, "ask", self.id))

    def solve(self, p: PcaParams) -> PcaAnswer:
        r = pca_of_centred_data(centred_data(p.n, list(p.singular_values)), p.k)
        return _answer(p, r.covariance_eigenvalues, r.explained_ratios, r.rank_k_error)

    def reference(self, p: PcaParams) -> PcaAnswer:
        squares = [Fraction(repr(s)) ** 2 for s in p.singular_values]
        total = sum(squares)
        return _answer(p, [s / (p.n - 1) for s in squares], [s / total for s in squares],
                       math.sqrt(sum(squares[p.k:])))

    # -- presentation ---------------------------------------------------------------------------
    def answer_latex(self, a: PcaAnswer) -> str:
        return (rf"eigenvalues ${fmt(a.eigenvalues)}$; explained ${fmt(a.explained)}$; "
                rf"rank-{a.k} error ${fmt(a.error)}$")

    def key_texts(self, a: PcaAnswer) -> list[str]:
        return [str(fmt(a.eigenvalues)), str(fmt(a.explained)), str(fmt(a.error))]

    def variant_format(self, p: PcaParams) -> AnswerFormat:
        return AnswerFormat("vector") if p.ask == "eigenvalues" else AnswerFormat("number")

    def choice_value(self, a: PcaAnswer):
        if a.asked == "eigenvalues":
            return a.eigenvalues
        return a.explained if a.asked == "explained" else a.error

    def choice_latex(self, value) -> str:
        return f"${fmt(tuple(value) if isinstance(value, (list, tuple)) else value)}$"

    def mistakes(self, p: PcaParams) -> dict:
        s = [Fraction(repr(v)) for v in p.singular_values]
        sq = [v * v for v in s]
        total, k, n = sum(sq), p.k, p.n
        if p.ask == "eigenvalues":
            wrong = {
                "divided_by_n": [v / n for v in sq],
                "not_squared": [v / (n - 1) for v in s],
                "forgot_to_divide": sq,
                "explained_ratios_instead": [v / total for v in sq],
            }
            return {name: tuple(clean(v) for v in values) for name, values in wrong.items()}
        if p.ask == "explained":
            wrong = {
                "singular_values_not_squared": sum(s[:k]) / sum(s),
                "kth_component_only": sq[k - 1] / total,
                "dropped_fraction": 1 - sum(sq[:k]) / total,
                "first_component_only": sq[0] / total,
                "next_component_included": sum(sq[: k + 1]) / total,
            }
        else:
            wrong = {
                "forgot_sqrt": sum(sq[k:]),
                "included_kth_component": math.sqrt(sum(sq[k - 1:])),
                "largest_dropped_only": s[k],
                "sum_not_root_sum_of_squares": sum(s[k:]),
                "kept_instead_of_dropped": math.sqrt(sum(sq[:k])),
                "divided_by_n_minus_1": math.sqrt(sum(sq[k:]) / (n - 1)),
            }
        right = sum(sq[:k]) / total if p.ask == "explained" else math.sqrt(sum(sq[k:]))
        # a distractor within grading tolerance of the answer would be marked right too
        return {name: clean(v) for name, v in wrong.items() if abs(float(v) - float(right)) > 2 * self.Answer.grading_tol}

    def fallback_mistakes(self, p: PcaParams, a: PcaAnswer) -> dict:
        if p.ask == "eigenvalues":
            return {"doubled": tuple(clean(2 * v) for v in a.eigenvalues),
                    "halved": tuple(clean(v / 2) for v in a.eigenvalues),
                    "reversed": tuple(reversed(a.eigenvalues))}
        value = self.choice_value(a)
        return {"doubled": clean(2 * value), "halved": clean(value / 2), "squared": clean(value * value)}
