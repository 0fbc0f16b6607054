"""`examforge verify DIR`: re-read every PDF of a build and check that the class can be printed,
scanned and graded on Gradescope.

- every student's exam has the layout's page count; keys have at least that many;
- every answer box, the name and the ID box sit where the blank template has them, both in the
  positions LaTeX recorded during the compile and in the frames drawn in each PDF;
- page 1 of each exam shows the student's name or id; no exam carries solution text;
- each key shows the answers listed in answers.csv, each part's answer in its own box, a choice
  question's "Answer: B" in its box (beside the filled bubble) and its value in the worked solution;
- answers.csv, manifest.json and the outline agree on every question's parts and their points;
- the files are the ones manifest.csv lists (sha256), and print/exams.pdf holds every student in
  roster order, so a scanned stack splits back into students every N pages;
- gradescope/outline.json matches the template's regions."""

from __future__ import annotations

import csv
import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pikepdf

from examforge.errors import VerifyError
from examforge.pdftext import PdfDoc, frame_rules, pdf_text, same_frames
from examforge.text import normalize

SOLUTION_MARKERS = ("SOLUTION KEY", "Worked solution", "Answer:")


@dataclass
class Report:
    students: int
    pages: int
    checked_pages: int

    def summary(self) -> str:
        return (f"verified {self.students} students: {self.pages} pages each, same boxes everywhere, "
                f"{self.checked_pages} pages re-read")


def _read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def verify(out_dir: str | Path, *, jobs: int | None = None, progress: Callable | None = None) -> Report:
    out = Path(out_dir)
    progress = progress or (lambda *_: None)
    needed = ["manifest.json", "manifest.csv", "answers.csv", "gradescope/layout.json",
              "gradescope/outline.json", "gradescope/template.pdf", "print/exams.pdf"]
    missing = [name for name in needed if not (out / name).exists()]
    if missing:
        raise VerifyError(f"{out}: not a complete build: missing {', '.join(missing)}")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    layout = json.loads((out / "gradescope/layout.json").read_text(encoding="utf-8"))
    n_pages = layout["pages"]
    template_regions = layout["regions_sp"]
    students = manifest["students"]
    rows = {r["student_id"]: r for r in _read_csv(out / "manifest.csv")}
    answers: dict[str, list[dict]] = {}
    for r in _read_csv(out / "answers.csv"):
        answers.setdefault(r["student_id"], []).append(r)
    problems: list[str] = []

    ids = [s["id"] for s in students]
    if list(rows) != ids:
        problems.append("manifest.csv does not list the students of manifest.json in the same order")
    if set(answers) != set(ids):
        problems.append("answers.csv does not cover exactly the students of manifest.json")

    template_pdf = out / "gradescope/template.pdf"
    try:
        template_frames = frame_rules(template_pdf)
    except pikepdf.PdfError as err:
        raise VerifyError(f"verification failed:\n  gradescope/template.pdf: not a readable PDF ({err})") from None
    if len(template_frames) != n_pages:
        problems.append(f"gradescope/template.pdf does not have {n_pages} pages")
    problems += _check_outline(out, layout)
    problems += _check_parts(out, students, answers)

    args = [(out, s, rows.get(s["id"], {}), answers.get(s["id"], []), n_pages, template_regions, template_frames)
            for s in students]
    checked = 0
    page_hashes: dict[str, list[tuple[str, str]]] = {}
    workers = max(1, min(jobs or os.cpu_count() or 1, len(students)))
    # Reading PDFs is Python work: processes, not threads, use the cores.
    with ProcessPoolExecutor(max_workers=workers) as pool:
        printed = pool.submit(_page_digests, out / "print/exams.pdf")  # read alongside the students
        results = pool.map(_check_student_args, args, chunksize=8) if workers > 1 else map(_check_student_args, args)
        for done, (student, (found, pages, hashes)) in enumerate(zip(students, results), start=1):
            problems += found
            checked += pages
            page_hashes[student["id"]] = hashes
            progress("verifying", done, len(students))
        problems += _check_print(students, n_pages, page_hashes, printed.result(), out / "print/exams.pdf")
    if problems:
        shown = problems[:40] + ([f"... and {len(problems) - 40} more"] if len(problems) > 40 else [])
        raise VerifyError("verification failed:\n  " + "\n  ".join(shown))
    return Report(len(students), n_pages, checked)


def _check_student_args(args):
    return _check_student(*args)


