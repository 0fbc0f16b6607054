"""Probability and estimation, computed by torch in float64 on the CPU.

Bayes' rule as a normalised product of prior and likelihood vectors, normal tails from
`torch.distributions.Normal`, Shannon entropy with `xlogy` (so 0 log 0 = 0), the Hoeffding
sample size (float64 with an exact tie-break), and maximum-likelihood / MAP estimates found
by maximising the log-likelihood or log-posterior with autograd rather than by formula.
Nothing here draws random numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Sequence

import torch
from torch.distributions import Beta, Normal

from examforge.solvers import DTYPE, clean


def _t(x) -> torch.Tensor:
    return torch.as_tensor(x, dtype=DTYPE)


# -- Bayes' rule ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BayesResult:
    joint: list[float]  # P(hypothesis_i and evidence)
    evidence: float  # P(evidence) = sum of the joint
    posterior: list[float]  # P(hypothesis_i | evidence)


def bayes_posterior(prior: Sequence[float], likelihood: Sequence[float]) -> BayesResult:
    """Posterior over hypotheses given P(h_i) and P(evidence | h_i)."""
    with torch.no_grad():
        p, lik = _t(prior), _t(likelihood)
        joint = p * lik
        evidence = joint.sum()
        post = joint / evidence
    return BayesResult([clean(v) for v in joint], clean(evidence), [clean(v) for v in post])


# -- normal tails (central limit theorem) -------------------------------------------------------


@dataclass(frozen=True)
class MeanTail:
    std: float  # sqrt(variance)
    se: float  # standard error sigma / sqrt(n)
    z: float  # (threshold - mean) / se
    phi: float  # Phi(|z|)
    probability: float


def sample_mean_tail(mean: float, variance: float, n: int, threshold: float, tail: str) -> MeanTail:
    """CLT approximation of P(mean of n draws > t) ("upper"), < t ("lower"), or of a deviation
    from the mean of at least |t - mean| in either direction ("two_sided")."""
    with torch.no_grad():
        std = torch.sqrt(_t(variance))
        se = std / torch.sqrt(_t(float(n)))
        sampling = Normal(_t(mean), se)
        t = _t(threshold)
        if tail == "upper":
            prob = 1 - sampling.cdf(t)
        elif tail == "lower":
            prob = sampling.cdf(t)
        elif tail == "two_sided":
            d = (t - mean).abs()
            prob = sampling.cdf(mean - d) + (1 - sampling.cdf(mean + d))
        else:
            raise ValueError(f"unknown tail {tail!r}; choose upper, lower or two_sided")
        z = (t - mean) / se
        phi = Normal(_t(0.0), _t(1.0)).cdf(z.abs())
    return MeanTail(clean(std), clean(se), clean(z), clean(phi), clean(prob))


# -- Hoeffding sample size ------------------------------------------------------------------------


@dataclass(frozen=True)
class HoeffdingResult:
    n: int
    bound: float  # ln(sides/delta) / (factor * eps^2), the real-valued threshold on n
    log_term: float  # ln(sides/delta)
    denominator: float  # factor * eps^2
    tail_at_n: float  # sides * exp(-factor * n * eps^2) <= delta
    tail_below: float | None  # the same at n - 1 (> delta); None when n = 1


def _exact_decimal(x: float) -> Decimal:
    """The short decimal a float was written as (0.01 -> Decimal('0.01'))."""
    return Decimal(repr(float(x)))


def _holds_exactly(n: int, eps: float, delta: float, sides: int, factor: int) -> bool:
    """sides * exp(-factor n eps^2) <= delta, i.e. factor n eps^2 >= ln(sides/delta), decided with
    60-digit decimals (ln of a rational is transcendental, so the two sides are never equal)."""
    with localcontext() as ctx:
        ctx.prec = 60
        e, d = _exact_decimal(eps), _exact_decimal(delta)
        lhs = factor * n * e * e
        rhs = Decimal(sides).ln() - d.ln()
        return lhs >= rhs


def hoeffding_sample_size(epsilon: float, delta: float, *, sides: int = 2, factor: int = 2) -> HoeffdingResult:
    """Smallest n >= 1 with sides * exp(-factor * n * epsilon^2) <= delta.

    The textbook two-sided bound is sides=2, factor=2. torch gives the real threshold in float64;
    when n or n - 1 sits within float noise of the boundary, the exact decimal check decides."""
    with torch.no_grad():
        eps, dlt = _t(epsilon), _t(delta)
        log_term = torch.log(sides / dlt)
        denom = factor * eps * eps
        bound = log_term / denom
        n = max(1, int(math.ceil(float(bound))))

        def holds(m: int) -> bool:
            relative = float((factor * m * eps * eps - log_term) / log_term)
            if abs(relative) > 1e-12:
                return relative > 0
            return _holds_exactly(m, epsilon, delta, sides, factor)  # within float noise

        while n > 1 and holds(n - 1):
            n -= 1
        while not holds(n):
            n += 1
        tail = lambda m: sides * torch.exp(-factor * m * eps * eps)  # noqa: E731
        return HoeffdingResult(
            n=n,
            bound=clean(bound),
            log_term=clean(log_term),
            denominator=clean(denom),
            tail_at_n=float(tail(n)),
            tail_below=float(tail(n - 1)) if n > 1 else None,
        )


# -- entropy ----------------------------------------------------------------------------------------


def entropy_bits(probs: Sequence[float]) -> float:
    """Shannon entropy in bits; zero-probability outcomes contribute 0 (xlogy(0, 0) = 0)."""
    with torch.no_grad():
        p = _t(probs)
        return clean(-(torch.special.xlogy(p, p).sum()) / math.log(2.0))


def entropy_terms_bits(probs: Sequence[float]) -> list[float]:
    """Each outcome's contribution -p log2 p."""
    with torch.no_grad():
        p = _t(probs)
        return [clean(v) for v in -(torch.special.xlogy(p, p)) / math.log(2.0)]


