"""backprop.two_neuron: the numbers of seed 001 Problem 2 (and its identity variant), the
general MLP solver, sampling bounds, the named mistakes and the Params validation messages."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from examforge.errors import InputError
from examforge.bank.backprop import BackpropTwoNeuron, TwoNeuronParams
from examforge.renderers.blocks import question_text, solution_latex
from examforge.text import latex_to_text, normalize
from examforge.solvers.mlp import dense_mlp_step, sgd_step, two_neuron_step
from examforge.variant import draw, make_variant, validate_params

QT = BackpropTwoNeuron()
ROOT = Path(__file__).resolve().parents[1]
SEED = {"x": 1.5, "y": 2, "w1": 1.0, "w2": -0.5, "w3": 3.0, "lr": 0.1}


def params(**kw) -> TwoNeuronParams:
    return TwoNeuronParams.model_validate({**SEED, **kw})


def test_seed_001_problem_2_relu():
    a = QT.solve(params())
    # (a) forward pass
    assert (a.z1, a.a1, a.z2, a.a2) == (1.5, 1.5, -0.75, 0.0)
    assert a.y_hat == 4.5 and a.loss == 3.125
    assert a.dead == ("neuron 2",)
    # (b) backward pass, with the seed's intermediate products
    assert a.dL_dyhat == 2.5 and a.dL_da == 7.5
    assert (a.dL_dz1, a.dL_dz2) == (7.5, 0.0)
    assert (a.grad_w1, a.grad_w2, a.grad_w3) == (11.25, 0.0, 3.75)
    # (c) one SGD step with lr = 0.1
    assert (a.new_w1, a.new_w2, a.new_w3) == (-0.125, -0.5, 2.625)
    assert a.asked_new_w == -0.125
    assert QT.reference(params()) == a


def test_seed_001_problem_2d_identity():
    """(d) Replace ReLU with the identity. Redoing the forward pass, a2 = z2 = -0.75, so
    y_hat = 3 * (1.5 - 0.75) = 2.25, dL/dy_hat = 0.25 and dL/dw2 = 0.25 * 3 * 1 * 1.5 = 1.125.

    The seed's key says 11.25: that keeps the ReLU forward pass (dL/da2 = 7.5) and only swaps
    the local derivative 0 -> 1, i.e. it forgets that a2 changes too. Our solver redoes the
    whole pass."""
    a = QT.solve(params(activation="identity"))
    assert (a.z1, a.a1, a.z2, a.a2) == (1.5, 1.5, -0.75, -0.75)
    assert a.y_hat == 2.25 and a.loss == 0.03125
    assert a.dead == ()
    assert a.dL_dyhat == 0.25 and a.dL_da == 0.75
    assert (a.grad_w1, a.grad_w2, a.grad_w3) == (1.125, 1.125, 0.1875)
    assert a.new_weights == (0.8875, -0.6125, 2.98125)
    assert QT.reference(params(activation="identity")) == a
    # The seed's 11.25: the ReLU pass's dL/da2 times an identity derivative of 1 times x.
    relu = QT.solve(params())
    assert relu.dL_da * 1 * SEED["x"] == 11.25 != a.grad_w2


def test_seed_params_file_matches():
    data = json.loads((ROOT / "examples/params/backprop_seed001.json").read_text())
    relu, identity = (validate_params(QT, d, where="example") for d in data)
    assert QT.solve(relu).grads == (11.25, 0.0, 3.75)
    assert QT.solve(identity).grad_w2 == 1.125


def test_dense_mlp_with_tied_output_weights_agrees():
    # The same network as a dense MLP: W1 = [[w1], [w2]], W2 = [[w3, w3]] (two copies of w3),
    # so dL/dw3 is the sum of the two copies' gradients.
    r = dense_mlp_step([1.5], [2.0], [[[1.0], [-0.5]], [[3.0, 3.0]]], ["relu", "identity"], lr=0.1)
    assert r.values["z1"] == [1.5, -0.75] and r.values["y_hat"] == [4.5]
    assert r.loss == 3.125
    assert r.grads["W1"] == [[11.25], [0.0]]
    assert sum(r.grads["W2"][0]) == 3.75
    assert r.value_grads["z1"] == [7.5, 0.0]


def test_dense_mlp_with_bias_and_sigmoid():
    r = dense_mlp_step([1.0, 2.0], [0.0], [[[0.5, -1.0]], [[2.0]]], ["sigmoid", "identity"],
                       biases=[[1.5], None], lr=1.0)
    # z = 0.5 - 2 + 1.5 = 0, sigmoid(0) = 0.5, y_hat = 1, L = 0.5, dL/dz = 1 * 2 * 0.25 = 0.5
    assert r.values["a1"] == [0.5] and r.loss == 0.5
    assert r.grads["b1"] == [0.5] and r.grads["W1"] == [[0.5, 1.0]]
    assert r.new_params["W2"] == [[1.5]]


def test_solver_leaves_the_global_rng_alone():
    before = torch.random.get_rng_state().clone()
    two_neuron_step(1.5, 2.0, 1.0, -0.5, 3.0, act="relu", lr=0.1)
    sgd_step({"w": 2.0}, lambda p: ((p["w"] * 3.0) ** 2, {}), lr=0.01)
    assert torch.equal(before, torch.random.get_rng_state())


def test_unused_parameter_gets_zero_gradient():
    def forward(p):
        h = p["w"] - 1.0
        return h**2, {"h": h, "side": p["w"] * 2}  # the loss does not use "side"

    r = sgd_step({"w": 2.0, "unused": 5.0}, forward, lr=0.5)
    assert r.grads == {"w": 2.0, "unused": 0.0}
    assert r.new_params == {"w": 1.0, "unused": 5.0}
    assert r.values == {"h": 1.0, "side": 4.0}
    assert r.value_grads == {"h": 2.0, "side": 0.0}


def test_named_mistakes_for_the_seed():
    m = QT.mistakes(params())
    assert m["ignored_relu_mask"] == pytest.approx(0.8875)  # a2 = z2 = -0.75 in the forward pass
    assert m["ascent_step"] == pytest.approx(2.125)  # 1 + 0.1 * 11.25
    assert m["forgot_w3_in_chain"] == pytest.approx(0.625)  # 1 - 0.1 * 2.5 * 1.5
    assert m["forgot_x_in_chain"] == pytest.approx(0.25)  # 1 - 0.1 * 7.5
    assert m["forgot_lr"] == pytest.approx(-10.25)  # 1 - 11.25
    assert m["no_half_in_loss"] == pytest.approx(-1.25)  # 1 - 0.1 * 22.5
    v = make_variant(QT, params(), form="mc", seed=3)
    assert [c.mistake for c in v.choices if c.mistake] and v.correct_letter
    assert {c.latex for c in v.choices if c.mistake is None} == {"$-0.125$"}


def test_sampling_is_hand_computable():
    dead = collections.Counter()
    for seed in range(400):
        v = draw(QT, seed)
        p, a = v.params, v.answer
        assert p.lr in (0.1, 0.05, 0.2, 0.01)
        assert p.x in (-2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2)
        for w in (p.w1, p.w2, p.w3, p.y):
            assert abs(w) <= 3 and (2 * w).is_integer()
        assert a.z1 != 0 and a.z2 != 0 and a.dL_dyhat != 0
        dead[len(a.dead)] += 1
        if p.activation == "relu":
            assert len(a.dead) < 2
            assert f"neuron {p.ask[1]}" not in a.dead  # MC asks about a live unit
        for value in (a.loss, *a.grads, *a.new_weights):
            assert abs(value * 10**4 - round(value * 10**4)) < 1e-6  # at most 4 decimals
    assert 60 < dead[1] < 240  # a dead unit happens, but not always


def test_rendered_seed_reads_like_the_seed():
    v = make_variant(QT, params(), form="free")
    q = question_text(v)
    assert "Solution" not in q and r"\operatorname{ReLU}" in q and r"\eta = 0.1" in q
    s = solution_latex(v)
    assert "Neuron 2 is dead" in s
    text = normalize(latex_to_text(s))
    for piece in ("1×1.5=1.5", "max(0,-0.75)=0", "2.5×1.5=3.75", "7.5×1.5=11.25", "(ReLUdead)",
                  "1-0.1×11.25=-0.125", "(unchanged)"):
        assert normalize(piece) in text, piece
    ident = solution_latex(make_variant(QT, params(activation="identity"), form="mc", seed=1))
    assert "dead" not in ident and "(identity)" in ident and "option" in ident


@pytest.mark.parametrize(
    "override, message",
    [
        ({"w2": 0.0}, "z2 = w2*x = 0*1.5 = 0 sits on the ReLU kink"),
        ({"x": 0.0}, "z1 = w1*x = 1*0 = 0 sits on the ReLU kink"),
        ({"activation": "tanh"}, "Input should be 'relu' or 'identity'"),
        ({"lr": 0.0}, "Input should be greater than 0"),
        ({"x": 11.0}, "Input should be less than or equal to 10"),
        ({"w3": float("nan")}, "Input should be a finite number"),
        ({"ask": "w3"}, "Input should be 'w1', 'w2' or 'identity'"),
        ({"bias": 1.0}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_params_messages(override, message):
    with pytest.raises(ValidationError, match=message.replace("*", r"\*").replace("(", r"\(")):
        params(**override)


def test_identity_allows_zero_preactivation():
    a = QT.solve(params(activation="identity", w2=0.0))
    assert a.z2 == 0 and a.grad_w2 == a.dL_da * 1.5


def test_invalid_params_through_validate_params_name_the_field():
    with pytest.raises(InputError) as err:
        validate_params(QT, {**SEED, "lr": -0.1}, where="params.json")
    assert "params.json: field 'params.lr': value -0.1" in str(err.value)


# -- ask identity: seed 001 Q2(d) as one question ------------------------------------------------


def test_seed_001_problem_2d_as_the_identity_option():
    """Q2(d) 'Replace ReLU with identity. How does dL/dw2 change?': from 0 to 1.125. The seed's key
    (11.25) is the distractor kept_old_forward_pass; 0 (nothing changes) is another."""
    p = params(ask="identity")
    a = QT.solve(p)
    assert a == QT.reference(p)
    assert (a.compared, a.compared_before, a.compared_after) == (2, 0.0, 1.125)
    assert a.swapped.grads == (1.125, 1.125, 0.1875) and a.swapped.y_hat == 2.25
    wrong = QT.mistakes(p)
    assert wrong["kept_old_forward_pass"] == 11.25 and wrong["unchanged"] == 0.0
    v = make_variant(QT, p, form="mc", seed=0)
    assert {c.latex for c in v.choices} >= {"$1.125$", "$11.25$", "$0$"}
    question = normalize(latex_to_text(question_text(v)))
    assert normalize("Now replace ReLU by the identity in both neurons") in question
    assert normalize("What is ∂L/∂w_2 then?") in question and "η" not in latex_to_text(question_text(v))
    text = latex_to_text(solution_latex(make_variant(QT, p, form="free", seed=0)))
    assert "(11.25, 0, 3.75)" in text and "(1.125, 1.125, 0.1875)" in text
    assert "goes from 0 to 1.125" in text and "SGD" not in text


def test_identity_option_swaps_back_to_relu_for_an_identity_network():
    # drawn with the identity: the comparison is with ReLU, which kills the unit with z < 0
    p = params(activation="identity", ask="identity")
    a = QT.solve(p)
    assert a.other_activation == "relu" and a.compared == 2
    assert (a.compared_before, a.compared_after) == (1.125, 0.0)
    assert a == QT.reference(p)
    text = latex_to_text(solution_latex(make_variant(QT, p, form="mc", seed=0)))
    assert "a dead unit passes no gradient back" in text


def test_identity_option_compares_the_one_dead_unit():
    assert params(ask="identity", w1=-1.0, w2=0.5).compared == 1
    assert params(ask="identity", w1=1.0, w2=0.5).compared == 2  # none dead: unit 2, unchanged
    a = QT.solve(params(ask="identity", w1=1.0, w2=0.5))
    assert a.compared_before == a.compared_after
    with pytest.raises(ValidationError, match="sits on the ReLU kink"):
        params(activation="identity", ask="identity", w2=0.0)
