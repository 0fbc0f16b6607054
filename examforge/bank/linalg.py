"""Linear algebra: the spectrum of the structured matrix I + alpha 1 1^T (seed 003 Q5)."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import Field, model_validator

from examforge.drawing import pick, short_decimal
from examforge.question import AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import fmt
from examforge.solvers import clean
from examforge.solvers.linalg import identity_plus_ones, rayleigh_quotient, symmetric_spectrum

_ALPHAS = (0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 0.8, 1, 1.2, 1.25, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6,
           -0.1, -0.2, -0.25, -0.3, -0.4, -0.5, -0.6, -0.75, -0.8, -1, -1.5, -2, -3)
MAX_SHOWN = 6  # the matrix is written out for n up to this

Spectrum = tuple[tuple[float, int], ...]  # (eigenvalue, multiplicity), decreasing


class RankOneParams(ParamsModel):
    n: Annotated[int, Field(ge=2, le=12)]
    alpha: Annotated[float, Field(ge=-10, le=10, allow_inf_nan=False)]

    @model_validator(mode="after")
    def _nonzero(self):
        short_decimal(self.alpha, "alpha", 3)
        if self.alpha == 0:
            raise ValueError("alpha = 0 makes A the identity (degenerate); choose a nonzero alpha")
        return self

    @property
    def show_matrix(self) -> bool:
        return self.n <= MAX_SHOWN

    @property
    def matrix_rows(self) -> list[list[float]]:
        return [[clean((1 if i == j else 0) + self.alpha) for j in range(self.n)] for i in range(self.n)]


class RankOneRanges(RangesModel):
    min_n: Annotated[int, Field(ge=2, le=12)] = 2
    max_n: Annotated[int, Field(ge=2, le=12)] = 8


class RankOneAnswer(AnswerModel):
    eigenvalues: tuple[float, ...]  # all n, decreasing
    spectrum: Spectrum  # distinct eigenvalues with multiplicities, decreasing
    constant_eigenvalue: float  # 1 + n alpha, along the all-ones vector
    n_alpha: float
    n_minus_1: int
    determinant: float
    trace: float
    singular: bool
    spectrum_latex: str  # the spectrum as the options print it
    grading_tol = 0.001


def spectrum_of(pairs: list[tuple[float, int]]) -> Spectrum:
    """Merge equal eigenvalues and sort decreasing, so equal spectra compare (and print) equal."""
    merged: dict[float, int] = {}
    for value, mult in pairs:
        if mult > 0:
            merged[clean(value)] = merged.get(clean(value), 0) + mult
    return tuple(sorted(merged.items(), key=lambda vm: -vm[0]))


def spectrum_latex(value: Spectrum) -> str:
    return ", ".join(f"${fmt(v)}$ " + ("once" if m == 1 else f"with multiplicity {m}") for v, m in value)


def _answer(p: RankOneParams, eigenvalues, constant, det, trace) -> RankOneAnswer:
    spectrum = spectrum_of([(v, 1) for v in eigenvalues])
    return RankOneAnswer(
        eigenvalues=tuple(eigenvalues), spectrum=spectrum, constant_eigenvalue=constant,
        n_alpha=clean(p.n * p.alpha), n_minus_1=p.n - 1, determinant=det, trace=trace, singular=abs(det) < 1e-9,
        spectrum_latex=spectrum_latex(spectrum),
    )


@register
class LinalgRankOneEigenvalues(QuestionType):
    id = "linalg.rank_one_eigenvalues"
    summary = "Eigenvalues (with multiplicities) and determinant of A = I_n + alpha 1 1^T for given n and alpha."
    mirrors = "003 Q5 (eigenvalues of I_n + alpha 1 1^T; the seed is symbolic, here with numbers)"
    Params = RankOneParams
    Answer = RankOneAnswer
    Ranges = RankOneRanges
    # The seed has no numbers; n = 4, alpha = 0.5 is a small instance.
    seed_example = {"n": 4, "alpha": 0.5}
    box_height = "4.5cm"

    def sample(self, rng: np.random.Generator, ranges: RankOneRanges) -> RankOneParams:
        n = int(rng.integers(ranges.min_n, ranges.max_n + 1))
        return RankOneParams(n=n, alpha=pick(rng, _ALPHAS, "alpha", self.id))

    def solve(self, p: RankOneParams) -> RankOneAnswer:
        a = identity_plus_ones(p.n, p.alpha)
        s = symmetric_spectrum(a)
        constant = rayleigh_quotient(a, [1.0] * p.n)
        return _answer(p, s.eigenvalues, constant, s.determinant, s.trace)

    def reference(self, p: RankOneParams) -> RankOneAnswer:
        top = clean(1 + p.n * p.alpha)
        eigenvalues = sorted([top] + [1.0] * (p.n - 1), reverse=True)
        return _answer(p, eigenvalues, top, top, clean(p.n + p.n * p.alpha))

    def answer_latex(self, a: RankOneAnswer) -> str:
        return f"{a.spectrum_latex}; $\\det A = {fmt(a.determinant)}$"

    def key_texts(self, a: RankOneAnswer) -> list[str]:
        from examforge.text import latex_to_text

        return [latex_to_text(a.spectrum_latex)]

    def choice_value(self, a: RankOneAnswer) -> Spectrum:
        return a.spectrum

    def choice_latex(self, value: Spectrum) -> str:
        return spectrum_latex(value)

    def mistakes(self, p: RankOneParams) -> dict[str, Spectrum]:
        n, a = p.n, p.alpha
        return {
            "alpha_not_times_n": spectrum_of([(1 + a, 1), (1, n - 1)]),
            "forgot_identity": spectrum_of([(n * a, 1), (0, n - 1)]),
            "multiplicities_swapped": spectrum_of([(1 + n * a, n - 1), (1, 1)]),
            "shifted_every_eigenvalue_by_alpha": spectrum_of([(1 + n * a, 1), (1 + a, n - 1)]),
            "all_equal_one_plus_alpha": spectrum_of([(1 + a, n)]),
        }

    def fallback_mistakes(self, p: RankOneParams, a: RankOneAnswer) -> dict[str, Spectrum]:
        n, al = p.n, p.alpha
        return {"trace_as_eigenvalue": spectrum_of([(n + n * al, 1), (1, n - 1)]),
                "n_plus_alpha": spectrum_of([(n + al, 1), (1, n - 1)]),
                "all_ones": spectrum_of([(1, n)])}
