"""attention.self_attention, attention.multihead_cost and tokenizer.repeated_tokens: the seed
questions' own numbers (002 P2.2, 003 Q26, 001 Q5), the torch solvers against hand values,
the named mistakes, sampling within the difficulty ranges and the Params validation messages."""

from __future__ import annotations

import math
import re

import pytest
from pydantic import ValidationError

from examforge.errors import InputError
from examforge.bank.attention import (
    MultiheadCost, MultiheadParams, SelfAttention, SelfAttentionParams, np_attention, num_tex,
)
from examforge.bank.tokenizer_repeated_tokens import RepeatedParams, RepeatedTokens
from examforge.renderers.blocks import question_text, solution_latex
from examforge.text import latex_to_text, normalize
from examforge.solvers.attention import (
    attention_weights, allowed_mask, same_attention_output, self_attention, temperature_value,
)
from examforge.solvers.transformer import attention_complexity
from examforge.variant import draw, make_variant, validate_params

SA, MH, RT = SelfAttention(), MultiheadCost(), RepeatedTokens()

# -- seed 002 Problem 2.2 ----------------------------------------------------------------------

E = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]]
W = [[0, 3], [1, 2], [2, 1], [3, 0]]
GEOFF = ["D", "A", "A", "<START>", "A", "D", "<STOP>"]
IDX = {"A": 0, "B": 1, "C": 2, "D": 3, "<START>": 4, "<STOP>": 5}
X_SEED = [E[IDX[t]] for t in GEOFF]
P_SEED = [
    [1, 0, 0, 0, 0, 0, 0],
    [0, 1, 0, 0, 0, 0, 0],
    [0, 1 / 2, 1 / 2, 0, 0, 0, 0],
    [1 / 4, 1 / 4, 1 / 4, 1 / 4, 0, 0, 0],
    [0, 1 / 3, 1 / 3, 0, 1 / 3, 0, 0],
    [1 / 2, 0, 0, 0, 0, 1 / 2, 0],
    [1 / 7] * 7,
]


def _close(a, b, tol=1e-9):
    return all(abs(x - y) <= tol for ra, rb in zip(a, b) for x, y in zip(ra, rb)) and len(a) == len(b)


def test_seed_002_p22_attention_matrix_is_7x7():
    p = SelfAttentionParams.model_validate(SA.seed_example)
    a = SA.solve(p)
    assert len(a.attention) == 7 and all(len(row) == 7 for row in a.attention)  # not the seed's 8 columns
    assert _close(a.attention, P_SEED)
    assert a.Q == a.K == a.V
    assert a.Q == ((3, 0), (0, 3), (0, 3), (0, 0), (0, 3), (3, 0), (0, 0))
    assert len(a.scores) == 7 and all(len(row) == 7 for row in a.scores)
    assert a.scores[0] == (9, 0, 0, 0, 0, 9, 0)
    # Z = PV, as the seed computes it in 2.3
    assert _close(a.output, [[3, 0], [0, 3], [0, 3], [3 / 4, 3 / 2], [0, 3], [3, 0], [6 / 7, 9 / 7]])
    # <START> embeds to zero: all its visible scores are 0, so the four keys tie
    start = a.rows[3]
    assert start.keys == (1, 2, 3, 4) and start.top == 0 and start.argmax == (1, 2, 3, 4)
    assert a.asked_row == tuple(P_SEED[3])
    assert SA.reference(p) == a
    assert "8 columns" in SA.seed_note


