"""The exam and key documents: drawn questions placed in the one shared layout.

One LaTeX document holds one or many entries (a student's exam and key, or the blank template),
so a whole chunk of the class compiles in a single pdflatex run and is split afterwards. A
student's statements are typeset once and shown in both the exam and the key."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from examforge import layout as L
from examforge.errors import InputError
from examforge.figures import LATEX_FIGURE
from examforge.qr import page_codes, pdf_drawing
from examforge.renderers.blocks import question_text, solution_latex
from examforge.renderers.latex import Latex, escape, render
from examforge.renderers.scripts import Runs, UserText
from examforge.roster import Student
from examforge.spec import ExamSpec, QuestionSpec
from examforge.variant import Variant

QR_SIZE_CM = 1.3
ID_BOX_CM = 1.6
FOOTSKIP_PT = 46


@dataclass(frozen=True)
class DrawnQuestion:
    slot: int
    section: int
    spec: QuestionSpec
    variant: Variant


@dataclass
class Entry:
    """One student's documents in a batch (`kinds` among exam, key), or the blank template."""

    index: int
    student: Student | None  # None for the blank template
    questions: list[DrawnQuestion]
    kinds: tuple[str, ...] = ("exam", "key")
    exam_code: str = ""  # names the exam in QR codes


def user_texts(spec: ExamSpec, students: list[Student], *, spec_path: str = "spec",
               roster_path: str = "roster") -> list[UserText]:
    """Every piece of user text the documents print, for the LuaLaTeX pass (examforge.renderers.
    scripts): the spec's in all four styles (the templates print the title and section titles bold
    on the cover and headings and upright in headers and the score table, section instructions in
    italic), names upright (the version line)."""
    out = [UserText(spec.title, f"{spec_path}: field 'title'"),
           UserText(spec.course, f"{spec_path}: field 'course'"),
           UserText(spec.date, f"{spec_path}: field 'date'")]
    out += [UserText(line, f"{spec_path}: field 'instructions[{i}]'") for i, line in enumerate(spec.instructions)]
    for i, section in enumerate(spec.sections):
        out.append(UserText(section.title, f"{spec_path}: field 'sections[{i}].title'"))
        if section.instructions:
            out.append(UserText(section.instructions, f"{spec_path}: field 'sections[{i}].instructions'"))
    out += [UserText(s.name, f"{roster_path}: student {s.id}: field 'name'", ("r",)) for s in students]
    return out


