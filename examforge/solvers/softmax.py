"""Softmax, temperature softmax, its Jacobian and the softmax cross-entropy gradient, computed
by torch in float64 on the CPU (autograd where a derivative is asked; no global RNG)."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from examforge.solvers import DTYPE, clean


def _vector(z: Sequence[float]) -> torch.Tensor:
    return torch.tensor([float(v) for v in z], dtype=DTYPE)


def softmax_values(z: Sequence[float], *, temperature: float = 1.0) -> list[float]:
    """softmax(z / T)."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    with torch.no_grad():
        return clean(torch.softmax(_vector(z) / float(temperature), dim=0).tolist())


def softmax_jacobian(z: Sequence[float]) -> tuple[list[float], list[list[float]]]:
    """s = softmax(z) and the Jacobian J[i][j] = ds_i/dz_j, by autograd (not the closed form)."""
    zt = _vector(z)
    with torch.no_grad():
        s = torch.softmax(zt, dim=0)
    jac = torch.autograd.functional.jacobian(lambda v: torch.softmax(v, dim=0), zt)
    return clean(s.tolist()), clean(jac.tolist())


def cross_entropy_gradient(z: Sequence[float], target: int) -> tuple[list[float], float, list[float]]:
    """s = softmax(z), the loss L = -log s_target (0-based target) and dL/dz by autograd
    through torch's own cross_entropy (log-softmax + NLL), not through the closed form s - y."""
    with torch.enable_grad():
        zt = _vector(z).requires_grad_(True)
        loss = F.cross_entropy(zt.unsqueeze(0), torch.tensor([int(target)]))
        (grad,) = torch.autograd.grad(loss, zt)
    with torch.no_grad():
        s = torch.softmax(zt, dim=0)
    return clean(s.tolist()), clean(loss.item()), clean(grad.tolist())