def test_seed_key_rows_print_as_the_seed_writes_them():
    a = SA.solve(SelfAttentionParams.model_validate(SA.seed_example))
    assert SA.key_texts(a) == [
        "(1, 0, 0, 0, 0, 0, 0)", "(0, 1, 0, 0, 0, 0, 0)", "(0, 1/2, 1/2, 0, 0, 0, 0)",
        "(1/4, 1/4, 1/4, 1/4, 0, 0, 0)", "(0, 1/3, 1/3, 0, 1/3, 0, 0)", "(1/2, 0, 0, 0, 0, 1/2, 0)",
        "(1/7, 1/7, 1/7, 1/7, 1/7, 1/7, 1/7)",
        "(3, 0)", "(0, 3)", "(0, 3)", "(3/4, 3/2)", "(0, 3)", "(3, 0)", "(6/7, 9/7)",
    ]
    assert num_tex(6 / 7) == "6/7" and num_tex(0.4547) == "0.4547" and num_tex(-0.75) == "-3/4"


def test_zero_temperature_matches_the_seeds_examples_and_shares_ties():
    allowed = allowed_mask(4, causal=False)
    import torch

    s = torch.tensor([[1.0, -2, 5, 0], [5, -2, 5, 0], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=torch.float64)
    w = attention_weights(s, allowed, temperature=None)
    assert w.tolist()[:2] == [[0, 0, 1, 0], [0.5, 0, 0.5, 0]]
    first = attention_weights(s, allowed, temperature=None, ties="first")
    assert first.tolist()[1] == [1, 0, 0, 0]
    assert temperature_value("sqrt_d", 4) == 2 and temperature_value("zero", 4) is None


def test_softmax_with_sqrt_dk_by_hand():
    # two tokens, d_k = 4: scores [[4, 2], [2, 4]] / 2 -> softmax([2, 1]) and causal row 1 = [1, 0]
    X = [[1, 0], [0, 1]]
    Wq = [[1, 1, 1, 1], [1, 0, 1, 0]]
    r = self_attention(X, Wq, Wq, [[1], [0]], causal=False, temperature="sqrt_d")
    assert r.scores == [[4.0, 2.0], [2.0, 2.0]]
    e = math.exp(1)
    assert math.isclose(r.weights[0][0], e / (e + 1), rel_tol=1e-12)
    assert math.isclose(r.weights[1][0], 0.5, rel_tol=1e-12)
    causal = self_attention(X, Wq, Wq, [[1], [0]], causal=True, temperature="sqrt_d")
    assert causal.weights[0] == [1.0, 0.0]


def test_numpy_reference_agrees_with_torch_on_drawn_variants():
    for seed in range(30):
        v = draw(SA, seed)
        p = v.params
        _, _, _, _, _, P, _ = np_attention(p.X, p.W_q, p.W_k, p.W_v, causal=p.causal, temperature=p.temperature)
        assert _close(v.answer.attention, P.tolist(), 1e-9)


def test_named_mistakes_on_the_seed():
    p = SelfAttentionParams.model_validate(SA.seed_example)  # ask_row 4: <START>
    m = SA.mistakes(p)
    assert m["no_causal_mask"] == pytest.approx((1 / 7,) * 7)  # all seven scores are 0
    assert m["mask_off_by_one"] == pytest.approx((0.2, 0.2, 0.2, 0.2, 0.2, 0, 0))
    assert m["ties_not_shared"] == (1, 0, 0, 0, 0, 0, 0)
    assert set(m) >= {"no_causal_mask", "mask_off_by_one", "ties_not_shared", "softmax_not_argmax",
                      "softmax_over_rows_wrong_axis"}
    soft = p.model_copy(update={"temperature": "sqrt_d"})
    assert {"no_sqrt_dk", "divided_by_dk", "argmax_not_softmax"} <= set(SA.mistakes(soft))
    v = make_variant(SA, p, form="mc", seed=3)
    assert len({c.latex for c in v.choices}) == 4


def test_sampling_honours_ranges_and_keeps_numbers_small():
    for seed in range(60):
        p = draw(SA, seed, ranges={"min_tokens": 3, "max_tokens": 5}).params
        assert 2 <= p.n <= 5
        if p.temperature == "zero":
            assert p.n >= 3 and max(max(map(abs, row)) for row in p.W_q) <= 3
        else:
            assert p.n <= 4
    with pytest.raises(InputError, match="min_tokens 6 is larger than max_tokens 4"):
        draw(SA, 0, ranges={"min_tokens": 6, "max_tokens": 4})


def test_rendered_question_never_shows_the_answer():
    v = make_variant(SA, SelfAttentionParams.model_validate(SA.seed_example), form="free")
    q = question_text(v)
    assert "Solution" not in q and "1/7" not in q
    assert r"\langle\mathrm{START}\rangle" in q and "causal mask" in q
    s = normalize(latex_to_text(solution_latex(v)))
    assert normalize("1/7 1/7 1/7 1/7 1/7 1/7 1/7") in s


@pytest.mark.parametrize(
    "change, message",
    [
        ({"X": [[1, 0], [0]]}, "X is not rectangular"),
        ({"W_q": [[0, 3], [1, 2]]}, "W_q has 2 rows but X has d = 4 columns"),
        ({"W_k": [[0], [1], [2], [3]]}, "W_q has 2 columns but W_k has 1"),
        ({"tokens": ["D", "A"]}, "tokens has 2 labels but X has 7 rows"),
        ({"tokens": ["D", "A", "A", "<start>", "A", "D", "x y"]}, "token label '<start>'"),
        ({"ask_row": 9}, "Input should be less than or equal to 8"),
        ({"ask_row": 8}, "ask_row 8 is larger than the number of tokens 7"),
        ({"temperature": -1}, "Input should be greater than 0"),
        ({"temperature": "cold"}, "Input should be 'sqrt_d' or 'zero'"),
    ],
)
def test_self_attention_invalid_params(change, message):
    with pytest.raises(ValidationError, match=message):
        SelfAttentionParams.model_validate({**SA.seed_example, **change})


def test_ask_row_beyond_the_sequence_names_both_numbers():
    with pytest.raises(InputError, match="ask_row 5 is larger than the number of tokens 4"):
        validate_params(SA, {**SA.seed_example, "X": X_SEED[:4], "tokens": GEOFF[:4], "ask_row": 5}, where="p")


# -- attention.multihead_cost (003 Q26) -----------------------------------------------------------


def test_multihead_cost_equals_single_head():
    a = MH.solve(MultiheadParams.model_validate(MH.seed_example))
    assert a.head_dim == 128
    assert a.params == a.single_head_params == 4 * 4096 ** 2 == 67108864
    assert a.score_macs_per_head == 8192 ** 2 * 128
    assert a.attention_macs == a.single_head_attention_macs == 2 * 8192 ** 2 * 4096 == 549755813888
    assert a.projection_macs == 4 * 8192 * 4096 ** 2
    assert MH.reference(MultiheadParams.model_validate(MH.seed_example)) == a


def test_multihead_with_biases_counts_like_torch_and_mistakes():
    p = MultiheadParams(d_model=512, heads=8, seq_len=100, bias=True)
    a = MH.solve(p)
    assert a.params == 1050624 and a.per_head_projection_params == 512 * 64 + 64
    assert a.qkv_params == 3 * 8 * (512 * 64 + 64) and a.projection_params == 512 * 512 + 512
    m = MH.mistakes(p)
    assert m["multiplied_by_heads"] == 8 * 1050624
    assert m["forgot_output_projection"] == 3 * (512 * 512 + 512)
    assert m["forgot_biases"] == 4 * 512 * 512
    assert a.params not in m.values()
    with pytest.raises(ValidationError, match="heads 6 must divide d_model 512"):
        MultiheadParams(d_model=512, heads=6, seq_len=10)


def test_multihead_true_false_and_ranges():
    truths = sum(draw(MH, seed, form="tf").claim_is_true for seed in range(40))
    assert 8 < truths < 32
    for seed in range(40):
        p = draw(MH, seed, ranges={"min_d_model": 256, "max_d_model": 512, "max_heads": 4}).params
        assert 256 <= p.d_model <= 512 and p.heads <= 4
    with pytest.raises(InputError, match="no model width"):
        draw(MH, 0, ranges={"min_d_model": 1100, "max_d_model": 1200})


# -- tokenizer.repeated_tokens (001 Q5) ------------------------------------------------------------


def test_seed_001_q5_both_vocabularies():
    p = RepeatedParams.model_validate(RT.seed_example)
    a = RT.solve(p)
    assert a.before.ids == (2, 3, 5, 1, 6, 1, 7, 1, 3, 9, 1, 10, 11)
    assert a.after.ids == (2, 3, 5, 1, 6, 1, 7, 4, 1, 9, 1, 10, 11)  # the seed's key drops the second 1
    assert (a.before.first.ids, a.before.second.ids) == ((3,), (3,))
    assert (a.after.first.ids, a.after.second.ids) == ((3,), (4,))
    assert a.after.second.tokens == (" dog",) and a.after.second.positions == (8,)
    assert a.distinguishable == (False, True)
    assert a.shared_steps == 7
    assert RT.reference(p) == a
    assert p.old_token == "dog" and p.vocab_after[" dog"] == 4


def test_attention_without_positions_tells_ids_not_places():
    ids = [2, 3, 5, 1, 6, 1, 7, 1, 3, 9, 1, 10, 11]
    assert same_attention_output(ids, 1, 8, vocab_size=11)  # both "dog " (id 3)
    assert not same_attention_output(ids, 1, 2, vocab_size=11)
    # with a causal mask the prefixes matter: [5, 5] has the same mix, [5, 3, 5] does not
    assert same_attention_output([5, 5], 0, 1, vocab_size=5, causal=True)
    assert not same_attention_output([5, 3, 5], 0, 2, vocab_size=5, causal=True)


def test_repeated_tokens_mistakes_and_choices():
    p = RepeatedParams.model_validate(RT.seed_example)
    m = RT.mistakes(p)
    assert m["positions_tell_apart"] == (True, True)
    assert m["same_word_same_output"] == (False, False)
    assert m["ignored_vocab_change"] == (False, False)
    v = make_variant(RT, p, form="mc", seed=1)
    assert sorted(c.latex for c in v.choices) == sorted(
        RT.choice_latex((x, y)) for x in (False, True) for y in (False, True))


def test_repeated_tokens_sampling():
    flips = 0
    for seed in range(60):
        p = draw(RT, seed, ranges={"min_vocab": 10, "max_vocab": 12}).params
        assert 10 <= len(p.vocab) <= 12
        a = RT.solve(p)
        flips += a.distinguishable[0] != a.distinguishable[1]
    assert flips > 25  # the changed token usually changes the verdict, as in the seed
    with pytest.raises(InputError, match="min_vocab 12 is larger than max_vocab 9"):
        draw(RT, 0, ranges={"min_vocab": 12, "max_vocab": 9})


def test_repeated_tokens_solution_explains_both_verdicts():
    v = make_variant(RT, RepeatedParams.model_validate(RT.seed_example), form="free")
    s = latex_to_text(solution_latex(v))
    assert "cannot tell them apart" in s and "can tell them apart" in s
    assert "Steps 1–7 are the same as in (a)" in s or "Steps 1-7 are the same" in s.replace("–", "-")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"word": "cat"}, "word 'cat' must occur exactly twice in the text as a whole word, found 0"),
        ({"changed_id": 12}, "changed_id 12 is not an id of the vocabulary"),
        ({"new_token": "dog "}, "new_token 'dog ' is already in the vocabulary \\(id 3\\)"),
        ({"changed_id": 1, "new_token": "x"}, "text cannot be tokenized with the second vocabulary"),
        ({"vocab": {"The ": 2, "dog ": 3}}, "changed_id 4 is not an id"),
    ],
)
def test_repeated_tokens_invalid_params(change, message):
    data = {**RT.seed_example, **change}
    if "vocab" in change:
        data["changed_id"] = 4
    with pytest.raises(ValidationError, match=message):
        RepeatedParams.model_validate(data)


