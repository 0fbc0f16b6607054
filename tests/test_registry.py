"""The common test: every registered question type, over many seeds, without anyone having to
write a test for it. Rendering through real pdflatex is in test_templates_compile.py."""

from __future__ import annotations

import collections
import json

import pytest

from examforge import registry
from examforge.question import values_agree
from examforge.renderers.blocks import question_latex, solution_latex
from examforge.renderers.text import latex_to_text, normalize
from examforge.variant import draw

SEEDS = range(200)
TYPES = registry.all_types()
IDS = [t.id for t in TYPES]


def test_registry_has_the_contract_types():
    for type_id in ("conv.output_shape", "conv.forward_values", "cnn.shape_trace",
                    "backprop.two_neuron", "tokenizer.greedy",
                    "attention.self_attention", "transformer.kv_cache", "conv.receptive_field",
                    "prob.bayes", "tree.information_gain", "jacobian.matmul", "prob.hoeffding_n"):
        assert type_id in IDS
    assert len(IDS) >= 30


@pytest.mark.parametrize("qtype", TYPES, ids=IDS)
def test_params_valid_roundtrip_and_deterministic(qtype):
    for seed in SEEDS:
        v1 = draw(qtype, seed)
        v2 = draw(qtype, seed)
        assert v1.to_json() == v2.to_json(), f"{qtype.id} seed {seed} is not deterministic"
        dumped = v1.params.model_dump_json()
        again = qtype.Params.model_validate_json(dumped)
        assert again == v1.params, f"{qtype.id} seed {seed}: params do not round-trip through JSON"
        json.dumps(v1.to_json())  # answer is JSON-serialisable


@pytest.mark.parametrize("qtype", TYPES, ids=IDS)
def test_torch_answer_agrees_with_independent_reference(qtype):
    for seed in SEEDS:
        v = draw(qtype, seed)
        ref = qtype.reference(v.params)
        ok = values_agree(
            v.answer.model_dump(mode="json"), ref.model_dump(mode="json"),
            rtol=qtype.Answer.rtol, atol=qtype.Answer.atol,
        )
        assert ok, f"{qtype.id} seed {seed}: torch {v.answer!r} != reference {ref!r}"


@pytest.mark.parametrize("qtype", TYPES, ids=IDS)
def test_templates_render_and_key_contains_answer(qtype):
    for seed in range(0, 200, 4):
        for form in qtype.forms:
            v = draw(qtype, seed, form=form)
            q = question_latex(v, key=False)
            k = question_latex(v, key=True)
            s = solution_latex(v)
            assert q.strip() and s.strip()
            assert "Solution" not in q
            solution_text = normalize(latex_to_text(s))
            for expected in qtype.key_texts(v.answer):
                assert normalize(expected) in solution_text, (
                    f"{qtype.id} seed {seed}: solution lacks the answer {expected!r}"
                )
                assert normalize(expected) in normalize(latex_to_text(k)), (
                    f"{qtype.id} seed {seed}: key answer box lacks {expected!r}"
                )


@pytest.mark.parametrize("qtype", [t for t in TYPES if "mc" in t.forms], ids=lambda t: t.id)
def test_multiple_choice_distinct_named_and_balanced(qtype):
    positions = collections.Counter()
    for seed in SEEDS:
        v = draw(qtype, seed, form="mc")
        latex = ["".join(c.latex.split()) for c in v.choices]
        assert len(v.choices) == qtype.n_choices
        assert len(set(latex)) == len(latex), f"{qtype.id} seed {seed}: duplicate options {latex}"
        correct = [c for c in v.choices if c.mistake is None]
        assert len(correct) == 1
        assert "".join(correct[0].latex.split()) == "".join(
            qtype.choice_latex(qtype.choice_value(v.answer)).split()
        )
        assert all(c.mistake for c in v.choices if c is not correct[0])
        positions[v.correct_letter] += 1
    expected = len(SEEDS) / qtype.n_choices
    for letter in "ABCD"[: qtype.n_choices]:
        assert positions[letter] > expected * 0.6, f"{qtype.id}: unbalanced positions {positions}"


@pytest.mark.parametrize("qtype", TYPES, ids=IDS)
def test_seeds_give_varied_questions(qtype):
    params = {draw(qtype, seed).params.model_dump_json() for seed in range(100)}
    assert len(params) >= 60, f"{qtype.id}: only {len(params)} distinct variants in 100 seeds"


@pytest.mark.parametrize("qtype", [t for t in TYPES if "tf" in t.forms] or [None], ids=lambda t: getattr(t, "id", "none"))
def test_true_false_claims_are_balanced_and_correct(qtype):
    if qtype is None:
        pytest.skip("no type offers true/false yet")
    truths = 0
    for seed in SEEDS:
        v = draw(qtype, seed, form="tf")
        right = "".join(qtype.choice_latex(qtype.choice_value(v.answer)).split())
        claim = "".join(v.claim.split())
        assert (claim == right) == v.claim_is_true, f"{qtype.id} seed {seed}"
        assert [c.latex for c in v.choices] == ["True", "False"]
        truths += v.claim_is_true
    assert 0.35 * len(SEEDS) < truths < 0.65 * len(SEEDS), f"{qtype.id}: {truths} true claims of {len(SEEDS)}"


@pytest.mark.parametrize("qtype", TYPES, ids=IDS)
def test_seed_example_solves_and_ranges_are_named_min_max(qtype):
    assert qtype.seed_example is not None, f"{qtype.id}: give the seed question's own numbers"
    params = qtype.Params.model_validate(qtype.seed_example)
    answer = qtype.solve(params)
    ref = qtype.reference(params)
    assert values_agree(answer.model_dump(mode="json"), ref.model_dump(mode="json"),
                        rtol=qtype.Answer.rtol, atol=qtype.Answer.atol)
    for name in qtype.Ranges.model_fields:
        assert name.startswith(("min_", "max_")) or name in ("difficulty",), f"{qtype.id}: range {name!r}"