def _points(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def points_label(value: float) -> str:
    return f"{_points(value)} point" + ("" if value == 1 else "s")


def geometry_context(layout: L.Layout) -> dict:
    """The lengths the LaTeX templates need (in sp unless a unit is given)."""
    return {
        "paper_w": layout.paper_w, "paper_h": layout.paper_h, "text_w": layout.text_w,
        "text_h": layout.text_h, "margin_x": layout.margin_x, "margin_top": layout.margin_top,
        "footskip": f"{FOOTSKIP_PT}pt", "rule": L.pt_sp(L.BOX_RULE_PT), "pad": L.pt_sp(L.BOX_PAD_PT),
        "statement_gap": L.pt_sp(L.STATEMENT_GAP_PT),
        "part_gap": L.pt_sp(L.PART_GAP_PT), "slot_gap": L.pt_sp(L.SLOT_GAP_PT), "setup_gap": L.pt_sp(L.SETUP_GAP_PT),
        "column_gap": L.pt_sp(L.PART_COLUMN_GAP_PT),
        "id_box": L.cm_sp(ID_BOX_CM), "qr_size": L.cm_sp(QR_SIZE_CM),
    }


def _pages(spec: ExamSpec, layout: L.Layout, runs: Runs) -> list[list[dict]]:
    pages = []
    for page in layout.pages:
        items = []
        for item in page:
            if isinstance(item, L.HeadingPlan):
                section = spec.sections[item.section]
                items.append({
                    "heading": True, "section": item.section, "number": item.section + 1,
                    "title": runs.latex(section.title), "points": points_label(section.points),
                    "instructions": runs.latex(section.instructions or ""), "height": item.height,
                    "setup": section.shared_setup, "first": item.first_slot,
                })
            else:
                q = spec.slots()[item.slot][2]
                items.append({
                    "heading": False, "index": item.slot, "number": item.number, "slot": item.slot,
                    "points": points_label(q.points), "statement_height": item.statement,
                    "boxes": [{"name": b.name, "height": b.height, "label": b.label,
                               "points": points_label(float(b.points)) if b.points else ""}
                              for b in item.boxes],
                    "in_row": item.in_row,
                })
        pages.append(items)
    return pages


ARRANGEMENTS, DEFAULT_ARRANGEMENT = L.ARRANGEMENTS, L.DEFAULT_ARRANGEMENT


def choice_columns(form: str, n_choices: int, arrangement: str) -> int:
    """Columns of the options' grid (0: one row at natural widths)."""
    if form == "tf":
        return 0
    if arrangement not in ARRANGEMENTS:
        raise ValueError(f"unknown arrangement {arrangement!r}")
    return {"row": n_choices, "two-rows": -(-n_choices // 2), "column": 1}[arrangement]


def key_label_lines(v: Variant, columns: int) -> list[str]:
    """The lines of the widest "Answer: ..." the key can print for this question, whose width is
    kept free at the right of the options, in the exam as in the key, for every student: one
    line, or for a select-all question whose options take two rows or more, "Answer:" above the
    letters."""
    if v.form == "tf":
        return ["Answer: False"]
    if v.form == "multi":
        letters = ", ".join(c.letter for c in v.choices)
        return ["Answer:", letters] if _two_line_label(v, columns) else [f"Answer: {letters}"]
    return ["Answer: M"]  # wider than any option letter


def _two_line_label(v: Variant, columns: int) -> bool:
    return v.form == "multi" and 0 < columns < len(v.choices)


def _answer_box(v: Variant, *, key: bool, arrangement: str = DEFAULT_ARRANGEMENT, sketch: Latex | None = None) -> Latex:
    """What goes in a question's fixed box: the options (a grid, the key's choice filled and
    "Answer: B" beside them, in the exam's space), or the key's answer of a free response; with
    `sketch`, the blank axes (the exam) or the answer's plot (the key) at its left."""
    if v.choices:
        columns = choice_columns(v.form, len(v.choices), arrangement)
        rows = [v.choices] if columns == 0 else [v.choices[i:i + columns] for i in range(0, len(v.choices), columns)]
        return render(
            "blocks/answer_area.tex.j2",
            choices=v.choices, key=key, height="0pt", framed=False, form=v.form, bubbles=True,
            columns=columns, rows=rows, widest_label=key_label_lines(v, columns), correct=v.correct_label,
            two_line_label=_two_line_label(v, columns), answer=Latex(""),
        )
    return render(
        "blocks/answer_area.tex.j2",
        choices=v.choices, key=key, height="0pt", framed=False, form=v.form, bubbles=True,
        answer=Latex(v.qtype.answer_latex(v.answer)) if key else Latex(""),
        correct=v.correct_label, sketch=sketch,
    )


def template_statement(v: Variant) -> Latex:
    """What the blank template (Gradescope's copy) shows in a slot: the type's summary."""
    return Latex(
        r"\textit{" + escape(v.qtype.summary) + r"}\par\smallskip"
        r"{\small (Each student's copy shows this question with their own numbers.)}"
    )


# Marked regions of a question's LaTeX (comment lines, invisible elsewhere: `sample`, the drills):
# `setup`, the text every variant of a type shares, which a section with `shared_setup: true`
# prints once under its heading; `sketch`, blank axes the student draws on, which the exam puts
# in the answer box (the same region of the worked solution, the answer's plot, goes in the key's).
_REGIONS = {name: re.compile(rf"^% examforge:{name}\n(.*?)^% examforge:end{name}\n", re.M | re.S)
            for name in ("setup", "sketch")}


def take_region(latex: str, name: str) -> tuple[Latex, Latex | None]:
    """`latex` without its `name` region, and the region (None when it has none)."""
    m = _REGIONS[name].search(latex)
    if m is None:
        return Latex(latex), None
    return Latex(latex[:m.start()] + latex[m.end():]), Latex(m.group(1))


@dataclass(frozen=True)
class Statement:
    """What the exam layout shows of one drawn question: its statement in the statement area, the
    shared setup (for the section heading), and the sketch areas of the exam's and key's boxes."""

    text: Latex
    setup: Latex | None = None
    sketch: Latex | None = None
    key_sketch: Latex | None = None


def exam_statement(v: Variant, *, shared_setup: bool = False, sketch_in_box: bool = True,
                   where: str = "") -> Statement:
    text = question_text(v)
    setup = sketch = key_sketch = None
    if shared_setup:
        text, setup = take_region(text, "setup")
        if setup is None:
            raise InputError(f"{where}: shared_setup: {v.qtype.id} has no setup text to share; "
                             f"remove shared_setup or use questions of a type that has one")
    if sketch_in_box:
        text, sketch = take_region(text, "sketch")
        if sketch is not None:
            key_sketch = take_region(solution_latex(v), "sketch")[1]
    return Statement(text, setup, sketch, key_sketch)


def section_shares_setup(spec: ExamSpec, section: int) -> bool:
    return spec.sections[section].shared_setup


def _slot_boxes(dq: DrawnQuestion, n_boxes: int, *, key: bool, arrangement: str = DEFAULT_ARRANGEMENT,
                sketch: Latex | None = None) -> list[Latex]:
    """What goes in each of the slot's boxes: the answer area in the first (the choices, or the
    key's answer); for a question asked in parts, each part's own answer in its own box."""
    v = dq.variant
    parts = v.qtype.part_answers(v.answer) if dq.spec.parts else None
    if parts is None:
        return [_answer_box(v, key=key, arrangement=arrangement, sketch=sketch)] + [Latex("")] * (n_boxes - 1)
    if len(parts) != n_boxes:  # the spec checks the count; a type breaking its word is a bug
        raise ValueError(f"{v.qtype.id} seed {v.seed}: {len(parts)} part answers for {n_boxes} part boxes")
    if not key:
        return [Latex("")] * n_boxes
    return [render("blocks/answer_area.tex.j2", choices=(), key=True, height="0pt", framed=False, form=v.form,
                   answer=Latex(part), correct="") for part in parts]


def _question(dq: DrawnQuestion, layout_slot: L.SlotPlan, kinds: tuple[str, ...], spec: ExamSpec) -> dict:
    v = dq.variant
    boxes: dict[str, list[Latex]] = {}
    parts = exam_statement(v, shared_setup=section_shares_setup(spec, dq.section), sketch_in_box=not dq.spec.parts,
                           where=f"sections[{dq.section}] (question {layout_slot.number})")
    if "template" in kinds:
        statement = template_statement(v)
        boxes["template"] = [Latex("")] * len(layout_slot.boxes)
    else:
        statement = parts.text
    if "exam" in kinds:
        boxes["exam"] = _slot_boxes(dq, len(layout_slot.boxes), key=False, arrangement=layout_slot.choices,
                                    sketch=parts.sketch)
    if "key" in kinds:
        boxes["key"] = _slot_boxes(dq, len(layout_slot.boxes), key=True, arrangement=layout_slot.choices,
                                   sketch=parts.key_sketch)
    return {
        "setup": parts.setup or Latex(""),
        "slot": dq.slot,
        "number": layout_slot.number,
        "generator": v.qtype.id,
        "seed": v.seed if v.seed is not None else "fixed",
        "points": points_label(dq.spec.points),
        "statement": statement,
        "statement_height": layout_slot.statement,
        "boxes": boxes,
        "solution": solution_latex(v) if "key" in kinds else Latex(""),
    }


def _entry(e: Entry, layout: L.Layout, runs: Runs, spec: ExamSpec) -> dict:
    plans = {s.slot: s for s in layout.slots}
    student = e.student
    sid = escape(student.id) if student else Latex("")
    header = {
        "exam": Latex(r"ID \texttt{" + sid + "}"),
        "key": Latex(r"{\color{red}SOLUTION KEY}\quad ID \texttt{" + sid + "}"),
        "template": Latex("Blank template"),
    }
    qr = []
    if layout.qr and student is not None and "exam" in e.kinds:
        size_bp = QR_SIZE_CM * 72 / 2.54  # PDF operators work in big points
        codes = page_codes(e.exam_code, student.id, layout.n_pages)
        qr = [(page, Latex(pdf_drawing(code, size_bp))) for page, code in enumerate(codes, start=1)]
    return {
        "index": e.index,
        "id": student.id if student else "template",
        "name": runs.latex(student.name) if student else "",
        "kinds": e.kinds,
        "header": header,
        "qr": qr,
        "questions": [_question(dq, plans[dq.slot], e.kinds, spec) for dq in e.questions],
    }


# The figures examforge.figures draws (LATEX_FIGURE), and the tikzpictures a question folder's own
# templates may still write.
_FIGURE = re.compile(LATEX_FIGURE.pattern + r"|\\begin\{tikzpicture\}.*?\\end\{tikzpicture\}", re.S)
_USES_TIKZ = re.compile(r"\\begin\{tikzpicture\}|\\tikz|\\pgf|\\begin\{axis\}")


def memoize_figures(tex: str) -> str:
    """Typeset each distinct figure once per document: its first occurrence becomes a form
    XObject, later identical ones reuse it. When no TikZ is left in the document (the bank draws
    its figures as plain `picture`s, examforge.figures), TikZ and pgfplots are not loaded."""
    seen: set[str] = set()

    def replace(m: re.Match) -> str:
        source = m.group(0)
        tikz = source.startswith("\\begin{tikzpicture}")
        if tikz and (source.count("\\begin{tikzpicture}") > 1 or "remember picture" in source or "overlay" in source):
            return source
        key = hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]
        if key in seen:
            return f"\\efmemouse{{{key}}}"
        seen.add(key)
        return f"\\begin{{efmemo}}{{{key}}}{source}\\end{{efmemo}}"

    head, begin, body = tex.partition("\\begin{document}")
    if not begin:
        return _FIGURE.sub(replace, tex)
    body = _FIGURE.sub(replace, body)
    if not _USES_TIKZ.search(body):  # no figure needs TikZ: it need not load
        head = "".join(line for line in head.splitlines(keepends=True) if "% examforge:tikz" not in line)
    return head + begin + body


def render_batch(spec: ExamSpec, layout: L.Layout, entries: list[Entry], runs: Runs | None = None) -> str:
    """One document holding every entry, in order. User text pdflatex cannot print is placed
    from `runs`, the build's LuaLaTeX pass (examforge.renderers.scripts.typeset_runs)."""
    runs = runs or Runs()
    sections = [
        {"number": i + 1, "title": runs.latex(s.title), "points": _points(s.points)} for i, s in enumerate(spec.sections)
    ]
    return runs.annotate(memoize_figures(render(
        "exam.tex.j2",
        g=geometry_context(layout),
        flow=layout.flow,
        title=runs.latex(spec.title),
        course=runs.latex(spec.course),
        date=runs.latex(spec.date),
        instructions=[runs.latex(line) for line in spec.instructions],
        sections=sections,
        total_points=_points(spec.total_points),
        n_slots=len(spec.slots()),
        n_pages=layout.n_pages,
        padding_pages=layout.padding_pages,
        pages=_pages(spec, layout, runs),
        entries=[_entry(e, layout, runs, spec) for e in entries],
    )))


def fallback_layout(spec: ExamSpec) -> L.Layout:
    """A flowing layout for a standalone document: the spec's heights (and fallbacks) as minimum
    heights, every box as tall as its content needs, pages broken by TeX."""
    from examforge.calibration import fallback_heights

    return L.plan_layout(spec, fallback_heights(spec), flow=True)


def render_document(
    spec: ExamSpec, student: Student, questions: list[DrawnQuestion], *, key: bool, layout: L.Layout | None = None,
    runs: Runs | None = None,
) -> str:
    """One student's exam (key=False) or solution key (key=True) as a standalone document: in
    `layout` (the class's shared one), or, by default, flowing (see `fallback_layout`)."""
    layout = layout or fallback_layout(spec)
    entry = Entry(0, student, questions, kinds=("key",) if key else ("exam",))
    return render_batch(spec, layout, [entry], runs)


def template_entry(spec: ExamSpec, questions: list[DrawnQuestion]) -> Entry:
    return Entry(0, None, questions, kinds=("template",))
