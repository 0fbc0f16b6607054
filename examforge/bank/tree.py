"""Decision trees: the information gain of a proposed split (seed 003 Q16)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from examforge.drawing import draw_until
from examforge.bank.info import log2_hints
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import fmt
from examforge.solvers import clean
from examforge.solvers.prob import split_information_gain

Count = Annotated[int, Field(ge=0, le=1000)]
_CLASS_NAMES = {2: ("positive", "negative"), 3: ("class A", "class B", "class C"),
                4: ("class A", "class B", "class C", "class D")}
_CHILD_NAMES = {2: ("left", "right"), 3: ("left", "middle", "right"), 4: ("first", "second", "third", "fourth")}
_SMOOTH_PRIMES = {3, 5, 7}  # counts whose log2 needs only log2 3, log2 5 and log2 7


class InfoGainParams(ParamsModel):
    parent: tuple[Count, ...]
    children: tuple[tuple[Count, ...], ...]

    @model_validator(mode="after")
    def _consistent(self):
        k = len(self.parent)
        if not 2 <= k <= 4:
            raise ValueError(f"parent has {k} classes; give between 2 and 4 class counts")
        if not 2 <= len(self.children) <= 4:
            raise ValueError(f"children has {len(self.children)} nodes; a split makes between 2 and 4")
        for i, row in enumerate(self.children):
            if len(row) != k:
                raise ValueError(f"children[{i}] has {len(row)} class counts but parent has {k}")
            if sum(row) == 0:
                raise ValueError(f"children[{i}] is empty (all counts 0)")
        for c in range(k):
            total = sum(row[c] for row in self.children)
            if total != self.parent[c]:
                raise ValueError(f"the children's counts of class {c + 1} sum to {total}, "
                                 f"but parent has {self.parent[c]}")
        if sum(1 for c in self.parent if c > 0) < 2:
            raise ValueError(f"parent {list(self.parent)} is pure: its entropy is 0 and no split can gain anything")
        return self

    @property
    def total(self) -> int:
        return sum(self.parent)

    @property
    def class_names(self) -> tuple[str, ...]:
        return _CLASS_NAMES[len(self.parent)]

    @property
    def parent_named(self) -> list[tuple[int, str]]:
        return list(zip(self.parent, self.class_names))

    @property
    def rows(self) -> list[tuple[str, tuple[int, ...], int]]:
        """(child name, class counts, size) per child."""
        return [(name, row, sum(row)) for name, row in zip(_CHILD_NAMES[len(self.children)], self.children)]

    @property
    def rows_named(self) -> list[tuple[str, list[tuple[int, str]]]]:
        """(child name, [(count, class name), ...]) per child, for the question text."""
        return [(name, list(zip(row, self.class_names))) for name, row, _ in self.rows]

    @property
    def hints(self) -> list[tuple[int, float]]:
        ratios = [Fraction(c, self.total) for c in self.parent]
        ratios += [Fraction(c, sum(row)) for row in self.children for c in row]
        return log2_hints(ratios)


class InfoGainRanges(RangesModel):
    min_total: Annotated[int, Field(ge=4, le=60)] = 8
    max_total: Annotated[int, Field(ge=4, le=60)] = 20
    max_classes: Annotated[int, Field(ge=2, le=3)] = 3
    max_children: Annotated[int, Field(ge=2, le=3)] = 3


class NodeEntropy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    counts: tuple[int, ...]
    size: int
    terms: tuple[float, ...]  # -p log2 p per class (0 for an absent class)
    entropy: float
    weight: float  # size / parent size (1 for the parent)
    weighted: float  # weight * entropy
    parts: tuple[tuple[int, float], ...]  # (count, -p log2 p) for the classes present


class InfoGainAnswer(AnswerModel):
    gain_bits: float
    parent_entropy: float
    child_entropies: tuple[float, ...]
    weights: tuple[float, ...]
    weighted_entropy: float
    parent_node: NodeEntropy
    child_nodes: tuple[NodeEntropy, ...]
    grading_tol = 0.002


def _answer(p: InfoGainParams, parent_terms, child_terms, parent_h, child_hs, weights, weighted, gain) -> InfoGainAnswer:
    def parts(counts, terms):
        return tuple((c, t) for c, t in zip(counts, terms) if c)

    parent = NodeEntropy(name="parent", counts=p.parent, size=p.total, terms=tuple(parent_terms),
                         entropy=parent_h, weight=1.0, weighted=parent_h, parts=parts(p.parent, parent_terms))
    children = tuple(
        NodeEntropy(name=name, counts=row, size=size, terms=tuple(terms), entropy=h, weight=w, weighted=clean(w * h),
                    parts=parts(row, terms))
        for (name, row, size), terms, h, w in zip(p.rows, child_terms, child_hs, weights)
    )
    return InfoGainAnswer(gain_bits=gain, parent_entropy=parent_h, child_entropies=tuple(child_hs),
                          weights=tuple(weights), weighted_entropy=weighted, parent_node=parent, child_nodes=children)


def _entropy(counts) -> float:
    n = sum(counts)
    return math.fsum((c / n) * math.log2(n / c) for c in counts if c)


@register
class TreeInformationGain(QuestionType):
    id = "tree.information_gain"
    summary = "Information gain, in bits, of a decision-tree split: parent entropy minus the size-weighted child entropies."
    mirrors = "003 Q16 (14 examples, 9+/5-, split into 6+/2- and 3+/3-)"
    Params = InfoGainParams
    Answer = InfoGainAnswer
    answer_format = AnswerFormat("number", labels=("", " bits"))
    Ranges = InfoGainRanges
    seed_example = {"parent": [9, 5], "children": [[6, 2], [3, 3]]}
    box_height = "6cm"

    def sample(self, rng: np.random.Generator, ranges: InfoGainRanges) -> InfoGainParams:
        r = ranges
        def draw(rng):
            k = 2 if r.max_classes == 2 or rng.random() < 0.8 else 3
            m = 2 if r.max_children == 2 or rng.random() < 0.75 else 3
            total = int(rng.integers(r.min_total, r.max_total + 1))
            if total < 2 * m:
                return None
            cuts = sorted(rng.choice(np.arange(2, total - 1), size=m - 1, replace=False).tolist())
            sizes = [b - a for a, b in zip([0] + cuts, cuts + [total])]
            if min(sizes) < 2:
                return None
            children = []
            for size in sizes:
                weights = rng.dirichlet(np.ones(k) * 0.8)
                row = rng.multinomial(size, weights).tolist()
                children.append(tuple(int(v) for v in row))
            parent = tuple(sum(row[c] for row in children) for c in range(k))
            if min(parent) == 0:  # every class the question names is present
                return None
            params = InfoGainParams(parent=parent, children=tuple(children))
            if not {q for q, _ in params.hints} <= _SMOOTH_PRIMES:
                return None
            gain = _entropy(parent) - math.fsum(sum(row) / total * _entropy(row) for row in children)
            if gain < 0.01:  # no (or almost no) information: a degenerate split
                return None
            return params

        return draw_until(rng, draw, tries=300, type_id=self.id,
                          what="split with a positive gain and 7-smooth counts", ranges=r)

    def solve(self, p: InfoGainParams) -> InfoGainAnswer:
        s = split_information_gain(p.parent, p.children)
        return _answer(p, s.parent_terms, s.child_terms, s.parent_entropy, s.child_entropies, s.weights,
                       s.weighted_entropy, s.gain)

    def reference(self, p: InfoGainParams) -> InfoGainAnswer:
        def terms(counts):
            n = sum(counts)
            return [clean((c / n) * math.log2(n / c)) if c else 0.0 for c in counts]

        child_hs = [clean(_entropy(row)) for row in p.children]
        weights = [clean(Fraction(sum(row), p.total)) for row in p.children]
        weighted = math.fsum(float(Fraction(sum(row), p.total)) * _entropy(row) for row in p.children)
        parent_h = _entropy(p.parent)
        return _answer(p, terms(p.parent), [terms(row) for row in p.children], clean(parent_h), child_hs, weights,
                       clean(weighted), clean(parent_h - weighted))

    def answer_latex(self, a: InfoGainAnswer) -> str:
        return (rf"$\mathrm{{IG}} = {fmt(a.parent_entropy)} - {fmt(a.weighted_entropy)} = {fmt(a.gain_bits)}$ bits")

    def key_texts(self, a: InfoGainAnswer) -> list[str]:
        return [str(fmt(a.gain_bits))]

    def choice_value(self, a: InfoGainAnswer) -> float:
        return a.gain_bits

    def choice_latex(self, value: float) -> str:
        return f"${fmt(value)}$ bits"

    def mistakes(self, p: InfoGainParams) -> dict[str, float]:
        h_parent = _entropy(p.parent)
        hs = [_entropy(row) for row in p.children]
        ws = [sum(row) / p.total for row in p.children]
        weighted = math.fsum(w * h for w, h in zip(ws, hs))
        gain = h_parent - weighted
        wrong = {
            "unweighted_average_of_children": h_parent - math.fsum(hs) / len(hs),
            "reported_weighted_child_entropy": weighted,
            "swapped_weights": h_parent - math.fsum(w * h for w, h in zip(reversed(ws), hs)),
            "natural_log": gain * math.log(2),
            "parent_entropy_only": h_parent,
            "summed_child_entropies": h_parent - math.fsum(hs),
        }
        return {k: clean(v) for k, v in wrong.items() if v >= 0 and abs(v - gain) > 0.003}

    def fallback_mistakes(self, p: InfoGainParams, a: InfoGainAnswer) -> dict[str, float]:
        return {"doubled": clean(2 * a.gain_bits), "halved": clean(a.gain_bits / 2),
                "one_minus_gain": clean(1 - a.gain_bits) if a.gain_bits < 1 else clean(a.gain_bits + 0.5)}
