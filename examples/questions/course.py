"""A computed question type of our own: the output of BatchNorm for one feature over a batch.

It follows the same contract as the built-in bank (examforge/bank): a `Params` model of what the
student sees, an `Answer`, difficulty `Ranges`, a draw from a seeded numpy Generator, a torch
solver and an independent reference, named mistakes, and two templates in
`course.batchnorm_output/`. Check it with `examforge check examples/questions`.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
import torch
from pydantic import Field, model_validator

from examforge.question import AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register

Small = Annotated[int, Field(ge=-20, le=20)]


class BatchNormParams(ParamsModel):
    x: tuple[Small, ...] = Field(min_length=2, max_length=6)  # one feature over a batch
    gamma: Annotated[int, Field(ge=1, le=5)]
    beta: Annotated[int, Field(ge=-5, le=5)]

    @model_validator(mode="after")
    def _not_constant(self):
        if len(set(self.x)) == 1:
            raise ValueError("x: the batch values must not all be equal (the variance would be 0)")
        return self


class BatchNormAnswer(AnswerModel):
    mean: float
    variance: float  # biased (1/n), as BatchNorm uses in training
    first_output: float  # y_1 = gamma (x_1 - mean) / sqrt(var) + beta, eps = 0
    rtol = 1e-9
    atol = 1e-9
    grading_tol = 0.01


class BatchNormRanges(RangesModel):
    min_batch: Annotated[int, Field(ge=2, le=6)] = 2
    max_batch: Annotated[int, Field(ge=2, le=6)] = 4

    @model_validator(mode="after")
    def _ordered(self):
        if self.min_batch > self.max_batch:
            raise ValueError(f"min_batch {self.min_batch} is larger than max_batch {self.max_batch}")
        return self


@register
class BatchNormOutput(QuestionType):
    id = "course.batchnorm_output"
    summary = "BatchNorm in training mode on one feature: batch mean, biased variance, one output."
    Params = BatchNormParams
    Answer = BatchNormAnswer
    Ranges = BatchNormRanges
    forms = ("free", "mc")
    box_height = "3cm"

    def sample(self, rng: np.random.Generator, ranges: BatchNormRanges) -> BatchNormParams:
        n = int(rng.integers(ranges.min_batch, ranges.max_batch + 1))
        # values whose mean is a whole number and whose variance is a perfect square: x = m + s * z
        # with z from a few hand-friendly patterns (mean 0, variance 1)
        patterns = {2: [(-1, 1)], 3: [], 4: [(-1, -1, 1, 1)], 5: [], 6: [(-1, -1, -1, 1, 1, 1)]}
        if not patterns.get(n):
            n = 4 if n > 3 else 2
        z = list(patterns[n][0])
        rng.shuffle(z)
        mean, scale = int(rng.integers(-5, 6)), int(rng.integers(1, 4))
        return BatchNormParams(x=tuple(mean + scale * v for v in z), gamma=int(rng.integers(1, 4)),
                               beta=int(rng.integers(-3, 4)))

    def solve(self, p: BatchNormParams) -> BatchNormAnswer:
        layer = torch.nn.BatchNorm1d(1, eps=1e-300, dtype=torch.float64)  # torch needs eps > 0
        with torch.no_grad():
            layer.weight.fill_(p.gamma)
            layer.bias.fill_(p.beta)
            x = torch.tensor(p.x, dtype=torch.float64).reshape(-1, 1)
            y = layer.train()(x)
        return BatchNormAnswer(mean=float(x.mean()), variance=float(x.var(unbiased=False)),
                               first_output=float(y[0, 0]))

    def reference(self, p: BatchNormParams) -> BatchNormAnswer:
        n = len(p.x)
        mean = sum(p.x) / n
        var = sum((v - mean) ** 2 for v in p.x) / n
        return BatchNormAnswer(mean=mean, variance=var, first_output=p.gamma * (p.x[0] - mean) / var ** 0.5 + p.beta)

    def answer_latex(self, a: BatchNormAnswer) -> str:
        from examforge.formatting import fmt

        return rf"$y_1 = {fmt(a.first_output)}$ ($\mu = {fmt(a.mean)}$, $\sigma^2 = {fmt(a.variance)}$)"

    def key_texts(self, a: BatchNormAnswer) -> list[str]:
        from examforge.formatting import fmt
        from examforge.text import latex_to_text

        return [latex_to_text(rf"$y_1 = {fmt(a.first_output)}$")]

    def choice_value(self, a: BatchNormAnswer) -> float:
        return a.first_output

    def mistakes(self, p: BatchNormParams) -> dict[str, float]:
        n = len(p.x)
        mean = sum(p.x) / n
        var = sum((v - mean) ** 2 for v in p.x) / n
        unbiased = var * n / (n - 1)
        return {
            "unbiased_variance": p.gamma * (p.x[0] - mean) / unbiased ** 0.5 + p.beta,
            "forgot_sqrt": p.gamma * (p.x[0] - mean) / var + p.beta if var != 1 else p.gamma * (p.x[0] - mean) / 4 + p.beta,
            "forgot_beta": p.gamma * (p.x[0] - mean) / var ** 0.5,
            "forgot_gamma": (p.x[0] - mean) / var ** 0.5 + p.beta,
        }
