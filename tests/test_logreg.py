"""logreg.sgd_step: seed 002 Part 1 Q3's update rule on numbers; autograd routes the squared
infinity-norm's gradient to the largest |w_i|, and the seed's distractors are named mistakes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from examforge.bank.logreg import LogRegParams, LogregSgdStep
from examforge.renderers.blocks import question_text
from examforge.text import latex_to_text, normalize
from examforge.solvers.logreg import logistic_gradient_parts, logistic_sgd_step
from examforge.variant import draw, make_variant

QT = LogregSgdStep()


def test_example_step():
    p = LogRegParams.model_validate(QT.seed_example)  # x = (1, 2, -1), y = 1, w = (1, 0.5, 2)
    a = QT.solve(p)
    assert (a.z, a.p, a.residual) == (0.0, 0.5, -0.5)
    assert a.data_grad == (-0.5, -1.0, 0.5)
    assert (a.k, a.w_k) == (3, 2.0)
    assert a.penalty_grad == (0.0, 0.0, 1.0)  # lambda * w_3 * e_3
    assert a.grad == (-0.5, -1.0, 1.5)
    assert a.new_w == (1.05, 0.6, 1.85)
    assert QT.reference(p) == a


def test_seed_distractors():
    p = LogRegParams.model_validate(QT.seed_example)
    m = QT.mistakes(p)
    # (b) lambda w . e_argmax|x| (index 2): penalty (0, 0.25, 0) -> grad (-0.5, -0.75, 0.5)
    assert m["argmax_of_x_not_w"] == (1.05, 0.575, 1.95)
    # (c) lambda e_argmax|w|: penalty (0, 0, 0.5)
    assert m["penalty_without_w"] == (1.05, 0.6, 1.9)
    # (d) lambda e_argmax|x|: penalty (0, 0.5, 0)
    assert m["argmax_of_x_without_w"] == (1.05, 0.55, 1.95)
    # lambda w: penalty (0.5, 0.25, 1)
    assert m["l2_penalty_gradient"] == (1.0, 0.575, 1.85)
    assert len(set(m.values())) == len(m)


def test_autograd_picks_the_largest_magnitude_even_if_negative():
    data, reg = logistic_gradient_parts([1, 1, 3], 0, [-0.5, -2.5, 1.0], lam=0.2)
    assert reg == [0.0, -0.5, 0.0]
    step = logistic_sgd_step([1, 1, 3], 0, [-0.5, -2.5, 1.0], lam=0.2, lr=0.1)
    assert step.new_params["w"] == [-0.55, -2.5, 0.85]


def test_l2_penalty_variant():
    p = LogRegParams(x=(1, 2, -1), y=1, w=(0, 1, 2), lam=0.5, lr=0.1, penalty="l2_sq")
    a = QT.solve(p)
    assert a.penalty_grad == (0.0, 0.5, 1.0) and a.k is None
    assert a.grad == (-0.5, -0.5, 1.5) and a.new_w == (0.05, 1.05, 1.85)
    assert QT.reference(p) == a


def test_question_prints_the_sigmoid_table():
    v = make_variant(QT, LogRegParams.model_validate(QT.seed_example))
    text = normalize(latex_to_text(question_text(v)))
    assert "0.5000" in text and "0.7311" in text and "0.9526" in text


def test_draws_have_table_logits_and_distinct_argmaxes():
    for seed in range(60):
        p = draw(QT, seed).params
        a = QT.solve(p)
        assert a.z == int(a.z) and abs(a.z) <= 3
        if p.penalty == "linf_sq":
            assert a.k is not None


@pytest.mark.parametrize("bad, message", [
    ({"x": [2, 2, -1]}, r"x\[0\] = 2.0, but the first feature is the bias and must be 1"),
    ({"w": [0, 2, 2]}, "no unique largest"),
    ({"w": [0, 1]}, "w has 2 components but x has 3"),
    ({"y": 2}, "Input should be 0 or 1"),
])
def test_params_messages(bad, message):
    with pytest.raises(ValidationError, match=message):
        LogRegParams.model_validate({**QT.seed_example, **bad})
