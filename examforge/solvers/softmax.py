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


def temperature_statement_truths(z: Sequence[float], temperature: float) -> dict[str, bool]:
    """Each statement softmax.temperature can make about softmax(z / T), decided numerically by
    torch in float64 (seed 002 MC1). Limits are read at T = 1e-3 and T = 1e6: with integer
    logits every gap is at least 1, so e^(-gap / 1e-3) vanishes and e^(gap / 1e6) is 1 to 1e-5.
    "Positive" and "exactly 0" are read from log_softmax, which stays finite where a probability
    underflows to 0.0. A claim about every z is refuted by a counterexample (equal logits)."""
    zt, t = _vector(z), float(temperature)
    n = len(z)

    def soft(scale_z, temp):
        return torch.softmax(scale_z / temp, dim=0)

    with torch.no_grad():
        cold = soft(zt, 1e-3)
        hot = soft(zt, 1e6)
        top = zt.max()
        split = (zt == top).to(DTYPE) / (zt == top).sum()
        first = torch.zeros(n, dtype=DTYPE)
        first[int(torch.argmax(zt))] = 1.0
        tied = int((zt == top).sum()) > 1
        wrong_cold = first if tied else torch.full((n,), 1.0 / n, dtype=DTYPE)
        uniform = torch.full((n,), 1.0 / n, dtype=DTYPE)
        temps = (t, 0.05, 1.0, 20.0, 1e3)
        finite = all(bool(torch.isfinite(torch.log_softmax(zt / s, dim=0)).all()) for s in (*temps, 1e-3))
        at_t, at_2t = soft(zt, t), soft(zt, 2 * t)
        equal_logits = torch.full((n,), 1.5, dtype=DTYPE)
        close = lambda a, b, tol: bool(torch.allclose(a, b, rtol=0, atol=tol))  # noqa: E731
        return {
            # statements that are true for every z
            "hot_limit_uniform": close(hot, uniform, 1e-4),
            "cold_limit_argmax": close(cold, split, 1e-12),
            "all_positive": finite and all(bool((soft(zt, s) > 0).all()) for s in temps),
            "shift_invariant": close(soft(zt + 3.5, t), at_t, 1e-12),
            "hotter_lowers_max": bool(at_2t.max() < at_t.max() - 1e-12),
            # statements that are false (some only when the logits differ)
            "uniform_never": not close(soft(equal_logits, t), uniform, 1e-12),
            "cold_limit_wrong": close(cold, wrong_cold, 1e-12),
            "hot_limit_argmax": close(hot, split, 1e-4),
            "zero_for_small_t": not finite,
            "hotter_raises_max": bool(at_2t.max() > at_t.max() + 1e-12),
            "doubling_invariant": close(soft(2 * zt, t), at_t, 1e-12),
        }