# -- estimation by maximisation ----------------------------------------------------------------------


@dataclass(frozen=True)
class GaussianFit:
    mean: float  # MLE of mu
    var_mle: float  # MLE of sigma^2 (divisor n)
    var_unbiased: float  # divisor n - 1 (torch.var with correction=1)
    grad_at_mle: tuple[float, float]  # d loglik / d(mu, sigma^2) at the MLE: ~0


def gaussian_mle(samples: Sequence[float]) -> GaussianFit:
    """The Gaussian MLE from torch's moment functions, checked to be a stationary point of the
    Normal log-likelihood with autograd."""
    x = _t(samples)
    with torch.no_grad():
        mean = x.mean()
        var_mle = x.var(correction=0)
        var_unbiased = x.var(correction=1)
    with torch.enable_grad():
        mu = mean.clone().requires_grad_(True)
        var = var_mle.clone().requires_grad_(True)
        loglik = Normal(mu, var.sqrt()).log_prob(x).sum()
        g_mu, g_var = torch.autograd.grad(loglik, (mu, var))
    scale = float(len(samples)) / float(var_mle)
    if abs(float(g_mu)) > 1e-9 * scale or abs(float(g_var)) > 1e-9 * scale / float(var_mle):
        raise ArithmeticError(f"gaussian_mle: the log-likelihood is not stationary at the moments ({g_mu}, {g_var})")
    return GaussianFit(clean(mean), clean(var_mle), clean(var_unbiased), (clean(g_mu), clean(g_var)))


def _argmax_concave_on_unit_interval(log_density) -> float:
    """Maximiser on [0, 1] of a concave function of theta, from the sign of its autograd
    derivative on a grid, zooming in around the sign change until float64 resolution."""
    lo, hi = 0.0, 1.0
    for _ in range(8):
        grid = torch.linspace(lo, hi, 1025, dtype=DTYPE)[1:-1]  # interior points only
        with torch.enable_grad():
            theta = grid.clone().requires_grad_(True)
            (grad,) = torch.autograd.grad(log_density(theta).sum(), theta)
        positive = (grad > 0).nonzero()
        if len(positive) == 0:  # decreasing everywhere inside: the maximum is at (or left of) lo
            hi = float(grid[0])
        elif int(positive[-1]) == len(grid) - 1:  # increasing everywhere inside
            lo = float(grid[-1])
        else:
            last = int(positive[-1])
            lo, hi = float(grid[last]), float(grid[last + 1])
        if hi - lo < 1e-15:
            break
    mid = 0.5 * (lo + hi)
    if mid < 1e-13:
        return 0.0
    if mid > 1 - 1e-13:
        return 1.0
    return mid


