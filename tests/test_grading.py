"""Grading: keys and answers per part, the grader sheets, the Gradescope roster, and reading a
simulated scan back (`examforge scan`): identification, marks, scores, flags and reports."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from examforge import registry
from examforge.build import build, draw_student
from examforge.cli import main
from examforge.errors import InputError, VerifyError
from examforge.graders import grader_sheet_tex, name_order_key, typeset_sheet
from examforge.pdftext import pdf_text
from examforge.text import normalize
from examforge.roster import Student
from examforge.scan import decode_qr, parse_payload, scan, score_marked, summary
from examforge.spec import load_spec
from examforge.variant import draw
from examforge.verify import verify

from .helpers import write
from .scansim import check_scores, simulate, to_pdf

GRADING_SPEC = """
title: "Grading Test"
seed: 11
layout: {paper: letter, qr: true}
sections:
  - title: "True or false"
    questions:
      - {generator: conv.output_shape, form: tf, points: 2}
      - {generator: softmax.temperature, form: tf, points: 2}
  - title: "Multiple choice"
    questions:
      - {generator: conv.output_shape, form: mc, points: 4}
      - {generator: rnn.param_count, form: mc, points: 4}
  - title: "Memory"
    new_page: true
    questions:
      - generator: transformer.activation_memory
        points: 9
        parts: [{label: a, points: 3, box_height: 1.6cm}, {label: b, points: 3, box_height: 1.6cm},
                {label: c, points: 3, box_height: 1.6cm}]
"""

ROSTER = """
id,name,email
s1,Ada Lovelace,ada@example.edu
s2,Zoë O'Brien & {Co}_#1,zoe@example.edu
s3,José Núñez,jose@example.edu
s4,Kwame Mensah,kwame@example.edu
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from .conftest import require_tex

    require_tex()
    root = tmp_path_factory.mktemp("grading")
    out = root / "out"
    manifest = build(write(root / "exam.yaml", GRADING_SPEC), write(root / "roster.csv", ROSTER), out, jobs=2)
    return root, out, manifest


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


# -- keys and answers per part ----------------------------------------------------------------------


def test_every_type_asked_in_parts_answers_each_part():
    asked = [t for t in registry.all_types() if t.part_labels]
    assert "transformer.activation_memory" in [t.id for t in asked]
    for qtype in asked:
        for seed in range(50):
            v = draw(qtype, seed, form="free")
            parts = qtype.part_answers(v.answer)
            assert len(parts) == len(qtype.part_labels) and all(parts)


def test_answers_csv_has_one_row_per_part_and_each_key_box_its_answer(built):
    _, out, manifest = built
    rows = _rows(out / "answers.csv")
    outline = json.loads((out / "gradescope" / "outline.json").read_text())
    children = outline["question_data"][4]["children"]
    assert [c["title"] for c in children] == ["Question 5(a)", "Question 5(b)", "Question 5(c)"]
    for student in manifest["students"]:
        q5 = [r for r in rows if r["student_id"] == student["id"] and r["question"] == "5"]
        assert [(r["part"], r["points"]) for r in q5] == [("a", "3"), ("b", "3"), ("c", "3")]
        answer = student["questions"][4]["answer"]["factors"]
        assert [r["answer"] for r in q5] == [f"{f}×" for f in answer]
        assert [p["text"] for p in student["questions"][4]["parts"]] == [r["answer"] for r in q5]
        key = normalize(pdf_text(out / student["key_pdf"]))
        for r in q5:  # each part's answer right after its own box's label: not all in box (a)
            assert normalize(f"({r['part']}) [3 points] Answer: {r['answer']}") in key
        assert normalize("Answer: B:") not in key  # the whole answer is no longer printed in box (a)
        others = [r for r in rows if r["student_id"] == student["id"] and r["question"] != "5"]
        assert [r["part"] for r in others] == [""] * 4
        assert {r["choice"] for r in others[:2]} <= {"True", "False"} and others[2]["choice"] in "ABCD"


