"""Probability questions: Bayes' rule on a diagnostic test, the Hoeffding sample size, and a
central-limit-theorem tail probability (seed 003, Q7, Q8 and Q12)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from examforge.drawing import draw_until, pick, short_decimal
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import fmt
from examforge.solvers import clean
from examforge.solvers.prob import bayes_posterior, hoeffding_sample_size, sample_mean_tail

Prob = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]


def percent(x: float) -> float:
    """x as a percentage, without float noise (0.07 -> 7.0, not 7.000000000000001)."""
    return round(100 * x, 8) + 0.0


# -- prob.bayes ---------------------------------------------------------------------------------------

_PREVALENCES = (0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.04, 0.05, 0.1, 0.2)
_ACCURACIES = (0.8, 0.85, 0.9, 0.95, 0.98, 0.99)


class BayesParams(ParamsModel):
    prevalence: Prob  # P(D)
    sensitivity: Prob  # P(+ | D)
    specificity: Prob  # P(- | not D)
    context: Literal["disease", "spam", "defect"] = "disease"

    @model_validator(mode="after")
    def _printable(self):
        for name in ("prevalence", "sensitivity", "specificity"):
            short_decimal(getattr(self, name), name, 4)
        return self

    @property
    def prevalence_pct(self) -> float:
        return percent(self.prevalence)

    @property
    def sensitivity_pct(self) -> float:
        return percent(self.sensitivity)

    @property
    def specificity_pct(self) -> float:
        return percent(self.specificity)


class BayesRanges(RangesModel):
    min_prevalence: Prob = 0.001
    max_prevalence: Prob = 0.2
    min_accuracy: Prob = 0.8  # sensitivity and specificity
    max_accuracy: Prob = 0.99


class BayesAnswer(AnswerModel):
    posterior: float  # P(D | +)
    true_positive: float  # P(D and +) = P(+|D) P(D)
    false_positive: float  # P(not D and +) = P(+|not D) P(not D)
    evidence: float  # P(+)
    false_positive_rate: float  # P(+ | not D) = 1 - specificity
    prior_negative: float  # P(not D)
    posterior_percent: float  # 100 * posterior, 2 decimals
    grading_tol = 0.002


def _bayes_closed_form(prev: float, sens: float, fpr: float, *, weight_negatives: bool = True) -> float:
    tp = sens * prev
    fp = fpr * ((1 - prev) if weight_negatives else 1.0)
    return tp / (tp + fp)


@register
class ProbBayes(QuestionType):
    id = "prob.bayes"
    summary = "Posterior probability of the condition after a positive test (Bayes' rule with prevalence, sensitivity, specificity)."
    mirrors = "003 Q7 (prevalence 1%, sensitivity 99%, specificity 95%)"
    Params = BayesParams
    Answer = BayesAnswer
    answer_format = AnswerFormat("number", percent=True)  # a probability
    Ranges = BayesRanges
    seed_example = {"prevalence": 0.01, "sensitivity": 0.99, "specificity": 0.95, "context": "disease"}
    box_height = "4cm"

    def sample(self, rng: np.random.Generator, ranges: BayesRanges) -> BayesParams:
        r = ranges
        prevalences = [v for v in _PREVALENCES if r.min_prevalence <= v <= r.max_prevalence]
        accuracies = [v for v in _ACCURACIES if r.min_accuracy <= v <= r.max_accuracy]
        return BayesParams(
            prevalence=pick(rng, prevalences, "prevalence", self.id),
            sensitivity=pick(rng, accuracies, "sensitivity", self.id),
            specificity=pick(rng, accuracies, "specificity", self.id),
            context=pick(rng, ("disease", "spam", "defect"), "context", self.id),
        )

    def solve(self, p: BayesParams) -> BayesAnswer:
        # hypotheses (D, not D); evidence: a positive result
        prior = [p.prevalence, 1 - p.prevalence]
        likelihood = [p.sensitivity, 1 - p.specificity]
        r = bayes_posterior(prior, likelihood)
        return BayesAnswer(
            posterior=r.posterior[0],
            true_positive=r.joint[0],
            false_positive=r.joint[1],
            evidence=r.evidence,
            false_positive_rate=clean(likelihood[1]),
            prior_negative=clean(prior[1]),
            posterior_percent=round(100 * r.posterior[0], 2),
        )

    def reference(self, p: BayesParams) -> BayesAnswer:
        prev, sens, spec = (Fraction(repr(v)) for v in (p.prevalence, p.sensitivity, p.specificity))
        tp, fp = sens * prev, (1 - spec) * (1 - prev)
        return BayesAnswer(
            posterior=clean(tp / (tp + fp)),
            true_positive=clean(tp),
            false_positive=clean(fp),
            evidence=clean(tp + fp),
            false_positive_rate=clean(1 - spec),
            prior_negative=clean(1 - prev),
            posterior_percent=round(float(100 * tp / (tp + fp)), 2),
        )

    def answer_latex(self, a: BayesAnswer) -> str:
        return rf"posterior $= {fmt(a.true_positive, 6)}/{fmt(a.evidence, 6)} \approx {fmt(a.posterior)}$"

    def key_texts(self, a: BayesAnswer) -> list[str]:
        return [str(fmt(a.posterior))]

    def choice_value(self, a: BayesAnswer) -> float:
        return a.posterior

    def mistakes(self, p: BayesParams) -> dict[str, float]:
        prev, sens, spec = p.prevalence, p.sensitivity, p.specificity
        right = _bayes_closed_form(prev, sens, 1 - spec)
        wrong = {
            "confused_with_sensitivity": sens,
            "used_specificity_as_fpr": _bayes_closed_form(prev, sens, spec),
            "forgot_prior_on_false_positives": _bayes_closed_form(prev, sens, 1 - spec, weight_negatives=False),
            "forgot_to_normalise": sens * prev,
            "ignored_the_test": prev,
            "forgot_false_positives": 1.0,
        }
        # A distractor within grading tolerance of the answer would be marked right too.
        return {k: clean(v) for k, v in wrong.items() if abs(v - right) > 0.005}

    def fallback_mistakes(self, p: BayesParams, a: BayesAnswer) -> dict[str, float]:
        return {"complement": clean(1 - a.posterior), "specificity": p.specificity, "halved": clean(a.posterior / 2)}


# -- prob.hoeffding_n -------------------------------------------------------------------------------

_EPSILONS = (0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.12, 0.15, 0.2, 0.25)
_DELTAS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.025, 0.05, 0.1, 0.2)


class HoeffdingParams(ParamsModel):
    epsilon: Annotated[float, Field(gt=0, le=0.5, allow_inf_nan=False)]
    delta: Prob
    context: Literal["coin", "accuracy", "click_rate"] = "coin"

    @model_validator(mode="after")
    def _printable(self):
        short_decimal(self.epsilon, "epsilon", 6)
        short_decimal(self.delta, "delta", 6)
        return self

    @property
    def confidence(self) -> float:
        return clean(1 - self.delta)


class HoeffdingRanges(RangesModel):
    min_epsilon: Annotated[float, Field(gt=0, le=0.5)] = 0.005
    max_epsilon: Annotated[float, Field(gt=0, le=0.5)] = 0.25
    min_delta: Prob = 0.001
    max_delta: Prob = 0.2


class HoeffdingAnswer(AnswerModel):
    n: int  # smallest n with 2 exp(-2 n eps^2) <= delta
    bound: float  # ln(2/delta) / (2 eps^2)
    log_term: float  # ln(2/delta)
    denominator: float  # 2 eps^2
    two_over_delta: float
    exponent_at_n: float  # 2 n eps^2 >= ln(2/delta)
    exponent_below: float  # 2 (n - 1) eps^2 < ln(2/delta)
    n_below: int  # n - 1
    tail_at_n: float  # 2 exp(-2 n eps^2)
    tail_below: float | None  # the same at n - 1
    grading_tol = 0


def _exp_exceeds(q: Fraction, target: Fraction) -> bool:
    """exp(q) >= target for rational q >= 0, decided with rational Taylor bounds (exact)."""
    term, partial, k = Fraction(1), Fraction(1), 0
    while True:
        k += 1
        term = term * q / k
        partial += term
        if partial >= target:
            return True
        if k + 1 > 2 * q:  # then the terms after this one sum to at most term * r / (1 - r), r = q/(k+1)
            ratio = q / (k + 1)
            if partial + term * ratio / (1 - ratio) < target:
                return False


def hoeffding_n_exact(epsilon: float, delta: float, *, sides: int = 2, factor: int = 2) -> int:
    """Smallest n with sides * exp(-factor n eps^2) <= delta, i.e. exp(factor n eps^2) >= sides/delta,
    from a float estimate corrected by the exact rational test."""
    eps, dlt = Fraction(repr(epsilon)), Fraction(repr(delta))
    target = Fraction(sides) / dlt
    holds = lambda m: _exp_exceeds(factor * m * eps * eps, target)  # noqa: E731
    n = max(1, math.ceil(math.log(sides / delta) / (factor * epsilon**2)))
    while n > 1 and holds(n - 1):
        n -= 1
    while not holds(n):
        n += 1
    return n


@register
class ProbHoeffdingN(QuestionType):
    id = "prob.hoeffding_n"
    summary = "Smallest sample size n for which the two-sided Hoeffding bound 2 exp(-2 n eps^2) is at most delta."
    mirrors = "003 Q8 (|p_hat - p| <= 0.01 with probability at least 0.99)"
    Params = HoeffdingParams
    Answer = HoeffdingAnswer
    Ranges = HoeffdingRanges
    seed_example = {"epsilon": 0.01, "delta": 0.01, "context": "coin"}
    box_height = "4cm"

    def sample(self, rng: np.random.Generator, ranges: HoeffdingRanges) -> HoeffdingParams:
        r = ranges
        epsilons = [e for e in _EPSILONS if r.min_epsilon <= e <= r.max_epsilon]
        deltas = [d for d in _DELTAS if r.min_delta <= d <= r.max_delta]
        def draw(rng):
            eps = pick(rng, epsilons, "epsilon", self.id)
            delta = pick(rng, deltas, "delta", self.id)
            bound = math.log(2 / delta) / (2 * eps * eps)
            # Keep clear of the ceiling's edge, where calculator rounding would decide n.
            if min(bound % 1, 1 - bound % 1) >= 0.02 and bound < 1e6:
                return HoeffdingParams(epsilon=eps, delta=delta,
                                       context=pick(rng, ("coin", "accuracy", "click_rate"), "context", self.id))

        return draw_until(rng, draw, tries=50, type_id=self.id, what="(epsilon, delta) away from the ceiling's edge",
                          ranges=r)

    def solve(self, p: HoeffdingParams) -> HoeffdingAnswer:
        r = hoeffding_sample_size(p.epsilon, p.delta)
        return HoeffdingAnswer(n=r.n, bound=r.bound, log_term=r.log_term, denominator=r.denominator,
                               two_over_delta=clean(2 / p.delta),
                               exponent_at_n=clean(r.denominator * r.n), exponent_below=clean(r.denominator * (r.n - 1)), n_below=r.n - 1,
                               tail_at_n=r.tail_at_n, tail_below=r.tail_below)

    def reference(self, p: HoeffdingParams) -> HoeffdingAnswer:
        n = hoeffding_n_exact(p.epsilon, p.delta)
        log_term = math.log(2 / p.delta)
        denom = 2 * p.epsilon**2
        return HoeffdingAnswer(
            n=n, bound=clean(log_term / denom), log_term=clean(log_term), denominator=clean(denom),
            two_over_delta=clean(2 / p.delta),
            exponent_at_n=clean(float(2 * n * Fraction(repr(p.epsilon)) ** 2)),
            exponent_below=clean(float(2 * (n - 1) * Fraction(repr(p.epsilon)) ** 2)), n_below=n - 1,
            tail_at_n=2 * math.exp(-denom * n),
            tail_below=2 * math.exp(-denom * (n - 1)) if n > 1 else None,
        )

    def answer_latex(self, a: HoeffdingAnswer) -> str:
        return rf"$n = {a.n}$ (from $n \ge {fmt(a.bound, 2)}$)"

    def key_texts(self, a: HoeffdingAnswer) -> list[str]:
        return [f"n = {a.n}"]

    def choice_value(self, a: HoeffdingAnswer) -> int:
        return a.n

    def mistakes(self, p: HoeffdingParams) -> dict[str, int]:
        eps, delta = p.epsilon, p.delta
        n = hoeffding_sample_size(eps, delta).n
        return {
            "one_sided": hoeffding_sample_size(eps, delta, sides=1).n,
            "forgot_factor_2_in_exponent": hoeffding_sample_size(eps, delta, factor=1).n,
            "forgot_ceiling": n - 1,
            "epsilon_not_squared": max(1, math.ceil(math.log(2 / delta) / (2 * eps))),
            "log10_instead_of_ln": max(1, math.ceil(math.log10(2 / delta) / (2 * eps * eps))),
        }


# -- prob.clt_tail ------------------------------------------------------------------------------------

Z_GRID = tuple(k / 4 for k in range(1, 13))  # 0.25, 0.5, ..., 3.0: the table printed with the question


def phi_4(z: float) -> float:
    """Phi(z) to 4 decimals, as a printed normal table gives it."""
    return round(0.5 * (1 + math.erf(z / math.sqrt(2))), 4)


_CONTEXTS = {
    # context: (means, standard deviations) that keep every number short
    "loss": ((0.3, 0.4, 0.5, 0.6, 0.8, 1.2, 2.5), (0.2, 0.3, 0.4, 0.5, 1.5, 2.0)),
    "latency": ((40, 50, 80, 120, 200), (4, 5, 6, 8, 10, 12, 15, 20)),
    "reward": ((10, 12.5, 20, 35), (2, 3, 4, 5, 6, 8)),
}
_SAMPLE_SIZES = (16, 25, 36, 64, 100, 144, 225, 400, 625, 900, 1600, 2500, 3600, 10000)


def _terminates(x: Fraction, places: int) -> bool:
    return (x * 10**places).denominator == 1


class CltParams(ParamsModel):
    mean: Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)]
    variance: Annotated[float, Field(gt=0, le=1e8, allow_inf_nan=False)]
    n: Annotated[int, Field(ge=2, le=10**7)]
    threshold: Annotated[float, Field(ge=-1e6, le=1e6, allow_inf_nan=False)]
    tail: Literal["upper", "lower", "two_sided"] = "upper"
    context: Literal["loss", "latency", "reward"] = "loss"

    @model_validator(mode="after")
    def _consistent(self):
        for name in ("mean", "variance", "threshold"):
            short_decimal(getattr(self, name), name, 6)
        if self.threshold == self.mean:
            raise ValueError(f"threshold {self.threshold} equals the mean; the question would be degenerate")
        return self

    @property
    def deviation(self) -> float:
        return clean(abs(self.threshold - self.mean))

    @property
    def z_table(self) -> list[list[tuple[float, str]]]:
        """The printed normal table: rows of (z, Phi(z) with 4 decimals) pairs."""
        pairs = [(z, f"{phi_4(z):.4f}") for z in Z_GRID]
        return [pairs[:6], pairs[6:]]


class CltRanges(RangesModel):
    min_n: Annotated[int, Field(ge=16, le=10000)] = 16
    max_n: Annotated[int, Field(ge=16, le=10000)] = 10000
    min_z: Annotated[float, Field(ge=0.25, le=3.0)] = 0.5
    max_z: Annotated[float, Field(ge=0.25, le=3.0)] = 2.5

    @model_validator(mode="after")
    def _ordered(self):
        if not any(self.min_n <= n <= self.max_n for n in _SAMPLE_SIZES):
            raise ValueError(f"no sample size in [{self.min_n}, {self.max_n}]; choose from {_SAMPLE_SIZES}")
        if not any(self.min_z <= z <= self.max_z for z in Z_GRID):
            raise ValueError(f"no tabulated z in [{self.min_z}, {self.max_z}]; the table has multiples of 0.25")
        return self


class CltAnswer(AnswerModel):
    probability: float
    std: float  # sigma = sqrt(variance)
    se: float  # sigma / sqrt(n)
    z: float  # (threshold - mean) / se
    phi: float  # Phi(|z|), exact
    complement: bool  # True when the answer is 1 - Phi(|z|) (times 2 for two-sided)
    sqrt_n: float
    abs_z: float
    phi_table: float  # Phi(|z|) to 4 decimals, as the printed table gives it
    probability_table: float  # the answer computed from the table value
    table_rounding_differs: bool  # the table's answer and the exact one differ at 4 decimals
    probability_percent: float  # 100 * probability, 2 decimals
    grading_tol = 0.002


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


def _tail_probability(z: float, tail: str) -> float:
    if tail == "upper":
        return 1 - _normal_cdf(z)
    if tail == "lower":
        return _normal_cdf(z)
    return 2 * (1 - _normal_cdf(abs(z)))


@register
class ProbCltTail(QuestionType):
    id = "prob.clt_tail"
    summary = "CLT approximation of the probability that a sample mean exceeds (or falls below) a threshold, with a printed normal table."
    mirrors = "003 Q12 (mean loss 0.5, variance 0.25, n = 10000, P(mean > 0.505))"
    Params = CltParams
    Answer = CltAnswer
    answer_format = AnswerFormat("number", percent=True)  # a probability
    Ranges = CltRanges
    seed_example = {"mean": 0.5, "variance": 0.25, "n": 10000, "threshold": 0.505, "tail": "upper", "context": "loss"}
    box_height = "4.5cm"

    def sample(self, rng: np.random.Generator, ranges: CltRanges) -> CltParams:
        r = ranges
        sizes = [n for n in _SAMPLE_SIZES if r.min_n <= n <= r.max_n]
        zs = [z for z in Z_GRID if r.min_z <= z <= r.max_z]
        def draw(rng):
            context = pick(rng, tuple(_CONTEXTS), "context", self.id)
            means, stds = _CONTEXTS[context]
            mean, std, n = pick(rng, means, "mean", self.id), pick(rng, stds, "std", self.id), pick(rng, sizes, "n", self.id)
            se = Fraction(repr(std)) / math.isqrt(n)
            if not _terminates(se, 4):
                return None
            z = pick(rng, zs, "z", self.id)
            tail = pick(rng, ("upper", "upper", "lower", "two_sided"), "tail", self.id)
            # Usually the small tail; sometimes the threshold sits on the other side of the mean.
            sign = (1 if tail != "lower" else -1) * (1 if tail == "two_sided" or rng.random() < 0.85 else -1)
            threshold = Fraction(repr(mean)) + sign * Fraction(z) * se
            if not _terminates(threshold, 6) or threshold <= 0:
                return None
            return CltParams(mean=mean, variance=clean(std * std), n=n, threshold=float(threshold),
                             tail=tail, context=context)

        return draw_until(rng, draw, tries=100, type_id=self.id, what="short-decimal threshold", ranges=r)

    def solve(self, p: CltParams) -> CltAnswer:
        r = sample_mean_tail(p.mean, p.variance, p.n, p.threshold, p.tail)
        return CltAnswer(probability=r.probability, std=r.std, se=r.se, z=r.z, phi=r.phi,
                         **self._table(p, r.z, r.probability))

    @staticmethod
    def _table(p: CltParams, z: float, probability: float) -> dict:
        """The printed-table side of the solution: which tail, |z|, Phi from the table."""
        above = p.threshold > p.mean
        complement = p.tail == "two_sided" or (p.tail == "upper") == above
        phi = phi_4(abs(z))
        by_table = round(2 * (1 - phi) if p.tail == "two_sided" else (1 - phi if complement else phi), 4)
        return {
            "complement": complement, "sqrt_n": clean(math.sqrt(p.n)), "abs_z": clean(abs(z)),
            "phi_table": phi, "probability_table": by_table,
            "table_rounding_differs": by_table != round(probability, 4),
            "probability_percent": round(100 * probability, 2),
        }

    def reference(self, p: CltParams) -> CltAnswer:
        std = math.sqrt(p.variance)
        se = std / math.sqrt(p.n)
        z = (p.threshold - p.mean) / se
        probability = clean(_tail_probability(z, p.tail))
        return CltAnswer(probability=probability, std=clean(std), se=clean(se), z=clean(z),
                         phi=clean(_normal_cdf(abs(z))), **self._table(p, clean(z), probability))

    def answer_latex(self, a: CltAnswer) -> str:
        return rf"$z = {fmt(a.z)}$, probability $\approx {fmt(a.probability)}$"

    def key_texts(self, a: CltAnswer) -> list[str]:
        return [str(fmt(a.probability))]

    def choice_value(self, a: CltAnswer) -> float:
        return a.probability

    def mistakes(self, p: CltParams) -> dict[str, float]:
        std = math.sqrt(p.variance)
        d = p.threshold - p.mean
        right = _tail_probability(d / (std / math.sqrt(p.n)), p.tail)
        other_tail = {"upper": "lower", "lower": "upper", "two_sided": "upper"}[p.tail]
        wrong = {
            "used_variance_as_std": _tail_probability(d / (p.variance / math.sqrt(p.n)), p.tail),
            "wrong_tail": (_tail_probability(d / (std / math.sqrt(p.n)), other_tail) if p.tail != "two_sided"
                           else right / 2),
            "forgot_sqrt_n": _tail_probability(d / std, p.tail),
            "divided_by_n": _tail_probability(d / (std / p.n), p.tail),
            "doubled_one_tail": 2 * right if p.tail != "two_sided" else 1 - right,
        }
        return {k: clean(v) for k, v in wrong.items() if abs(v - right) > 0.005 and 0 <= v <= 1}

    def fallback_mistakes(self, p: CltParams, a: CltAnswer) -> dict[str, float]:
        return {"complement": clean(1 - a.probability), "phi_itself": clean(a.phi),
                "half_of_answer": clean(a.probability / 2)}
