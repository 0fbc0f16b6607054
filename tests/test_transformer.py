"""transformer.kv_cache, transformer.activation_memory, transformer.teacher_forcing_loss and
transformer.arithmetic_visibility: the seed questions' own numbers (003 Q27, 000 Q3, 002 P2.3,
000 Q4), the meta-device and torch solvers, the named mistakes, ranges and validation."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from examforge.errors import InputError
from examforge.figures import Bars, to_latex
from examforge.bank.transformer import (
    ActivationMemory, ActivationParams, ArithmeticVisibility, DecoderLossParams, KVCache, KVCacheParams,
    TeacherForcingLoss, VisibilityParams, evaluate, human_bytes,
)
from examforge.renderers.blocks import question_text, solution_latex
from examforge.text import latex_to_text
from examforge.solvers.attention import visible_inputs
from examforge.solvers.transformer import block_activations, kv_cache
from examforge.variant import draw, make_variant

KV, AM, TF, AV = KVCache(), ActivationMemory(), TeacherForcingLoss(), ArithmeticVisibility()

# -- transformer.kv_cache (003 Q27) -------------------------------------------------------------------


def test_seed_003_q27_kv_cache():
    p = KVCacheParams.model_validate(KV.seed_example)
    a = KV.solve(p)
    assert a.bytes == 4294967296 == 2 ** 32 and a.human == "4 GiB"
    assert a.elements == 2147483648  # the seed's element count
    assert a.tensor_shape == (1, 32, 8192, 128) and a.tensor_elements == 33554432
    assert [f.running for f in a.factors] == [2, 64, 2048, 262144, 262144, 2147483648, 4294967296]
    assert KV.reference(p) == a
    assert "4 GiB" in KV.seed_note


def test_grouped_query_attention_and_mistakes():
    p = KVCacheParams(layers=32, heads=32, head_dim=128, batch=4, seq_len=4096, bytes_per_elem=2, kv_heads=8)
    a = KV.solve(p)
    assert a.bytes == 2 * 32 * 8 * 128 * 4 * 4096 * 2 == 2 ** 31 and a.human == "2 GiB"
    m = KV.mistakes(p)
    assert m["used_query_heads"] == 4 * a.bytes
    assert m["forgot_k_and_v"] == a.bytes // 2
    assert m["bits_not_bytes"] == 8 * a.bytes
    assert m["forgot_layers"] == a.bytes // 32
    assert m["forgot_batch"] == a.bytes // 4
    assert a.bytes not in m.values()
    assert "used_query_heads" not in KV.mistakes(KVCacheParams.model_validate(KV.seed_example))
    with pytest.raises(ValidationError, match="kv_heads 5 must divide heads 32"):
        KVCacheParams(layers=2, heads=32, head_dim=8, batch=1, seq_len=8, bytes_per_elem=2, kv_heads=5)
    with pytest.raises(ValidationError, match="Input should be 1, 2, 4 or 8"):
        KVCacheParams(layers=2, heads=2, head_dim=8, batch=1, seq_len=8, bytes_per_elem=3)


def test_meta_allocation_and_units():
    c = kv_cache(layers=3, kv_heads=2, head_dim=4, batch=5, seq_len=7, bytes_per_elem=4, kv=1)
    assert c.tensors == 3 and c.bytes == 3 * 2 * 4 * 5 * 7 * 4
    assert human_bytes(1536) == "1.5 KiB" and human_bytes(3 * 2 ** 30) == "3 GiB" and human_bytes(100) == "100 bytes"


def test_kv_cache_ranges_and_forms():
    for seed in range(40):
        p = draw(KV, seed, ranges={"min_layers": 24, "max_layers": 40, "max_batch": 2, "max_seq_len": 4096}).params
        assert 24 <= p.layers <= 40 and p.batch <= 2 and p.seq_len <= 4096
    v = draw(KV, 5, form="mc")
    assert len({c.latex for c in v.choices}) == 4
    with pytest.raises(InputError, match="min_layers 50 is larger than max_layers 10"):
        draw(KV, 0, ranges={"min_layers": 50, "max_layers": 10})


# -- transformer.activation_memory (000 Q3) ---------------------------------------------------------


def test_seed_000_q3_attention_and_mlp():
    a = AM.solve(ActivationParams.model_validate(AM.seed_example))
    assert a.factors == (2, 4, 1) and a.dominant == "B x N x N"
    exact = {s.dim: s.exact for s in a.scenarios}
    assert exact["B"] == 2 and 3.9 < exact["N"] < 4 and 1 < exact["D"] < 1.05
    mlp = AM.solve(ActivationParams(block="mlp", factor=2, ratio=100))
    assert mlp.factors == (2, 2, 2) and {s.exact for s in mlp.scenarios} == {2.0}
    assert AM.reference(ActivationParams.model_validate(AM.seed_example)) == a or all(
        math.isclose(x.exact, y.exact, rel_tol=1e-9) for x, y in zip(a.scenarios, AM.reference(
            ActivationParams.model_validate(AM.seed_example)).scenarios))


def test_heads_and_mlp_width_do_not_change_the_scaling():
    a = AM.solve(ActivationParams(block="attention", factor=3, ratio=100, heads=4))
    assert a.factors == (3, 9, 1) and a.dominant == "B x h x N x N"
    m = AM.solve(ActivationParams(block="mlp", factor=4, ratio=100, hidden_mult=4))
    assert m.factors == (4, 4, 4) and m.dominant == "B x N x 4D"
    kept = block_activations("attention", batch=2, seq_len=6, dim=4, heads=2)
    assert [t.shape for t in kept if t.name == "scores"] == [(2, 2, 6, 6)]


def test_activation_mistakes_and_validation():
    p = ActivationParams.model_validate(AM.seed_example)
    m = AM.mistakes(p)
    assert m["all_linear"] == (2, 2, 2) and (2, 4, 1) not in m.values()
    with pytest.raises(ValidationError, match="ratio 30 must be at least 10 x factor 4"):
        ActivationParams(block="attention", factor=4, ratio=30)
    # the statement describes both blocks (heads and MLP width), so pinning the block keeps the
    # rest of a draw valid; the MLP block's answer does not depend on the number of heads
    mlp = ActivationParams(block="mlp", factor=2, ratio=100, heads=2)
    assert AM.solve(mlp).factors == AM.solve(mlp.model_copy(update={"heads": 1})).factors
    for seed in range(30):
        q = draw(AM, seed, ranges={"min_factor": 3, "max_factor": 3}).params
        assert q.factor == 3 and q.ratio >= 30


# -- transformer.teacher_forcing_loss (002 P2.3) -------------------------------------------------------


def test_seed_002_p23_loss_is_4_2114():
    p = DecoderLossParams.model_validate(TF.seed_example)
    a = TF.solve(p)
    e3 = math.exp(3)
    by_hand = -2 * math.log(e3 / (2 * e3 + 4)) - math.log(1 / (2 * math.exp(9 / 7) + 2 * math.exp(6 / 7) + 2))
    assert math.isclose(a.loss, by_hand, rel_tol=1e-12) and round(a.loss, 4) == 4.2114
    assert [r.row for r in a.rows] == [5, 6, 7]
    assert [round(r.prob, 4) for r in a.rows] == [0.4547, 0.4547, 0.0717]
    assert a.rows[2].logits == pytest.approx((9 / 7, 6 / 7, 9 / 7, 6 / 7, 0, 0))
    assert len(a.R) == 7 and a.R[1] == a.R[2] == a.R[4] == (3, 0, 3, 0)  # the seed prints 6 rows
    assert TF.reference(p).loss == pytest.approx(a.loss, rel=1e-12)


def test_next_token_convention_and_mistakes():
    p = DecoderLossParams.model_validate({**TF.seed_example, "alignment": "next_token"})
    a = TF.solve(p)
    assert [r.row for r in a.rows] == [4, 5, 6]  # <START> predicts A, A predicts D, D predicts <STOP>
    assert round(a.loss, 4) == 8.7973
    m = TF.mistakes(DecoderLossParams.model_validate(TF.seed_example))
    assert m["next_token_convention"] == 8.7973
    assert m["mean_not_sum"] == round(4.211428972286 / 3, 4)
    assert m["log10_not_ln"] == round(4.211428972286 / math.log(10), 4)
    assert "ties_not_shared" in m and "scored_every_position" in m


def test_decoder_loss_sampling_is_like_the_seed():
    for seed in range(40):
        p = draw(TF, seed).params
        assert p.sequence[-1] == "<STOP>" and p.temperature == "zero"
        start = p.sequence.index("<START>")
        assert list(p.sequence[start + 1:-1]) == sorted(set(p.sequence[:start]))
        assert len(p.sequence) <= 10


@pytest.mark.parametrize(
    "change, message",
    [
        ({"sequence": ["D", "A", "A", "A", "D"]}, "must contain <START> exactly once"),
        ({"sequence": ["D", "E", "<START>", "D"]}, "symbols not in the vocabulary: \\['E'\\]"),
        ({"W_o": [[0, 1, 0], [1, 0, 1]]}, "W_o is 2x3 but must be 2x4"),
        ({"E": [[1, 0, 0, 0]] * 5}, "E has 5 rows but the vocabulary has 6 symbols"),
        ({"alignment": "shifted"}, "Input should be 'same_position' or 'next_token'"),
    ],
)
def test_decoder_loss_invalid_params(change, message):
    with pytest.raises(ValidationError, match=message):
        DecoderLossParams.model_validate({**TF.seed_example, **change})


IDENTITY_4 = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]


def test_seed_002_p24_two_identical_heads_and_the_identity_w_o():
    """Pr2.4: a second head identical to the first and W_O the 4 x 4 identity. The concatenation
    is (z1, z2, z1, z2), so the logits at position 5 are (0, 3, 0, 3, 0, 0), not the one-head
    (3, 0, 3, 0, 0, 0): the loss is 10.2114 under the seed's convention, not the 4.2114 its key
    repeats ('the result would be identical')."""
    p = DecoderLossParams.model_validate({**TF.seed_example, "heads": 2, "W_o": IDENTITY_4})
    a = TF.solve(p)
    assert a == TF.reference(p)
    assert a.Z_concat[4] == (0, 3, 0, 3) and a.Z_concat[6] == pytest.approx((6 / 7, 9 / 7, 6 / 7, 9 / 7))
    assert a.rows[0].logits == (0, 3, 0, 3, 0, 0)
    e3 = math.exp(3)
    by_hand = 2 * math.log(2 * e3 + 4) + math.log(2 * math.exp(6 / 7) + 2 * math.exp(9 / 7) + 2)
    assert math.isclose(a.loss, by_hand, rel_tol=1e-12) and round(a.loss, 4) == 10.2114
    assert "10.2114" in TF.seed_note and "4.2114" in TF.seed_note
    # keeping only the first head's block of W_O (the first two rows of I) gives a third value
    assert TF.mistakes(p)["one_head_only"] == 8.7445
    text = latex_to_text(question_text(make_variant(TF, p, form="mc", seed=0)))
    assert "two identical heads" in text


def test_two_heads_with_one_block_of_w_o_each_double_the_logits():
    """heads: 2 pinned on any draw: each head keeps the drawn d_v x d block, so W_O is the block
    stacked twice and R = 2 Z W_O; the seed's 'identical result' is the distractor one_head_only."""
    p = DecoderLossParams.model_validate({**TF.seed_example, "heads": 2})
    a, one = TF.solve(p), TF.solve(DecoderLossParams.model_validate(TF.seed_example))
    assert [list(row) for row in a.R] == [pytest.approx([2 * v for v in row], abs=1e-11) for row in one.R]
    assert TF.mistakes(p)["one_head_only"] == round(one.loss, 4) == 4.2114
    for seed in range(30):
        v = draw(TF, seed, form="mc", overrides={"heads": 2})
        assert len(v.params.W_out) == 2 * len(v.params.W_v[0]) and v.answer == TF.reference(v.params)
    with pytest.raises(ValidationError, match="W_o is 3x4 but with 2 heads must be 4x4"):
        DecoderLossParams.model_validate({**TF.seed_example, "heads": 2, "W_o": IDENTITY_4[:3]})


