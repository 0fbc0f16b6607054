"""Information theory: the Shannon entropy of a discrete distribution, in bits (seed 003 Q16's
entropy step, on its own)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated, Iterable

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from examforge.drawing import draw_until, short_decimal
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import fmt
from examforge.solvers import clean
from examforge.solvers.prob import entropy_bits, entropy_terms_bits

LABELS = "abcdefgh"


def _odd_primes(k: int) -> set[int]:
    out, f = set(), 3
    while k % 2 == 0 and k > 1:
        k //= 2
    while f * f <= k:
        while k % f == 0:
            out.add(f)
            k //= f
        f += 2
    if k > 1:
        out.add(k)
    return out


def log2_hints(ratios: Iterable[Fraction]) -> list[tuple[int, float]]:
    """(prime, log2 prime to 4 decimals) for every odd prime in the numerators and denominators:
    with these and log2 2 = 1, every log2 of the question's ratios is a sum of table entries."""
    primes: set[int] = set()
    for r in ratios:
        if r > 0:
            primes |= _odd_primes(r.numerator) | _odd_primes(r.denominator)
    return [(q, round(math.log2(q), 4)) for q in sorted(primes)]


class EntropyParams(ParamsModel):
    probs: tuple[Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)], ...]

    @model_validator(mode="after")
    def _distribution(self):
        if not 2 <= len(self.probs) <= len(LABELS):
            raise ValueError(f"probs has {len(self.probs)} outcomes; give between 2 and {len(LABELS)}")
        for i, p in enumerate(self.probs):
            short_decimal(p, f"probs[{i}]", 6)
        total = sum(Fraction(repr(p)) for p in self.probs)
        if total != 1:
            raise ValueError(f"probs sum to {float(total)!r}, not 1")
        if sum(1 for p in self.probs if p > 0) < 2:
            raise ValueError("probs puts all mass on one outcome: the entropy is 0 (degenerate)")
        return self

    @property
    def outcomes(self) -> list[tuple[str, float]]:
        return list(zip(LABELS, self.probs))

    @property
    def hints(self) -> list[tuple[int, float]]:
        return log2_hints(Fraction(repr(p)) for p in self.probs)


class EntropyRanges(RangesModel):
    min_outcomes: Annotated[int, Field(ge=2, le=8)] = 2
    max_outcomes: Annotated[int, Field(ge=2, le=8)] = 6