def test_verify_finds_a_part_answer_missing_from_its_box(built, tmp_path):
    _, out, _ = built
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    rows = _rows(copy / "answers.csv")
    part_a, part_b = (r for r in rows if r["student_id"] == "s1" and r["part"] in ("a", "b"))
    part_a["key_texts"] = json.dumps([json.loads(part_a["key_texts"])[0].replace("(a)", "(b)")])
    with (copy / "answers.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    if part_a["answer"] != part_b["answer"]:
        with pytest.raises(VerifyError, match="question 5"):
            verify(copy)
    dropped = [r for r in rows if not (r["student_id"] == "s2" and r["part"] == "c")]
    with (copy / "answers.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(dropped)
    with pytest.raises(VerifyError, match=r"s2 question 5: parts .* the outline has"):
        verify(copy)


def test_marks_json_records_every_bubble_inside_its_box(built):
    _, out, manifest = built
    marks = json.loads((out / "gradescope" / "marks.json").read_text())
    layout = json.loads((out / "gradescope" / "layout.json").read_text())
    assert marks["exam_code"] == manifest["exam_code"] and marks["pages"] == manifest["pages"]
    assert 3 * 65536 < marks["bubble_radius_sp"] < 8 * 65536  # half the width of an 11pt circle
    x1, y1, x2, y2 = marks["qr_sp"]  # recorded by LaTeX in the footer, 1.3cm square
    assert abs((x2 - x1) - 1.3 / 2.54 * 72.27 * 65536) < 2 and x2 <= marks["paper_sp"][0]
    for student, entry in zip(manifest["students"], marks["students"]):
        assert entry["id"] == student["id"]
        auto = [q for q in student["questions"] if q["form"] in ("mc", "tf")]
        assert [q["number"] for q in entry["questions"]] == [q["number"] for q in auto]
        for q, m in zip(auto, entry["questions"]):
            assert sorted(m["options"]) == sorted(c["letter"] for c in q["choices"])
            assert m["correct"] == [q["correct"]] and set(m["mistakes"]) == set(m["options"]) - {q["correct"]}
            page, bx1, by1, bx2, by2 = layout["regions_sp"][m["box"]]
            ys = []
            for p, x, y in m["options"].values():
                assert p == page and bx1 < x < bx2 and by2 < y < by1
                ys.append(y)
            if q["form"] == "mc":  # one option per line, top to bottom
                assert ys == sorted(ys, reverse=True)


# -- grader sheets and the Gradescope roster ------------------------------------------------------------


def test_gradescope_roster_has_the_upload_columns_and_the_printed_ids(built):
    _, out, manifest = built
    rows = _rows(out / "gradescope" / "roster.csv")
    assert list(rows[0]) == ["Full Name", "Email", "SID"]
    assert [(r["Full Name"], r["SID"]) for r in rows] == [(s["name"], s["id"]) for s in manifest["students"]]
    assert rows[1]["Full Name"] == "Zoë O'Brien & {Co}_#1" and rows[1]["Email"] == "zoe@example.edu"


def test_grader_sheet_lists_every_answer_and_named_mistake(built):
    _, out, manifest = built
    text = normalize(pdf_text(out / "graders" / "by-question.pdf"))
    assert normalize("Zoë O'Brien & {Co}_#1") in text  # escaped, printed literally
    rows = _rows(out / "graders" / "answers-by-question.csv")
    assert len(rows) == 4 * 7
    names = sorted(manifest["students"], key=lambda s: name_order_key(s["name"], s["id"]))
    for student in manifest["students"]:
        mine = [r for r in rows if r["student_id"] == student["id"]]
        mc = next(r for r in mine if r["question"] == "3")
        q = student["questions"][2]
        assert mc["choice"] == q["correct"]
        wrong = {c["letter"]: c["mistake"] for c in q["choices"] if c["mistake"]}
        assert mc["wrong_options"] == "; ".join(f"{k}={v}" for k, v in wrong.items())
        for name in wrong.values():
            assert normalize(name) in text  # the legend names every mistake
        assert int(mine[0]["name_position"]) == names.index(student) + 1
        parts = [r for r in mine if r["question"] == "5"]
        assert [r["answer"] for r in parts] == [p["text"] for p in q5_parts(student)]
    assert "byname" in text and "rosterorder" in text


def q5_parts(student):
    return student["questions"][4]["parts"]


NAMES = ["Ada Lovelace", "Zoë O'Brien", "José Núñez-García", "Kwame Mensah", "Siobhán Ní Bhriain",
         "Łukasz Wróblewski", "Nguyễn Thị Minh Khai", "Jürgen Müller", "Chloé Lefèvre", "D'Angelo Russo"]


@pytest.mark.parametrize("question, most", [("{generator: backprop.two_neuron, form: mc, points: 4}", 2),
                                            ("{generator: softmax.temperature, form: tf, points: 4}", 2),
                                            ("{generator: conv.output_shape, points: 4}", 3)])
def test_grader_sheet_for_300_students_fits_two_pages_per_question(tmp_path, question, most):
    """One question for a 300-student class: a multiple-choice or true/false section fits on two
    pages in each order (by name, then roster order); a free response whose answer is a sentence
    with two shapes ("H' x W' = 7 x 7; output shape 32 x 7 x 7") takes three."""
    from .conftest import require_tex

    require_tex()
    spec = load_spec(write(tmp_path / "one.yaml", f"""
        title: "Big class"
        seed: 3
        sections:
          - title: "One"
            questions:
              - {question}
        """))

    class B:  # the two fields of a student's build the sheet reads
        def __init__(self, student):
            self.student = student
            self.questions = draw_student(spec, student)

    builds = [B(Student(f"u{k:04d}", f"{NAMES[k % len(NAMES)]} {k}", "")) for k in range(300)]
    tex, rows = grader_sheet_tex(spec, builds)
    assert len(rows) == 300
    typeset_sheet(tex, tmp_path / "sheet.pdf")
    pages = pdf_text(tmp_path / "sheet.pdf").split("\f")[:-1]  # the text ends with a form feed
    second_order = next(i for i, p in enumerate(pages) if "in roster order" in p)
    assert second_order <= most and len(pages) - second_order <= most
    assert all(f"u{k:04d}" in "".join(pages[:second_order]) for k in range(300))


# -- scanning ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scanned(built, tmp_path_factory):
    """The class filled in, scanned turned and shuffled, one page lost and one scanned twice; most
    pages in one PDF, a few as image files in a folder, plus a page of another exam and a blank
    sheet."""
    _, out, manifest = built
    root = tmp_path_factory.mktemp("scan")
    stack, expected = simulate(out, dpi=200, seed=3, turns=(0, 180, 1.5, -2.5, 3.0, 180, -1.0, 2.0),
                               smudges=1, doubles=1, drop=1, duplicate=1, bw_every=5)
    to_pdf(stack[:-4], root / "stack.pdf", 200)
    folder = root / "loose"
    folder.mkdir()
    for k, page in enumerate(stack[-4:]):
        suffix = ".png" if page[:4] == b"\x89PNG" else ".jpg"
        (folder / f"page{k}{suffix}").write_bytes(page)
    _foreign_page(folder / "zz-foreign.png", manifest["students"][0]["id"])
    Image.new("L", (1700, 2200), 255).save(folder / "zz-blank.png")
    report = scan([root / "stack.pdf", folder], out, root / "result", jobs=2)
    return out, root / "result", report, expected, manifest


def _foreign_page(path: Path, sid: str) -> None:
    """A page of another exam: the same kind of QR code with another exam code."""
    from examforge.qr import qr_matrix

    matrix = qr_matrix(f"EF|deadbeef|{sid}|1/4")
    code = Image.fromarray(((1 - matrix) * 255).astype(np.uint8)).resize((matrix.shape[0] * 4,) * 2, Image.NEAREST)
    page = Image.new("L", (1700, 2200), 255)
    page.paste(code, (1400, 2000))
    page.save(path)


def test_scan_reads_every_clear_mark_and_flags_every_doubtful_one(scanned):
    _, result, report, expected, _ = scanned
    rows = _rows(result / "scores.csv")
    assert list(rows[0]) == ["id", "question", "marked", "points", "max_points", "flag"]
    assert check_scores(rows, expected) == []
    flags = [r for r in rows if r["flag"]]
    assert any("doubtful" in r["flag"] and r["points"] == "" for r in flags)  # the erased mark: not guessed
    assert any("several marks" in r["flag"] and r["points"] == "0" for r in flags)
    assert report.flagged == sum(1 for r in flags if "missing" not in r["flag"])


def test_scan_reports_missing_duplicate_unreadable_and_foreign_pages(scanned):
    _, result, report, expected, _ = scanned
    assert report.missing == expected.missing
    assert sorted((s, p) for s, p, _, _ in report.duplicates) == expected.duplicates
    assert [w.endswith("zz-blank.png") for w, _ in report.unreadable] == [True]
    assert len(report.foreign) == 1 and "another exam (code deadbeef" in report.foreign[0][1]
    assert report.identified == expected.pages and report.upside_down == expected.upside_down
    text = (result / "report.txt").read_text()
    sid, page = expected.missing[0]
    assert f"missing: student {sid} page {page}" in text and "duplicate: student" in text


def test_scan_gives_each_student_their_pages_in_order(scanned):
    import pypdfium2 as pdfium

    _, result, _, expected, manifest = scanned
    n = manifest["pages"]
    for student in manifest["students"]:
        path = result / "students" / f"{student['id']}.pdf"
        pdf = pdfium.PdfDocument(str(path))
        assert len(pdf) == n
        for index in range(n):
            if (student["id"], index + 1) in expected.missing:
                assert "was not found in the scanned stack" in pdf_text(path, first=index + 1, last=index + 1)
                continue
            bitmap = pdf[index].render(scale=100 / 72, grayscale=True).to_numpy()
            codes = decode_qr(np.array(bitmap if bitmap.ndim == 2 else bitmap[..., 0]))
            payload = parse_payload(codes[0][0])
            assert payload[1:3] == (student["id"], index + 1)
            corners = codes[0][1]
            assert corners[0][1] < corners[3][1]  # upright: the code's top above its bottom
        pdf.close()


def test_review_sheet_and_item_analysis(scanned):
    _, result, report, _, manifest = scanned
    review = normalize(pdf_text(result / "review.pdf"))
    assert "doubtfulmark" in review and "severalmarks" in review
    items = _rows(result / "items.csv")
    assert {r["question"] for r in items} == {"1", "2", "3", "4"}
    correct = [r for r in items if r["what"] == "correct"]
    assert all(0 <= float(r["fraction"]) <= 1 for r in correct)
    mistakes = {r["what"][8:] for r in items if r["what"].startswith("mistake:")}
    named = {c["mistake"] for s in manifest["students"] for q in s["questions"] for c in q.get("choices", [])} - {None}
    assert mistakes and mistakes <= named
    lines = summary(report)
    assert len(lines) == 4 and lines[0].startswith("question 1 (tf): ")


def test_scan_command_prints_the_report_and_summary(scanned, tmp_path):
    out, result, _, _, _ = scanned
    runner = CliRunner()
    loose = next(p for p in (result.parent / "loose").iterdir() if p.suffix == ".jpg" or p.suffix == ".png")
    res = runner.invoke(main, ["scan", str(loose), "--build", str(out), "--out", str(tmp_path / "one"), "--quiet",
                               "--jobs", "1"])
    assert res.exit_code == 0, res.output
    assert "scanned 1 pages" in res.output and "wrote" in res.output
    res = runner.invoke(main, ["scan", str(tmp_path / "nothing.pdf"), "--build", str(out), "--out", str(tmp_path / "x")])
    assert res.exit_code != 0 and "no such file or folder" in res.output


def test_scan_needs_a_build_with_qr_codes(tmp_path):
    from .conftest import require_tex

    require_tex()
    spec = write(tmp_path / "exam.yaml", GRADING_SPEC.replace("qr: true", "qr: false"))
    out = tmp_path / "out"
    build(spec, write(tmp_path / "roster.csv", ROSTER), out, jobs=2)
    page = tmp_path / "p.png"
    Image.new("L", (100, 100), 255).save(page)
    with pytest.raises(InputError, match="no QR codes"):
        scan([page], out, tmp_path / "scan")


@pytest.mark.parametrize("marked, points", [
    ({"A", "C"}, 6.0), ({"A"}, 3.0), ({"A", "B"}, 0.0), ({"A", "C", "D"}, 3.0), (set(), 0.0), ({"B", "D"}, 0.0)])
def test_select_all_partial_scoring(marked, points):
    assert score_marked(marked, {"A", "C"}, 6, form="multi", scoring="partial") == points
    assert score_marked(marked, {"A", "C"}, 6, form="multi", scoring="all_or_nothing") == (6.0 if marked == {"A", "C"} else 0.0)


def test_one_answer_questions_need_exactly_the_correct_letter():
    assert score_marked({"B"}, {"B"}, 4, form="mc", scoring="all_or_nothing") == 4.0
    assert score_marked({"B", "C"}, {"B"}, 4, form="mc", scoring="all_or_nothing") == 0.0
    assert score_marked(set(), {"T"}, 2, form="tf", scoring="all_or_nothing") == 0.0


def test_scan_of_exam2_for_two_students(tmp_path):
    """examples/exam2.yaml (8 pages, figures, ten true/false and four multiple-choice questions,
    two questions in parts) for two students: the simulated stack reads back exactly."""
    from .conftest import require_tex

    require_tex()
    root = Path(__file__).resolve().parents[1]
    roster = write(tmp_path / "roster.csv", "id,name,email\na1,Ada Lovelace,ada@example.edu\n"
                                            "b2,Zoë O'Brien,zoe@example.edu\n")
    out = tmp_path / "out"
    build(root / "examples" / "exam2.yaml", roster, out, jobs=2)
    stack, expected = simulate(out, dpi=150, seed=8, turns=(180, -2.0, 0, 2.5, 1.0, 180), bw_every=7)
    folder = tmp_path / "scans"
    folder.mkdir()
    for k, page in enumerate(stack):  # a folder of image files this time, in stack order
        suffix = ".png" if page.startswith(b"\x89PNG") else ".jpg"
        (folder / f"scan{k:03d}{suffix}").write_bytes(page)
    report = scan([folder], out, tmp_path / "result", jobs=2)
    assert check_scores(_rows(tmp_path / "result" / "scores.csv"), expected) == []
    assert report.missing == expected.missing and report.identified == expected.pages
    assert len(_rows(tmp_path / "result" / "scores.csv")) == 2 * 14