def test_decoder_loss_question_states_the_convention():
    same = question_text(make_variant(TF, DecoderLossParams.model_validate(TF.seed_example)))
    assert "by convention here" in same and "Solution" not in same
    nxt = question_text(make_variant(TF, DecoderLossParams.model_validate(
        {**TF.seed_example, "alignment": "next_token"})))
    assert "position $t + 1$" in nxt


# -- transformer.arithmetic_visibility (000 Q4) ---------------------------------------------------------

ONE_PLUS = ["One", "Plus", "One", "Plus", "One", "Equals"]
TWO_PLUS_ONE = ["Two", "Plus", "One", "Equals"]


def _probs(tokens, positions, attention, query):
    p = VisibilityParams(tokens=tokens, positions=positions, attention=attention, query=query)
    a = AV.solve(p)
    assert AV.reference(p) == a
    return a


@pytest.mark.parametrize(
    "tokens, positions, attention, query, probs",
    [
        (ONE_PLUS, range(6), "unmasked", 5, (0, 0, 0, 1, 0)),  # 4.1 Prob F
        (ONE_PLUS, range(6), "unmasked", 0, (0, 0, 0, 1, 0)),  # 4.2 Prob A
        (TWO_PLUS_ONE, range(4), "causal", 1, (0, 0, 0, 0.5, 0.5)),  # 4.3 Prob B: 2+1 or 2+2
        (TWO_PLUS_ONE, range(4), "causal", 3, (0, 0, 0, 1, 0)),  # 4.4 Prob D
        (["One", "Plus", "One", "Minus", "Two", "Equals"], (4, 1, 2, 3, 0, 5), "unmasked", 1,
         (0, 0, 1, 0, 0)),  # 4.5 Prob B: Two Plus One Minus One
    ],
)
def test_seed_000_q4_all_five_parts(tokens, positions, attention, query, probs):
    a = _probs(tuple(tokens), tuple(positions), attention, query)
    assert a.probs == pytest.approx(probs)


