"""prob.optimal_prediction: the smallest expected loss of an autoregressive predictor on a sequence
of i.i.d. uniform values with repeats (seed 004 Problem 2(a)).

The targets are y = (u_{j_1}, ..., u_{j_T}) for i.i.d. u_j ~ Uniform(a, b), the inputs are the
targets shifted right behind a start token 0, and position i predicts y_i from x_1..x_i. A value
already seen is copied (loss 0); an unseen one is predicted by the constant minimising the expected
loss: the median (L1) or the mean (L2), with expected loss (b - a)/4 or (b - a)^2/12.

The loss is the Params field `loss` (`overrides: {loss: l2}` pins it); the interval and the
pattern of repeats do not depend on it, so a pinned slot asks every student the same kind of
question at the same difficulty.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, model_validator

from examforge.drawing import pick, short_decimal
from examforge.question import AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import fmt, frac
from examforge.solvers import clean
from examforge.solvers import DTYPE
from examforge.solvers.expectation import uniform_optimal_prediction

Loss = Literal["l1", "l2"]
LOSSES: tuple[str, ...] = ("l1", "l2")
# interval widths whose (b - a)/4 and (b - a)^2/12 are fractions with denominators up to 12
_WIDTHS = (1, 2, 3, 4, 5, 6, 8, 10, 12)
_LOWS = (-2, -1, 0, 0, 1, 2)  # 0 twice: [0, w] is the textbook interval
MAX_LENGTH = 10


class OptimalPredictionParams(ParamsModel):
    loss: Loss
    low: Annotated[float, Field(ge=-1000, le=1000, allow_inf_nan=False)]
    high: Annotated[float, Field(ge=-1000, le=1000, allow_inf_nan=False)]
    # y_i = u_{pattern[i]}; the values are numbered in order of first appearance (1, 2, 1, 2)
    pattern: tuple[Annotated[int, Field(ge=1, le=MAX_LENGTH)], ...]

    @model_validator(mode="after")
    def _consistent(self):
        short_decimal(self.low, "low", 2)
        short_decimal(self.high, "high", 2)
        if self.low >= self.high:
            raise ValueError(f"low {self.low} must be smaller than high {self.high}")
        if not 2 <= len(self.pattern) <= MAX_LENGTH:
            raise ValueError(f"pattern must have 2 to {MAX_LENGTH} positions, got {len(self.pattern)}")
        top = 0
        for i, j in enumerate(self.pattern):
            if j > top + 1:
                raise ValueError(f"pattern {list(self.pattern)}: position {i + 1} uses u_{j} before u_{top + 1}; "
                                 "number the values in order of first appearance")
            top = max(top, j)
        return self

    @property
    def inputs(self) -> tuple[int, ...]:
        """x_1..x_T as value numbers, 0 for the start token."""
        return (0, *self.pattern[:-1])

    @property
    def n_values(self) -> int:
        return max(self.pattern)

    @property
    def width(self) -> float:
        return clean(self.high - self.low)


class OptimalPredictionRanges(RangesModel):
    min_length: Annotated[int, Field(ge=3, le=MAX_LENGTH)] = 4
    max_length: Annotated[int, Field(ge=3, le=MAX_LENGTH)] = 7
    min_values: Annotated[int, Field(ge=1, le=MAX_LENGTH - 1)] = 2
    max_values: Annotated[int, Field(ge=1, le=MAX_LENGTH - 1)] = 4
    min_width: Annotated[int, Field(ge=1, le=12)] = 1  # b - a
    max_width: Annotated[int, Field(ge=1, le=12)] = 12

    @model_validator(mode="after")
    def _ordered(self):
        if not self.widths():
            raise ValueError(f"no interval width in [{self.min_width}, {self.max_width}]; choose from {_WIDTHS}")
        if self.min_values >= self.max_length:
            raise ValueError(f"min_values {self.min_values} leaves no repeat in a sequence of at most "
                             f"max_length {self.max_length} positions")
        return self

    def widths(self) -> list[int]:
        return [w for w in _WIDTHS if self.min_width <= w <= self.max_width]


class PositionTrace(BaseModel):
    """One position: its input and target (value numbers, 0 = start token), where the target was seen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    i: int
    input: int
    target: int
    seen_at: int | None  # the input position k <= i with x_k = y_i, None when y_i is unseen
    expected_loss: float


class OptimalPredictionAnswer(AnswerModel):
    positions: tuple[PositionTrace, ...]
    prediction: float  # the best constant for an unseen value: median (L1) = mean (L2) = (a + b)/2
    unseen_loss: float  # its expected loss: (b - a)/4 or (b - a)^2/12
    width: float  # b - a
    n_unseen: int
    n_copied: int
    total: float  # the smallest expected total loss
    loss: Loss
    grading_tol = 0.005

    @property
    def total_latex(self) -> str:
        """E[L] = (unseen positions) x (loss per unseen position), as a fraction when it is one."""
        exact = round(self.total, 6) == self.total
        tail = f"= {fmt(self.total)}" if exact else rf"= {frac(self.total)} \approx {fmt(self.total)}"
        return rf"$E[L] = {self.n_unseen} \times {frac(self.unseen_loss)} {tail}$"


def _first_seen(pattern) -> dict[int, int]:
    """Value number -> the input position where it first appears (y_k = x_{k+1})."""
    first: dict[int, int] = {}
    for k, j in enumerate(pattern, start=1):
        first.setdefault(j, k + 1)
    return first