@pytest.mark.parametrize("shared", [True, False])
def test_token_labels_of_x_are_arrows_without_a_stray_hash_or_comma(shared):
    """X's rows carried '# A' labels and the display's comma landed among them ('# A,'), in the
    PDF and on the web: each row is now marked '<- A' and nothing follows the labels."""
    data = dict(SA.seed_example)
    if not shared:
        data["W_k"] = data["W_q"][::-1]
        data["W_v"] = [[2 * x for x in row] for row in data["W_q"]]
    p = SelfAttentionParams.model_validate(data)
    assert p.tokens and p.shared_weights == shared
    for form in ("free", "mc"):
        latex = question_text(make_variant(SA, p, form=form))
        assert r"\#" not in latex
        text = latex_to_text(latex)
        assert "#" not in text
        assert "←D" in text.replace(" ", "") and "←A" in text.replace(" ", "")
        assert not re.search(r"\\end\{matrix\}\s*,", latex)  # no punctuation after the labels


def test_embedding_rows_of_teacher_forcing_are_labelled_the_same_way():
    """transformer.teacher_forcing_loss labelled E's rows the same way ('# A', '# <STOP>,')."""
    from examforge import registry

    qtype = registry.get("transformer.teacher_forcing_loss")
    for seed in range(4):
        for form in qtype.forms:
            latex = question_text(draw(qtype, seed, form=form))
            text = latex_to_text(latex)
            assert r"\#" not in latex and "#" not in text and "←A" in text.replace(" ", "")
            assert not re.search(r"\\end\{matrix\}\s*,", latex)


