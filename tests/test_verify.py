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


def test_a_choice_answer_belongs_in_its_box_and_its_value_in_the_worked_solution(copy):
    """A choice question's box shows the filled bubble and "Answer: B" beside it; the value behind
    the option (answers.csv key_texts) is in the worked solution: each is looked for there."""
    import pikepdf

    out, manifest = copy
    n = manifest["pages"]
    path = out / "keys" / "s1.pdf"
    with pikepdf.open(out / "students" / "s1.pdf") as exam, pikepdf.open(path, allow_overwriting_input=True) as key:
        solutions = list(key.pages[n:])
        del key.pages[:]
        key.pages.extend(exam.pages[:n])  # the boxes without answers, then the worked solutions
        key.pages.extend(solutions)
        key.save(path)
    _fix_key_sha(out, "s1")
    message = _problems(out)
    assert "keys/s1.pdf: question 1: 'Answer: " in message and "' not found in its box" in message

    def wrong(row):
        if row["student_id"] == "s2" and row["question"] == "1":
            assert row["choice"]
            row["key_texts"] = json.dumps(["12345 x 54321"])

    _rewrite_csv(out / "answers.csv", wrong)
    assert ("keys/s2.pdf: question 1: answer '12345 x 54321' (answers.csv) not found in the worked solutions"
            in _problems(out))


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


def test_a_print_file_written_differently_is_compared_by_content(copy):
    """The print check compares stored bytes first; a print file whose streams were re-encoded
    (here: stored uncompressed) is compared by content, so it passes in order and fails out of it."""
    import pikepdf

    out, manifest = copy
    path = out / "print" / "exams.pdf"
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        pdf.save(path, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.generalized)
    assert b"/FlateDecode" not in path.read_bytes()
    verify(out)
    n = manifest["pages"]
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        pages = list(pdf.pages)
        pdf.pages[2 * n + 1] = pikepdf.Page(pages[1])  # page 2 of s1 where page 2 of s3 belongs
        pdf.save(path, compress_streams=False)
    message = _problems(out)
    assert f"print/exams.pdf: page {2 * n + 2} is not page 2 of s3" in message
    assert "of s1" not in message and "of s2" not in message


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


# -- damage inside the PDFs themselves (content streams edited, checksums fixed) -------------------


def _fix_key_sha(out: Path, sid: str) -> None:
    import hashlib

    digest = hashlib.sha256((out / "keys" / f"{sid}.pdf").read_bytes()).hexdigest()
    _rewrite_csv(out / "manifest.csv", lambda r: r.update(key_sha256=digest) if r["student_id"] == sid else None)


def _edit_page(path: Path, index: int, change) -> None:
    """Rewrite one page's content stream with change(bytes) -> bytes."""
    import pikepdf

    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        page = pdf.pages[index]
        data = page.obj.Contents.read_bytes()
        page.obj.Contents = pdf.make_stream(change(data))
        pdf.save(path)


def test_a_key_that_is_not_a_key_is_caught(copy):
    out, manifest = copy
    shutil.copyfile(out / "students" / "s3.pdf", out / "keys" / "s3.pdf")
    _fix_key_sha(out, "s3")
    message = _problems(out)
    assert "keys/s3.pdf: no SOLUTION KEY mark" in message
    assert "keys/s3.pdf: question 1: 'Answer: " in message  # the multiple-choice letter


def test_solution_text_written_with_escapes_in_an_exam_is_caught(copy):
    """Glyphs written as octal escapes (the fast reading) or with `\\(` (read string by string) are
    read like any other."""
    out, manifest = copy
    import re as _re

    def add(data: bytes) -> bytes:
        font = _re.search(rb"/(F\d+) [\d.]+ Tf", data).group(1)
        return data + b"\nBT /" + font + rb" 10 Tf 72 72 Td [(W\157rk)-20(ed)]TJ [(s\157lution)]TJ ET"

    _edit_page(out / "students" / "s1.pdf", manifest["pages"] - 1, add)
    _fix_sha(out, "s1")

    def add_escaped(data: bytes) -> bytes:
        font = _re.search(rb"/(F\d+) [\d.]+ Tf", data).group(1)
        return data + b"\nBT /" + font + rb" 10 Tf 72 72 Td [(\(Answ)-20(er:\))]TJ ET"

    _edit_page(out / "students" / "s3.pdf", 0, add_escaped)
    _fix_sha(out, "s3")
    message = _problems(out)
    assert "students/s1.pdf: contains solution text 'Worked solution'" in message
    assert "students/s3.pdf: contains solution text 'Answer:'" in message
    assert "students/s2.pdf" not in message


def test_a_frame_drawn_elsewhere_is_caught(copy):
    """The frames are read from the PDF, not only from what LaTeX recorded: a box drawn 1bp to the
    right, or a whole page shifted by a matrix left in place before the boxes, is caught."""
    out, _ = copy
    import re as _re

    rule = _re.compile(rb"1 0 0 1 ([-\d.]+) ([-\d.]+) cm\s*\[\]0 d 0 J 0\.797 w")

    def move_one(data: bytes) -> bytes:
        m = rule.search(data)
        assert m, "no answer-box rule on page 1"
        x = float(m.group(1)) + 1
        return data[: m.start(1)] + b"%.3f" % x + data[m.end(1):]

    _edit_page(out / "students" / "s1.pdf", 0, move_one)
    _fix_sha(out, "s1")
    _edit_page(out / "keys" / "s2.pdf", 0, lambda data: b"1 0 0 1 0 2 cm\n" + data)
    _fix_key_sha(out, "s2")
    message = _problems(out)
    assert "students/s1.pdf: answer-box frames differ from the template's on page(s) [1]" in message
    assert "keys/s2.pdf: answer-box frames differ from the template's on page(s) [1]" in message


