"""Instructors' own questions: authored YAML of every form, a Python type from a folder, pools,
installed packages' entry points, and `examforge check` on a folder."""

from __future__ import annotations

import collections
import csv
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from examforge import pools, registry
from examforge.errors import InputError
from examforge.pdftext import pdf_text
from examforge.text import normalize
from examforge.spec import ExamSpec

from .helpers import write

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "questions"


def _cli(*args, cwd=None, env=None, timeout=600):
    return subprocess.run([sys.executable, "-m", "examforge.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {}), "PYTHONPATH": str(ROOT)})


def test_example_folder_passes_check(tex):
    result = _cli("check", EXAMPLE, "--seeds", "60")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 types" in result.stdout and "0 failed" in result.stdout
    assert "Traceback" not in result.stderr


def test_check_names_the_check_and_the_seed_when_the_reference_disagrees(tmp_path):
    folder = tmp_path / "wrong"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("*.yaml", "__pycache__"))
    source = (folder / "course.py").read_text()
    source = source.replace('id = "course.batchnorm_output"', 'id = "wrong.batchnorm_output"')
    source = source.replace("return BatchNormAnswer(mean=mean, variance=var,",
                            "return BatchNormAnswer(mean=mean + 1, variance=var,")
    (folder / "course.py").write_text(source)
    (folder / "course.batchnorm_output").rename(folder / "wrong.batchnorm_output")
    result = _cli("check", folder, "--seeds", "5", "--no-compile")
    assert result.returncode == 1
    assert "FAIL wrong.batchnorm_output (free) seed 0: solver vs reference" in result.stdout
    assert "Traceback" not in result.stderr


BAD = [
    ("- {id: bad.a, form: tf, text: Hello}", "bad.a", "answer"),
    ("- {id: bad.b, form: mc, text: Q, choices: [{text: x, correct: true}, {text: y}, {text: z, correct: true}]}",
     "bad.b", "exactly one correct"),
    ("- {id: bad.c, form: multi, text: Q, choices: [{text: x}, {text: y}]}", "bad.c", "at least one correct"),
    ("- {id: bad.d, form: numeric, text: Q, answer: abc}", "bad.d", "number"),
    ("- {id: bad.e, form: free, text: 'Explain \\input{/etc/passwd}', answer: x}", "bad.e", "\\input is not allowed"),
    ("- {id: bad.f, form: tf, text: '50% of it', answer: true}", "bad.f", "\\%"),
    ("- {id: bad.g, form: tf, text: '{unclosed', answer: true}", "bad.g", "never closed"),
    ("- {id: Bad-Id, form: tf, text: x, answer: true}", "Bad-Id", "id"),
    ("- {id: bad.h, form: essay, text: x}", "bad.h", "form"),
    ("- {id: bad.i, form: tf, text: x, answer: true, colour: red}", "bad.i", "colour"),
    ("- {id: bad.j, form: free, text: x, answer: y, box_height: 0cm}", "bad.j", "box_height"),
    ("- {id: bad.k, form: tf, text: x, answer: true, figure: missing.pdf}", "bad.k", "missing.pdf"),
    ("- [not, a, mapping]", "question 1", "mapping"),
    ("- {id: bad.l, form: tf, text: x, answer: true\n", "line", "YAML"),
]


@pytest.mark.parametrize("text,who,what", BAD, ids=[b[1] for b in BAD])
def test_malformed_question_files_name_the_file_the_question_and_the_field(tmp_path, text, who, what):
    folder = tmp_path / who.replace(" ", "_")
    folder.mkdir()
    write(folder / "qs.yaml", text + "\n")
    with pytest.raises(InputError) as err:
        registry.load_folder(folder)
    message = str(err.value)
    assert "qs.yaml" in message and who in message and what in message, message


def test_an_id_defined_twice_names_both_files(tmp_path):
    for name in ("one", "two"):
        write(tmp_path / f"{name}.yaml", "- {id: clash.same, form: tf, text: x, answer: true}\n")
    with pytest.raises(InputError) as err:
        registry.load_folder(tmp_path)
    assert "one.yaml" in str(err.value) and "two.yaml" in str(err.value)


def test_an_id_of_the_bank_cannot_be_reused(tmp_path):
    write(tmp_path / "q.yaml", "- {id: conv.output_shape, form: tf, text: x, answer: true}\n")
    with pytest.raises(InputError, match="conv.output_shape.*defined twice"):
        registry.load_folder(tmp_path)


def test_installed_package_offers_questions_through_an_entry_point(tmp_path):
    pkg = tmp_path / "efq_demo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    write(pkg / "facts.yaml", "- {id: efq.demo_fact, form: tf, text: 'Two plus two is four.', answer: true}\n")
    dist = tmp_path / "efq_demo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: efq-demo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[examforge.questions]\ndemo = efq_demo\n")
    result = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); from examforge.cli import main; "
         "sys.argv = ['examforge', 'sample', 'efq.demo_fact']; main()", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert "Two plus two is four." in result.stdout and "Answer: True" in result.stdout


def test_every_shipped_conceptual_question_has_variants_and_every_open_one_a_rubric():
    authored = [t for t in registry.all_types() if getattr(t, "authored", False) and registry.origin(t.id).is_relative_to(ROOT / "examforge")]
    assert len(authored) >= 40
    for t in authored:
        assert t.mirrors, t.id
        if t.kind == "free":
            assert t.rubric() and t.variants[0].answer, t.id
        else:
            assert len(t.variants) >= 3, t.id


