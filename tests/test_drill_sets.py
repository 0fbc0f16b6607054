"""Drill sets (examforge.drill.sets): a YAML file of named sets, read and checked with errors that
name the file, the set and the field; the JSON API (Starlette's TestClient) and a real
`examforge serve --sets FILE --workers 2` process serving a set at its URL; `drill --set` in the
terminal, in process and as a subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from examforge import registry
from examforge.drill import answers, web
from examforge.drill.exercise import drill_forms, exercise
from examforge.drill.sets import ENV_SETS, load_sets, pick_type
from examforge.drill.terminal import run
from examforge.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_QUESTIONS = ROOT / "examples" / "questions"
SETS_YAML = """\
week5: {title: "Week 5: convolutions and pooling", questions: ["conv.*", "pool.*"], difficulty: hard}
norm:
  title: "Normalization (our own questions)"
  questions: [normalization, course.batchnorm_output]
  form: mc
one: {questions: [conv.output_shape], difficulty: easy, form: tf}
"""
WEEK5 = {"conv.forward_values", "conv.im2col", "conv.output_shape", "conv.receptive_field",
         "conv.stacked_vs_single", "pool.max_backward", "pool.values"}


@pytest.fixture(scope="module")
def sets_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sets") / "drills.yaml"
    path.write_text(SETS_YAML, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def client(sets_file):
    registry.load_folder(EXAMPLE_QUESTIONS)  # the `norm` set names authored types of this folder
    with TestClient(web.create_app(sets=load_sets(sets_file)), raise_server_exceptions=False) as c:
        yield c


# -- the file -------------------------------------------------------------------------------------------


def test_sets_resolve_ids_topics_and_globs(sets_file):
    registry.load_folder(EXAMPLE_QUESTIONS)
    sets = load_sets(sets_file)
    assert list(sets) == ["week5", "norm", "one"]
    assert set(sets["week5"].type_ids) == WEEK5 and sets["week5"].difficulty == "hard"
    assert sets["week5"].title == "Week 5: convolutions and pooling" and sets["week5"].form is None
    assert sets["norm"].type_ids == ("course.normalization.batchnorm_eval", "course.normalization.layernorm_facts",
                                     "course.batchnorm_output")
    assert sets["one"].title == "one" and sets["one"].type_ids == ("conv.output_shape",)


def test_the_example_sets_file_loads():
    sets = load_sets(ROOT / "examples" / "drills.yaml")
    assert "week5" in sets and set(sets["week5"].type_ids) == WEEK5
    for s in sets.values():
        assert s.type_ids and all(drill_forms(registry.get(t)) for t in s.type_ids)


def _alias_bomb() -> str:
    """9 aliases of 9 aliases of ...: a few hundred bytes that expand to 9**9 entries."""
    lines = ["a: &a [" + ", ".join(["conv"] * 9) + "]"]
    for k in range(1, 9):
        name, prev = chr(ord("a") + k), chr(ord("a") + k - 1)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines + ["week5: {questions: *i}"])


BAD_FILES = [
    ('week5: {questions: ["cnv.*"]}', "set 'week5': field 'questions[0]': value 'cnv.*': matches no question type"),
    ('week5: {questions: [conv, nosuchtopic]}', "set 'week5': field 'questions[1]': value 'nosuchtopic'"),
    ('week5: {questions: ["conv.*"], difficulty: harder}', "set 'week5': field 'difficulty': value 'harder'"),
    ('week5: {questions: ["conv.*"], form: essay}', "set 'week5': field 'form': value 'essay'"),
    ('week5: {questions: [conv.output_shape], form: multi}', "set 'week5': field 'form': value 'multi': no question"),
    ('week5: {questions: []}', "set 'week5': field 'questions': value []"),
    ('week5: {title: W5}', "set 'week5': field 'questions' is required but missing"),
    ('week5: {questions: [conv], colour: red}', "set 'week5': field 'colour': value 'red': Extra inputs"),
    ('week5: {questions: [conv], title: [a, b]}', "set 'week5': field 'title'"),
    ('week5: [conv]', "set 'week5': expected a mapping with questions"),
    ('"Week 5": {questions: [conv]}', "set name 'Week 5' is not valid"),
    ('"../x": {questions: [conv]}', "set name '../x' is not valid"),
    ('- conv', "a drill sets file is a mapping of set names to sets"),
    ('', "a drill sets file is a mapping of set names to sets"),
    ('w: {questions: [conv', "invalid YAML at line 2"),
    ("week5: {questions: [conv]}\nweek5: {questions: [pool]}", "duplicate key 'week5' (first at line 1)"),
    (_alias_bomb(), "makes the document larger than"),  # the bounded loader (examforge.yamlio)
]


@pytest.mark.parametrize("text, message", BAD_FILES)
def test_bad_sets_files_name_the_file_the_set_and_the_field(tmp_path, text, message):
    path = tmp_path / "drills.yaml"
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_sets(path)
    assert str(err.value).startswith(f"{path}: ") and message in str(err.value), str(err.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match="nope.yaml: (YAML )?file not found"):
        load_sets(tmp_path / "nope.yaml")


# -- the API ----------------------------------------------------------------------------------------------


def test_api_sets_lists_every_set_with_its_url(client):
    data = client.get("/api/sets").json()["sets"]
    assert [s["name"] for s in data] == ["week5", "norm", "one"]
    week5 = data[0]
    assert week5["url"] == "/?set=week5" and week5["title"] == "Week 5: convolutions and pooling"
    assert set(week5["types"]) == WEEK5 and week5["difficulty"] == "hard" and week5["form"] is None


def test_a_set_variant_is_picked_within_the_set_and_fixed_by_the_seed(client, sets_file):
    seen = set()
    for seed in range(40):
        v = client.get(f"/api/variant?set=week5&seed={seed}").json()
        assert v["type"] in WEEK5 and v["set"] == "week5" and v["difficulty"] == "hard"
        assert v["type"] == pick_type(load_sets(sets_file)["week5"], seed)
        assert "answer" not in v and "solution_html" not in v
        seen.add(v["type"])
    assert seen == WEEK5  # 40 seeds reach all 7 types
    a, b = (client.get("/api/variant?set=week5&seed=12345").json() for _ in range(2))
    assert a == b
    same = client.get(f"/api/variant?type={a['type']}&seed=12345&difficulty=hard&form={a['form']}").json()
    assert same["question_html"] == a["question_html"]  # the same variant as without the set
    # the permalink keeps the set and reproduces the variant
    assert a["permalink"] == f"/?set=week5&seed=12345&difficulty=hard&form={a['form']}"
    again = client.get("/api/variant?" + a["permalink"][2:]).json()
    assert again["question_html"] == a["question_html"] and again["type"] == a["type"]


def test_a_set_variant_without_a_seed_draws_one(client):
    v = client.get("/api/variant?set=week5").json()
    assert v["type"] in WEEK5 and isinstance(v["seed"], int) and f"seed={v['seed']}" in v["permalink"]


def test_the_sets_form_and_difficulty_apply_unless_given(client):
    v = client.get("/api/variant?set=norm&seed=3").json()
    assert v["type"] in {"course.normalization.batchnorm_eval", "course.normalization.layernorm_facts",
                         "course.batchnorm_output"}
    forms = {client.get(f"/api/variant?set=norm&seed={s}").json()["type"]:
             client.get(f"/api/variant?set=norm&seed={s}").json()["form"] for s in range(30)}
    assert forms["course.batchnorm_output"] == "mc"
    assert forms["course.normalization.batchnorm_eval"] == "tf"  # no mc form: its own default
    assert forms["course.normalization.layernorm_facts"] == "multi"
    v = client.get("/api/variant?set=one&seed=4").json()
    assert (v["type"], v["form"], v["difficulty"]) == ("conv.output_shape", "tf", "easy")
    v = client.get("/api/variant?set=one&seed=4&difficulty=medium&form=free").json()
    assert (v["form"], v["difficulty"]) == ("free", "medium")
    v = client.get("/api/variant?set=week5&type=conv.output_shape&seed=9").json()
    assert v["type"] == "conv.output_shape" and v["difficulty"] == "hard"
    assert v["permalink"] == "/?set=week5&type=conv.output_shape&seed=9&difficulty=hard&form=free"


def test_a_set_variant_is_checked_like_any_other(client):
    v = client.get("/api/variant?set=one&seed=11&form=free").json()
    ex = exercise("conv.output_shape", 11, "easy", "free")
    r = client.post("/api/check", json={"type": v["type"], "seed": v["seed"], "difficulty": v["difficulty"],
                                        "form": v["form"], "answer": answers.show(ex.expected)})
    assert r.status_code == 200 and r.json()["correct"] is True


@pytest.mark.parametrize("query, status, message", [
    ("set=nope", 404, "unknown drill set 'nope'; the sets are: week5, norm, one"),
    ("set=week5&type=mlp.tiny_sgd&seed=1", 400, "type 'mlp.tiny_sgd' is not in the drill set 'week5'"),
    ("set=week5&seed=-1", 400, "seed must be a whole number"),
    ("set=week5&set=one", 400, "set is given 2 times"),
    ("set=one&seed=1&form=multi", 400, "form 'multi' is not offered"),
    ("set=week5&sets=x", 400, "unknown parameter 'sets'"),
    ("set=" + "x" * 5000, 404, "unknown drill set 'xxxxxxxx"),
])
def test_bad_set_requests_get_a_4xx_with_a_message(client, query, status, message):
    r = client.get("/api/variant?" + query)
    assert r.status_code == status and message in r.json()["error"], r.text


def test_without_sets_the_server_has_none(monkeypatch):
    monkeypatch.delenv(ENV_SETS, raising=False)
    with TestClient(web.create_app(), raise_server_exceptions=False) as c:
        assert c.get("/api/sets").json() == {"sets": []}
        r = c.get("/api/variant?set=week5")
        assert r.status_code == 404 and "start the server with --sets FILE" in r.json()["error"]


def test_the_page_has_a_place_for_the_sets(client):
    page = client.get("/?set=week5").text
    assert '<nav id="sets"' in page and 'id="set-title"' in page
    js = client.get("/static/drill.js").text
    assert '"/api/sets"' in js and 'q.set("set", currentSet.name)' in js


# -- a real server: the file travels to the worker processes ---------------------------------------------------


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=20) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_serve_with_sets_serves_each_set_at_its_url(sets_file, tmp_path):
    """`examforge serve --sets FILE --questions DIR --workers 2`: both worker processes read the
    file (named in $EXAMFORGE_DRILL_SETS) and serve the sets; a bad file stops `serve` with a
    message before any server starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    env.pop(ENV_SETS, None)
    env.pop(registry.ENV_FOLDERS, None)
    proc = subprocess.Popen([sys.executable, "-m", "examforge.cli", "serve", "--sets", str(sets_file),
                             "--questions", str(EXAMPLE_QUESTIONS), "--port", str(port), "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path, env=env)
    try:
        line = proc.stdout.readline()  # printed once /healthz says ready
        assert line.startswith(f"examforge drill: http://127.0.0.1:{port}/"), line
        base = f"http://127.0.0.1:{port}"
        status, page = _get(base + "/?set=week5")
        assert status == 200 and b'<nav id="sets"' in page
        # new connections: both workers answer in turn (uvicorn's workers share the socket)
        deadline = time.monotonic() + 60
        types, pids_seen = set(), 0
        while time.monotonic() < deadline and (len(types) < 3 or pids_seen < 20):
            status, body = _get(f"{base}/api/variant?set=norm&seed={pids_seen}")
            assert status == 200, body
            types.add(json.loads(body)["type"])
            status, body = _get(base + "/api/sets")
            assert status == 200 and [s["name"] for s in json.loads(body)["sets"]] == ["week5", "norm", "one"]
            pids_seen += 1
        assert types == {"course.normalization.batchnorm_eval", "course.normalization.layernorm_facts",
                         "course.batchnorm_output"}
        status, body = _get(f"{base}/api/variant?set=week5&seed=7")
        assert status == 200 and json.loads(body)["type"] in WEEK5
        status, body = _get(f"{base}/api/variant?set=nope")
        assert status == 404 and b"unknown drill set" in body
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    bad = tmp_path / "bad.yaml"
    bad.write_text("week5: {questions: [cnv]}\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "examforge.cli", "serve", "--sets", str(bad), "--port", str(port)],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{bad}: set 'week5': field 'questions[0]': value 'cnv'" in out.stderr, out.stderr


# -- the terminal --------------------------------------------------------------------------------------------------


def test_terminal_drills_a_set(sets_file):
    asked: list[str] = []
    replies = ["?"] * 6

    def ask(prompt):
        asked.append(prompt)
        return replies.pop(0)

    said: list[str] = []
    tally = run(None, seed=5, form=None, difficulty=None, count=6, history=None, ask=ask, say=said.append,
                drill_set=load_sets(sets_file)["week5"])
    text = "\n".join(said)
    assert text.startswith("Drill set week5: Week 5: convolutions and pooling (7 question types, hard)")
    heads = [line.split()[1] for line in said if line.startswith("\n[")]
    assert len(heads) == 6 and set(heads) <= WEEK5
    assert all("\u00b7 hard" in line for line in said if line.startswith("\n["))
    assert tally.total == 6
    with pytest.raises(InputError, match="not both"):
        run("conv", seed=5, form=None, difficulty=None, count=1, history=None, ask=ask, say=said.append,
            drill_set=load_sets(sets_file)["week5"])


def test_cli_drill_set_subprocess(sets_file, tmp_path):
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "PYTHONIOENCODING": "utf-8",
           "PYTHONPATH": str(ROOT)}
    env.pop(ENV_SETS, None)
    ex = exercise("conv.output_shape", 7, "easy", "tf")
    (letter,) = ex.expected
    folder = ["--questions", str(EXAMPLE_QUESTIONS)]  # the file's `norm` set names its types
    out = subprocess.run([sys.executable, "-m", "examforge.cli", "drill", "--set", "one", "--sets", str(sets_file),
                          *folder, "--seed", "7", "--count", "1"], input=letter + "\n", capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "Drill set one: one (1 question type, easy)" in out.stdout
    assert "[1] conv.output_shape \u00b7 seed 7 \u00b7 easy" in out.stdout and "T. True" in out.stdout
    assert "\u2714 Right." in out.stdout and "Drilled 1: 1 right, 0 wrong." in out.stdout
    # the errors, in process: a message naming the file and the sets, exit status 2, no traceback
    from click.testing import CliRunner

    from examforge.cli import main

    for args, message in [(["--set", "nope", "--sets", str(sets_file), *folder], "there is no set 'nope'; its sets "
                                                                               "are: week5, norm, one"),
                          (["--set", "week5"], "--set week5 needs the file of drill sets"),
                          (["--sets", str(sets_file), *folder], "name a set with --set NAME"),
                          (["conv", "--set", "one", "--sets", str(sets_file), *folder], "not both")]:
        # (env: --questions puts the folder in $EXAMFORGE_QUESTIONS; CliRunner restores the variables named here)
        bad = CliRunner().invoke(main, ["drill", *args],
                                 env={ENV_SETS: "", registry.ENV_FOLDERS: os.environ.get(registry.ENV_FOLDERS)})
        assert bad.exit_code == 2 and isinstance(bad.exception, SystemExit), bad.output
        assert "examforge: error: " in bad.output and message in bad.output, bad.output
