"""What graders need besides the keys, written by every build.

- `answer_rows`: answers.csv, one row per student and question, or per part for a question asked
  in parts (each part's answer, as its key box shows it);
- `graders/by-question.pdf`: one section per question (and part) listing every student's correct
  answer, by name (Gradescope's order) and in roster order (the printed stack); for multiple
  choice and true/false also what each wrong option of that student stands for (its named
  mistake), so a rubric item can follow the mistake;
- `graders/answers-by-question.csv`: the same as a table;
- `gradescope/roster.csv`: the roster in the columns Gradescope's roster upload reads
  (Full Name, Email, SID), SID being the id printed on the exams."""

from __future__ import annotations

import json
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from examforge.csvsafe import csv_text
from examforge.renderers.latex import Latex, escape
from examforge.text import latex_to_text

ANSWER_FIELDS = ["student_id", "question", "part", "answer", "points", "form", "choice", "generator", "seed",
                 "scoring", "key_texts"]
SHEET_FIELDS = ["question", "part", "points", "form", "student_id", "name", "roster_position", "name_position",
                "answer", "choice", "wrong_options"]
ROSTER_FIELDS = ["Full Name", "Email", "SID"]


@lru_cache(maxsize=65536)
def _text(latex: str) -> str:
    """An answer as plain text; answers.csv and the sheets ask for the same answers."""
    return latex_to_text(latex)


def _points(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _points_label(value: float) -> str:
    return f"{_points(value)} point" + ("" if value == 1 else "s")


def question_parts(dq) -> list[dict]:
    """Each part of a question asked in parts: label, points, what it asks and its answer (LaTeX
    and text), in part order; [] for a question with one answer."""
    v = dq.variant
    answers = v.qtype.part_answers(v.answer) if dq.spec.parts else None
    if not answers:
        return []
    return [
        {"label": p.label, "points": p.points, "asks": asks, "answer": latex, "text": _text(latex)}
        for p, asks, latex in zip(dq.spec.parts, v.qtype.part_labels, answers)
    ]


def correct_choice(v) -> str:
    """The correct option as answers.csv and the sheets name it: True/False, a letter, or the
    letters of a select-all question."""
    if v.form == "tf":
        return "True" if v.claim_is_true else "False"
    return ",".join(c.letter for c in v.choices if c.mistake is None)


def answer_rows(spec, builds) -> list[dict]:
    """answers.csv: per student and question, or per part. A part's key_texts is the text its box
    shows, label to answer ("(a) [3 points] Answer: 4x"), so verify finds each part's answer in
    its own box of the key."""
    rows = []
    for b in builds:
        for dq in b.questions:
            v = dq.variant
            common = {"student_id": b.student.id, "question": dq.slot + 1, "form": v.form,
                      "generator": v.qtype.id, "seed": v.seed,
                      "scoring": v.qtype.scoring if v.form == "multi" else ""}
            parts = question_parts(dq)
            if parts:
                for p in parts:
                    rows.append({**common, "part": p["label"], "answer": p["text"], "points": _points(p["points"]),
                                 "choice": "",
                                 "key_texts": json.dumps([f"({p['label']}) [{_points_label(p['points'])}] "
                                                          f"Answer: {p['text']}"], ensure_ascii=False)})
                continue
            rows.append({**common, "part": "", "answer": _text(v.qtype.answer_latex(v.answer)),
                         "points": dq.spec.points_label, "choice": correct_choice(v) if v.choices else "",
                         "key_texts": json.dumps(v.qtype.key_texts(v.answer), ensure_ascii=False)})
    return [{k: r[k] for k in ANSWER_FIELDS} for r in rows]


# -- the grader sheets ----------------------------------------------------------------------------


def name_order_key(name: str, sid: str) -> tuple[str, str]:
    """Gradescope lists a roster by name: case and accents ignored here (Zoë with Zoe)."""
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch))
    return plain.casefold(), sid


@dataclass
class SheetItem:
    """One section of the sheet: a question, or one part of it."""

    number: int
    part: str  # "" for a whole question
    points: float
    form: str
    generator: str


def _items(spec, builds) -> list[SheetItem]:
    items = []
    first = builds[0].questions
    for dq in first:
        if dq.spec.parts:
            items += [SheetItem(dq.slot + 1, p.label, p.points, dq.variant.form, dq.variant.qtype.id)
                      for p in dq.spec.parts]
        else:
            items.append(SheetItem(dq.slot + 1, "", dq.spec.points, dq.variant.form, dq.variant.qtype.id))
    return items


def _entry(dq, part: str) -> dict:
    """One student's answer to one item: LaTeX and text, the correct option and what the wrong
    options stand for."""
    v = dq.variant
    if part:
        p = next(p for p in question_parts(dq) if p["label"] == part)
        return {"latex": Latex(p["answer"]), "text": p["text"], "choice": "", "wrong": []}
    latex = v.qtype.answer_latex(v.answer)
    wrong = [(c.letter, c.mistake) for c in v.choices if c.mistake is not None]
    return {"latex": Latex(latex), "text": _text(latex), "choice": correct_choice(v) if v.choices else "",
            "wrong": wrong}


FORM_NAMES = {"mc": "multiple choice", "tf": "true/false", "free": "free response", "multi": "select all"}


