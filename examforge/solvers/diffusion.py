"""The DDPM forward (noising) process, computed by torch in float64 on the CPU.

q(x_s | x_{s-1}) = N(sqrt(1 - beta_s) x_{s-1}, beta_s I). `forward_marginal` propagates the mean
coefficient and the variance of x_s given x_0 through the chain one step at a time (the induction
of the closed form), takes alpha-bar from `torch.cumprod`, checks that the two agree, and maps the
given standard-normal draw eps to x_t = mean + std * eps, the reparameterisation that
`torch.distributions.Normal(mean, std).rsample` uses (no random numbers are drawn here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch.distributions import Normal

from examforge.solvers import DTYPE, clean


@dataclass(frozen=True)
class Marginal:
    alphas: list[float]  # 1 - beta_s
    alpha_bars: list[float]  # cumulative products, s = 1..t
    mean_coefficients: list[float]  # sqrt(alpha_bar_s), from the step-by-step recursion
    variances: list[float]  # 1 - alpha_bar_s, from the recursion var_s = alpha_s var_{s-1} + beta_s
    alpha_bar: float  # at t
    mean_coefficient: float  # sqrt(alpha_bar_t)
    variance: float  # 1 - alpha_bar_t
    std: float  # sqrt(1 - alpha_bar_t)
    mean: list[float]  # sqrt(alpha_bar_t) x_0
    x_t: list[float]  # mean + std * eps


def forward_marginal(betas: Sequence[float], x0: Sequence[float], eps: Sequence[float]) -> Marginal:
    with torch.no_grad():
        beta = torch.tensor(list(betas), dtype=DTYPE)
        alpha = 1 - beta
        alpha_bar = torch.cumprod(alpha, dim=0)
        coef, var = torch.ones((), dtype=DTYPE), torch.zeros((), dtype=DTYPE)
        coefs, variances = [], []
        for a, b in zip(alpha, beta):  # x_s = sqrt(a) x_{s-1} + sqrt(b) noise
            coef = a.sqrt() * coef
            var = a * var + b
            coefs.append(coef)
            variances.append(var)
        if abs(float(coef**2 - alpha_bar[-1])) > 1e-12 or abs(float(var - (1 - alpha_bar[-1]))) > 1e-12:
            raise ArithmeticError(f"forward_marginal: recursion ({float(coef)}, {float(var)}) disagrees with "
                                  f"alpha-bar {float(alpha_bar[-1])}")
        x = torch.tensor(list(x0), dtype=DTYPE)
        noise = torch.tensor(list(eps), dtype=DTYPE)
        marginal = Normal(coef * x, var.sqrt().expand_as(x))
        # Normal.rsample is loc + eps * scale for eps ~ N(0, 1): the same map, applied to the given eps
        x_t = marginal.loc + noise * marginal.scale
    return Marginal(
        alphas=[clean(v) for v in alpha], alpha_bars=[clean(v) for v in alpha_bar],
        mean_coefficients=[clean(v) for v in coefs], variances=[clean(v) for v in variances],
        alpha_bar=clean(alpha_bar[-1]), mean_coefficient=clean(coef), variance=clean(var), std=clean(var.sqrt()),
        mean=[clean(v) for v in marginal.loc], x_t=[clean(v) for v in x_t],
    )
