"""Cross-question answer leaks: the rule for distinctive answers, whole-number matching, the
search over one exam, and a real build that warns and records them."""

from __future__ import annotations

import json

import pytest

from examforge import registry
from examforge.build import build
from examforge.leaks import answer_texts, contains, distinctive, find_leaks, significant_digits
from examforge.variant import draw, make_variant

from .helpers import ROSTER_3, write

CONV = {"input_hw": [128, 128], "kernel": [3, 5], "stride": [1, 3], "padding": [0, 0],
        "in_channels": 1, "out_channels": 8}  # output 126 x 42


@pytest.mark.parametrize("text, digits, counts", [
    ("7", 1, False), ("16", 2, False), ("0.25", 2, False), ("100", 1, False), ("2×", 1, False),
    ("5 × 5", 2, False), ("(1, 0, 0)", 1, False), ("0.0045", 2, False), ("-0.35", 2, False),
    ("16384", 5, True), ("0.0228", 3, True), ("63 × 63", 4, True), ("B: 2×, N: 4×, D: 1×", 3, True),
    ("1024", 4, True), ("12.5", 3, True), ("1073741824 bytes (1 GiB)", 11, True), ("fewer parameters", 0, False),
])
def test_distinctive_answers_have_three_significant_digits(text, digits, counts):
    assert significant_digits(text) == digits
    assert distinctive(text) is counts


@pytest.mark.parametrize("text, needle, found", [
    ("theoutputis1024wide", "1024", True),
    ("10240", "1024", False), ("11024", "1024", False), ("1024.5", "1024", False), ("0.315", "0.31", False),
    ("x=-0.31", "0.31", False), ("(0.31,2)", "0.31", True), ("1024.", "1024", True),  # a full stop ends it
    ("W=126x42,", "126x42", True), ("1126x42", "126x42", False), ("126x421", "126x42", False),
    ("B:2x,N:4x,D:1x", "B:2x,N:4x,D:1x", True), ("10240and1024", "1024", True),  # the second one is whole
])
def test_numbers_match_whole(text, needle, found):
    assert contains(text, needle) is found


def _variant(type_id, form, seed, params=None):
    qtype = registry.get(type_id)
    if params is None:
        return draw(qtype, seed, form=form)
    return make_variant(qtype, qtype.Params.model_validate(params), form=form, seed=seed)


def test_answer_texts_keep_only_distinctive_ones_and_options_ask_only_their_value():
    free = _variant("conv.output_shape", "free", 1, CONV)
    assert answer_texts(free) == ["126 × 42", "8 x 126 x 42"]  # 126 x 42 is the same
    mc = _variant("conv.output_shape", "mc", 1, CONV)
    assert answer_texts(mc) == ["126 × 42"]  # only what the options show
    small = _variant("conv.output_shape", "free", 1, {**CONV, "input_hw": [7, 7], "kernel": [3, 3], "stride": [2, 2]})
    assert answer_texts(small) == ["8 x 3 x 3"]  # 3 × 3 is not distinctive, 8 × 3 × 3 is


def test_find_leaks_names_the_question_that_shows_another_ones_answer():
    shows = _variant("conv.output_shape", "mc", 5, CONV)  # its options include 126 × 42
    asks = _variant("conv.output_shape", "free", 6, CONV)
    other = _variant("conv.output_shape", "free", 7, {**CONV, "input_hw": [64, 64]})  # 62 × 20
    leaks = find_leaks([(0, shows), (1, asks), (2, other)])
    assert [(l.slot, l.answer_slot) for l in leaks] == [(0, 1)]
    assert leaks[0].text == "126 × 42"
    assert leaks[0].to_json() == {"question": 1, "shows_answer_of": 2, "text": leaks[0].text}
    assert find_leaks([(1, asks), (2, other)]) == []  # a free statement shows only its input


def test_a_true_claim_leaks_and_a_false_one_about_other_factors_does_not():
    asks = _variant("transformer.activation_memory", "free", 3)
    seeds = range(40)
    claims = [_variant("transformer.activation_memory", "tf", s, asks.params.model_dump(mode="json")) for s in seeds]
    true, false = [c for c in claims if c.claim_is_true], [c for c in claims if not c.claim_is_true]
    assert true and false
    for c in true:
        assert [(l.slot, l.answer_slot) for l in find_leaks([(1, c), (14, asks)])] == [(1, 14)]
    for c in false:
        assert find_leaks([(1, c), (14, asks)]) == []


LEAKY_SPEC = f"""
title: "Leaky"
seed: 7
sections:
  - title: "Convolutions"
    questions:
      - {{generator: conv.output_shape, form: mc, points: 2, params: {json.dumps(CONV)}}}
      - {{generator: conv.output_shape, form: free, points: 2, params: {json.dumps(CONV)}}}
      - {{generator: info.entropy, form: free, points: 2}}
"""


def test_build_warns_and_records_answer_leaks(tmp_path):
    from .conftest import require_tex

    require_tex()
    spec = write(tmp_path / "exam.yaml", LEAKY_SPEC)
    roster = write(tmp_path / "roster.csv", ROSTER_3)
    lines: list[str] = []
    manifest = build(spec, roster, tmp_path / "out", jobs=2, warn=lines.append)
    assert [(r["student"], r["question"], r["shows_answer_of"]) for r in manifest["answer_leaks"]] == [
        ("s1", 1, 2), ("s2", 1, 2), ("s3", 1, 2)]
    assert len(lines) == 3
    assert all(line.endswith("question 1 shows the answer of question 2 (126 × 42)") for line in lines)
    assert lines[0].startswith("examforge: warning: student s1: ")
    on_disk = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["answer_leaks"] == manifest["answer_leaks"]
