"""Expectations under common distributions, computed by torch in float64 on the CPU.

`distribution_moments` builds the `torch.distributions` object, takes its `.mean` and `.variance`,
and checks them against x and x^2 summed (or integrated) against the distribution's own
`log_prob`: over the support for the discrete ones (Poisson truncated where the tail is below
float64 resolution), by Gauss-Legendre (uniform) or Gauss-Laguerre (exponential) quadrature,
exact for polynomials, for the continuous ones.

`uniform_optimal_prediction` finds the prediction o minimising E[loss(o - U)] for U ~ Uniform(a, b)
under the absolute (L1) or squared (L2) loss: the expected loss is integrated piecewise on
[a, o] and [o, b] (each piece a polynomial, so the quadrature is exact), and its minimiser is
located by Newton's method on its autograd derivative. Nothing here draws random numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from torch.distributions import Bernoulli, Binomial, Exponential, Poisson, Uniform

from examforge.solvers import DTYPE, clean

_NODES = 8  # quadrature nodes: exact for polynomials of degree < 16


def _t(x) -> torch.Tensor:
    return torch.as_tensor(x, dtype=DTYPE)


@lru_cache(maxsize=None)
def _legendre() -> tuple[torch.Tensor, torch.Tensor]:
    nodes, weights = np.polynomial.legendre.leggauss(_NODES)
    return _t(nodes), _t(weights)


@lru_cache(maxsize=None)
def _laguerre() -> tuple[torch.Tensor, torch.Tensor]:
    nodes, weights = np.polynomial.laguerre.laggauss(_NODES)
    return _t(nodes), _t(weights)


@dataclass(frozen=True)
class Moments:
    mean: float  # E[X]
    second_moment: float  # E[X^2]
    variance: float  # E[X^2] - E[X]^2
    std: float


def _distribution(kind: str, *, p=None, n=None, rate=None, low=None, high=None):
    if kind == "bernoulli":
        return Bernoulli(probs=_t(p))
    if kind == "binomial":
        return Binomial(total_count=_t(float(n)), probs=_t(p))
    if kind == "poisson":
        return Poisson(rate=_t(rate))
    if kind == "uniform":
        return Uniform(_t(low), _t(high))
    if kind == "exponential":
        return Exponential(rate=_t(rate))
    raise ValueError(f"unknown distribution {kind!r}")


def _support_and_weights(kind: str, dist, *, n=None, rate=None, low=None, high=None):
    """Points x_i and weights w_i with sum_i w_i f(x_i) = E[f(X)] for polynomials f of low degree."""
    if kind == "bernoulli":
        xs = _t([0.0, 1.0])
        return xs, dist.log_prob(xs).exp()
    if kind == "binomial":
        xs = torch.arange(int(n) + 1, dtype=DTYPE)
        return xs, dist.log_prob(xs).exp()
    if kind == "poisson":
        # P(X > K) < 1e-30 for K = rate + 40 sqrt(rate) + 60 with rate <= 20
        top = int(math.ceil(rate + 40 * math.sqrt(rate) + 60))
        xs = torch.arange(top + 1, dtype=DTYPE)
        return xs, dist.log_prob(xs).exp()
    if kind == "uniform":
        nodes, weights = _legendre()
        half = (high - low) / 2
        xs = low + half * (nodes + 1)
        return xs, half * weights * dist.log_prob(xs).exp()
    if kind == "exponential":
        # E[f(X)] = integral f(x) pdf(x) dx with x = t / rate: sum_i w_i e^{t_i} f(x_i) pdf(x_i) / rate
        nodes, weights = _laguerre()
        xs = nodes / rate
        return xs, weights * nodes.exp() * dist.log_prob(xs).exp() / rate
    raise ValueError(f"unknown distribution {kind!r}")


def distribution_moments(kind: str, *, p: float | None = None, n: int | None = None, rate: float | None = None,
                         low: float | None = None, high: float | None = None) -> Moments:
    """E[X], E[X^2], Var(X) of Bernoulli(p), Binomial(n, p), Poisson(rate), Uniform(low, high) or
    Exponential(rate): torch's `.mean` and `.variance`, after checking them against sums of x and
    x^2 over the distribution's own density (which carry ~1e-11 of lgamma/exp rounding)."""
    with torch.no_grad():
        dist = _distribution(kind, p=p, n=n, rate=rate, low=low, high=high)
        xs, w = _support_and_weights(kind, dist, n=n, rate=rate, low=low, high=high)
        total = w.sum()
        mean = (w * xs).sum()
        variance = (w * xs * xs).sum() - mean * mean
        scale = 1.0 + abs(float(dist.variance)) + float(dist.mean) ** 2
        if (abs(float(total) - 1) > 1e-9 or abs(float(mean - dist.mean)) > 1e-9 * scale
                or abs(float(variance - dist.variance)) > 1e-9 * scale):
            raise ArithmeticError(f"distribution_moments({kind}): density sums ({float(mean)}, {float(variance)}) "
                                  f"disagree with torch's ({float(dist.mean)}, {float(dist.variance)})")
        second = dist.variance + dist.mean**2
        return Moments(clean(dist.mean), clean(second), clean(dist.variance), clean(dist.stddev))


