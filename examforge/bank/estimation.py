"""Point estimation: the Gaussian MLE of mean and variance, and the Beta-Bernoulli MAP against
the MLE (seed 003, Q10 and Q11, with concrete numbers)."""

from __future__ import annotations

import math
import statistics
from fractions import Fraction
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from examforge.drawing import draw_until, pick, short_decimal
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import fmt
from examforge.solvers import clean
from examforge.solvers.prob import beta_bernoulli_fit, gaussian_mle, variance_mle_bias

# -- estimation.gaussian_mle ------------------------------------------------------------------------

Sample = Annotated[float, Field(ge=-1e4, le=1e4, allow_inf_nan=False)]


class GaussianParams(ParamsModel):
    samples: tuple[Sample, ...]
    context: Literal["measurement", "height", "latency"] = "measurement"
    # "estimates": compute the MLE; "derivation" (seed 003 Q10, free response): derive it, then
    # compute it; "bias": E[sigma_hat^2] = (n - 1)/n sigma^2 and its limit as n -> infinity.
    # The last two are never drawn: a spec asks for them.
    ask: Literal["estimates", "derivation", "bias"] = "estimates"

    @model_validator(mode="after")
    def _enough(self):
        if not 2 <= len(self.samples) <= 12:
            raise ValueError(f"samples has {len(self.samples)} values; give between 2 and 12")
        for i, x in enumerate(self.samples):
            short_decimal(x, f"samples[{i}]", 4)
        if len(set(self.samples)) == 1:
            raise ValueError(f"all samples equal {self.samples[0]}: the variance MLE would be 0 (degenerate)")
        return self

    @property
    def n(self) -> int:
        return len(self.samples)


class GaussianRanges(RangesModel):
    min_n: Annotated[int, Field(ge=3, le=10)] = 4
    max_n: Annotated[int, Field(ge=3, le=10)] = 8


class Deviation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    x: float
    d: float  # x - mean
    d2: float  # (x - mean)^2


class GaussianAnswer(AnswerModel):
    mean: float  # MLE of mu
    var_mle: float  # MLE of sigma^2: divisor n
    var_unbiased: float  # divisor n - 1 (Bessel)
    total: float  # sum of the samples
    sum_sq: float  # sum of squared deviations
    n: int
    n_minus_1: int
    deviations: tuple[Deviation, ...]
    asked: Literal["estimates", "derivation", "bias"] = "estimates"
    # ask bias: E[sigma_hat^2] / sigma^2 = (n - 1)/n for samples of this size, and its limit
    bias_factor: float = 0.0
    bias_num: int = 0
    bias_den: int = 0
    bias_limit: float = 0.0
    grading_tol = 0.01


def _gaussian_answer(samples, mean: float, var_mle: float, var_unbiased: float, ask: str = "estimates",
                     bias: float | None = None) -> GaussianAnswer:
    devs = tuple(Deviation(x=x, d=clean(x - mean), d2=clean((x - mean) ** 2)) for x in samples)
    extra = {}
    if ask == "bias":
        f = Fraction(bias).limit_denominator(len(samples))
        extra = dict(bias_factor=bias, bias_num=f.numerator, bias_den=f.denominator, bias_limit=1.0)
    return GaussianAnswer(
        mean=mean, var_mle=var_mle, var_unbiased=var_unbiased, total=clean(sum(samples)),
        sum_sq=clean(sum(d.d2 for d in devs)), n=len(samples), n_minus_1=len(samples) - 1, deviations=devs,
        asked=ask, **extra,
    )