class EntropyTerm(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    p: float
    surprisal: float  # log2(1/p); 0 for p = 0 (the term vanishes)
    contribution: float  # p log2(1/p)
    zero: bool


class EntropyAnswer(AnswerModel):
    entropy_bits: float
    terms: tuple[EntropyTerm, ...]
    max_entropy: float  # log2(number of outcomes)
    n_outcomes: int
    has_zero: bool
    grading_tol = 0.005


def _entropy_answer(p: EntropyParams, contributions: list[float], total: float) -> EntropyAnswer:
    terms = tuple(
        EntropyTerm(label=label, p=q, surprisal=clean(-math.log2(q)) if q > 0 else 0.0,
                    contribution=c, zero=q == 0)
        for (label, q), c in zip(p.outcomes, contributions)
    )
    return EntropyAnswer(entropy_bits=total, terms=terms, max_entropy=clean(math.log2(len(p.probs))),
                         n_outcomes=len(p.probs), has_zero=any(t.zero for t in terms))


def _dyadic_split(rng: np.random.Generator, leaves: int) -> list[Fraction]:
    """A random prefix-code distribution: split a random leaf in two until there are `leaves`."""
    probs = [Fraction(1)]
    while len(probs) < leaves:
        splittable = [i for i, q in enumerate(probs) if q > Fraction(1, 32)]
        i = splittable[int(rng.integers(len(splittable)))]
        half = probs.pop(i) / 2
        probs += [half, half]
    return probs


def _composition(rng: np.random.Generator, parts: int, unit: Fraction) -> list[Fraction] | None:
    """`parts` positive multiples of `unit` summing to 1."""
    total = int(1 / unit)
    if total < parts:
        return None
    cuts = sorted(rng.choice(np.arange(1, total), size=parts - 1, replace=False).tolist())
    sizes = [b - a for a, b in zip([0] + cuts, cuts + [total])]
    return [s * unit for s in sizes]


@register
class InfoEntropy(QuestionType):
    id = "info.entropy"
    mistake_sentences = {
        "natural_log": "You used the natural logarithm: that gives nats; bits need log base 2.",
        "max_entropy_log2_k": "That is log2 of the number of outcomes, the entropy of a uniform distribution; this one is not uniform.",
        "gini_impurity": "That is the Gini impurity 1 - sum p^2, not the entropy -sum p log2 p.",
        "log10": "You used log base 10; bits need log base 2.",
        "unweighted_surprisals": "You added the surprisals log2(1/p) without weighting each by its probability p.",
        "forgot_minus_sign": "You forgot the minus sign: log p is negative, so entropy is -sum p log2 p, which is never negative.",
    }
    summary = "Shannon entropy, in bits, of a discrete distribution given as a table of probabilities."
    mirrors = "003 Q16 (the entropy step: H(p) = -sum p log2 p)"
    Params = EntropyParams
    Answer = EntropyAnswer
    answer_format = AnswerFormat("number", labels=("", " bits"))
    Ranges = EntropyRanges
    forms = ("free", "mc", "tf")
    # Seed 003 Q16's left child: 6 positive and 2 negative examples, H = 0.8113 bits.
    seed_example = {"probs": [0.75, 0.25]}
    box_height = "3.5cm"

    def sample(self, rng: np.random.Generator, ranges: EntropyRanges) -> EntropyParams:
        lo, hi = ranges.min_outcomes, ranges.max_outcomes
        def draw(rng):
            k = int(rng.integers(lo, hi + 1))
            if rng.random() < 0.6:  # powers of 1/2: exact by hand
                zero = k >= 3 and rng.random() < 0.2
                probs = _dyadic_split(rng, k - 1 if zero else k) + ([Fraction(0)] if zero else [])
            else:  # short decimals: needs the printed log2 table
                probs = _composition(rng, min(k, 4), Fraction(1, 20) if rng.random() < 0.5 else Fraction(1, 10))
                if probs is None:
                    return None
            if len(probs) < lo or len(probs) > hi:
                return None
            order = rng.permutation(len(probs))
            values = tuple(float(probs[i]) for i in order)
            if len(log2_hints(probs)) > 3:
                return None
            return EntropyParams(probs=values)

        return draw_until(rng, draw, tries=50, type_id=self.id, what="distribution within the ranges",
                          ranges=ranges)

    def solve(self, p: EntropyParams) -> EntropyAnswer:
        return _entropy_answer(p, entropy_terms_bits(p.probs), entropy_bits(p.probs))

    def reference(self, p: EntropyParams) -> EntropyAnswer:
        contributions = [clean(q * math.log2(1 / q)) if q > 0 else 0.0 for q in p.probs]
        return _entropy_answer(p, contributions, clean(math.fsum(q * math.log2(1 / q) for q in p.probs if q > 0)))

    def answer_latex(self, a: EntropyAnswer) -> str:
        return rf"$H(X) = {fmt(a.entropy_bits)}$ bits"

    def key_texts(self, a: EntropyAnswer) -> list[str]:
        return [str(fmt(a.entropy_bits))]

    def choice_value(self, a: EntropyAnswer) -> float:
        return a.entropy_bits

    def choice_latex(self, value: float) -> str:
        return f"${fmt(value)}$ bits"

    def mistakes(self, p: EntropyParams) -> dict[str, float]:
        nonzero = [q for q in p.probs if q > 0]
        h = math.fsum(q * math.log2(1 / q) for q in nonzero)
        wrong = {
            "natural_log": h * math.log(2),
            "max_entropy_log2_k": math.log2(len(p.probs)),
            "gini_impurity": 1 - math.fsum(q * q for q in p.probs),
            "log10": h * math.log10(2),
            "unweighted_surprisals": math.fsum(math.log2(1 / q) for q in nonzero),
            "forgot_minus_sign": -h,
        }
        return {k: clean(v) for k, v in wrong.items() if abs(v - h) > 0.01}

    def fallback_mistakes(self, p: EntropyParams, a: EntropyAnswer) -> dict[str, float]:
        return {"doubled": clean(2 * a.entropy_bits), "halved": clean(a.entropy_bits / 2),
                "plus_one_bit": clean(a.entropy_bits + 1)}
