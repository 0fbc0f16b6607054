"""rnn.scalar_bptt and rnn.param_count: seed 002 MC6 with concrete numbers (the key and its three
distractors), full BPTT against forward-mode sensitivities and finite differences, seed 000 1.4
(parameter counts do not depend on sequence length), torch's two-bias convention, the named
mistakes, sampling ranges and the Params validation messages."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from examforge.bank.rnn import (
    ParamCountParams,
    ParamCountRanges,
    RecurrentParamCount,
    ScalarBPTT,
    ScalarBPTTParams,
    ScalarBPTTRanges,
)
from examforge.question import values_agree
from examforge.renderers.blocks import solution_latex
from examforge.text import latex_to_text, normalize
from examforge.seeding import variant_rngs
from examforge.solvers.rnn import recurrent_param_count, recurrent_parameters
from examforge.variant import draw, make_variant

BPTT = ScalarBPTT()
COUNT = RecurrentParamCount()
SEED = {"x": [1.0, 2.0], "y": 1.0, "w": 1.5, "a": 0.5, "h0": 0.0, "activation": "relu", "lr": 0.1}


def bptt(**kw) -> ScalarBPTTParams:
    return ScalarBPTTParams.model_validate({**SEED, **kw})


# -- rnn.scalar_bptt ---------------------------------------------------------------------------


def test_seed_002_mc6_key_and_distractors():
    """h1 = relu(0.5 * 1) = 0.5, z2 = 1.5 * 0.5 + 0.5 * 2 = 1.75 = h2, so (h2 - y) = 0.75 and
    the key (h2 - y) g'(z2) h1 = 0.375 gives w = 1.5 - 0.0375 = 1.4625."""
    a = BPTT.solve(bptt())
    assert [(s.z, s.h) for s in a.steps] == [(0.5, 0.5), (1.75, 1.75)]
    assert a.loss == 0.28125 and a.dL_dyhat == 0.75
    assert a.grad_w == 0.375 and a.new_w == 1.4625
    assert a.grad_a == 2.625 and a.new_a == 0.2375
    assert BPTT.reference(bptt()) == a
    wrong = BPTT.mistakes(bptt())
    # the seed's options A, C and D with these numbers
    assert wrong["used_input_path"] == pytest.approx(1.5 - 0.1 * 0.75 * (2 + 1.5 * 1 * 1))  # 1.2375
    assert wrong["product_of_derivatives"] == pytest.approx(1.5 - 0.1 * 0.75 * 1 * 1)  # 1.425
    assert wrong["w_instead_of_h"] == pytest.approx(1.5 - 0.1 * 0.75 * 1 * 1.5)  # 1.3875
    # two steps from h0 = 0: stopping at the last step loses nothing, so it is not a distractor
    assert wrong["truncated_bptt"] == pytest.approx(a.new_w)
    v = make_variant(BPTT, bptt(), form="mc", seed=0)
    assert {c.mistake for c in v.choices} == {None, "used_input_path", "product_of_derivatives", "w_instead_of_h"}


def _loss(p: ScalarBPTTParams, w: float, a: float) -> float:
    g = {"relu": lambda z: max(0.0, z), "identity": lambda z: z, "tanh": math.tanh}[p.activation]
    h = p.h0
    for x in p.x:
        h = g(w * h + a * x)
    return 0.5 * (h - p.y) ** 2


@pytest.mark.parametrize("kw", [
    {"x": [1.0, -0.5, 2.0], "h0": 1.0},
    {"x": [0.5, 1.0, -1.0, 2.0], "activation": "identity", "w": -0.5},
    {"x": [0.5, -1.0, 1.0], "activation": "tanh", "w": 0.5, "a": -1.0},
])
def test_full_bptt_matches_finite_differences_and_beats_truncation(kw):
    p = bptt(**kw)
    a = BPTT.solve(p)
    eps = 1e-6
    fd_w = (_loss(p, p.w + eps, p.a) - _loss(p, p.w - eps, p.a)) / (2 * eps)
    fd_a = (_loss(p, p.w, p.a + eps) - _loss(p, p.w, p.a - eps)) / (2 * eps)
    assert a.grad_w == pytest.approx(fd_w, abs=1e-6) and a.grad_a == pytest.approx(fd_a, abs=1e-6)
    assert a.last_step_grad_w != pytest.approx(a.grad_w)  # h_{T-1} itself depends on w
    ref = BPTT.reference(p).model_dump(mode="json")
    assert values_agree(a.model_dump(mode="json"), ref, rtol=1e-9, atol=1e-9)
    assert sum(s.w_term for s in a.steps) == pytest.approx(a.grad_w)


