"""Authored questions and an instructor's question folder in both drills, and verdicts that name
the mistake: the exercise, the JSON API (Starlette's TestClient), the terminal drill and a real
`examforge serve --questions examples/questions` process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from examforge import registry
from examforge.drill import answers, web
from examforge.drill.exercise import exercise
from examforge.drill.terminal import run

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "questions"


@pytest.fixture(scope="module")
def client():
    registry.load_folder(EXAMPLE)
    with TestClient(web.create_app(), raise_server_exceptions=False) as c:
        yield c


def _check(client, type_id, answer, seed=0, form=None):
    body = {"type": type_id, "seed": seed, "answer": answer}
    if form:
        body["form"] = form
    r = client.post("/api/check", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_types_list_authored_topics_with_readable_names(client):
    types = {t["id"]: t for t in client.get("/api/types").json()["types"]}
    for type_id in ("course.normalization.layernorm_facts", "course.open.why_warmup", "course.memory.fp16_bytes",
                    "course.normalization.batchnorm_eval", "course.batchnorm_output", "open.cnn.pooling_purpose"):
        assert type_id in types, type_id
    assert types["course.normalization.layernorm_facts"]["topic"] == "normalization"
    assert types["course.normalization.layernorm_facts"]["topic_name"] == "Normalization layers"
    assert types["course.open.why_warmup"]["answer_kind"] == "open"
    assert types["conv.output_shape"]["topic_name"] == "Convolutions"
    assert types["conv.output_shape"]["subject"] == "Convolutional networks"


def test_tf_and_mc(client):
    ex = exercise("course.normalization.batchnorm_eval", 2)
    (right,) = ex.expected
    assert _check(client, ex.qtype.id, right, 2)["correct"] is True
    wrong = _check(client, ex.qtype.id, "F" if right == "T" else "T", 2)
    assert wrong["correct"] is False and wrong["solution_html"]
    mc = exercise("concepts.training.inverted_dropout", 0)
    (letter,) = mc.expected
    other = next(c for c in mc.variant.choices if c.mistake)
    assert _check(client, mc.qtype.id, letter)["correct"] is True
    assert _check(client, mc.qtype.id, other.letter)["mistake"] == other.mistake


def test_multi_select_all_with_partial_credit(client):
    ex = exercise("course.normalization.layernorm_facts", 0)
    v = client.get("/api/variant", params={"type": ex.qtype.id, "seed": 0}).json()
    assert v["answer_format"]["kind"] == "choice" and v["answer_format"]["multiple"] is True
    assert len(v["choices"]) == 5 and "mistake" not in json.dumps(v) and "batchnorm\"" not in json.dumps(v)
    right = sorted(ex.expected)
    assert _check(client, ex.qtype.id, right)["correct"] is True
    assert _check(client, ex.qtype.id, ", ".join(right))["correct"] is True  # typed "A, B" works too
    half = _check(client, ex.qtype.id, right[:1])
    assert half["correct"] is False and half["credit"] == 0.5 and half["message"].startswith("Partly right")
    batchnorm = next(c.letter for c in ex.variant.choices if c.mistake == "confuses_with_batchnorm")
    wrong = _check(client, ex.qtype.id, [batchnorm])
    assert wrong["credit"] == 0 and wrong["mistake"] == "confuses_with_batchnorm"
    assert wrong["why"] == "That is BatchNorm; LayerNorm uses the statistics of the token itself."


def test_numeric_uses_the_question_tolerance(client):
    assert _check(client, "course.memory.fp16_bytes", "4.009")["correct"] is True
    assert _check(client, "course.memory.fp16_bytes", "4.02")["correct"] is False


def test_open_question_is_compared_never_graded(client):
    v = client.get("/api/variant", params={"type": "course.open.why_warmup", "seed": 0}).json()
    assert v["answer_format"]["kind"] == "open" and "Adam" not in json.dumps(v)
    d = _check(client, "course.open.why_warmup", "Early steps are noisy, so keep them small.")
    assert d["correct"] is None and d["graded"] is False and d["message"] == "Compare with the model answer."
    assert "Adam" in d["model_answer_html"] and [r["points"] for r in d["rubric"]] == [2.0, 1.0]
    empty = client.post("/api/check", json={"type": "course.open.why_warmup", "seed": 0, "answer": "  "})
    assert empty.status_code == 422 and "empty" in empty.json()["error"]
    shipped = _check(client, "open.cnn.pooling_purpose", "It downsamples.")
    assert shipped["correct"] is None and shipped["solution_html"]


def test_show_solution_without_an_attempt(client):
    r = client.get("/api/solution", params={"type": "conv.output_shape", "seed": 7})
    assert r.status_code == 200 and r.json()["expected_html"] and r.json()["solution_html"]
    assert client.get("/api/solution", params={"type": "conv.output_shape"}).status_code == 400


@pytest.mark.parametrize("type_id, seed, form", [("conv.output_shape", 3, "free"), ("info.entropy", 3, "free"),
                                                 ("rnn.param_count", 1, "free")])
def test_a_typed_named_mistake_gets_its_sentence(client, type_id, seed, form):
    ex = exercise(type_id, seed, "medium", form)
    qtype = ex.qtype
    named = qtype.mistakes(ex.variant.params)
    hits = 0
    for name, value in named.items():
        if answers.compare(answers.plain(value), answers.plain(ex.expected), ex.fmt).correct:
            continue  # a mistake that happens to give the right value here
        typed = " x ".join(answers.show(v) for v in answers.plain(value)) if ex.fmt.kind == "shape" \
            else answers.show(answers.plain(value))
        d = _check(client, type_id, typed, seed, form)
        assert d["correct"] is False and d["mistake"] in named, (name, d)
        assert d["why"] == qtype.mistake_sentences[d["mistake"]], (name, d)
        hits += 1
    assert hits >= 3, f"{type_id} seed {seed}: only {hits} distinct named mistakes tried"


def test_generic_sentence_for_a_mistake_without_one(client):
    ex = exercise("conv.receptive_field", 0, "medium", "mc")
    wrong = next(c for c in ex.variant.choices if c.mistake)
    d = _check(client, ex.qtype.id, wrong.letter, 0, "mc")
    words = wrong.mistake.replace("_", " ")
    assert d["why"] == (ex.qtype.mistake_sentences.get(wrong.mistake) or f"That is the value you get if you {words}.")


def scripted(replies):
    replies, out = list(replies), []

    def ask(prompt):
        out.append(prompt)
        if not replies:
            raise EOFError
        return replies.pop(0)

    return ask, out.append, out


def test_terminal_every_authored_form():
    registry.load_folder(EXAMPLE)
    multi = exercise("course.normalization.layernorm_facts", 4)
    right = sorted(multi.expected)
    cases = [
        ("course.normalization.layernorm_facts", [right[0]], "Partly right (50% credit)"),
        ("course.normalization.layernorm_facts", [", ".join(right)], "\u2714 Right."),
        ("course.memory.fp16_bytes", ["4.005"], "\u2714 Right."),
        ("course.normalization.batchnorm_eval", ["T"], "T. True"),
        ("course.open.why_warmup", ["Warm-up keeps the first", "steps small.", ""], "Compare with the model answer."),
    ]
    for type_id, replies, expected in cases:
        ask, say, out = scripted(replies)
        tally = run(type_id, seed=4, form=None, difficulty="medium", count=1, history=None, ask=ask, say=say)
        text = "\n".join(out)
        assert expected in text, text
        assert "Another variant" not in text
        if type_id == "course.open.why_warmup":
            assert tally.total == 0 and tally.compared == 1 and "Rubric" in text and "Adam" in text
            assert "Wrong" not in text and "Right" not in text
    ask, say, out = scripted(["0 x 0"])
    ex = exercise("conv.output_shape", 3)
    forgot = ex.qtype.mistakes(ex.variant.params)["forgot_padding"]
    ask, say, out = scripted([" x ".join(map(str, forgot))])
    run("conv.output_shape", seed=3, form="free", difficulty="medium", count=1, history=None, ask=ask, say=say)
    assert "You left out the padding" in "\n".join(out)


def test_serve_with_a_question_folder(tmp_path):
    """A real `examforge serve --questions examples/questions`: it prints its URL only once
    /healthz says ready, and serves the folder's Python and authored questions."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop("EXAMFORGE_QUESTIONS", None)
    proc = subprocess.Popen([sys.executable, "-m", "examforge.cli", "serve", "--questions", str(EXAMPLE),
                             "--port", str(port), "--workers", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=tmp_path, env=env)
    try:
        line = proc.stdout.readline()  # blocks until the server prints
        assert line.startswith(f"examforge drill: http://127.0.0.1:{port}/"), line
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(base + "/healthz", timeout=10) as r:  # ready when announced
            assert json.load(r)["ready"] is True
        with urllib.request.urlopen(base + "/api/types", timeout=10) as r:
            ids = {t["id"] for t in json.load(r)["types"]}
        assert {"course.batchnorm_output", "course.normalization.layernorm_facts"} <= ids
        for type_id in ("course.batchnorm_output", "course.normalization.layernorm_facts"):
            with urllib.request.urlopen(f"{base}/api/variant?type={type_id}&seed=5", timeout=10) as r:
                assert json.load(r)["type"] == type_id
    finally:
        proc.terminate()
        proc.wait(timeout=30)
