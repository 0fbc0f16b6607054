"""Shared checks for the types added for seed 000 MC2.1, 003 Q3/Q4/Q6/Q9/Q24/Q29 and 004 P2(a)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from examforge.cli import main
from examforge.question import values_agree
from examforge.renderers.blocks import question_text
from examforge.text import latex_to_text
from examforge.variant import draw

ROOT = Path(__file__).resolve().parents[1]


def solve_file(type_id: str, name: str) -> list[dict]:
    """`examforge solve TYPE --params examples/params/NAME` in-process: the JSON records it prints."""
    result = CliRunner().invoke(main, ["solve", type_id, "--params", str(ROOT / "examples" / "params" / name)])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


def assert_solver_matches_reference(qtype, seeds, **draw_kwargs) -> None:
    for seed in seeds:
        v = draw(qtype, seed, **draw_kwargs)
        ref = qtype.reference(v.params)
        assert values_agree(v.answer.model_dump(mode="json"), ref.model_dump(mode="json"),
                            rtol=qtype.Answer.rtol, atol=qtype.Answer.atol), (
            f"{qtype.id} seed {seed} {draw_kwargs}: torch {v.answer!r} != reference {ref!r}")


FREE_RESPONSE_WORDS = ("Compute", "Derive", "\\item", "showing", "stating")


def assert_clean_stems(qtype, seeds) -> None:
    """A multiple-choice or true/false stem carries no free-response instructions; a true/false
    stem states a claim and a multiple-choice stem asks a question."""
    for seed in seeds:
        for form in ("mc", "tf"):
            v = draw(qtype, seed, form=form)
            text = question_text(v)
            for word in FREE_RESPONSE_WORDS:
                assert word not in text, f"{qtype.id} seed {seed} {form}: {word!r} in {text}"
            plain = latex_to_text(text)
            if form == "tf":
                assert "True or false:" in plain and "?" not in plain.split("True or false:")[1]
            else:
                assert plain.rstrip().endswith("?"), plain