def test_causal_prefix_enumerates_completions():
    a = _probs(tuple(TWO_PLUS_ONE), (0, 1, 2, 3), "causal", 0)  # only "Two" seen: Two ? ? Equals
    assert sorted(c.value for c in a.completions) == [0, 1, 3, 4]
    assert a.known == ("Two", None, None, "Equals") and a.visible == ("A",)
    assert visible_inputs(4, causal=True, query=2) == [0, 1, 2]
    assert visible_inputs(4, causal=False, query=0) == [0, 1, 2, 3]
    assert evaluate(["Two", "Minus", "One", "Plus", "Two", "Equals"]) == 3
    assert evaluate(["Two", "Two", "Equals"]) is None and evaluate(["Two", "Equals"]) == 2


def test_visibility_mistakes():
    p = VisibilityParams.model_validate(AV.seed_example)
    m = AV.mistakes(p)
    assert m["ignored_positions"] == (1, 0, 0, 0, 0)  # One + One - Two = 0 in physical order
    c = VisibilityParams(tokens=tuple(TWO_PLUS_ONE), positions=(0, 1, 2, 3), attention="causal", query=1)
    mc = AV.mistakes(c)
    assert mc["ignored_mask"] == (0, 0, 0, 1, 0)
    assert mc["evaluated_visible_prefix"] == (0, 0, 1, 0, 0)
    v = make_variant(AV, c, form="mc", seed=2)
    assert len({x.latex for x in v.choices}) == 4