def test_tanh_local_derivative_and_tolerance():
    p = bptt(activation="tanh", x=[1.0, -0.5], w=0.5, a=1.0)
    a = BPTT.solve(p)
    assert a.tolerance > 0
    for s in a.steps:
        assert s.local == pytest.approx(1 - math.tanh(s.z) ** 2)
    assert "within" in latex_to_text(solution_latex(make_variant(BPTT, p, seed=1)))


def test_dead_step_is_called_out():
    p = bptt(x=[-1.0, 2.0], h0=1.0, w=0.5, a=1.0)  # z1 = 0.5 - 1 = -0.5: dead at step 1
    a = BPTT.solve(p)
    assert a.steps[0].h == 0 and a.steps[0].local == 0
    text = latex_to_text(solution_latex(make_variant(BPTT, p, seed=1)))
    assert "The unit is dead at step 1" in text


def test_bptt_validation_names_the_kink():
    with pytest.raises(ValidationError, match=r"z2 = w\*h1 \+ a\*x2 = 1\.5\*0\.5 \+ 0\.5\*-1\.5 = 0 sits on the ReLU kink"):
        bptt(x=[1.0, -1.5])
    with pytest.raises(ValidationError, match="x"):
        bptt(x=[1.0])
    with pytest.raises(ValidationError, match="min_steps 4 is larger than max_steps 3"):
        ScalarBPTTRanges(min_steps=4, max_steps=3)


def test_bptt_ranges_are_honoured():
    r = ScalarBPTTRanges(min_steps=4, max_steps=4)
    for seed in range(30):
        assert len(BPTT.sample(variant_rngs(seed)[0], r).x) == 4


# -- rnn.param_count ---------------------------------------------------------------------------


@pytest.mark.parametrize("cell,expected", [("rnn", 640), ("gru", 1920), ("lstm", 2560)])
def test_single_layer_counts(cell, expected):
    # gates * (H*I + H*H + 2H) with I = 10, H = 20
    p = ParamCountParams(cell=cell, input_size=10, hidden_size=20)
    a = COUNT.solve(p)
    assert a.total == expected == recurrent_param_count(cell, input_size=10, hidden_size=20)
    assert a.single_bias_total == expected - a.gates * 20
    assert COUNT.reference(p) == a


def test_seed_000_1_4_count_does_not_depend_on_sequence_length():
    short = COUNT.solve(ParamCountParams(cell="rnn", input_size=10, hidden_size=20, seq_len=5))
    long = COUNT.solve(ParamCountParams(cell="rnn", input_size=10, hidden_size=20, seq_len=5000))
    assert short.total == long.total == 640
    wrong = COUNT.mistakes(ParamCountParams(cell="rnn", input_size=10, hidden_size=20, seq_len=50))
    assert wrong["depends_on_length"] == 32000
    assert wrong["single_bias"] == 620


def test_stacked_bidirectional_layers_read_both_directions():
    p = ParamCountParams(cell="lstm", input_size=10, hidden_size=20, num_layers=2, bidirectional=True)
    a = COUNT.solve(p)
    shapes = recurrent_parameters("lstm", input_size=10, hidden_size=20, num_layers=2, bidirectional=True)
    assert shapes["weight_ih_l1"] == (80, 40) and shapes["bias_hh_l1_reverse"] == (80,)
    assert [layer.input_size for layer in a.layers] == [10, 40]
    assert a.total == 2 * 4 * (20 * 10 + 400 + 40) + 2 * 4 * (20 * 40 + 400 + 40)
    wrong = COUNT.mistakes(p)
    assert wrong["every_layer_reads_input"] == 2 * 2 * 4 * (20 * 10 + 400 + 40)
    assert wrong["one_direction_only"] == 4 * (200 + 440) + 4 * (400 + 440)
    assert COUNT.reference(p) == a