def _check_student(out, student, row, answer_rows, n_pages, template_regions, template_frames):
    """(problems, pages read, a digest of each exam page's content for the print check)."""
    problems = []
    sid = student["id"]
    exam_path, key_path = out / student["exam_pdf"], out / student["key_pdf"]
    for path, column in ((exam_path, "sha256"), (key_path, "key_sha256")):
        if not path.exists():
            return [f"{path.relative_to(out)}: missing"], 0, []
        if row.get(column) != _sha(path):
            problems.append(f"{path.relative_to(out)}: sha256 differs from manifest.csv")
    with ExitStack() as stack:
        docs = []
        for path in (exam_path, key_path):
            try:
                docs.append(stack.enter_context(PdfDoc(path)))
            except pikepdf.PdfError as err:
                return problems + [f"{path.relative_to(out)}: not a readable PDF ({err})"], 0, []
        try:
            return _check_documents(problems, student, answer_rows, n_pages, template_regions, template_frames,
                                    *docs, key_path)
        except pikepdf.PdfError as err:
            return problems + [f"{sid}: a PDF could not be read through ({err})"], 0, []


def _check_documents(problems, student, answer_rows, n_pages, template_regions, template_frames, exam, key, key_path):
    sid = student["id"]
    if len(exam) != n_pages:
        problems.append(f"students/{sid}.pdf: {len(exam)} pages, the layout has {n_pages}")
    if len(key) < n_pages:
        problems.append(f"keys/{sid}.pdf: {len(key)} pages, fewer than the layout's {n_pages}")
    # Positions LaTeX recorded while typesetting this student.
    for kind in ("exam", "key"):
        recorded = student.get("regions", {}).get(kind)
        if recorded != template_regions:
            moved = sorted(k for k in template_regions if (recorded or {}).get(k) != template_regions[k])
            problems.append(f"{sid} ({kind}): boxes not where the template has them: {', '.join(moved[:8])}")
    # The frames actually drawn in the PDFs.
    for doc, name in ((exam, f"students/{sid}.pdf"), (key, f"keys/{sid}.pdf")):
        pages = [i + 1 for i in range(min(len(doc), n_pages)) if not same_frames(doc.frames(i), template_frames[i])]
        if pages:
            problems.append(f"{name}: answer-box frames differ from the template's on page(s) {pages}")
    # Text: who it is for, no solutions in the exam, every answer of answers.csv in the key.
    exam_pages = [normalize(exam.text(i)) for i in range(len(exam))]
    # The cover prints "Version for <name> (<id>)"; the parentheses keep s1 from matching s10.
    if not exam_pages or (normalize(student["name"]) not in exam_pages[0] and f"({normalize(sid)})" not in exam_pages[0]):
        problems.append(f"students/{sid}.pdf: page 1 shows neither {student['name']!r} nor {sid!r}")
    for marker in SOLUTION_MARKERS:
        if any(normalize(marker) in page for page in exam_pages):
            problems.append(f"students/{sid}.pdf: contains solution text {marker!r}")
    # The answers sit in the boxes of the layout pages; the worked solutions follow.
    pages = [key.text(i) for i in range(len(key))]
    box_text = normalize("".join(pages[:n_pages]))
    all_text = box_text + normalize("".join(pages[n_pages:]))
    missing = _missing_answers(box_text, all_text, answer_rows)
    if missing:  # the fast reading keeps content order; pdftotext, the reference, decides
        pages = pdf_text(key_path).split("\f")
        box_text = normalize("".join(pages[:n_pages]))
        all_text = box_text + normalize("".join(pages[n_pages:]))
        missing = _missing_answers(box_text, all_text, answer_rows)
    if "SOLUTIONKEY" not in box_text:
        problems.append(f"keys/{sid}.pdf: no SOLUTION KEY mark")
    problems += [f"keys/{sid}.pdf: {m}" for m in missing]
    hashes = [(exam.encoded_digest(i), hashlib.sha1(exam.content(i)).hexdigest()) for i in range(len(exam))]
    return problems, len(exam) + len(key), hashes


def _missing_answers(box_text: str, all_text: str, answer_rows: list[dict]) -> list[str]:
    """What answers.csv says the key shows and it does not: in the layout's pages (the boxes), a
    free response's answer and a choice question's "Answer: B" (next to its filled bubble); a choice
    question's value (key_texts), which its box does not repeat, in the worked solution."""
    missing = []
    for r in answer_rows:
        where = all_text if r["choice"] else box_text
        for expected in json.loads(r["key_texts"]):
            if normalize(expected) not in where:
                place = "the worked solutions" if r["choice"] else "the answer boxes"
                missing.append(f"question {r['question']}: answer {expected!r} (answers.csv) not found in {place}")
        if r["choice"] and normalize(f"Answer:{r['choice']}") not in box_text:
            missing.append(f"question {r['question']}: 'Answer: {r['choice']}' not found in its box")
    return missing