def test_an_unreadable_pdf_is_reported_not_raised(copy):
    out, _ = copy
    (out / "students" / "s2.pdf").write_bytes(b"%PDF-1.5\nnot really a PDF\n")
    _fix_sha(out, "s2")
    message = _problems(out)
    assert "students/s2.pdf: not a readable PDF" in message


# -- the fast reading on hand-made PDFs (no TeX needed) --------------------------------------------


def _pdf(tmp_path: Path, content: bytes, cmap: dict[int, str] | None = None) -> Path:
    """One page in font /F1, whose ToUnicode map is `cmap` (byte -> text)."""
    import pikepdf

    pdf = pikepdf.new()
    font = pikepdf.Dictionary(Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica)
    if cmap:
        lines = "".join(f"<{code:02X}> <{text.encode('utf-16-be').hex().upper()}>\n" for code, text in cmap.items())
        font.ToUnicode = pdf.make_stream(
            b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n1 begincodespacerange\n<00> <FF>\n"
            b"endcodespacerange\n%d beginbfchar\n%sendbfchar\nendcmap\nend end\n" % (len(cmap), lines.encode()))
    page = pdf.add_blank_page(page_size=(612, 792))
    page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=pdf.make_indirect(font)))
    page.obj.Contents = pdf.make_stream(content)
    path = tmp_path / "page.pdf"
    pdf.save(path)
    return path


@pytest.mark.parametrize(
    ("shown", "expected"),
    [
        (rb"[(Wor)-20(k\145d)]TJ", "Worked"),  # pdfTeX's own escapes: the whole page at once
        (rb"[(\034nd)]TJ", "find"),  # a ligature mapped to two letters
        (rb"[(a\5)(1)]TJ", "aX1"),  # a short escape does not run on into the next string
        (rb"[(\(x\))-20(y\\)]TJ", "(x)y\\"),  # escaped parentheses and backslash: string by string
        (b"[(ab\\\ncd)]TJ", "abcd"),  # a backslash at a line end continues the line
        (rb"[(\101\102)]TJ [(C\n)]TJ", "ABC\n"),
    ],
)
def test_fast_reading_decodes_strings_like_a_pdf_reader(tmp_path, shown, expected):
    from examforge.pdftext import PdfDoc

    path = _pdf(tmp_path, b"BT /F1 10 Tf 72 700 Td " + shown + b" ET", {0x1C: "fi", 0x05: "X"})
    with PdfDoc(path) as doc:
        assert doc.text(0) == expected


def test_fast_reading_switches_fonts_and_reads_unknown_fonts_as_latin1(tmp_path):
    from examforge.pdftext import PdfDoc

    content = b"BT [(x)]TJ /F1 10 Tf [(\\001b)]TJ /F2 9 Tf (\\001c)Tj /F1 8 Tf (\\001)Tj ET"
    path = _pdf(tmp_path, content, {0x01: "A"})
    with PdfDoc(path) as doc:  # /F2 is not in the resources: its bytes are read as Latin-1
        assert doc.text(0) == "x" + "Ab" + "\x01c" + "A"


def test_fast_reading_takes_contents_arrays_and_inherited_resources(tmp_path):
    import pikepdf

    from examforge.pdftext import PdfDoc

    path = _pdf(tmp_path, b"", {0x01: "A"})
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        page = pdf.pages[0].obj
        page.Contents = pikepdf.Array([pdf.make_stream(b"BT /F1 10 Tf (\\001b)Tj"), pdf.make_stream(b"(c)Tj ET")])
        pdf.Root.Pages.Resources = page.Resources  # the page tree's, not the page's own
        del page["/Resources"]
        pdf.save(path)
    with PdfDoc(path) as doc:
        assert doc.text(0) == "Abc"


def test_frames_follow_the_transformation_matrix(tmp_path):
    from examforge.pdftext import PdfDoc, same_frames

    box = b"q\n1 0 0 1 %s %s cm\n[]0 d 0 J 0.797 w 0 0 m %s %s l S\nQ\n"
    content = (
        box % (b"10", b"20", b"100", b"0")  # pdfTeX's rule, whole
        + b"q 1 0 0 1 0 0 cm []0 d 0 J 0.398 w 0 0 m 5 5 l S Q\n"  # a thinner rule: not a frame
        + b"BT /F1 10 Tf [(q 1 0 0 1 9 9 cm)]TJ ET\n"  # text that looks like graphics
        + b"1 0 0 1 5 5 cm\n"  # a matrix left in place
        + box % (b"10", b"20", b"0", b"-30.5")
        + b"q 2 0 0 2 0 0 cm\n1 0 0 1 1 1 cm []0 d 0 J 0.797 w 0 0 m 3 0 l S Q\n"  # scaled, bare rule
        + b"Q\n"  # unbalanced restore: ignored
    )
    with PdfDoc(_pdf(tmp_path, content)) as doc:
        frames = doc.frames(0)
    # (2 0 0 2 0 0) after (1 0 0 1 5 5), then (1 0 0 1 1 1): the bare rule starts at 2 * 1 + 5
    assert frames == [(7.0, 7.0, 6.0, 0.0), (10.0, 20.0, 100.0, 0.0), (15.0, 25.0, 0.0, -30.5)]
    assert same_frames(frames, [(10.004, 20.0, 100.0, 0.0), (7.0, 7.0, 6.0, 0.0), (15.0, 24.996, 0.0, -30.5)])
    assert not same_frames(frames, [(10.02, 20.0, 100.0, 0.0), (7.0, 7.0, 6.0, 0.0), (15.0, 25.0, 0.0, -30.5)])
