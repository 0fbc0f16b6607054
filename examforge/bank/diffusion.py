"""diffusion.ddpm_marginal: the DDPM forward process in closed form (seed 003 Q29): alpha-bar from a
beta schedule, the marginal q(x_t | x_0) = N(sqrt(alpha-bar_t) x_0, (1 - alpha-bar_t) I), and x_t for
a given standard-normal draw.

The free-response form asks all three; the multiple-choice and true/false forms ask the one named
by the Params field `ask` (a spec pins it with `overrides: {ask: x_t}`).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, Literal, NamedTuple

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from examforge.drawing import pick, short_decimal
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import fmt
from examforge.solvers import clean
from examforge.solvers.diffusion import forward_marginal

Ask = Literal["alpha_bar", "marginal", "x_t"]
ASKS: tuple[str, ...] = ("alpha_bar", "marginal", "x_t")
_BETAS = (0.01, 0.02, 0.04, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
_X0 = (-2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0)
_EPS = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)
MAX_STEPS = 8
MAX_DIM = 4
Entry = Annotated[float, Field(ge=-100, le=100, allow_inf_nan=False)]


class Gaussian(NamedTuple):
    """The marginal N(mean_coefficient * x_0, variance * I), as the options print it."""

    mean_coefficient: float
    variance: float


class DdpmParams(ParamsModel):
    betas: tuple[Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)], ...]  # beta_1 .. beta_t
    x0: tuple[Entry, ...]
    eps: tuple[Entry, ...]  # the standard-normal draw
    ask: Ask = "x_t"  # the multiple-choice / true-false quantity

    @model_validator(mode="after")
    def _consistent(self):
        if not 1 <= len(self.betas) <= MAX_STEPS:
            raise ValueError(f"give 1 to {MAX_STEPS} betas (one per step), got {len(self.betas)}")
        if not 1 <= len(self.x0) <= MAX_DIM:
            raise ValueError(f"x0 must have 1 to {MAX_DIM} entries, got {len(self.x0)}")
        if len(self.eps) != len(self.x0):
            raise ValueError(f"eps has {len(self.eps)} entries but x0 has {len(self.x0)}; they must match")
        for name, places in (("betas", 3), ("x0", 2), ("eps", 2)):
            for v in getattr(self, name):
                short_decimal(v, name, places)
        return self

    @property
    def t(self) -> int:
        return len(self.betas)


class DdpmRanges(RangesModel):
    min_steps: Annotated[int, Field(ge=1, le=MAX_STEPS)] = 2
    max_steps: Annotated[int, Field(ge=1, le=MAX_STEPS)] = 4
    min_dim: Annotated[int, Field(ge=1, le=MAX_DIM)] = 2
    max_dim: Annotated[int, Field(ge=1, le=MAX_DIM)] = 3


class StepTrace(BaseModel):
    """One step of the chain: alpha_s, alpha-bar_s, and the mean coefficient and variance of x_s given x_0."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    s: int
    beta: float
    alpha: float
    alpha_bar: float
    mean_coefficient: float
    variance: float


class DdpmAnswer(AnswerModel):
    steps: tuple[StepTrace, ...]
    alpha_bar: float  # alpha-bar_t
    mean_coefficient: float  # sqrt(alpha-bar_t)
    variance: float  # 1 - alpha-bar_t
    std: float  # sqrt(1 - alpha-bar_t)
    mean: tuple[float, ...]  # sqrt(alpha-bar_t) x_0
    x_t: tuple[float, ...]
    t: int
    asked: Ask
    grading_tol = 0.005


def _answer(p: DdpmParams, alphas, alpha_bars, coefs, variances, mean, x_t) -> DdpmAnswer:
    steps = tuple(StepTrace(s=i + 1, beta=b, alpha=clean(a), alpha_bar=clean(ab), mean_coefficient=clean(c),
                            variance=clean(v))
                  for i, (b, a, ab, c, v) in enumerate(zip(p.betas, alphas, alpha_bars, coefs, variances)))
    last = steps[-1]
    return DdpmAnswer(steps=steps, alpha_bar=last.alpha_bar, mean_coefficient=last.mean_coefficient,
                      variance=last.variance, std=clean(math.sqrt(last.variance)), mean=tuple(clean(v) for v in mean),
                      x_t=tuple(clean(v) for v in x_t), t=p.t, asked=p.ask)


