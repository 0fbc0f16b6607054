"""tree.information_gain: seed 003 Q16's split, pure children, three classes, the messages."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from examforge.bank.tree import InfoGainParams, TreeInformationGain
from examforge.renderers.blocks import question_text, solution_latex
from examforge.text import latex_to_text, normalize
from examforge.variant import draw, make_variant

QT = TreeInformationGain()


def test_seed_003_q16():
    p = InfoGainParams.model_validate(QT.seed_example)  # 9+/5- -> 6+/2- and 3+/3-
    a = QT.solve(p)
    assert round(a.parent_entropy, 4) == 0.9403
    assert [round(h, 4) for h in a.child_entropies] == [0.8113, 1.0]
    assert [round(t, 4) for t in a.parent_node.terms] == [0.4098, 0.5305]
    assert round(a.weighted_entropy, 4) == 0.8922
    assert round(a.gain_bits, 4) == 0.0481  # the seed's key
    assert a.weights == pytest.approx((8 / 14, 6 / 14))
    assert QT.reference(p) == a
    text = normalize(latex_to_text(solution_latex(make_variant(QT, p))))
    for value in ("0.9403", "0.8113", "0.4636+0.4286=0.8922", "0.0481"):
        assert value in text


def test_seed_mistakes():
    m = QT.mistakes(InfoGainParams.model_validate(QT.seed_example))
    assert round(m["unweighted_average_of_children"], 4) == round(0.940286 - (0.811278 + 1) / 2, 4)
    assert round(m["reported_weighted_child_entropy"], 4) == 0.8922
    assert round(m["natural_log"], 4) == round(0.048127 * math.log(2), 4)
    assert "summed_child_entropies" not in m  # negative, so not a believable option


def test_perfect_split_and_three_classes():
    a = QT.solve(InfoGainParams(parent=(4, 4), children=((4, 0), (0, 4))))
    assert a.gain_bits == 1.0 and a.child_entropies == (0.0, 0.0)
    b = QT.solve(InfoGainParams(parent=(2, 2, 4), children=((2, 2, 0), (0, 0, 4))))
    assert b.parent_entropy == 1.5 and b.gain_bits == 1.0


def test_question_text_and_hints():
    v = make_variant(QT, InfoGainParams.model_validate(QT.seed_example))
    text = normalize(latex_to_text(question_text(v)))
    assert "14trainingexamples:9positiveand5negative" in text
    assert "leftchild:6positive,2negative;" in text and "rightchild:3positive,3negative." in text
    assert "log23≈1.585" in text and "log27≈2.8074" in text


def test_draws_are_consistent_and_informative():
    for seed in range(60):
        p = draw(QT, seed).params
        assert min(p.parent) > 0
        assert {q for q, _ in p.hints} <= {3, 5, 7}
        assert QT.solve(p).gain_bits >= 0.01


@pytest.mark.parametrize("data, message", [
    ({"parent": [9, 5], "children": [[6, 2], [3, 2]]}, "class 2 sum to 4, but parent has 5"),
    ({"parent": [9, 5], "children": [[6, 2, 0], [3, 3]]}, r"children\[0\] has 3 class counts but parent has 2"),
    ({"parent": [9, 0], "children": [[6, 0], [3, 0]]}, "is pure"),
    ({"parent": [9, 5], "children": [[9, 5]]}, "a split makes between 2 and 4"),
    ({"parent": [9, 5], "children": [[9, 5], [0, 0]]}, r"children\[1\] is empty"),
])
def test_params_messages(data, message):
    with pytest.raises(ValidationError, match=message):
        InfoGainParams.model_validate(data)