@dataclass(frozen=True)
class BetaBernoulliFit:
    post_alpha: float
    post_beta: float
    theta_map: float  # maximiser of prior x likelihood
    theta_mle: float  # maximiser of the likelihood alone
    posterior_mean: float


def beta_bernoulli_fit(alpha: float, beta: float, k: int, n: int) -> BetaBernoulliFit:
    """k successes in n Bernoulli(theta) trials, prior Beta(alpha, beta): MAP and MLE found by
    maximising log p(data | theta) + log p(theta) (resp. without the prior) with autograd."""
    a, b = _t(alpha), _t(beta)
    kk, ff = _t(float(k)), _t(float(n - k))
    prior = Beta(a, b)

    def loglik(theta: torch.Tensor) -> torch.Tensor:
        return torch.special.xlogy(kk, theta) + torch.special.xlogy(ff, 1 - theta)

    theta_map = _argmax_concave_on_unit_interval(lambda t: loglik(t) + prior.log_prob(t))
    theta_mle = _argmax_concave_on_unit_interval(loglik)
    with torch.no_grad():
        posterior = Beta(a + kk, b + ff)
        return BetaBernoulliFit(
            post_alpha=clean(posterior.concentration1),
            post_beta=clean(posterior.concentration0),
            theta_map=clean(theta_map),
            theta_mle=clean(theta_mle),
            posterior_mean=clean(posterior.mean),
        )


@dataclass(frozen=True)
class SplitEntropy:
    parent_entropy: float
    child_entropies: list[float]
    weights: list[float]  # child size / parent size
    weighted_entropy: float  # sum of weight * child entropy
    gain: float  # parent entropy - weighted child entropy
    parent_terms: list[float]  # -p log2 p per class, parent
    child_terms: list[list[float]]


def split_information_gain(parent: Sequence[int], children: Sequence[Sequence[int]]) -> SplitEntropy:
    """Information gain (bits) of splitting a node with class counts `parent` into `children`
    (one row of class counts per child): every node's entropy from one (nodes x classes) tensor."""
    with torch.no_grad():
        counts = _t([[float(c) for c in parent]] + [[float(c) for c in row] for row in children])
        sizes = counts.sum(dim=1)
        probs = counts / sizes[:, None]
        terms = -torch.special.xlogy(probs, probs) / math.log(2.0)
        entropy = terms.sum(dim=1)
        weights = sizes[1:] / sizes[0]
        weighted = (weights * entropy[1:]).sum()
        gain = entropy[0] - weighted
    return SplitEntropy(
        parent_entropy=clean(entropy[0]),
        child_entropies=[clean(v) for v in entropy[1:]],
        weights=[clean(v) for v in weights],
        weighted_entropy=clean(weighted),
        gain=clean(gain),
        parent_terms=[clean(v) for v in terms[0]],
        child_terms=[[clean(v) for v in row] for row in terms[1:]],
    )


def variance_mle_bias(n: int) -> float:
    """E[sigma_hat^2] / sigma^2 for the variance MLE of n i.i.d. samples: sigma_hat^2 = x^T C x / n
    with the centring matrix C = I - 1 1^T / n, and E[x^T C x] = sigma^2 tr(C) for independent
    coordinates of variance sigma^2 (the mean cancels in C x), so the ratio is tr(C) / n."""
    with torch.no_grad():
        ones = torch.ones(n, 1, dtype=DTYPE)
        centring = torch.eye(n, dtype=DTYPE) - ones @ ones.T / n
        return clean(float(torch.trace(centring) / n))