@register
class EstimationGaussianMle(QuestionType):
    id = "estimation.gaussian_mle"
    summary = ("Maximum-likelihood estimates of a Gaussian's mean and variance from a small sample (divisor n, not n - 1); "
               "ask: derivation derives them, ask: bias asks E[sigma_hat^2] = (n - 1)/n sigma^2 and its n -> infinity limit.")
    mirrors = "003 Q10 (MLE for a Gaussian; the seed derives it symbolically, here with numbers)"
    Params = GaussianParams
    Answer = GaussianAnswer
    options = {"ask: derivation": "derive the MLEs from the log-likelihood, then compute them (003 Q10); free response",
               "ask: bias": "E[sigma_hat^2] = (n - 1)/n sigma^2 for this n, and its limit as n -> infinity"}
    answer_format = AnswerFormat("vector", labels=("μ̂ = ", ", σ̂² = ", ""))

    def variant_format(self, p: GaussianParams) -> AnswerFormat:
        # ask bias: the factor c in E[sigma_hat^2] = c sigma^2, a fraction of one
        return AnswerFormat("number") if p.ask == "bias" else self.answer_format
    Ranges = GaussianRanges
    # The seed question has no numbers; this is a small worked instance of it.
    seed_example = {"samples": [2, 4, 4, 4, 5, 5, 7, 9], "context": "measurement"}
    box_height = "5cm"

    def sample(self, rng: np.random.Generator, ranges: GaussianRanges) -> GaussianParams:
        # Divisors 4, 5, 8 and 10 keep the variance MLE a short decimal.
        sizes = ([n for n in (4, 5, 6, 8, 10) if ranges.min_n <= n <= ranges.max_n]
                 or list(range(ranges.min_n, ranges.max_n + 1)))
        def draw(rng):
            n = pick(rng, sizes, "sample size", self.id)
            context = pick(rng, ("measurement", "height", "latency"), "context", self.id)
            scale, centre = {"measurement": (pick(rng, (1, 0.5, 0.1), "scale", self.id), int(rng.integers(-5, 15))),
                             "height": (1, int(rng.integers(160, 185))),
                             "latency": (pick(rng, (1, 2), "scale", self.id), int(rng.integers(20, 90)))}[context]
            devs = [int(v) for v in rng.integers(-4, 5, size=n - 1)]
            last = -sum(devs)
            if abs(last) > 5:
                return None
            devs.append(last)
            if len(set(devs)) < 2:
                return None
            offset = 0.5 if (scale == 1 and rng.random() < 0.2) else 0
            samples = [clean(centre + offset + scale * d) for d in devs]
            var = Fraction(sum(int(d) ** 2 for d in devs)) * Fraction(repr(scale)) ** 2 / n
            if (var * 10**4).denominator != 1:
                return None
            return GaussianParams(samples=tuple(samples), context=context)

        return draw_until(rng, draw, tries=100, type_id=self.id, what="sample with a short-decimal variance",
                          ranges=ranges)

    def solve(self, p: GaussianParams) -> GaussianAnswer:
        fit = gaussian_mle(p.samples)
        bias = variance_mle_bias(p.n) if p.ask == "bias" else None
        return _gaussian_answer(p.samples, fit.mean, fit.var_mle, fit.var_unbiased, p.ask, bias)

    def reference(self, p: GaussianParams) -> GaussianAnswer:
        xs = [Fraction(repr(x)) for x in p.samples]
        mean = sum(xs) / len(xs)
        ss = sum((x - mean) ** 2 for x in xs)
        # E[sum (x_i - x_bar)^2] = (n - 1) sigma^2: one degree of freedom goes to x_bar
        bias = clean(Fraction(p.n - 1, p.n)) if p.ask == "bias" else None
        return _gaussian_answer(p.samples, clean(mean), clean(ss / len(xs)), clean(ss / (len(xs) - 1)), p.ask, bias)

    def form_problem(self, p: GaussianParams, form: str) -> str:
        if p.ask == "derivation" and form != "free":
            return "ask 'derivation' asks for a derivation: use form free"
        return ""

    def answer_latex(self, a: GaussianAnswer) -> str:
        if a.asked == "bias":
            return (rf"$E[\hat\sigma^2] = {a.bias_num}/{a.bias_den} \cdot \sigma^2 = {fmt(a.bias_factor)}\,\sigma^2$, "
                    r"which tends to $\sigma^2$ as $n \to \infty$")
        return (rf"$\hat\mu = {fmt(a.mean)}$, $\hat\sigma^2_{{\mathrm{{MLE}}}} = {fmt(a.var_mle)}$ "
                rf"(unbiased $s^2 = {fmt(a.var_unbiased)}$)")

    def key_texts(self, a: GaussianAnswer) -> list[str]:
        if a.asked == "bias":
            return [f"{a.bias_num}/{a.bias_den}"]
        return [str(fmt(a.mean)), str(fmt(a.var_mle))]

    def choice_value(self, a: GaussianAnswer):
        if a.asked == "bias":
            return Fraction(a.bias_num, a.bias_den)
        return (a.mean, a.var_mle)

    def choice_latex(self, value) -> str:
        if isinstance(value, Fraction):
            if value.denominator == 1:
                return rf"$E[\hat\sigma^2] = {value.numerator}\,\sigma^2$" if value != 1 else r"$E[\hat\sigma^2] = \sigma^2$"
            return rf"$E[\hat\sigma^2] = \tfrac{{{value.numerator}}}{{{value.denominator}}}\,\sigma^2$"
        mean, var = value
        return rf"$\hat\mu = {fmt(mean)}$, $\hat\sigma^2 = {fmt(var)}$"

    def mistakes(self, p: GaussianParams) -> dict:
        if p.ask == "bias":
            n = p.n
            wrong = {
                "thought_unbiased": Fraction(1),
                "inverted_factor": Fraction(n, n - 1),
                "bias_is_one_over_n": Fraction(1, n),
                "two_degrees_lost": Fraction(n - 2, n),
                "squared_factor": Fraction(n - 1, n) ** 2,
            }
            return {name: v for name, v in wrong.items() if v != Fraction(n - 1, n)}
        xs, n = p.samples, len(p.samples)
        mean = sum(xs) / n
        ss = sum((x - mean) ** 2 for x in xs)
        median = statistics.median(xs)
        return {
            "unbiased_divisor_n_minus_1": (clean(mean), clean(ss / (n - 1))),
            "reported_std_not_variance": (clean(mean), clean(math.sqrt(ss / n))),
            "mean_absolute_deviation": (clean(mean), clean(sum(abs(x - mean) for x in xs) / n)),
            "median_for_mean": (clean(median), clean(sum((x - median) ** 2 for x in xs) / n)),
            "raw_second_moment": (clean(mean), clean(sum(x * x for x in xs) / n)),
        }

    def fallback_mistakes(self, p: GaussianParams, a: GaussianAnswer) -> dict:
        if a.asked == "bias":
            return {"divisor_n_plus_1": Fraction(p.n, p.n + 1), "half": Fraction(1, 2)}
        return {"doubled_variance": (a.mean, clean(2 * a.var_mle)), "halved_variance": (a.mean, clean(a.var_mle / 2)),
                "divisor_n_plus_1": (a.mean, clean(a.sum_sq / (a.n + 1)))}