def _page_digests(path: Path, pages: list[int] | None = None) -> list[str] | str:
    """A digest of each page's content as stored (no decompression) or, for the pages listed, of
    its content itself; or why the file cannot be read."""
    try:
        with PdfDoc(path) as doc:
            if pages is None:
                return [doc.encoded_digest(i) for i in range(len(doc))]
            return [hashlib.sha1(doc.content(i)).hexdigest() for i in pages]
    except pikepdf.PdfError as err:
        return f"not a readable PDF ({err})"


def _check_print(students: list[dict], n_pages: int, page_hashes: dict[str, list[tuple[str, str]]],
                 printed: list[str] | str, path: Path) -> list[str]:
    """print/exams.pdf is every exam in roster order: cutting it every n pages gives each student
    back (this is what Gradescope does with a scanned stack). Pages are compared by content: by
    their stored bytes first (the print file copies the exams' streams as they are), and where
    those differ, by their decompressed content."""
    if isinstance(printed, str):
        return [f"print/exams.pdf: {printed}"]
    if len(printed) != len(students) * n_pages:
        return [f"print/exams.pdf: {len(printed)} pages, expected {len(students)} x {n_pages}"]
    unsure = {}  # print page -> (student, its page, that page's content digest)
    for k, student in enumerate(students):
        own = page_hashes.get(student["id"], [])
        if len(own) != n_pages:  # reported with the student
            continue
        for j, (stored, content) in enumerate(own):
            if printed[k * n_pages + j] != stored:
                unsure[k * n_pages + j] = (student["id"], j, content)
    if not unsure:
        return []
    pages = sorted(unsure)
    contents = _page_digests(path, pages)
    if isinstance(contents, str):
        return [f"print/exams.pdf: {contents}"]
    problems, reported = [], set()
    for page, digest in zip(pages, contents):
        sid, j, expected = unsure[page]
        if digest != expected and sid not in reported:
            reported.add(sid)
            problems.append(f"print/exams.pdf: page {page + 1} is not page {j + 1} of {sid}")
    return problems


def _check_outline(out: Path, layout: dict) -> list[str]:
    outline = json.loads((out / "gradescope/outline.json").read_text(encoding="utf-8"))
    regions = layout["regions"]
    problems = []
    ident = outline.get("assignment", {}).get("identification_regions", {})
    for key, name in (("name", "name"), ("sid", "sid")):
        rect = ident.get(key)
        if not rect or rect.get("page_number") != 1:
            problems.append(f"gradescope/outline.json: no {key} region on page 1")
            continue
        x1, y1, x2, y2 = regions[name]["box"]
        if abs(rect["x1"] - 100 * x1) > 0.06 or abs(rect["y1"] - 100 * y1) > 0.06:
            problems.append(f"gradescope/outline.json: the {key} region is not the template's box")
    n_questions = len(layout["slots"])
    if len(outline.get("question_data", [])) != n_questions:
        problems.append(f"gradescope/outline.json: {len(outline.get('question_data', []))} questions, "
                        f"the layout has {n_questions}")
    for q in outline.get("question_data", []):
        for rect in q.get("crop_rect_list", []) + [r for c in q.get("children", []) for r in c["crop_rect_list"]]:
            if not (0 <= rect["x1"] < rect["x2"] <= 100 and 0 <= rect["y1"] < rect["y2"] <= 100):
                problems.append(f"gradescope/outline.json: {q['title']}: bad rectangle {rect}")
    return problems



def _check_parts(out: Path, students: list[dict], answers: dict[str, list[dict]]) -> list[str]:
    """A question asked in parts has one row per part in answers.csv, the parts and points of the
    outline's sub-questions and of manifest.json, for every student."""
    outline = json.loads((out / "gradescope/outline.json").read_text(encoding="utf-8"))
    want = {}
    for number, q in enumerate(outline.get("question_data", []), start=1):
        want[number] = [(c["title"].rpartition("(")[2].rstrip(")"), float(c["weight"])) for c in q.get("children", [])]
    problems = []
    for student in students:
        sid = student["id"]
        rows: dict[int, list[tuple[str, float]]] = {}
        for r in answers.get(sid, []):
            rows.setdefault(int(r["question"]), []).append((r.get("part", ""), float(r["points"])))
        manifest = {q["number"]: [(p["label"], float(p["points"])) for p in q.get("parts", [])]
                    for q in student["questions"]}
        for number, parts in want.items():
            got = rows.get(number, [])
            if parts and got != parts:
                problems.append(f"answers.csv: {sid} question {number}: parts {got}, the outline has {parts}")
            elif not parts and [p for p, _ in got] != [""]:
                problems.append(f"answers.csv: {sid} question {number}: rows {got}, expected one row without part")
            if manifest.get(number, []) != parts:
                problems.append(f"manifest.json: {sid} question {number}: parts {manifest.get(number)}, "
                                f"the outline has {parts}")
    return problems[:20] + ([f"... and {len(problems) - 20} more part mismatches"] if len(problems) > 20 else [])