# -- optimal prediction of a uniform value ------------------------------------------------------------


@dataclass(frozen=True)
class OptimalPrediction:
    prediction: float  # argmin_o E[loss(o - U)]
    expected_loss: float  # the minimum
    derivative_at_prediction: float  # d/do E[loss(o - U)] at the minimiser: ~0


def _piece(a: torch.Tensor, b: torch.Tensor, f, density) -> torch.Tensor:
    """integral_a^b f(u) density(u) du by Gauss-Legendre (exact when f * density is a polynomial)."""
    nodes, weights = _legendre()
    half = (b - a) / 2
    u = a + half * (nodes + 1)
    return (half * weights * f(u) * density(u)).sum()


def expected_uniform_loss(o: torch.Tensor, low: float, high: float, loss: str) -> torch.Tensor:
    """E[loss(o - U)], U ~ Uniform(low, high), for o in [low, high]; differentiable in o."""
    dist = Uniform(_t(low), _t(high))
    lo, hi = _t(low), _t(high)

    def density(u: torch.Tensor) -> torch.Tensor:
        # log_prob of the interior points; the nodes never touch the end points
        return dist.log_prob(u).exp()

    if loss == "l1":
        return _piece(lo, o, lambda u: o - u, density) + _piece(o, hi, lambda u: u - o, density)
    if loss == "l2":
        return _piece(lo, o, lambda u: (o - u) ** 2, density) + _piece(o, hi, lambda u: (u - o) ** 2, density)
    raise ValueError(f"unknown loss {loss!r}; choose l1 or l2")


@lru_cache(maxsize=1024)  # a pure function of three scalars, asked again for every variant
def uniform_optimal_prediction(low: float, high: float, loss: str) -> OptimalPrediction:
    """The prediction minimising the expected L1 or L2 loss against U ~ Uniform(low, high): Newton's
    method on the autograd derivative of the (convex) expected loss, from the first third of the
    interval. Both expected losses are quadratic in o on [low, high], so it lands in one step; the
    loop checks that the derivative vanishes there."""
    o = _t(low + (high - low) / 3)
    for _ in range(20):
        point = o.detach().requires_grad_(True)
        with torch.enable_grad():
            value = expected_uniform_loss(point, low, high, loss)
            (grad,) = torch.autograd.grad(value, point, create_graph=True)
            (curvature,) = torch.autograd.grad(grad, point)
        point, value, grad = point.detach(), value.detach(), grad.detach()
        if abs(float(grad)) <= 1e-12 * (1.0 + abs(float(value))):
            return OptimalPrediction(clean(point), clean(value), clean(grad))
        o = (point - grad / curvature).clamp(low, high)
    raise ArithmeticError(f"uniform_optimal_prediction({low}, {high}, {loss}): Newton did not converge")