def sheet_data(spec, builds) -> tuple[list[dict], list[dict], list[int]]:
    """(sections with their rows in roster order, csv rows, roster indices in name order)."""
    sections, csv_rows = [], []
    by_name = sorted(range(len(builds)), key=lambda i: name_order_key(builds[i].student.name, builds[i].student.id))
    name_position = {i: k + 1 for k, i in enumerate(by_name)}
    names = [sheet_name(b.student.name) for b in builds]
    for item in _items(spec, builds):
        entries = []
        for i, b in enumerate(builds):
            dq = b.questions[item.number - 1]
            entries.append(_entry(dq, item.part))
        mistakes: dict[str, int] = {}
        for e in entries:
            for _, name in e["wrong"]:
                mistakes.setdefault(name, len(mistakes) + 1)
        rows = []
        for i, (b, e) in enumerate(zip(builds, entries)):
            if e["choice"]:
                shown = ("T" if e["choice"] == "True" else "F") if item.form == "tf" else e["choice"]
                answer = Latex(r"\textbf{" + escape(shown) + "}" + "".join(
                    r"\ {\color{gray}" + escape(letter) + ":}" + str(mistakes[name]) for letter, name in e["wrong"]))
            else:
                answer = e["latex"]
            rows.append({"position": i + 1, "name": names[i], "id": b.student.id, "answer": answer,
                         "width": len(b.student.name) + len(b.student.id) + len(e["text"] if not e["choice"] else "")
                         + 4 * len(e["wrong"]) + 6})
            csv_rows.append({
                "question": item.number, "part": item.part, "points": _points(item.points), "form": item.form,
                "student_id": b.student.id, "name": b.student.name, "roster_position": i + 1,
                "name_position": name_position[i], "answer": e["text"], "choice": e["choice"],
                "wrong_options": "; ".join(f"{letter}={name}" for letter, name in e["wrong"]),
            })
        widest = max(r["width"] for r in rows)
        columns = 3 if widest <= 44 else 2 if widest <= 70 else 1
        heading = f"Question {item.number}" + (f"({item.part})" if item.part else "")
        generators = sorted({b.questions[item.number - 1].variant.qtype.id for b in builds})  # a pool may mix types
        about = [_points_label(item.points), FORM_NAMES.get(item.form, item.form), *generators]
        if item.part:
            asks = next(p["asks"] for p in question_parts(builds[0].questions[item.number - 1]) if p["label"] == item.part)
            about.append(f"part ({item.part}) asks for {asks}")
        legend = Latex(", ".join(_unbroken(a) for a in about))  # names printed whole, never hyphenated
        if mistakes:
            legend = Latex(legend + ". Wrong options: " + ", ".join(_unbroken(f"{k} = {name}")
                                                                   for name, k in mistakes.items()))
        sections.append({"heading": heading, "legend": legend, "columns": columns, "rows": rows})
    return sections, csv_rows, by_name


def _unbroken(text: str) -> Latex:
    return Latex(r"\mbox{" + escape(text) + "}")


def sheet_name(name: str) -> Latex:
    """A name as the sheet prints it: as written when pdflatex's fonts print it; a name in
    another script (typeset by LuaLaTeX in the exams) is replaced by a note, and the sheet's
    student id column identifies the student."""
    from examforge.renderers import scripts

    if all(scripts.pdflatex_prints(c) for c in scripts.clusters(name)):
        return escape(name)
    return Latex(r"	extit{(name in another script)}")


def grader_sheet_tex(spec, builds) -> tuple[str, list[dict]]:
    from examforge.renderers.latex import render

    sections, csv_rows, by_name = sheet_data(spec, builds)
    orders = [
        {"title": "by name (Gradescope's order)", "short": "by name",
         "note": "Students sorted by full name, case and accents ignored, as Gradescope lists them. "
                 "The grey number is the student's position in the roster (and in print/exams.pdf).",
         "rows": [[s["rows"][i] for i in by_name] for s in sections]},
        {"title": "in roster order (the printed stack)", "short": "roster order",
         "note": "Students in roster order, as print/exams.pdf has them.",
         "rows": [s["rows"] for s in sections]},
    ]
    tex = render("graders.tex.j2", title=sheet_name(spec.title), paper="a4paper" if spec.layout.paper == "a4" else "letterpaper",
                 orders=orders, sections=sections)
    return tex, csv_rows


def _csv_text(rows: list[dict], fields: list[str]) -> str:
    return csv_text(rows, fields)  # spreadsheet-safe cells (examforge.csvsafe)


def gradescope_roster(builds) -> str:
    """Gradescope's roster upload: a header row, a full name and an email per student (the
    email is what Gradescope matches accounts by), and the SID printed on the exams."""
    return _csv_text([{"Full Name": b.student.name, "Email": b.student.email, "SID": b.student.id} for b in builds],
                     ROSTER_FIELDS)


def typeset_sheet(tex: str, target: Path, cache_dir: Path | None = None) -> str:
    """Compile the sheet with the project's pdflatex runner (through its content-addressed cache,
    so an unchanged sheet is not compiled again) and copy the PDF to `target`. Returns the name
    of the cached run."""
    from examforge.renderers.compile import compile_cached

    with tempfile.TemporaryDirectory(prefix="examforge-sheet-") as tmp:
        compiled = compile_cached(tex, Path(tmp), "by-question", cache_dir)
        shutil.copyfile(compiled.pdf, target)
        return compiled.pdf.stem


def write_graders(spec, builds, out: Path, cache_dir: Path | None = None) -> str:
    """graders/by-question.pdf and answers-by-question.csv, and gradescope/roster.csv, into `out`.
    Returns the name of the sheet's cached LaTeX run."""
    (out / "graders").mkdir(exist_ok=True)
    (out / "gradescope").mkdir(exist_ok=True)
    (out / "gradescope" / "roster.csv").write_text(gradescope_roster(builds), encoding="utf-8")
    tex, rows = grader_sheet_tex(spec, builds)
    (out / "graders" / "answers-by-question.csv").write_text(_csv_text(rows, SHEET_FIELDS), encoding="utf-8")
    return typeset_sheet(tex, out / "graders" / "by-question.pdf", cache_dir)
