"""Optimisation runs on tiny losses: torch autograd gradients and plain SGD steps, float64, CPU.

The parameter is an explicit leaf tensor, so nothing depends on a global RNG."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from examforge.solvers import DTYPE, clean


@dataclass(frozen=True)
class DescentRun:
    iterates: tuple[float, ...]  # w_0, w_1, ..., w_steps
    grads: tuple[float, ...]  # dL/dw at w_0, ..., w_{steps-1}
    losses: tuple[float, ...]  # L(w_0), ..., L(w_steps)


def quadratic_gd(curvature: float, lr: float, w0: float, steps: int) -> DescentRun:
    """Plain gradient descent (no momentum) on L(w) = a/2 w^2 from w0, gradients by autograd."""
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    # The SGD update is written out (w <- w - lr * dL/dw) rather than taken by torch.optim.SGD,
    # whose first construction costs seconds of lazy imports; the arithmetic is the same.
    a = torch.tensor(float(curvature), dtype=DTYPE)
    w = torch.tensor(float(w0), dtype=DTYPE, requires_grad=True)
    iterates, grads, losses = [clean(w.item())], [], []
    with torch.enable_grad():
        for _ in range(steps):
            loss = 0.5 * a * w * w
            (grad,) = torch.autograd.grad(loss, w)
            losses.append(clean(loss.item()))
            grads.append(clean(grad.item()))
            with torch.no_grad():
                w = (w - float(lr) * grad).requires_grad_(True)
            iterates.append(clean(w.item()))
    with torch.no_grad():
        losses.append(clean((0.5 * a * w * w).item()))
    return DescentRun(iterates=tuple(iterates), grads=tuple(grads), losses=tuple(losses))
