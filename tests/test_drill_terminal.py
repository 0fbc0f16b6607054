"""`examforge drill` in the terminal, and its history (pointed at a temporary directory)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from examforge.drill import answers
from examforge.drill.exercise import exercise
from examforge.drill.history import History, default_path
from examforge.drill.terminal import TerminalDrill, run, select_types
from examforge.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def data_home(tmp_path, monkeypatch):
    """Never touch the real ~/.local/share: the history goes to a temporary XDG_DATA_HOME."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data"


def scripted(replies):
    replies = list(replies)
    out: list[str] = []

    def ask(prompt: str) -> str:
        out.append(prompt)
        if not replies:
            raise EOFError
        return replies.pop(0)

    return ask, out.append, out


def test_history_lives_under_xdg_data_home(data_home):
    assert default_path() == data_home / "examforge" / "drill.sqlite3"


def test_three_variants_one_wrong_with_seed_is_reproducible(data_home):
    seeds = [exercise("conv.output_shape", s, "medium", "free") for s in (40, 41, 42)]
    right = [answers.show(e.expected).replace(", ", " x ") for e in seeds]
    h, w = seeds[1].expected
    replies = [right[0], f"{h + 1} x {w}", right[2]]  # --count: no "Another variant?" in between

    def session():
        ask, say, out = scripted(replies)
        with History() as history:
            tally = run("conv.output_shape", seed=40, form=None, difficulty="medium", count=3,
                        history=history, ask=ask, say=say)
        return tally, "\n".join(out)

    tally, text = session()
    assert (tally.right, tally.wrong) == (2, 1)
    assert "[1] conv.output_shape \u00b7 seed 40" in text and "seed 42" in text
    assert text.count("\u2714 Right.") == 2 and "\u2718 Wrong" in text
    assert "Worked solution:" in text and "Drilled 3: 2 right, 1 wrong." in text
    assert "Another variant" not in text
    _, again = session()
    assert again == text  # --seed: the same session, word for word
    with History() as history:
        assert history.totals() == {"conv.output_shape": (4, 2)}


def test_unreadable_answers_are_asked_again_and_q_quits():
    ask, say, out = scripted(["twelve", "q"])
    tally = run("conv.output_shape", seed=1, form=None, difficulty="medium", count=None,
                history=None, ask=ask, say=say)
    text = "\n".join(out)
    assert "Could not read that" in text and tally.total == 0


def test_multiple_choice_and_giving_up():
    ex = exercise("cnn.shape_trace", 5, "medium", "mc")
    (letter,) = ex.expected
    ask, say, out = scripted(["?", letter])
    tally = run("cnn.shape_trace", seed=5, form="mc", difficulty="medium", count=2, history=None, ask=ask, say=say)
    text = "\n".join(out)
    assert "  A. " in text and "Skipped." in text and (tally.right, tally.wrong) in ((1, 1), (0, 2))


def test_matrix_typed_row_by_row():
    ex = exercise("conv.forward_values", 2, "medium", "free")
    rows = [" ".join(answers.show(v) for v in row) for row in ex.expected]
    ask, say, out = scripted([rows[0], *rows[1:], ""])
    tally = run("conv.forward_values", seed=2, form=None, difficulty="medium", count=1, history=None, ask=ask, say=say)
    assert tally.right == 1, "\n".join(out)


def test_missed_types_come_back_more_often(data_home):
    with History() as history:
        for _ in range(10):
            history.record("conv.output_shape", 1, "medium", "free", False, "x")
            history.record("backprop.two_neuron", 1, "medium", "free", True, "x")
        assert history.weight("conv.output_shape") == 4.0
        assert history.weight("backprop.two_neuron") == 1.0
        assert history.weight("tokenizer.greedy") == 2.0  # never tried
        types = select_types("conv.output_shape") + select_types("backprop.two_neuron")
        drill = TerminalDrill(types, history=history)
        drill.rng = random.Random(0)
        picks = [drill.next_exercise(k).qtype.id for k in range(400)]
    assert picks.count("conv.output_shape") > 2.5 * picks.count("backprop.two_neuron")


def test_topics_and_unknown_selectors():
    conv = select_types("conv")
    assert conv and all(t.id.startswith("conv.") for t in conv)
    assert [t.id for t in select_types("conv.output_shape")] == ["conv.output_shape"]
    with pytest.raises(InputError, match="topics:"):
        select_types("nosuchtopic")


def test_cli_drill_subprocess(data_home):
    env = {**os.environ, "XDG_DATA_HOME": str(data_home), "PYTHONIOENCODING": "utf-8"}
    ex = exercise("conv.output_shape", 7, "medium", "free")
    out = subprocess.run(
        [sys.executable, "-m", "examforge.cli", "drill", "conv.output_shape", "--seed", "7", "--count", "1"],
        input=answers.show(ex.expected) + "\n", capture_output=True, text=True, cwd=ROOT, env=env, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "\u2714 Right." in out.stdout and "Drilled 1: 1 right, 0 wrong." in out.stdout
    assert (data_home / "examforge" / "drill.sqlite3").is_file()
    bad = subprocess.run([sys.executable, "-m", "examforge.cli", "drill", "nosuch"], capture_output=True,
                         text=True, cwd=ROOT, env=env, timeout=300)
    assert bad.returncode == 2 and "unknown question type" in bad.stderr and "Traceback" not in bad.stderr
