"""info.entropy: exact dyadic entropies, 0 log 0 = 0, the log2 hints and the Params messages."""

from __future__ import annotations

from fractions import Fraction

import pytest
from pydantic import ValidationError

from examforge.bank.info import EntropyParams, InfoEntropy, log2_hints
from examforge.renderers.blocks import question_text
from examforge.text import latex_to_text, normalize
from examforge.solvers.prob import entropy_bits
from examforge.variant import draw, make_variant

QT = InfoEntropy()


def test_seed_003_q16_left_child_entropy():
    a = QT.solve(EntropyParams.model_validate(QT.seed_example))  # (0.75, 0.25)
    assert round(a.entropy_bits, 4) == 0.8113
    assert [round(t.contribution, 4) for t in a.terms] == [0.3113, 0.5]
    assert entropy_bits([9 / 14, 5 / 14]) == pytest.approx(0.940286, abs=1e-6)  # the seed's parent


def test_dyadic_and_zero_probability():
    a = QT.solve(EntropyParams(probs=(0.5, 0.25, 0.125, 0.125, 0.0)))
    assert a.entropy_bits == 1.75 and a.has_zero
    assert a.terms[-1].contribution == 0 and a.terms[-1].zero
    assert QT.reference(EntropyParams(probs=(0.5, 0.25, 0.125, 0.125, 0.0))) == a
    assert entropy_bits([0.25] * 4) == 2.0


def test_mistakes():
    m = QT.mistakes(EntropyParams(probs=(0.5, 0.25, 0.25)))
    assert m["natural_log"] == pytest.approx(1.5 * 0.693147, abs=1e-6)
    assert m["max_entropy_log2_k"] == pytest.approx(1.585, abs=1e-3)
    assert m["gini_impurity"] == 0.625
    assert m["unweighted_surprisals"] == 5.0


def test_hints_only_for_odd_primes():
    assert log2_hints([Fraction(1, 2), Fraction(1, 4)]) == []
    assert [q for q, _ in log2_hints([Fraction(7, 20), Fraction(13, 20)])] == [5, 7, 13]
    p = EntropyParams(probs=(0.35, 0.65))
    text = normalize(latex_to_text(question_text(make_variant(QT, p))))
    assert "log25≈2.3219" in text and "log27≈2.8074" in text


def test_draws_are_distributions_within_ranges():
    for seed in range(60):
        p = draw(QT, seed, ranges={"min_outcomes": 3, "max_outcomes": 4}).params
        assert 3 <= len(p.probs) <= 4 and sum(Fraction(repr(q)) for q in p.probs) == 1


@pytest.mark.parametrize("probs, message", [
    ((0.5, 0.4), "probs sum to 0.9, not 1"),
    ((1.0, 0.0), "all mass on one outcome"),
    ((0.5,), "probs has 1 outcomes"),
    ((0.3333333, 0.6666667), r"probs\[0\] = 0.3333333 has more than 6 decimal places"),
])
def test_params_messages(probs, message):
    with pytest.raises(ValidationError, match=message):
        EntropyParams(probs=probs)