def _pool_spec(seed=5) -> ExamSpec:
    registry.load_folder(EXAMPLE)
    return ExamSpec.model_validate({
        "title": "Pools", "seed": seed,
        "sections": [{"title": "S", "questions": [
            {"pool": ["concepts.tokenizer.*", "concepts.memory.*", "course.normalization.batchnorm_eval"],
             "form": "tf", "points": 3},
            {"pool": "concepts.attention.*", "form": "tf", "points": 3},
            {"pool": ["concepts.attention.heads_attention_maps", "concepts.attention.same_mask_train_and_generate",
                      "concepts.tokenizer.vocab_size_length"], "form": "tf", "points": 3},
            {"generator": "course.normalization.batchnorm_eval", "points": 2},
        ]}],
    })


def test_pools_are_balanced_over_the_class_and_never_repeat_within_an_exam():
    spec = _pool_spec()
    students = [f"s{i:03d}" for i in range(32)]
    plan = pools.assign(spec, students)
    for chosen in plan:
        assert len(set(chosen.values())) == len(chosen), chosen  # no question twice on one exam
    for slot, _, q in spec.slots():
        if q.pool is None:
            continue
        counts = collections.Counter(chosen[slot] for chosen in plan)
        usable = [m for m in q.members if m != "course.normalization.batchnorm_eval"]
        assert set(counts) <= set(usable)
        if slot == 0:  # no overlap with other pools' choices that could starve it
            assert max(counts.values()) - min(counts[m] for m in usable) <= 1, counts
    # neighbours on the roster get different members of the first pool
    assert all(plan[i][0] != plan[i + 1][0] for i in range(len(plan) - 1))
    assert pools.assign(spec, students) == plan  # deterministic
    assert pools.assign(spec, students + ["s999"])[:32] == plan  # a late student changes nobody else


def test_a_pool_that_cannot_avoid_repeats_is_refused():
    registry.load_folder(EXAMPLE)
    spec = ExamSpec.model_validate({"title": "P", "seed": 1, "sections": [{"title": "S", "questions": [
        {"generator": "course.normalization.batchnorm_eval", "points": 1},
        {"pool": ["course.normalization.batchnorm_eval"], "points": 1},
    ]}]})
    with pytest.raises(InputError, match="already asked"):
        pools.assign(spec, ["a"])


INSTRUCTOR_SPEC = """
title: "Midterm of my own"
seed: 99
question_dirs: [mine]
sections:
  - title: "Concepts"
    questions:
      - {pool: ["course.normalization.batchnorm_eval", "concepts.tokenizer.vocab_size_length"], points: 3}
      - {generator: course.normalization.layernorm_facts, points: 4}
      - {generator: course.memory.fp16_bytes, points: 2}
  - title: "Problems"
    questions:
      - {generator: course.batchnorm_output, form: mc, points: 4}
      - {generator: course.open.why_warmup, points: 5}
"""


def test_an_instructors_folder_outside_the_repository_builds_and_verifies(tmp_path, tex):
    shutil.copytree(EXAMPLE, tmp_path / "mine", ignore=shutil.ignore_patterns("__pycache__"))
    write(tmp_path / "exam.yaml", INSTRUCTOR_SPEC)
    write(tmp_path / "roster.csv", "id,name,email\n" + "".join(f"s{i},Student {i},s{i}@x.edu\n" for i in range(6)))
    result = _cli("build", "exam.yaml", "--roster", "roster.csv", "--out", "out", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "out"
    assert _cli("verify", out).returncode == 0
    rows = list(csv.DictReader((out / "answers.csv").open(encoding="utf-8")))
    multi = [r for r in rows if r["generator"] == "course.normalization.layernorm_facts"]
    assert len(multi) == 6 and all(r["form"] == "multi" and r["scoring"] == "partial" for r in multi)
    assert all(len(r["choice"].split(",")) == 2 for r in multi)  # both correct options recorded
    orders = {r["choice"] for r in multi}
    assert len(orders) > 1  # options shuffled per student
    key = normalize(pdf_text(out / "keys" / "s0.pdf"))
    assert normalize("Model answer") in key and normalize("Rubric") in key
    manifest = json.loads((out / "manifest.json").read_text())
    first = manifest["students"][0]["questions"]
    assert {q["generator"] for q in first} >= {"course.batchnorm_output", "course.open.why_warmup"}
    outline = json.loads((out / "gradescope" / "outline.json").read_text())
    assert len(outline["question_data"]) == 5
    # a rebuild with an edited question file is not "up to date"
    faq = tmp_path / "mine" / "open.yaml"
    faq.write_text(faq.read_text().replace("two or three sentences", "three sentences"))
    again = _cli("build", "exam.yaml", "--roster", "roster.csv", "--out", "out", "--quiet", cwd=tmp_path)
    assert again.returncode == 0 and "up to date" not in again.stdout + again.stderr
    assert "three sentences" in pdf_text(out / "students" / "s0.pdf")


def test_unknown_folder_in_spec_names_the_field(tmp_path):
    write(tmp_path / "exam.yaml", "title: T\nseed: 1\nquestion_dirs: [nowhere]\nsections: []\n")
    from examforge.spec import load_spec

    with pytest.raises(InputError, match=r"question_dirs\[0\].*nowhere"):
        load_spec(tmp_path / "exam.yaml")