@pytest.mark.parametrize(
    "change, message",
    [
        ({"attention": "causal"}, "with causal attention the positions must be 0, 1, ..., n-1"),
        ({"positions": [0, 1, 2, 3, 4, 4]}, "must be a permutation of 0..5"),
        ({"tokens": ["One", "Plus", "Plus", "Minus", "Two", "Equals"]}, "are not an expression"),
        ({"tokens": ["Two", "Plus", "Two", "Plus", "Two", "Equals"]}, "value 6 is not an output class"),
        ({"tokens": ["One", "Plus", "One", "Equals", "One"], "positions": [0, 1, 2, 3, 4]}, "has 5 entries"),
        ({"query": 6}, "query 6 is not an input index 0..5"),
    ],
)
def test_visibility_invalid_params(change, message):
    with pytest.raises(ValidationError, match=message):
        VisibilityParams.model_validate({**AV.seed_example, **change})


def test_visibility_key_draws_a_bar_chart_and_the_exam_empty_axes():
    p = VisibilityParams(tokens=tuple(TWO_PLUS_ONE), positions=(0, 1, 2, 3), attention="causal", query=1)
    v = make_variant(AV, p, form="free")
    q, s = question_text(v), solution_latex(v)
    axes, chart = AV.sketch_axes(p), AV.distribution_figure(p, AV.solve(p))
    assert to_latex(axes) in q and not any(isinstance(s, Bars) for s in axes.series) and "1/2" not in q
    assert to_latex(chart) in s and axes.title == chart.title == "Prob B"
    assert chart.series[0].points == ((3, 0.5), (4, 0.5)) and chart.series[0].labels == ("$1/2$", "$1/2$")
    assert "P(3) = 1/2, P(4) = 1/2" in latex_to_text(s)
    assert r"\bigstar" in q


def test_visibility_sampling_ranges():
    kinds = set()
    for seed in range(80):
        p = draw(AV, seed, ranges={"min_tokens": 4, "max_tokens": 6}).params
        assert len(p.tokens) in (4, 6)
        kinds.add((p.attention, p.permuted))
        a = AV.solve(p)
        assert len(a.completions) <= 8 and abs(sum(a.probs) - 1) < 1e-9
    assert kinds == {("unmasked", False), ("unmasked", True), ("causal", False)}
    with pytest.raises(InputError, match="no even length 4, 6 or 8"):
        draw(AV, 0, ranges={"min_tokens": 5, "max_tokens": 5})
