"""`examforge verify`: a clean build passes; each kind of damage is caught and named."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from examforge.build import build
from examforge.errors import VerifyError
from examforge.verify import verify

from .helpers import ROSTER_3, SMALL_SPEC, write

ROOT = Path(__file__).resolve().parents[1]
QR_SPEC = SMALL_SPEC.replace('seed: 42\n', 'seed: 42\nlayout: {qr: true, paper: letter, duplex: true}\n')


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    from .conftest import require_tex

    require_tex()
    root = tmp_path_factory.mktemp("verify")
    spec = write(root / "exam.yaml", QR_SPEC)
    roster = write(root / "roster.csv", ROSTER_3)
    manifest = build(spec, roster, root / "out", jobs=2)
    return root / "out", manifest


@pytest.fixture
def copy(clean, tmp_path):
    out, manifest = clean
    target = tmp_path / "out"
    shutil.copytree(out, target)
    return target, manifest


def _problems(out: Path) -> str:
    with pytest.raises(VerifyError) as err:
        verify(out)
    return str(err.value)


def _rewrite_csv(path: Path, change) -> None:
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0])
    for row in rows:
        change(row)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _fix_sha(out: Path, sid: str) -> None:
    import hashlib

    digest = hashlib.sha256((out / "students" / f"{sid}.pdf").read_bytes()).hexdigest()
    _rewrite_csv(out / "manifest.csv", lambda r: r.update(sha256=digest) if r["student_id"] == sid else None)


def test_clean_build_passes(clean):
    out, manifest = clean
    report = verify(out)
    assert report.students == 3 and report.pages == manifest["pages"]
    assert manifest["pages"] % 2 == 0  # duplex: padded to an even count
    assert "verified 3 students" in report.summary()


def test_cli_verify_exit_codes(clean, copy):
    out, _ = clean
    ok = subprocess.run([sys.executable, "-m", "examforge.cli", "verify", str(out), "--quiet"],
                        capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert "verified 3 students" in ok.stdout
    broken, _ = copy
    (broken / "students" / "s2.pdf").unlink()
    bad = subprocess.run([sys.executable, "-m", "examforge.cli", "verify", str(broken), "--quiet"],
                         capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 1
    assert "students/s2.pdf: missing" in bad.stderr and "Traceback" not in bad.stderr


def test_swapped_students_are_caught(copy):
    out, _ = copy
    a, b = out / "students" / "s1.pdf", out / "students" / "s3.pdf"
    data = a.read_bytes()
    a.write_bytes(b.read_bytes())
    b.write_bytes(data)
    _fix_sha(out, "s1")
    _fix_sha(out, "s3")
    message = _problems(out)
    assert "students/s1.pdf: page 1 shows neither 'Ada Lovelace' nor 's1'" in message


def test_solution_text_in_an_exam_is_caught(copy):
    out, manifest = copy
    key = PdfReader(str(out / "keys" / "s2.pdf"))
    writer = PdfWriter()
    for page in key.pages[: manifest["pages"]]:
        writer.add_page(page)
    writer.write(out / "students" / "s2.pdf")
    _fix_sha(out, "s2")
    message = _problems(out)
    assert "students/s2.pdf: contains solution text 'SOLUTION KEY'" in message
    assert "students/s2.pdf: contains solution text 'Answer:'" in message


def test_a_missing_page_is_caught(copy):
    out, manifest = copy
    exam = PdfReader(str(out / "students" / "s1.pdf"))
    writer = PdfWriter()
    for page in exam.pages[:-1]:
        writer.add_page(page)
    writer.write(out / "students" / "s1.pdf")
    _fix_sha(out, "s1")
    message = _problems(out)
    assert f"students/s1.pdf: {manifest['pages'] - 1} pages, the layout has {manifest['pages']}" in message
    assert "print/exams.pdf" not in message or "is not page" in message


def test_a_moved_box_is_caught(copy):
    out, _ = copy
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["students"][1]["regions"]["exam"]["q2"][2] += 65536  # 1pt lower
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert "s2 (exam): boxes not where the template has them: q2" in _problems(out)


def test_a_tampered_file_is_caught_by_its_checksum(copy):
    out, _ = copy
    path = out / "keys" / "s3.pdf"
    path.write_bytes(path.read_bytes() + b"\n")
    assert "keys/s3.pdf: sha256 differs from manifest.csv" in _problems(out)


def test_a_key_that_does_not_match_answers_csv_is_caught(copy):
    out, _ = copy

    def wrong(row):
        if row["student_id"] == "s2" and row["question"] == "2":
            row["key_texts"] = json.dumps(["12345 x 54321"])

    _rewrite_csv(out / "answers.csv", wrong)
    assert "keys/s2.pdf: question 2: answer '12345 x 54321' (answers.csv) not found" in _problems(out)


def test_a_print_file_out_of_order_is_caught(copy):
    out, manifest = copy
    n = manifest["pages"]
    printed = PdfReader(str(out / "print" / "exams.pdf"))
    writer = PdfWriter()
    order = list(range(n, 2 * n)) + list(range(n)) + list(range(2 * n, 3 * n))  # s2 before s1
    for i in order:
        writer.add_page(printed.pages[i])
    writer.write(out / "print" / "exams.pdf")
    assert "print/exams.pdf: page 1 is not page 1 of s1" in _problems(out)


def test_an_outline_that_misses_the_name_box_is_caught(copy):
    out, _ = copy
    outline = json.loads((out / "gradescope" / "outline.json").read_text())
    outline["assignment"]["identification_regions"]["name"]["y1"] += 5
    (out / "gradescope" / "outline.json").write_text(json.dumps(outline))
    assert "gradescope/outline.json: the name region is not the template's box" in _problems(out)


def test_every_exam_page_carries_a_qr_code_of_exam_student_and_page(clean, tmp_path):
    """Render a page, read its QR code back (zbarimg), and find exam, student and page in it."""
    from .conftest import require_tools

    require_tools("zbarimg", "pdftoppm")
    out, manifest = clean
    n = manifest["pages"]
    subprocess.run(["pdftoppm", "-png", "-r", "200", "-f", "2", "-l", "2", str(out / "students" / "s2.pdf"),
                    str(tmp_path / "p")], check=True)
    (image,) = tmp_path.glob("p*.png")
    read = subprocess.run(["zbarimg", "-q", "--raw", str(image)], capture_output=True, text=True)
    assert read.stdout.strip() == f"EF|{manifest['exam_code']}|s2|2/{n}"
