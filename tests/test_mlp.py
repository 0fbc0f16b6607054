"""mlp.tiny_sgd: seed 001 Problem 2 as a dense network, dead and leaky units, smooth
activations against finite differences, 3-layer backprop, the named mistakes, sampling ranges,
the Params validation messages, and the solver functions added to solvers/mlp.py."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from examforge.bank.mlp import TinyMLP, TinyMLPParams, TinyMLPRanges
from examforge.question import values_agree
from examforge.renderers.blocks import question_text, solution_latex
from examforge.text import latex_to_text
from examforge.seeding import variant_rngs
from examforge.solvers.mlp import ACTIVATIONS, dense_mlp_step, dense_mlp_step_custom, leaky_relu
from examforge.variant import draw, make_variant

QT = TinyMLP()
SEED = {"x": [1.5], "y": 2.0, "weights": [[[1.0], [-0.5]], [[3.0, 3.0]]], "biases": [[0.0, 0.0], [0.0]],
        "activation": "relu", "lr": 0.1, "ask": [1, 1]}
TWO_BY_TWO = {"x": [1.0, -1.0], "y": 0.5, "weights": [[[1.0, 0.5], [-0.5, 1.0]], [[1.5, -1.0]]],
              "biases": [[0.5, 0.0], [0.0]], "lr": 0.1}


def params(base=SEED, **kw) -> TinyMLPParams:
    return TinyMLPParams.model_validate({**base, **kw})


def test_seed_001_problem_2_as_a_dense_network():
    a = QT.solve(params())
    first, out = a.layers
    assert first.z == (1.5, -0.75) and first.h == (1.5, 0.0) and first.dead == (2,)
    assert a.dead_units == ("layer 1 unit 2",)
    assert a.y_hat == 4.5 and a.loss == 3.125 and a.dL_dyhat == 2.5
    assert out.grad_W == ((3.75, 0.0),)  # the seed's shared w3 gets the sum, 3.75
    assert first.upstream == (7.5, 7.5) and first.delta == (7.5, 0.0)
    assert first.grad_W == ((11.25,), (0.0,))
    assert first.new_W == ((-0.125,), (-0.5,)) and a.asked_new_w == -0.125
    assert a.tolerance == 0
    assert QT.reference(params()) == a


def test_dead_unit_is_called_out_in_the_solution():
    text = latex_to_text(solution_latex(make_variant(QT, params(), seed=0)))
    assert "Unit 2 of layer 1 is dead on this input" in text
    assert "row 2 of W^(1)" in text


def test_leaky_relu_units_below_zero_are_not_dead():
    p = params(TWO_BY_TWO, activation="leaky_relu", x=[-1.0, 0.5])  # z1 = -1 + 0.25 + 0.5 = -0.25
    a = QT.solve(p)
    negative = [i + 1 for i, z in enumerate(a.layers[0].z) if z < 0]
    assert a.layers[0].leaky == tuple(negative) and negative and a.dead_units == ()
    for i in negative:
        assert a.layers[0].local[i - 1] == 0.1
        assert a.layers[0].h[i - 1] == pytest.approx(0.1 * a.layers[0].z[i - 1])
    assert "leaky_as_relu" in QT.mistakes(p)


def _loss(p: TinyMLPParams, weights) -> float:
    g = {"sigmoid": lambda z: 1 / (1 + math.exp(-z)), "tanh": math.tanh, "relu": lambda z: max(0.0, z),
         "leaky_relu": lambda z: z if z > 0 else p.negative_slope * z}[p.activation]
    h = list(p.x)
    for k, (w, b) in enumerate(zip(weights, p.biases)):
        z = [sum(wij * hj for wij, hj in zip(row, h)) + bi for row, bi in zip(w, b)]
        h = z if k == len(weights) - 1 else [g(v) for v in z]
    return 0.5 * (h[0] - p.y) ** 2


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_smooth_three_layer_gradients_match_finite_differences(activation):
    base = {"x": [0.5, -1.0], "y": 1.0, "lr": 1.0, "activation": activation, "ask": [2, 1],
            "weights": [[[1.0, 0.5], [-0.5, 1.0]], [[0.5, -1.0], [1.0, 0.5]], [[1.0, -0.5]]],
            "biases": [[0.0, 0.5], [-0.5, 0.0], [0.5]]}
    p = params(base)
    a = QT.solve(p)
    assert a.tolerance == 0.005
    eps = 1e-6
    for k, layer in enumerate(a.layers):
        for i, row in enumerate(layer.grad_W):
            for j, g in enumerate(row):
                plus = [[list(r) for r in w] for w in p.weights]
                minus = [[list(r) for r in w] for w in p.weights]
                plus[k][i][j] += eps
                minus[k][i][j] -= eps
                assert g == pytest.approx((_loss(p, plus) - _loss(p, minus)) / (2 * eps), abs=1e-7)
    ref = QT.reference(p).model_dump(mode="json")
    assert values_agree(a.model_dump(mode="json"), ref, rtol=1e-9, atol=1e-9)
    hidden = a.layers[0]
    expected = [h * (1 - h) if activation == "sigmoid" else 1 - h * h for h in hidden.h]
    assert hidden.local == pytest.approx(expected)
    # W2 is not symmetric, so backpropagating through W2 instead of W2^T is a distinct mistake
    wrong = QT.mistakes(p)
    assert "untransposed_weights" in wrong and "activation_value_as_derivative" in wrong
    assert all(abs(v - a.asked_new_w) >= 0.01 for v in wrong.values())


def test_named_mistakes_relu():
    p = params(TWO_BY_TWO, activation="relu", ask=[1, 2])
    a = QT.solve(p)
    wrong = QT.mistakes(p)
    g = a.asked_grad
    assert wrong["ascent_step"] == pytest.approx(0.5 + 0.1 * g)
    assert wrong["forgot_lr"] == pytest.approx(0.5 - g)
    assert wrong["no_half_in_loss"] == pytest.approx(0.5 - 0.2 * g)
    assert wrong["forgot_input_in_chain"] == pytest.approx(0.5 - 0.1 * a.layers[0].delta[0])
    v = make_variant(QT, p, form="mc", seed=4)
    assert len({c.latex for c in v.choices}) == 4


def test_validation_messages():
    with pytest.raises(ValidationError, match="W2 must have 2 columns"):
        params(weights=[[[1.0], [-0.5]], [[3.0]]])
    with pytest.raises(ValidationError, match="b1 has 1 entries but W1 has 2 rows"):
        params(biases=[[0.0], [0.0]])
    with pytest.raises(ValidationError, match="must have one row"):
        params(weights=[[[1.0], [-0.5]], [[3.0, 3.0], [1.0, 1.0]]], biases=[[0.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValidationError, match="hidden unit 1 of layer 1 has z = 0"):
        params(biases=[[-1.5, 0.0], [0.0]])
    with pytest.raises(ValidationError, match=r"ask \[3, 1\] is not an entry of W1"):
        params(ask=[3, 1])
    with pytest.raises(ValidationError, match="min_layers 3 is larger than max_layers 2"):
        TinyMLPRanges(min_layers=3, max_layers=2)


def test_ranges_are_honoured():
    r = TinyMLPRanges(min_layers=3, max_layers=3, min_width=3, max_width=3, min_inputs=1, max_inputs=1)
    for seed in range(20):
        p = QT.sample(variant_rngs(seed)[0], r)
        assert len(p.weights) == 3 and len(p.x) == 1
        assert [len(w) for w in p.weights] == [3, 3, 1]


def test_draws_mix_activations_depths_and_dead_units():
    drawn = [draw(QT, seed) for seed in range(120)]
    assert {v.params.activation for v in drawn} == {"relu", "leaky_relu", "sigmoid", "tanh"}
    assert {len(v.params.weights) for v in drawn} == {2, 3}
    assert sum(bool(v.answer.dead_units) for v in drawn) >= 10


def test_question_mentions_rounding_only_for_smooth_activations():
    relu = question_text(make_variant(QT, params(), seed=0))
    assert "4 decimal places" not in relu and "dead" in relu
    smooth = draw(QT, next(s for s in range(100) if draw(QT, s).params.activation == "sigmoid"))
    assert "4 decimal places" in question_text(smooth)


def test_custom_step_matches_dense_step_and_checks_the_slope():
    args = ([1.0, -1.0], [0.5], [[[1.0, 0.5], [-0.5, 1.0]], [[1.5, -1.0]]])
    named = dense_mlp_step(*args, ["relu", "identity"], lr=0.1, biases=[[0.5, 0.0], [0.0]])
    custom = dense_mlp_step_custom(*args, [ACTIVATIONS["relu"], ACTIVATIONS["identity"]], lr=0.1,
                                   biases=[[0.5, 0.0], [0.0]])
    assert named == custom
    leaky = dense_mlp_step_custom([-2.0], [0.0], [[[1.0]], [[1.0]]], [leaky_relu(0.2), ACTIVATIONS["identity"]], lr=0.1)
    assert leaky.values["a1"] == [-0.4]
    with pytest.raises(ValueError, match="negative_slope must be in"):
        leaky_relu(1.5)