def _answer(p: OptimalPredictionParams, seen_at: list[int | None], prediction: float, unseen: float,
            total: float) -> OptimalPredictionAnswer:
    positions = tuple(PositionTrace(i=i + 1, input=x, target=y, seen_at=s, expected_loss=0.0 if s else clean(unseen))
                      for i, (x, y, s) in enumerate(zip(p.inputs, p.pattern, seen_at)))
    n_unseen = sum(1 for s in seen_at if s is None)
    return OptimalPredictionAnswer(positions=positions, prediction=clean(prediction), unseen_loss=clean(unseen),
                                   width=p.width, n_unseen=n_unseen, n_copied=len(seen_at) - n_unseen,
                                   total=clean(total), loss=p.loss)


def _unseen_loss(loss: str, low, high) -> Fraction:
    w = Fraction(repr(float(high))) - Fraction(repr(float(low)))
    return w / 4 if loss == "l1" else w * w / 12


@register
class ProbOptimalPrediction(QuestionType):
    id = "prob.optimal_prediction"
    kind_field = "loss"  # one kind per slot for the whole class (examforge.fairness)
    summary = ("Smallest expected L1 or L2 loss of an autoregressive predictor on i.i.d. uniform values with "
               "repeats: copy what was seen, predict the median or mean otherwise.")
    mirrors = "004 Problem 2(a) (x = (0, u1, u2, u1), y = (u1, u2, u1, u2), u ~ Unif[0, 1], L1 loss: 0.5)"
    Params = OptimalPredictionParams
    Answer = OptimalPredictionAnswer
    Ranges = OptimalPredictionRanges
    forms = ("free", "mc", "tf")
    seed_example = {"loss": "l1", "low": 0, "high": 1, "pattern": [1, 2, 1, 2]}
    box_height = "5cm"

    def sample(self, rng: np.random.Generator, ranges: OptimalPredictionRanges) -> OptimalPredictionParams:
        r = ranges
        loss = pick(rng, LOSSES, "loss", self.id)
        low = pick(rng, _LOWS, "low", self.id)
        high = low + pick(rng, r.widths(), "width", self.id)
        length = int(rng.integers(r.min_length, r.max_length + 1))
        m = int(rng.integers(r.min_values, min(r.max_values, length - 1) + 1))
        # first appearances: u_1 at position 1, the others at m - 1 distinct later positions
        firsts = {0, *(int(v) for v in rng.choice(np.arange(1, length), size=m - 1, replace=False))}
        pattern, introduced = [], 0
        for i in range(length):
            if i in firsts:
                introduced += 1
                pattern.append(introduced)
            else:
                pattern.append(int(rng.integers(1, introduced + 1)))
        return OptimalPredictionParams(loss=loss, low=float(low), high=float(high), pattern=pattern)

    def solve(self, p: OptimalPredictionParams) -> OptimalPredictionAnswer:
        best = uniform_optimal_prediction(p.low, p.high, p.loss)
        first = _first_seen(p.pattern)
        seen_at = [first[j] if first[j] <= i else None for i, j in enumerate(p.pattern, start=1)]
        # a copied value costs loss(u - u) = 0; an unseen one the minimal expected loss
        losses = torch.tensor([0.0 if s else best.expected_loss for s in seen_at], dtype=DTYPE)
        return _answer(p, seen_at, best.prediction, best.expected_loss, float(losses.sum()))

    def reference(self, p: OptimalPredictionParams) -> OptimalPredictionAnswer:
        seen_at: list[int | None] = []
        for i in range(len(p.pattern)):
            visible = p.inputs[: i + 1]  # x_1..x_{i+1} in 1-based terms
            target = p.pattern[i]
            seen_at.append(visible.index(target) + 1 if target in visible else None)
        unseen = _unseen_loss(p.loss, p.low, p.high)
        n_unseen = sum(1 for s in seen_at if s is None)
        return _answer(p, seen_at, (p.low + p.high) / 2, float(unseen), float(n_unseen * unseen))

    # -- presentation -------------------------------------------------------------------------------
    def answer_latex(self, a: OptimalPredictionAnswer) -> str:
        return a.total_latex

    def key_texts(self, a: OptimalPredictionAnswer) -> list[str]:
        return [str(fmt(a.total))]

    def choice_value(self, a: OptimalPredictionAnswer) -> float:
        return a.total

    def mistakes(self, p: OptimalPredictionParams) -> dict[str, float]:
        n = len(p.pattern)
        per = _unseen_loss(p.loss, p.low, p.high)
        first = _first_seen(p.pattern)
        m = sum(1 for i, j in enumerate(p.pattern, start=1) if first[j] > i)
        # the current input x_i ignored: a value is copied only when it appeared in x_1..x_{i-1}
        m_late = sum(1 for i, j in enumerate(p.pattern, start=1) if first[j] > i - 1)
        lo, hi = Fraction(repr(p.low)), Fraction(repr(p.high))
        w = hi - lo
        other = "l2" if p.loss == "l1" else "l1"
        wrong = {
            "ignored_the_repeats": n * per,
            "used_the_other_loss": m * _unseen_loss(other, p.low, p.high),
            "predicted_the_low_end": m * (w / 2 if p.loss == "l1" else w * w / 3),
            "ignored_the_current_input": m_late * per,
            "assumed_targets_visible": Fraction(0),
        }
        if p.loss == "l2":
            wrong["std_not_variance"] = m * float(w) / math.sqrt(12)
        right = m * per
        return {k: clean(float(v)) for k, v in wrong.items() if abs(float(v) - float(right)) > 2 * self.Answer.grading_tol}
