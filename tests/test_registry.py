"""The common test: every registered question type, held to the common contract of
examforge.testing (the same checks `examforge check` runs on an instructor's folder), without
anyone having to write a test for it. Each type's seeds are drawn once and shared by every
check. Rendering through real pdflatex is in test_templates_compile.py."""

from __future__ import annotations

import pytest

from examforge import registry
from examforge.testing import check_type

SEEDS = 200
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
def test_common_contract(qtype):
    failures = check_type(qtype, seeds=SEEDS, bank=registry.in_bank(qtype.id))
    assert not failures, "\n".join(str(f) for f in failures[:20])


def test_every_bank_module_is_named_after_its_types():
    for qtype in TYPES:
        origin = registry.origin(qtype.id)
        if registry.in_bank(qtype.id):
            topic = qtype.id.split(".")[0]
            assert origin.stem == topic or origin.stem.startswith(topic + "_"), (qtype.id, origin)
            assert (origin.parent / qtype.id / "question.tex.j2").is_file()
            assert (origin.parent / qtype.id / "solution.tex.j2").is_file()
