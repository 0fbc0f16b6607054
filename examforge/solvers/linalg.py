"""Eigenvalues of small symmetric matrices, computed by torch in float64."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from examforge.solvers import DTYPE, clean

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
    rounded = [clean(v, _DIGITS) for v in values]
    distinct: list[tuple[float, int]] = []
    for v in rounded:
        if distinct and distinct[-1][0] == v:
            distinct[-1] = (v, distinct[-1][1] + 1)
        else:
            distinct.append((v, 1))
    return Spectrum(rounded, distinct, clean(det, _DIGITS), clean(trace, _DIGITS))


def rayleigh_quotient(a: torch.Tensor, v: list[float]) -> float:
    """v^T A v / v^T v: the eigenvalue along v when v is an eigenvector."""
    with torch.no_grad():
        x = torch.tensor(v, dtype=DTYPE)
        return clean(x @ a @ x / (x @ x), _DIGITS)


# -- PCA from a data matrix with given singular values ------------------------------------------------


@dataclass(frozen=True)
class PCAResult:
    covariance_eigenvalues: list[float]  # of the sample covariance X^T X / (n - 1), decreasing
    explained_ratios: list[float]  # each eigenvalue over their sum
    rank_k_error: float  # ||X - X_k||_F for the best rank-k approximation X_k
    column_means: list[float]  # ~0: X is centred


def centred_data(n: int, singular_values: list[float]) -> torch.Tensor:
    """A centred n x d data matrix X = U diag(s) V^T with the given singular values: U's columns
    are orthonormal and orthogonal to the all-ones vector (the QR factor of the polynomial basis
    1, t, t^2, ... on n points, without its constant column), V is the QR factor of a fixed
    well-conditioned d x d matrix. Nothing is random."""
    d = len(singular_values)
    if d >= n:
        raise ValueError(f"a centred {n} x {d} matrix has rank at most {n - 1}; need n > d")
    t = torch.linspace(-1, 1, n, dtype=DTYPE)
    basis = torch.stack([t**j for j in range(d + 1)], dim=1)
    u = torch.linalg.qr(basis).Q[:, 1:]
    idx = torch.arange(d, dtype=DTYPE)
    v = torch.linalg.qr(torch.eye(d, dtype=DTYPE) + 1.0 / (idx[:, None] + 2 * idx[None, :] + 2)).Q
    return u @ torch.diag(torch.tensor(singular_values, dtype=DTYPE)) @ v.T


def pca_of_centred_data(x: torch.Tensor, k: int) -> PCAResult:
    """Covariance eigenvalues (torch.cov, divisor n - 1), the fraction of variance along each
    principal direction, and the Frobenius error of the rank-k truncated SVD of X."""
    with torch.no_grad():
        cov = torch.cov(x.T)  # rows of x.T are the variables
        eig = torch.linalg.eigvalsh(cov).flip(0)
        ratios = eig / eig.sum()
        u, s, vh = torch.linalg.svd(x, full_matrices=False)
        x_k = u[:, :k] @ torch.diag(s[:k]) @ vh[:k, :]
        error = torch.linalg.matrix_norm(x - x_k, ord="fro")
        means = x.mean(dim=0)
    return PCAResult([clean(v, _DIGITS) for v in eig], [clean(v, _DIGITS) for v in ratios], clean(error, _DIGITS),
                     [clean(v, _DIGITS) for v in means])