# -- estimation.beta_map ----------------------------------------------------------------------------------

PriorShape = Annotated[int, Field(ge=1, le=50)]


class BetaMapParams(ParamsModel):
    alpha: PriorShape
    beta: PriorShape
    k: Annotated[int, Field(ge=0, le=10000)]  # successes
    n: Annotated[int, Field(ge=1, le=10000)]  # trials
    context: Literal["coin", "clicks", "free_throws"] = "coin"
    # "estimates": MAP and MLE; "derivation" (seed 003 Q11, free response): derive the MAP, then
    # compute it; "large_n" (Q11's "show what happens as n -> infinity"): the MAP when the same
    # frequency is seen in 10n and 100n trials, and its limit. The last two are never drawn.
    ask: Literal["estimates", "derivation", "large_n"] = "estimates"

    @model_validator(mode="after")
    def _consistent(self):
        if self.k > self.n:
            raise ValueError(f"k = {self.k} successes is more than n = {self.n} trials")
        if self.alpha + self.beta + self.n <= 2:
            raise ValueError("alpha = beta = 1 with n = 0 leaves a flat posterior with no unique mode")
        return self

    @property
    def failures(self) -> int:
        return self.n - self.k


class BetaMapRanges(RangesModel):
    min_trials: Annotated[int, Field(ge=1, le=200)] = 3
    max_trials: Annotated[int, Field(ge=1, le=200)] = 20
    max_prior: Annotated[int, Field(ge=1, le=20)] = 6