def test_param_count_tf_claims_name_the_length_mistake():
    p = ParamCountParams(cell="gru", input_size=3, hidden_size=4, seq_len=100)
    claims = {make_variant(COUNT, p, form="tf", seed=s).claim for s in range(40)}
    # 3 gates * (4*3 + 4*4 + 2*4) = 108, the right claim; 108 * 100 is the 'grows with length' one
    assert {"$108$", "$10800$"} <= claims
    text = normalize(latex_to_text(solution_latex(make_variant(COUNT, p, seed=0))))
    assert normalize("108 trainable parameters") in text


def test_param_count_ranges():
    with pytest.raises(ValidationError, match="min_hidden 64 is larger than max_hidden 8"):
        ParamCountRanges(min_hidden=64, max_hidden=8)
    r = ParamCountRanges(min_hidden=20, max_hidden=40, min_input=5, max_input=7, min_layers=2, max_layers=2)
    for seed in range(30):
        p = COUNT.sample(variant_rngs(seed)[0], r)
        assert 20 <= p.hidden_size <= 40 and 5 <= p.input_size <= 7 and p.num_layers == 2


# -- rnn.param_count, ask length (seed 000 1.4 itself: does the count grow with T?) -------------------


def test_seed_000_1_4_the_count_does_not_grow_linearly_with_the_length():
    """The seed's statement 'the number of parameters in an RNN increases linearly with the sequence
    length' is the distractor scaled_with_length; its key, False, is right."""
    p = ParamCountParams.model_validate(COUNT.seed_example)
    a = COUNT.solve(p)
    assert a == COUNT.reference(p)
    assert (a.total, a.other_len, a.other_total) == (640, 200, 640)
    wrong = COUNT.mistakes(p)
    assert wrong["scaled_with_length"] == 2560 and wrong["per_time_step"] == 128000
    assert wrong["counted_hidden_states"] == 640 + 200 * 20
    verdicts = {}
    for seed in range(40):
        v = make_variant(COUNT, p, form="tf", seed=seed)
        verdicts[v.claim] = v.correct_label
    assert verdicts["$640$"] == "True" and verdicts["$2560$"] == "False"
    text = normalize(latex_to_text(solution_latex(make_variant(COUNT, p, form="tf", seed=0))))
    assert normalize("It does not grow with the sequence length") in text


def trained_parameter_count(cell: str, seq_len: int, **kw) -> int:
    """Forward and backward through torch's module on `seq_len` steps (zero weights: no RNG);
    the entries of every parameter that gets a gradient."""
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](**kw, device="meta")
    module = module.to_empty(device="cpu")
    for param in module.parameters():
        torch.nn.init.zeros_(param)
    out, _ = module(torch.ones(seq_len, 1, kw["input_size"]))
    out.sum().backward()
    return sum(param.grad.numel() for param in module.parameters() if param.grad is not None)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_sequence_of_any_length_trains_the_same_parameters(cell):
    kw = dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)
    counts = {trained_parameter_count(cell, n, **kw) for n in (1, 5, 200)}
    assert counts == {recurrent_param_count(cell, **kw)}


def test_the_other_length_is_a_multiple_of_t_unless_pinned():
    lengths = set()
    for seed in range(60):
        v = draw(COUNT, seed, form="mc", overrides={"ask": "length"})
        assert v.answer.other_len % v.params.seq_len == 0 and v.answer.other_len > v.params.seq_len
        lengths.add(v.answer.other_len // v.params.seq_len)
    assert lengths == {2, 4, 10}
    with pytest.raises(ValidationError, match="longer_len 50 equals seq_len"):
        ParamCountParams(cell="rnn", input_size=3, hidden_size=4, ask="length", longer_len=50)
