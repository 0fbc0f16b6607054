"""Logistic regression: one stochastic gradient step on a single example, by autograd.

The loss is the binary cross-entropy of sigmoid(w . x) against y in {0, 1}, plus a penalty on
the weights: lambda/2 * ||w||_inf^2 (seed 002, Part 1 Q3) or lambda/2 * ||w||_2^2. autograd
differentiates the max in ||w||_inf through the (unique) largest |w_i|."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from examforge.solvers import DTYPE, clean
from examforge.solvers.mlp import StepResult, sgd_step

PENALTIES = {
    "linf_sq": lambda w: w.abs().max() ** 2,
    "l2_sq": lambda w: (w * w).sum(),
}


def logistic_sgd_step(
    x: Sequence[float], y: int, w: Sequence[float], *, lam: float, lr: float, penalty: str = "linf_sq"
) -> StepResult:
    """Values record z = w . x, p = sigmoid(z), the data loss and the penalty; grads["w"] is the
    full gradient, new_params["w"] the updated weights."""
    x_t = torch.tensor([float(v) for v in x], dtype=DTYPE)
    y_t = torch.tensor(float(y), dtype=DTYPE)
    norm = PENALTIES[penalty]

    def forward(p: dict[str, torch.Tensor]):
        z = p["w"] @ x_t
        prob = torch.sigmoid(z)
        data = F.binary_cross_entropy_with_logits(z, y_t)
        reg = 0.5 * lam * norm(p["w"])
        return data + reg, {"z": z, "p": prob, "data_loss": data, "penalty": reg}

    return sgd_step({"w": [float(v) for v in w]}, forward, lr=lr)


def logistic_gradient_parts(
    x: Sequence[float], y: int, w: Sequence[float], *, lam: float, penalty: str = "linf_sq"
) -> tuple[list[float], list[float]]:
    """The data-term and penalty-term gradients separately (autograd on each term)."""
    x_t = torch.tensor([float(v) for v in x], dtype=DTYPE)
    y_t = torch.tensor(float(y), dtype=DTYPE)
    with torch.enable_grad():
        w_t = torch.tensor([float(v) for v in w], dtype=DTYPE, requires_grad=True)
        (g_data,) = torch.autograd.grad(F.binary_cross_entropy_with_logits(w_t @ x_t, y_t), w_t)
        (g_reg,) = torch.autograd.grad(0.5 * lam * PENALTIES[penalty](w_t), w_t)
    return clean(g_data.tolist()), clean(g_reg.tolist())
