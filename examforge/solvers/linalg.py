"""Eigenvalues of small symmetric matrices, computed by torch in float64."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from examforge.solvers import DTYPE

_DIGITS = 10  # eigvalsh is accurate to ~1e-14 here; rounding groups repeated eigenvalues


@dataclass(frozen=True)
class Spectrum:
    eigenvalues: list[float]  # all n, in decreasing order
    distinct: list[tuple[float, int]]  # (eigenvalue, multiplicity), decreasing
    determinant: float
    trace: float


def identity_plus_ones(n: int, alpha: float) -> torch.Tensor:
    """A = I_n + alpha * 1 1^T."""
    ones = torch.ones(n, 1, dtype=DTYPE)
    return torch.eye(n, dtype=DTYPE) + alpha * (ones @ ones.T)


def symmetric_spectrum(a: torch.Tensor) -> Spectrum:
    with torch.no_grad():
        values = torch.linalg.eigvalsh(a).flip(0)
        det = torch.linalg.det(a)
        trace = torch.trace(a)
    rounded = [round(float(v), _DIGITS) + 0.0 for v in values]
    distinct: list[tuple[float, int]] = []
    for v in rounded:
        if distinct and distinct[-1][0] == v:
            distinct[-1] = (v, distinct[-1][1] + 1)
        else:
            distinct.append((v, 1))
    return Spectrum(rounded, distinct, round(float(det), _DIGITS) + 0.0, round(float(trace), _DIGITS) + 0.0)


def rayleigh_quotient(a: torch.Tensor, v: list[float]) -> float:
    """v^T A v / v^T v: the eigenvalue along v when v is an eigenvector."""
    with torch.no_grad():
        x = torch.tensor(v, dtype=DTYPE)
        return round(float(x @ a @ x / (x @ x)), _DIGITS) + 0.0
