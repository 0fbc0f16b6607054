"""Building real PDFs for a 3-student roster and reading them back."""

from __future__ import annotations

import json

import pytest

from examforge import registry
from examforge.build import build
from examforge.errors import LatexError
from examforge.pdftext import pdf_text
from examforge.renderers.text import normalize

from .helpers import ROSTER_3, SMALL_SPEC, write

NASTY = "Zoë O'Brien & {Co}_#1 \\input{/etc/passwd}"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from .conftest import require_tex

    require_tex()
    root = tmp_path_factory.mktemp("build")
    spec = write(root / "exam.yaml", SMALL_SPEC)
    roster = write(root / "roster.csv", ROSTER_3)
    out = root / "out"
    manifest = build(spec, roster, out, jobs=2)
    return root, out, manifest


def test_outputs_exist_for_every_student(built):
    _, out, manifest = built
    ids = [s["id"] for s in manifest["students"]]
    assert ids == ["s1", "s2", "s3"]
    for sid in ids:
        assert (out / "students" / f"{sid}.pdf").stat().st_size > 1000
        assert (out / "keys" / f"{sid}.pdf").stat().st_size > 1000
    assert not list(out.glob(".examforge-staging-*"))


def test_exam_carries_name_literally_and_no_solutions(built):
    _, out, manifest = built
    for student in manifest["students"]:
        text = pdf_text(out / student["exam_pdf"])
        assert normalize(student["name"]) in normalize(text)
        assert "Worked solution" not in text and "SOLUTION KEY" not in text
        assert "Answer:" not in text
    nasty = pdf_text(out / "students" / "s2.pdf", first=1, last=1)
    assert NASTY in nasty  # printed literally: no \input was executed, no characters lost


def test_key_carries_every_answer(built):
    _, out, manifest = built
    for student in manifest["students"]:
        key = normalize(pdf_text(out / student["key_pdf"]))
        assert "SOLUTIONKEY" in key
        for q in student["questions"]:
            qtype = registry.get(q["generator"])
            answer = qtype.Answer.model_validate(q["answer"])
            for expected in qtype.key_texts(answer):
                assert normalize(expected) in key
            if q["form"] == "mc":
                assert f"Answer:{q['correct']}" in key


def test_manifest_records_seeds_params_answers_and_version(built):
    _, out, manifest = built
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["examforge_version"]
    assert manifest["exam_seed"] == 42
    q = manifest["students"][0]["questions"][0]
    assert {"seed", "params", "answer", "generator", "form", "points"} <= set(q)
    seeds = [q["seed"] for s in manifest["students"] for q in s["questions"]]
    assert len(set(seeds)) == len(seeds)
    # Different students get different numbers for the same slot.
    params = {json.dumps(s["questions"][1]["params"], sort_keys=True) for s in manifest["students"]}
    assert len(params) == 3


def test_rebuild_gives_byte_identical_tex_and_pdf(built, tmp_path):
    root, out, _ = built
    again = tmp_path / "again"
    build(root / "exam.yaml", root / "roster.csv", again, jobs=1)
    for sub in ("tex", "students", "keys"):
        for path in sorted((out / sub).iterdir()):
            assert path.read_bytes() == (again / sub / path.name).read_bytes(), f"{sub}/{path.name} differs"


def test_exam_pages_have_cover_points_and_boxes(built):
    _, out, _ = built
    text = pdf_text(out / "students" / "s1.pdf")
    assert "Full name:" in text and "Student ID:" in text
    assert "Total" in text and "Score" in text
    assert "[4 points]" in text and "[6 points]" in text
    assert "Page 1 of" in text


def test_failed_build_leaves_no_outputs(tmp_path, monkeypatch):
    from .conftest import require_tex

    require_tex()
    import examforge.build as build_module

    calls = {"n": 0}
    real = build_module.run_pdflatex

    def flaky(path, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise LatexError("simulated LaTeX failure")
        return real(path, **kw)

    monkeypatch.setattr(build_module, "run_pdflatex", flaky)
    spec = write(tmp_path / "exam.yaml", SMALL_SPEC)
    roster = write(tmp_path / "roster.csv", ROSTER_3)
    out = tmp_path / "out"
    with pytest.raises(LatexError, match="simulated"):
        build(spec, roster, out, jobs=1)
    assert sorted(p.name for p in out.iterdir()) == []
