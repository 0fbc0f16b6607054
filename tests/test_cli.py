"""The command line as a user runs it: real subprocesses, exit codes and messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "examforge.cli", *args], input=stdin, capture_output=True, text=True, cwd=ROOT
    )


def test_list_json_has_ids_summaries_and_mirrors():
    out = run("list", "--format", "json")
    assert out.returncode == 0, out.stderr
    types = json.loads(out.stdout)
    ids = {t["id"] for t in types}
    assert {"conv.output_shape", "conv.forward_values", "cnn.shape_trace", "backprop.two_neuron",
            "tokenizer.greedy"} <= ids
    assert all(t["summary"] and t["mirrors"] for t in types)
    by_id = {t["id"]: t for t in types}
    assert "ask: false_statement" in by_id["softmax.temperature"]["options"]
    assert by_id["conv.output_shape"]["options"] == {}


def test_sample_json_lines_for_consecutive_seeds():
    out = run("sample", "conv.output_shape", "--seed", "10", "--count", "3", "--format", "json")
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["seed"] for r in records] == [10, 11, 12]
    for r in records:
        assert {"generator", "seed", "params", "answer", "question", "solution"} <= set(r)
    again = run("sample", "conv.output_shape", "--seed", "10", "--count", "3", "--format", "json")
    assert again.stdout == out.stdout


def test_sample_text_and_latex_formats():
    text = run("sample", "conv.output_shape", "--seed", "4", "--form", "mc")
    assert text.returncode == 0 and "Answer: (" in text.stdout and "Worked solution" in text.stdout
    latex = run("sample", "conv.output_shape", "--seed", "4", "--format", "latex")
    assert latex.returncode == 0 and "\\lfloor" in latex.stdout


def test_solve_reproduces_seed_002_part1_q4():
    params = {"input_hw": [128, 128], "kernel": [3, 5], "stride": [1, 3], "padding": [0, 0],
              "in_channels": 1, "out_channels": 1}
    out = run("solve", "conv.output_shape", "--params", "-", stdin=json.dumps(params))
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout)
    assert record["seed"] is None
    assert record["answer"]["output_hw"] == [126, 42]


def test_solve_reads_json_lines():
    a = {"input_hw": [5, 5], "kernel": [3, 3], "stride": [1, 1], "padding": [1, 1], "in_channels": 1, "out_channels": 2}
    b = dict(a, stride=[2, 2])
    out = run("solve", "conv.output_shape", "--params", "-", stdin=json.dumps(a) + "\n" + json.dumps(b) + "\n")
    assert [json.loads(l)["answer"]["output_hw"] for l in out.stdout.splitlines()] == [[5, 5], [3, 3]]


def test_solve_invalid_params_exit_2_naming_field_and_value(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"input_hw": [5, 5], "kernel": [3, 3], "stride": [1, -2], "padding": [0, 0],
                               "in_channels": 1, "out_channels": 1}))
    out = run("solve", "conv.output_shape", "--params", str(bad))
    assert out.returncode == 2
    assert "params.stride[1]" in out.stderr and "-2" in out.stderr
    assert "Traceback" not in out.stderr


def test_unknown_id_suggests_and_no_traceback():
    out = run("sample", "conv.outputshape")
    assert out.returncode == 2
    assert "did you mean conv.output_shape" in out.stderr
    assert "Traceback" not in out.stderr


def test_build_with_missing_roster_is_a_clear_error(tmp_path):
    out = run("build", "examples/midterm.yaml", "--roster", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o"))
    assert out.returncode == 2
    assert "none.csv: roster file not found" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("path", ["examples/params/svhn.json"])
def test_solve_svhn_network_from_seed_002(path):
    out = run("solve", "cnn.shape_trace", "--params", path)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)["answer"]
    assert answer["flatten_dim"] == 144
    conv_params = [n for n, layer in zip(answer["params"], json.loads((ROOT / path).read_text())["layers"])
                   if layer["type"] == "conv"]
    assert conv_params == [208, 2064]