@register
class DiffusionDdpmMarginal(QuestionType):
    id = "diffusion.ddpm_marginal"
    kind_field = "ask"  # one kind per slot for the whole class (examforge.fairness)
    summary = ("DDPM forward process: alpha-bar from a beta schedule, the marginal q(x_t | x_0) = "
               "N(sqrt(alpha-bar) x_0, (1 - alpha-bar) I), and x_t for a given noise draw.")
    mirrors = "003 Q29 (DDPM forward process: q(x_t | x_0) = N(sqrt(alpha-bar_t) x_0, (1 - alpha-bar_t) I))"
    Params = DdpmParams
    Answer = DdpmAnswer
    answer_format = AnswerFormat("vector")  # x_t, the default ask; see variant_format
    Ranges = DdpmRanges
    forms = ("free", "mc", "tf")
    seed_example = {"betas": [0.1, 0.2, 0.5], "x0": [1, -2], "eps": [0.5, 1], "ask": "x_t"}
    seed_comment = ("The seed derives the marginal symbolically; this instance has betas 0.1, 0.2, 0.5, so "
                    "alpha-bar_3 = 0.9 * 0.8 * 0.5 = 0.36, sqrt(alpha-bar_3) = 0.6 and 1 - alpha-bar_3 = 0.64.")
    box_height = "5cm"

    def sample(self, rng: np.random.Generator, ranges: DdpmRanges) -> DdpmParams:
        r = ranges
        t = int(rng.integers(r.min_steps, r.max_steps + 1))
        dim = int(rng.integers(r.min_dim, r.max_dim + 1))
        betas = [pick(rng, _BETAS, "beta", self.id) for _ in range(t)]
        x0 = [pick(rng, _X0, "x0", self.id) for _ in range(dim)]
        eps = [pick(rng, _EPS, "eps", self.id) for _ in range(dim)]
        if not any(eps):
            eps[int(rng.integers(dim))] = pick(rng, [e for e in _EPS if e], "eps", self.id)
        return DdpmParams(betas=betas, x0=x0, eps=eps, ask=pick(rng, ASKS, "ask", self.id))

    def solve(self, p: DdpmParams) -> DdpmAnswer:
        m = forward_marginal(p.betas, p.x0, p.eps)
        return _answer(p, m.alphas, m.alpha_bars, m.mean_coefficients, m.variances, m.mean, m.x_t)

    def reference(self, p: DdpmParams) -> DdpmAnswer:
        """alpha-bar as an exact product; sqrt(alpha-bar) and 1 - alpha-bar from the closed form."""
        alphas = [1 - Fraction(repr(b)) for b in p.betas]
        bars = [math.prod(alphas[: s + 1]) for s in range(p.t)]
        coef, std = math.sqrt(bars[-1]), math.sqrt(1 - bars[-1])
        return _answer(p, alphas, bars, [math.sqrt(b) for b in bars], [1 - b for b in bars],
                       [coef * x for x in p.x0], [coef * x + std * e for x, e in zip(p.x0, p.eps)])

    # -- presentation ---------------------------------------------------------------------------------
    def answer_latex(self, a: DdpmAnswer) -> str:
        return (rf"$\bar\alpha_{a.t} = {fmt(a.alpha_bar, 6)}$; "
                rf"$q(\mathbf{{x}}_{a.t} \mid \mathbf{{x}}_0) = {self._gaussian(a.mean_coefficient, a.variance)}$; "
                rf"$\mathbf{{x}}_{a.t} = {fmt(a.x_t)}$")

    def key_texts(self, a: DdpmAnswer) -> list[str]:
        return [str(fmt(a.x_t)), str(fmt(a.alpha_bar, 6))]

    @staticmethod
    def _gaussian(coef: float, var: float) -> str:
        return rf"\mathcal{{N}}({fmt(coef)}\,\mathbf{{x}}_0,\ {fmt(var, 6)}\,I)"

    def variant_format(self, p: DdpmParams) -> AnswerFormat:
        if p.ask == "alpha_bar":
            return AnswerFormat("number")
        if p.ask == "marginal":  # N(c x_0, v I): the two numbers c and v
            return AnswerFormat("vector", labels=("𝒩(", " x₀, ", " I)"))
        return AnswerFormat("vector")

    def choice_value(self, a: DdpmAnswer):
        if a.asked == "alpha_bar":
            return a.alpha_bar
        if a.asked == "marginal":
            return Gaussian(a.mean_coefficient, a.variance)
        return a.x_t

    def choice_latex(self, value) -> str:
        if isinstance(value, Gaussian):
            return f"${self._gaussian(*value)}$"
        if isinstance(value, (list, tuple)):
            return f"${fmt(tuple(value))}$"
        return f"${fmt(value, 6)}$"  # alpha-bar: a product of up to 2t decimals

    def mistakes(self, p: DdpmParams) -> dict:
        betas = [Fraction(repr(b)) for b in p.betas]
        alphas = [1 - b for b in betas]
        bar = math.prod(alphas)
        root = lambda v: math.sqrt(float(v))  # noqa: E731
        if p.ask == "alpha_bar":
            wrong = {"product_of_betas": math.prod(betas), "last_alpha_only": alphas[-1],
                     "one_minus_sum_of_betas": 1 - sum(betas), "reported_sqrt": root(bar), "one_minus": 1 - bar}
            return {k: clean(v) for k, v in wrong.items() if abs(float(v) - float(bar)) > 2 * self.Answer.grading_tol}
        if p.ask == "marginal":
            wrong = {"no_sqrt_on_mean": (bar, 1 - bar), "std_as_variance": (root(bar), root(1 - bar)),
                     "variance_sum_of_betas": (root(bar), sum(betas)), "last_step_only": (root(alphas[-1]), betas[-1]),
                     "swapped": (root(1 - bar), bar)}
            return {k: Gaussian(clean(c), clean(v)) for k, (c, v) in wrong.items()}

        def mix(a, b):
            return tuple(clean(a * x + b * e) for x, e in zip(p.x0, p.eps))

        return {
            "no_square_roots": mix(float(bar), float(1 - bar)),
            "last_step_only": mix(root(alphas[-1]), root(betas[-1])),
            "variance_sum_of_betas": mix(root(bar), root(sum(betas))),
            "swapped_coefficients": mix(root(1 - bar), root(bar)),
            "forgot_noise": mix(root(bar), 0.0),
        }

    def fallback_mistakes(self, p: DdpmParams, a: DdpmAnswer) -> dict:
        if p.ask == "alpha_bar":
            return {"squared": clean(a.alpha_bar**2), "halved": clean(a.alpha_bar / 2),
                    "first_alpha_only": a.steps[0].alpha}
        if p.ask == "marginal":
            return {"unit_variance": Gaussian(a.mean_coefficient, 1.0), "unscaled_mean": Gaussian(1.0, a.variance),
                    "halved_variance": Gaussian(a.mean_coefficient, clean(a.variance / 2))}
        return {"noise_only": tuple(clean(e) for e in p.eps), "x0_only": tuple(clean(x) for x in p.x0),
                "sign_flipped": tuple(clean(-v) for v in a.x_t)}
