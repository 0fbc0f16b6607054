"""Logistic regression: one SGD step on one example, with the squared infinity-norm penalty of
seed 002 (Part 1 Q3), on concrete numbers."""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from examforge.drawing import draw_until, pick, short_decimal
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import fmt
from examforge.solvers import clean
from examforge.solvers.logreg import logistic_gradient_parts, logistic_sgd_step

Entry = Annotated[float, Field(ge=-100, le=100, allow_inf_nan=False)]
Vector = tuple[Entry, ...]
_SIGMA_Z = (0, 1, 2, 3)  # the printed table of sigmoid values


def sigma_4(z: float) -> str:
    return f"{1 / (1 + math.exp(-z)):.4f}"


def _unique_argmax(values) -> int | None:
    """0-based index of the strictly largest |value|, or None on a tie."""
    mags = [abs(v) for v in values]
    top = max(mags)
    return mags.index(top) if mags.count(top) == 1 else None


class LogRegParams(ParamsModel):
    x: Vector  # features, x[0] = 1 for the bias
    y: Literal[0, 1]
    w: Vector
    lam: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]
    lr: Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)]
    penalty: Literal["linf_sq", "l2_sq"] = "linf_sq"

    @model_validator(mode="after")
    def _consistent(self):
        if not 2 <= len(self.x) <= 6:
            raise ValueError(f"x has {len(self.x)} components; give between 2 and 6 (the first is the bias 1)")
        if len(self.w) != len(self.x):
            raise ValueError(f"w has {len(self.w)} components but x has {len(self.x)}")
        if self.x[0] != 1:
            raise ValueError(f"x[0] = {self.x[0]}, but the first feature is the bias and must be 1")
        for name in ("x", "w"):
            for i, v in enumerate(getattr(self, name)):
                short_decimal(v, f"{name}[{i}]", 4)
        short_decimal(self.lam, "lam", 4)
        short_decimal(self.lr, "lr", 4)
        if self.penalty == "linf_sq" and _unique_argmax(self.w) is None:
            raise ValueError(f"w = {list(self.w)} has no unique largest |w_i|: the infinity norm is not "
                             "differentiable there; make one |w_i| strictly largest")
        return self

    @property
    def dim(self) -> int:
        return len(self.w)

    @property
    def pairs(self) -> list[tuple[float, float]]:
        return list(zip(self.w, self.x))

    @property
    def sigma_table(self) -> list[tuple[float, str]]:
        z = abs(clean(sum(a * b for a, b in zip(self.w, self.x))))
        zs = sorted(set(_SIGMA_Z) | {z})
        return [(v, sigma_4(v)) for v in zs]


class LogRegRanges(RangesModel):
    min_dim: Annotated[int, Field(ge=2, le=5)] = 3
    max_dim: Annotated[int, Field(ge=2, le=5)] = 4


class LogRegAnswer(AnswerModel):
    z: float  # w . x
    p: float  # P(y = +1 | x) = sigmoid(z)
    residual: float  # p - y
    data_grad: tuple[float, ...]  # (p - y) x
    k: int | None  # 1-based index of the largest |w_i| (infinity-norm penalty)
    w_k: float | None
    penalty_grad: tuple[float, ...]
    grad: tuple[float, ...]
    new_w: tuple[float, ...]
    grading_tol = 0.01


def _tuple(v) -> tuple[float, ...]:
    return tuple(clean(x) for x in v)


def _closed_form(p: LogRegParams, *, penalty_grad, residual_sign: float = 1.0, lr_sign: float = 1.0):
    """w - lr * (residual_sign * (sigmoid(w.x) - y) x + penalty_grad), in pure Python."""
    z = math.fsum(a * b for a, b in zip(p.w, p.x))
    prob = 1 / (1 + math.exp(-z))
    grad = [residual_sign * (prob - p.y) * xi + g for xi, g in zip(p.x, penalty_grad)]
    return _tuple(wi - lr_sign * p.lr * gi for wi, gi in zip(p.w, grad))


def _e(dim: int, k: int, scale: float) -> list[float]:
    return [scale if i == k else 0.0 for i in range(dim)]