_SCALES = (10, 100)  # ask large_n: the same frequency in 10 n and 100 n trials


class ScaledMap(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    m: int  # the data scaled by m: m k successes in m n trials
    successes: int
    trials: int
    num: int  # alpha + m k - 1
    den: int  # alpha + beta + m n - 2
    value: float


class BetaMapAnswer(AnswerModel):
    theta_map: float
    theta_mle: float
    post_alpha: float  # alpha + k
    post_beta: float  # beta + n - k
    posterior_mean: float
    map_num: int  # alpha + k - 1
    map_den: int  # alpha + beta + n - 2
    map_reduced: str  # e.g. "1/3"
    mle_reduced: str  # k/n in lowest terms
    pseudo_successes: int  # alpha - 1
    pseudo_failures: int  # beta - 1
    prior_is_flat: bool
    map_reducible: bool  # map_num/map_den is not in lowest terms
    mle_reducible: bool
    map_equals_mle: bool
    map_decimal: str  # "", "=" or "approx": how the decimal value follows the fraction
    mle_decimal: str
    asked: Literal["estimates", "derivation", "large_n"] = "estimates"
    scaled: tuple[ScaledMap, ...] = ()  # ask large_n
    limit: float = 0.0  # ask large_n: the MAP as n -> infinity with k/n fixed, k/n
    grading_tol = 0.005


def _ratio(f: Fraction) -> str:
    return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"


def _decimal_relation(f: Fraction) -> str:
    """Nothing after an integer, "=" before an exact short decimal (3/10 = 0.3), else "approx"."""
    if f.denominator == 1:
        return ""
    return "=" if (f * 10**4).denominator == 1 else "approx"


def _beta_answer(p: BetaMapParams, theta_map: float, theta_mle: float, post_a: float, post_b: float,
                 post_mean: float, scaled: tuple = (), limit: float = 0.0) -> BetaMapAnswer:
    num, den = round(post_a) - 1, round(post_a) + round(post_b) - 2
    # The torch maximiser is read back as a fraction with the posterior's denominator.
    map_frac = Fraction(theta_map).limit_denominator(max(den, 1))
    mle_frac = Fraction(theta_mle).limit_denominator(p.n)
    return BetaMapAnswer(
        theta_map=theta_map, theta_mle=theta_mle, post_alpha=post_a, post_beta=post_b,
        posterior_mean=post_mean, map_num=num, map_den=den,
        map_reduced=_ratio(map_frac), mle_reduced=_ratio(mle_frac),
        map_reducible=_ratio(map_frac) != f"{num}/{den}", mle_reducible=_ratio(mle_frac) != f"{p.k}/{p.n}",
        map_decimal=_decimal_relation(map_frac), mle_decimal=_decimal_relation(mle_frac),
        map_equals_mle=map_frac == mle_frac,
        pseudo_successes=p.alpha - 1, pseudo_failures=p.beta - 1, prior_is_flat=p.alpha == p.beta == 1,
        asked=p.ask, scaled=scaled, limit=limit,
    )


def _scaled(p: BetaMapParams, m: int, value: float) -> ScaledMap:
    return ScaledMap(m=m, successes=m * p.k, trials=m * p.n, num=p.alpha + m * p.k - 1,
                     den=p.alpha + p.beta + m * p.n - 2, value=value)


@register
class EstimationBetaMap(QuestionType):
    id = "estimation.beta_map"
    summary = ("MAP and MLE of a Bernoulli parameter under a Beta(alpha, beta) prior after k successes in n trials; "
               "ask: derivation derives the MAP, ask: large_n shows the prior washing out as n -> infinity.")
    mirrors = "003 Q11 (MAP vs MLE, Beta-Bernoulli; the seed is symbolic, here with numbers)"
    Params = BetaMapParams
    Answer = BetaMapAnswer
    options = {"ask: derivation": "derive the MAP from the log-posterior, then compute it (003 Q11); free response",
               "ask: large_n": "the MAP with 10n and 100n trials at the same frequency, and its limit k/n (003 Q11)"}
    answer_format = AnswerFormat("number", percent=True)  # a probability
    Ranges = BetaMapRanges
    # The seed has no numbers; Beta(2, 2) is its "Laplace smoothing" prior.
    seed_example = {"alpha": 2, "beta": 2, "k": 3, "n": 10, "context": "coin"}
    box_height = "4.5cm"

    def sample(self, rng: np.random.Generator, ranges: BetaMapRanges) -> BetaMapParams:
        r = ranges
        def draw(rng):
            alpha = int(rng.integers(1, r.max_prior + 1))
            beta = int(rng.integers(1, r.max_prior + 1))
            if alpha == beta == 1 and rng.random() < 0.9:  # a flat prior makes MAP = MLE: keep it rare
                return None
            n = int(rng.integers(r.min_trials, r.max_trials + 1))
            k = int(rng.integers(0, n + 1))
            if alpha + beta + n <= 2:
                return None
            # A prior that agrees exactly with the data (alpha = beta, k = n/2) makes every
            # estimate 1/2: nothing to compare.
            if 2 * k == n and alpha == beta:
                return None
            # Keep MAP and MLE apart unless the prior is flat (which is the point then).
            if not alpha == beta == 1 and Fraction(alpha + k - 1, alpha + beta + n - 2) == Fraction(k, n):
                return None
            return BetaMapParams(alpha=alpha, beta=beta, k=k, n=n,
                                 context=pick(rng, ("coin", "clicks", "free_throws"), "context", self.id))

        return draw_until(rng, draw, tries=100, type_id=self.id, what="prior and data", ranges=r)

    def solve(self, p: BetaMapParams) -> BetaMapAnswer:
        fit = beta_bernoulli_fit(p.alpha, p.beta, p.k, p.n)
        scaled, limit = (), 0.0
        if p.ask == "large_n":
            # the posterior maximised again with m times the data; far out (m = 10^6) it sits
            # on the MLE k/n, the limit
            scaled = tuple(_scaled(p, m, beta_bernoulli_fit(p.alpha, p.beta, m * p.k, m * p.n).theta_map)
                           for m in _SCALES)
            far = beta_bernoulli_fit(p.alpha, p.beta, 10**6 * p.k, 10**6 * p.n)
            if abs(far.theta_map - fit.theta_mle) > 1e-5:
                raise ArithmeticError(f"{self.id}: the MAP at 10^6 times the data, {far.theta_map}, is not near k/n")
            limit = fit.theta_mle
        return _beta_answer(p, fit.theta_map, fit.theta_mle, fit.post_alpha, fit.post_beta, fit.posterior_mean,
                            scaled, limit)

    def reference(self, p: BetaMapParams) -> BetaMapAnswer:
        a, b = p.alpha + p.k, p.beta + p.n - p.k
        theta_map = Fraction(a - 1, a + b - 2)
        scaled, limit = (), 0.0
        if p.ask == "large_n":
            # (alpha + m k - 1)/(alpha + beta + m n - 2) = (k + (alpha - 1)/m)/(n + (alpha + beta - 2)/m) -> k/n
            scaled = tuple(_scaled(p, m, clean(Fraction(p.alpha + m * p.k - 1, p.alpha + p.beta + m * p.n - 2)))
                           for m in _SCALES)
            limit = clean(Fraction(p.k, p.n))
        return _beta_answer(p, clean(theta_map), clean(Fraction(p.k, p.n)), float(a), float(b), clean(Fraction(a, a + b)),
                            scaled, limit)

    def form_problem(self, p: BetaMapParams, form: str) -> str:
        if p.ask == "derivation" and form != "free":
            return "ask 'derivation' asks for a derivation: use form free"
        return ""

    def answer_latex(self, a: BetaMapAnswer) -> str:
        def value(reduced: str, decimal: float, relation: str) -> str:
            return reduced + {"": "", "=": f" = {fmt(decimal)}", "approx": rf" \approx {fmt(decimal)}"}[relation]

        if a.asked == "large_n":
            scaled = ", ".join(f"${fmt(s.value)}$ ({s.m}$n$ trials)" for s in a.scaled)
            return (rf"$\hat\theta_{{\mathrm{{MAP}}}} = {value(a.map_reduced, a.theta_map, a.map_decimal)}$, then {scaled}; "
                    rf"as $n \to \infty$ it tends to $k/n$, ${fmt(a.limit)}$")
        return (rf"$\hat\theta_{{\mathrm{{MAP}}}} = {value(a.map_reduced, a.theta_map, a.map_decimal)}$, "
                rf"$\hat\theta_{{\mathrm{{MLE}}}} = {value(a.mle_reduced, a.theta_mle, a.mle_decimal)}$")

    def key_texts(self, a: BetaMapAnswer) -> list[str]:
        if a.asked == "large_n":
            return [str(fmt(a.limit))]
        return [str(fmt(a.theta_map)), str(fmt(a.theta_mle))]

    def choice_value(self, a: BetaMapAnswer) -> Fraction:
        if a.asked == "large_n":
            return Fraction(a.limit).limit_denominator(10000)
        return Fraction(a.map_num, a.map_den)

    def choice_latex(self, value: Fraction) -> str:
        if value.denominator == 1:
            return f"${value.numerator}$"
        return rf"$\tfrac{{{value.numerator}}}{{{value.denominator}}} \approx {fmt(float(value))}$"

    def mistakes(self, p: BetaMapParams) -> dict[str, Fraction]:
        a, b, k, n = p.alpha, p.beta, p.k, p.n
        if p.ask == "large_n":
            wrong = {
                "map_does_not_change": Fraction(a + k - 1, a + b + n - 2),
                "prior_mode_wins": Fraction(a - 1, a + b - 2) if a + b > 2 else None,
                "prior_mean_wins": Fraction(a, a + b),
                "posterior_mean_now": Fraction(a + k, a + b + n),
                "one_half": Fraction(1, 2),
            }
            return {name: v for name, v in wrong.items() if v is not None and v != Fraction(k, n)}
        wrong = {
            "reported_mle": Fraction(k, n),
            "posterior_mean": Fraction(a + k, a + b + n),
            "swapped_alpha_beta": Fraction(b + k - 1, a + b + n - 2) if b + k >= 1 else None,
            "forgot_minus_two_in_denominator": Fraction(a + k - 1, a + b + n),
            "counted_failures": Fraction(b + n - k - 1, a + b + n - 2),
            "prior_mode": Fraction(a - 1, a + b - 2) if a + b > 2 else None,
        }
        return {name: v for name, v in wrong.items() if v is not None and 0 <= v <= 1}

    def fallback_mistakes(self, p: BetaMapParams, a: BetaMapAnswer) -> dict[str, Fraction]:
        right = Fraction(a.map_num, a.map_den)
        a_, b_ = p.alpha + p.k, p.beta + p.n - p.k
        wrong = {"add_one_smoothing": Fraction(p.k + 1, p.n + 2), "one_half": Fraction(1, 2),
                 "complement": 1 - right, "forgot_minus_one_in_numerator": Fraction(a_, a_ + b_ - 2),
                 "plus_one_in_numerator": Fraction(a_ + 1, a_ + b_), "laplace_plus_two": Fraction(p.k + 2, p.n + 4)}
        return {name: v for name, v in wrong.items() if 0 <= v <= 1}