# -- attention.multihead_cost, ask complexity (seed 003 Q21) ---------------------------------------------


def test_seed_003_q21_time_and_memory_grow_with_n_squared():
    """Q21: time O(n^2 d), memory O(n^2) for the attention matrix plus O(nd). The seed's own sizes,
    n = 512 and d = 64: Q K^T and P V take 2 n^2 d = 33554432 multiply-adds against 4 n d^2 = 8388608
    for the projections, already four times as much (the seed calls them comparable; the n^2 d term
    passes the projections once n > 2d = 128)."""
    p = MultiheadParams(d_model=64, heads=2, seq_len=512, bias=False, ask="complexity", growth=4)
    a = MH.solve(p)
    assert a == MH.reference(p)
    c = a.complexity
    assert (c.attention_macs, c.projection_macs, c.crossover) == (33554432, 8388608, 128)
    assert (c.attention_entries, c.activation_entries) == (2 * 512**2, 4 * 512 * 64)
    assert (c.grown_n, c.grown_attention_macs, c.grown_attention_entries) == (2048, 16 * 33554432, 16 * 2 * 512**2)
    assert c.grown_projection_macs == 4 * c.projection_macs
    wrong = MH.mistakes(p)
    assert wrong["linear_in_n"] == (4 * 33554432, 4 * 2 * 512**2)
    assert wrong["forgot_heads_in_memory"] == (16 * 33554432, 2048**2)
    text = latex_to_text(solution_latex(make_variant(MH, p, form="free", seed=0)))
    assert "Time O(n^2 d + n d^2)" in text and "Memory O(h n^2 + n d)" in text and "n > 2d = 128" in text


def test_attention_complexity_counts_with_torch():
    got = attention_complexity(d_model=96, heads=3, seq_len=10)
    assert (got.attention_macs, got.projection_macs) == (2 * 100 * 96, 4 * 10 * 96 * 96)
    assert (got.attention_entries, got.activation_entries) == (300, 4 * 10 * 96)
    growths = {draw(MH, seed, form="mc", overrides={"ask": "complexity"}).answer.complexity.growth for seed in range(40)}
    assert growths == {2, 4, 8}