@register
class LogregSgdStep(QuestionType):
    id = "logreg.sgd_step"
    summary = "One SGD step of logistic regression on one example, with a squared infinity-norm (or L2) weight penalty."
    mirrors = "002 Part 1 Q3 (cross-entropy + (lambda/2)||w||_inf^2 SGD rule; the seed is symbolic, here with numbers)"
    Params = LogRegParams
    Answer = LogRegAnswer
    answer_format = AnswerFormat("vector")
    Ranges = LogRegRanges
    # The seed's update rule has no numbers; a small instance with sigma(0) = 0.5.
    seed_example = {"x": [1, 2, -1], "y": 1, "w": [1, 0.5, 2], "lam": 0.5, "lr": 0.1, "penalty": "linf_sq"}
    box_height = "6cm"

    def sample(self, rng: np.random.Generator, ranges: LogRegRanges) -> LogRegParams:
        def draw(rng):
            dim = int(rng.integers(ranges.min_dim, ranges.max_dim + 1))
            x = [1.0] + [float(v) for v in rng.choice((-2, -1, 1, 2, 3), size=dim - 1)]
            w = [float(v) / 2 for v in rng.integers(-5, 6, size=dim)]
            z = sum(a * b for a, b in zip(w, x))
            if z != int(z) or abs(z) > 3:  # sigma(z) must be in the printed table
                return None
            kw, kx = _unique_argmax(w), _unique_argmax(x)
            # The seed's distractors use argmax |x|: keep it unique and different from argmax |w|.
            if kw is None or kx is None or kw == kx:
                return None
            # ... and keep those three distractors apart from each other and from the answer.
            if w[kx] in (0.0, 1.0) or w[kw] == 1.0:
                return None
            penalty = "linf_sq" if rng.random() < 0.85 else "l2_sq"
            return LogRegParams(x=tuple(x), y=int(rng.integers(0, 2)), w=tuple(w),
                                lam=pick(rng, (0.1, 0.2, 0.5, 1.0), "lambda", self.id),
                                lr=pick(rng, (0.1, 0.2, 0.5, 1.0), "learning rate", self.id), penalty=penalty)

        return draw_until(rng, draw, tries=500, type_id=self.id,
                          what="example with an integer logit and distinct argmaxes", ranges=ranges)

    def solve(self, p: LogRegParams) -> LogRegAnswer:
        step = logistic_sgd_step(p.x, p.y, p.w, lam=p.lam, lr=p.lr, penalty=p.penalty)
        data_grad, penalty_grad = logistic_gradient_parts(p.x, p.y, p.w, lam=p.lam, penalty=p.penalty)
        k = None
        if p.penalty == "linf_sq":  # autograd routes the max's gradient to exactly one weight
            nonzero = [i for i, g in enumerate(penalty_grad) if g != 0]
            k = nonzero[0] + 1 if len(nonzero) == 1 else None
        return LogRegAnswer(
            z=step.values["z"], p=step.values["p"], residual=step.value_grads["z"],
            data_grad=tuple(data_grad), k=k, w_k=p.w[k - 1] if k else None, penalty_grad=tuple(penalty_grad),
            grad=tuple(step.grads["w"]), new_w=tuple(step.new_params["w"]),
        )

    def reference(self, p: LogRegParams) -> LogRegAnswer:
        z = math.fsum(a * b for a, b in zip(p.w, p.x))
        prob = 1 / (1 + math.exp(-z))
        data = [(prob - p.y) * xi for xi in p.x]
        if p.penalty == "linf_sq":
            k = _unique_argmax(p.w)
            reg = _e(p.dim, k, p.lam * p.w[k])  # d/dw (lam/2) max_i w_i^2 = lam w_k e_k
        else:
            k, reg = None, [p.lam * wi for wi in p.w]
        grad = [a + b for a, b in zip(data, reg)]
        return LogRegAnswer(
            z=clean(z), p=clean(prob), residual=clean(prob - p.y), data_grad=_tuple(data),
            k=k + 1 if k is not None else None, w_k=p.w[k] if k is not None else None,
            penalty_grad=_tuple(reg), grad=_tuple(grad), new_w=_tuple(wi - p.lr * gi for wi, gi in zip(p.w, grad)),
        )

    def answer_latex(self, a: LogRegAnswer) -> str:
        # One short line: after "Answer: B" two 4-vectors would run into the margin.
        return rf"new $\mathbf w = {fmt(a.new_w)}$"

    def key_texts(self, a: LogRegAnswer) -> list[str]:
        return [str(fmt(a.new_w))]

    def choice_value(self, a: LogRegAnswer):
        return a.new_w

    def choice_latex(self, value) -> str:
        return rf"$\mathbf w \leftarrow {fmt(value)}$"

    def mistakes(self, p: LogRegParams) -> dict:
        dim, lam = p.dim, p.lam
        kx = _unique_argmax(p.x)
        if p.penalty == "linf_sq":
            k = _unique_argmax(p.w)
            right = _e(dim, k, lam * p.w[k])
            wrong = {
                # the seed's three distractors, in its order
                "argmax_of_x_not_w": _e(dim, kx, lam * p.w[kx]),
                "penalty_without_w": _e(dim, k, lam),
                "argmax_of_x_without_w": _e(dim, kx, lam),
                "l2_penalty_gradient": [lam * wi for wi in p.w],
                "residual_sign_flipped": None,
                "forgot_half_in_penalty": _e(dim, k, 2 * lam * p.w[k]),
                "forgot_penalty": [0.0] * dim,
            }
        else:
            right = [lam * wi for wi in p.w]
            k = _unique_argmax(p.w)
            wrong = {
                "forgot_half_in_penalty": [2 * lam * wi for wi in p.w],
                "residual_sign_flipped": None,
                "forgot_penalty": [0.0] * dim,
                "linf_penalty_gradient": _e(dim, k, lam * p.w[k]) if k is not None else None,
            }
        out = {}
        for name, reg in wrong.items():
            if name == "residual_sign_flipped":
                out[name] = _closed_form(p, penalty_grad=right, residual_sign=-1.0)
            elif reg is not None:
                out[name] = _closed_form(p, penalty_grad=reg)
        return out

    def fallback_mistakes(self, p: LogRegParams, a: LogRegAnswer) -> dict:
        return {"ascent_step": _tuple(wi + p.lr * gi for wi, gi in zip(p.w, a.grad)),
                "forgot_learning_rate": _tuple(wi - gi for wi, gi in zip(p.w, a.grad)),
                "gradient_not_weights": a.grad}
