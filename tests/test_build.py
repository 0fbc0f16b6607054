"""Building real PDFs for a 3-student roster and reading them back."""

from __future__ import annotations

import csv
import json

import pytest
from pypdf import PdfReader, PdfWriter

from examforge import registry
from examforge.build import LayoutError, build
from examforge.errors import LatexError
from examforge.pdftext import pdf_text
from examforge.text import normalize
from examforge.verify import verify

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
    import examforge.renderers.compile as compile_module

    calls = {"n": 0}
    real = compile_module.run_pdflatex

    def flaky(path, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise LatexError("simulated LaTeX failure")
        return real(path, **kw)

    monkeypatch.setattr(compile_module, "run_pdflatex", flaky)
    spec = write(tmp_path / "exam.yaml", SMALL_SPEC)
    roster = write(tmp_path / "roster.csv", ROSTER_3)
    out = tmp_path / "out"
    with pytest.raises(LatexError, match="simulated"):
        build(spec, roster, out, jobs=1)
    assert calls["n"] >= 3  # calibration, template, then a batch of the class failed
    assert sorted(p.name for p in out.iterdir()) == []


def test_every_student_has_the_same_layout(built):
    _, out, manifest = built
    report = verify(out)
    assert report.students == 3 and report.pages == manifest["pages"]
    pages = {len(PdfReader(str(out / s["exam_pdf"])).pages) for s in manifest["students"]}
    assert pages == {manifest["pages"]}
    layout = json.loads((out / "gradescope" / "layout.json").read_text())
    for student in manifest["students"]:
        assert student["regions"]["exam"] == layout["regions_sp"]
        assert student["regions"]["key"] == layout["regions_sp"]
    # The numbers inside the boxes differ: slot 2 (free response) has each student's own params.
    texts = {normalize(pdf_text(out / s["exam_pdf"], first=2, last=2)) for s in manifest["students"]}
    assert len(texts) == 3


def test_gradescope_outline_and_template(built):
    _, out, manifest = built
    outline = json.loads((out / "gradescope" / "outline.json").read_text())
    ident = outline["assignment"]["identification_regions"]
    for key in ("name", "sid"):
        rect = ident[key]
        assert rect["page_number"] == 1
        assert 0 <= rect["x1"] < rect["x2"] <= 100 and 0 <= rect["y1"] < rect["y2"] <= 100
    assert ident["name"]["y2"] <= ident["sid"]["y1"]  # origin top-left: the name box is above
    questions = outline["question_data"]
    assert [q["title"] for q in questions] == ["Question 1", "Question 2"]
    assert [q["weight"] for q in questions] == [4, 6]
    for q in questions:
        (rect,) = q["crop_rect_list"]
        assert rect["page_number"] >= 2 and rect["y1"] < rect["y2"]
    template = out / "gradescope" / "template.pdf"
    assert len(PdfReader(str(template)).pages) == manifest["pages"]
    text = pdf_text(template)
    assert "Blank template" in text and "Ada" not in text and "Answer:" not in text


def test_manifest_and_answers_csv(built):
    _, out, manifest = built
    with (out / "manifest.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["student_id"] for r in rows] == ["s1", "s2", "s3"]
    assert rows[1]["name"] == NASTY
    for r in rows:
        assert r["exam_seed"] == "42" and r["pdf"] == f"students/{r['student_id']}.pdf"
        assert int(r["pages"]) == manifest["pages"] and len(r["sha256"]) == 64
    with (out / "answers.csv").open(encoding="utf-8") as f:
        answers = list(csv.DictReader(f))
    assert len(answers) == 3 * 2
    first = answers[0]
    assert first["student_id"] == "s1" and first["question"] == "1" and first["points"] == "4"
    assert first["choice"] in "ABCD" and first["answer"]


def test_print_file_is_every_student_in_roster_order(built):
    _, out, manifest = built
    n = manifest["pages"]
    printed = PdfReader(str(out / "print" / "exams.pdf"))
    assert len(printed.pages) == 3 * n
    for k, student in enumerate(manifest["students"]):
        own = PdfReader(str(out / student["exam_pdf"]))
        assert printed.pages[k * n].get_contents().get_data() == own.pages[0].get_contents().get_data()


def test_simulated_scan_splits_back_into_students(built, tmp_path):
    """Join every student's exam as a scanner would, cut the stack every N pages, and get each
    student back, in order, by the name on the first page of each piece."""
    _, out, manifest = built
    n = manifest["pages"]
    stack = PdfWriter()
    for student in manifest["students"]:
        for page in PdfReader(str(out / student["exam_pdf"])).pages:
            stack.add_page(page)
    scan = tmp_path / "scan.pdf"
    stack.write(scan)
    pages = PdfReader(str(scan)).pages
    assert len(pages) % n == 0
    pieces = len(pages) // n
    found = []
    for k in range(pieces):
        first = normalize(pdf_text(scan, first=k * n + 1, last=k * n + 1))
        found.append(next(s["id"] for s in manifest["students"] if f"({s['id']})" in first))
    assert found == [s["id"] for s in manifest["students"]]


def test_print_keys_holds_every_key_in_roster_order(built, tmp_path):
    root, _, _ = built
    out = tmp_path / "with-keys"
    manifest = build(root / "exam.yaml", root / "roster.csv", out, jobs=2, print_keys=True)
    keys = PdfReader(out / "print" / "keys.pdf")
    assert len(keys.pages) == sum(s["pages"]["key"] for s in manifest["students"])
    start = 0
    for s in manifest["students"]:
        first = normalize(keys.pages[start].extract_text())
        assert "SOLUTIONKEY" in first and f"({normalize(s['id'])})" in first
        start += s["pages"]["key"]


def test_rebuild_with_unchanged_inputs_compiles_nothing(built, monkeypatch):
    root, out, _ = built
    import examforge.renderers.compile as compile_module

    calls = []
    monkeypatch.setattr(compile_module, "run_pdflatex", lambda *a, **k: calls.append(a) or None)
    before = {p.name: p.read_bytes() for p in (out / "students").iterdir()}
    build(root / "exam.yaml", root / "roster.csv", out, jobs=2)
    assert calls == []
    assert {p.name: p.read_bytes() for p in (out / "students").iterdir()} == before


def test_rebuild_skips_verify_only_for_outputs_verified_before(built, monkeypatch):
    """Unchanged outputs passed verify already; anything different is verified again."""
    root, out, _ = built
    import examforge.verify as verify_module

    calls = []
    real = verify_module.verify
    monkeypatch.setattr(verify_module, "verify", lambda *a, **k: calls.append(a) or real(*a, **k))
    build(root / "exam.yaml", root / "roster.csv", out, jobs=2)
    assert calls == []  # the same bytes as the verified build
    marker = out / ".examforge-cache" / "verified.sha256"
    record = out / ".examforge-cache" / "build.json"
    marker.write_text("0" * 64)  # e.g. another examforge version verified something else
    record.unlink()  # and nothing says these outputs are up to date
    build(root / "exam.yaml", root / "roster.csv", out, jobs=2)
    assert len(calls) == 1 and marker.read_text() != "0" * 64
    record.unlink()
    build(root / "exam.yaml", root / "roster.csv", out, jobs=2)
    assert len(calls) == 1
    verify(out)  # the user's `examforge verify` always checks everything


def test_unchanged_inputs_and_outputs_are_up_to_date(built, monkeypatch, tmp_path):
    """Same spec, roster and code, outputs untouched: nothing is drawn again. Any change to the
    outputs or the inputs builds again."""
    root, out, _ = built
    import examforge.build as build_module

    copy = tmp_path / "copy"
    import shutil

    shutil.copytree(out, copy)
    drawn = []
    real = build_module.draw_student
    monkeypatch.setattr(build_module, "draw_student", lambda *a, **k: drawn.append(1) or real(*a, **k))
    manifest = build(root / "exam.yaml", root / "roster.csv", copy, jobs=2)
    assert drawn == [] and manifest == json.loads((copy / "manifest.json").read_text())
    key = copy / "keys" / "s1.pdf"
    original = key.read_bytes()
    key.write_bytes(original[:-10])  # a damaged output
    build(root / "exam.yaml", root / "roster.csv", copy, jobs=2)
    assert drawn and key.read_bytes() == original  # rebuilt, byte for byte as before
    drawn.clear()
    roster = write(tmp_path / "roster.csv", ROSTER_3 + "s4,New Student,new@example.edu\n")
    manifest = build(root / "exam.yaml", roster, copy, jobs=2)
    assert drawn and len(manifest["students"]) == 4


def test_overflow_fails_naming_student_question_and_overflow(tmp_path):
    from .conftest import require_tex

    require_tex()
    spec = write(tmp_path / "exam.yaml", SMALL_SPEC.replace(
        "{generator: conv.output_shape, form: free, points: 6}",
        "{generator: conv.output_shape, form: free, points: 6, question_height: 0.5cm}"))
    roster = write(tmp_path / "roster.csv", ROSTER_3)
    out = tmp_path / "out"
    with pytest.raises(LayoutError) as err:
        build(spec, roster, out, jobs=2)
    message = str(err.value)
    for sid in ("s1", "s2", "s3"):
        assert f"student {sid}: question 2 statement needs" in message
    assert "overflow" in message and "set question_height:" in message and "nothing was reflowed" in message
    assert sorted(p.name for p in out.iterdir()) == []
