"""Names and titles in any script, printed as written: a real build (pdflatex for the exam, one
LuaLaTeX pass for the text pdflatex's fonts cannot print) read back with pdftotext.

About right-to-left text: pdftotext (poppler) reads a line's glyphs by position and puts runs of
Hebrew or Arabic back into reading order, wrapped in directional embedding marks (U+202B ...
U+202C) that we remove before comparing. So for דוד כהן and محمد علي we assert the name in
logical order (as written in the roster), as one string, in the default reading mode. We do not
assert the rest of that line verbatim: poppler moves the "(" after the name into the
right-to-left run ("Version for ( דוד כהן s2)"). `pdftotext -raw` (content-stream order, what
examforge.pdftext.pdf_text reads) is asserted too, except for right-to-left names (it reads their
glyphs one per line), Devanagari (it reads a vowel sign placed below its consonant, as in कु,
as a line of its own) and the emoji with a variation selector and a joiner, whose /ActualText
it reads exactly but without the space after it. The Arabic here has no ligature: pdftotext reads
لا (lam-alef) or الله out of order, since poppler reverses the letters of a glyph that stands for
several (the PDF's /ToUnicode maps are in logical order)."""

from __future__ import annotations

import csv
import json
import re
import subprocess

import pytest

from examforge.build import build
from examforge.errors import InputError, LatexError
from examforge.renderers.latex import escape
from examforge.renderers.scripts import (
    Runs,
    UserText,
    pdflatex_chars,
    pdflatex_prints,
    printable_problem,
    split,
    typeset_runs,
)
from examforge.roster import load_roster
from examforge.spec import load_spec

from .helpers import write

TITLE = "深度学习 Midterm — A<<B>> x^2~y"
COURSE = "CSE 493: דוד and 王"
SECTION = "卷积 Convolutions"
SECTION_NOTE = "Show your work: अनिल 12, اكتب إجابتك داخل المربع"
INSTRUCTION = "考试时间九十分钟，请在答题框内作答。 A<<B>>C,,D x^2~y O'Brien -- Jr. ``q'' !`?`"

SPEC = f"""
title: "{TITLE}"
course: "{COURSE}"
date: "2026-11-24"
seed: 11
instructions:
  - "{INSTRUCTION}"
sections:
  - title: "{SECTION}"
    instructions: "{SECTION_NOTE}"
    questions:
      - {{generator: conv.output_shape, form: mc, points: 4, question_height: 4cm, box_height: 4.5cm}}
      - {{generator: conv.output_shape, form: free, points: 6, question_height: 4cm, box_height: 3cm}}
"""

NAMES = {
    "s1": "王小明",
    "s2": "דוד כהן",
    "s3": "محمد علي",
    "s4": "अनिल कुमार",
    "s5": "Nguyễn Thị Ánh Tuyết",
    "s6": "Phạm Quỳnh",
    "s7": "Ana 🙂",
    "s8": "A<<B>>C,,D",
    "s9": "x^2~y",
    "s10": "O'Brien -- Jr.",
    "s11": "Zoë Ōtsuka-Łukasz",
    "s12": "Mia ❤️ 👩\u200d💻",  # a variation selector and a joiner: no glyph, kept by /ActualText
}
RTL = {"s2", "s3"}
NOT_RAW = RTL | {"s4", "s12"}
_MARKS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _roster_csv() -> str:
    lines = ["id,name,email"] + [f'{sid},"{name}",' for sid, name in NAMES.items()]
    return "\n".join(lines) + "\n"


def pdftotext(path, page: int, *, raw: bool = False) -> str:
    cmd = ["pdftotext", "-enc", "UTF-8", "-f", str(page), "-l", str(page)] + (["-raw"] if raw else [])
    text = subprocess.run(cmd + [str(path), "-"], check=True, capture_output=True).stdout.decode("utf-8")
    return _MARKS.sub("", text)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from .conftest import require_tex, require_tools

    require_tex()
    require_tools("lualatex")
    import examforge.renderers.compile as compile_module

    root = tmp_path_factory.mktemp("names")
    spec = write(root / "exam.yaml", SPEC)
    roster = root / "roster.csv"
    roster.write_text(_roster_csv(), encoding="utf-8")
    engines = []
    real = compile_module.run_pdflatex

    def counting(path, **kw):
        engines.append(kw.get("engine", "pdflatex"))
        return real(path, **kw)

    patch = pytest.MonkeyPatch()
    patch.setattr(compile_module, "run_pdflatex", counting)
    try:
        manifest = build(spec, roster, root / "out", jobs=2)
    finally:
        patch.undo()
    return root, root / "out", manifest, engines


def test_every_name_reads_back_exactly_as_written(built):
    _, out, _, _ = built
    for sid, name in NAMES.items():
        page = pdftotext(out / "students" / f"{sid}.pdf", 1)
        if sid in RTL:
            assert name in page, f"{sid}: {name!r} not in {page[:300]!r}"  # logical order, one string
        else:
            assert f"Version for {name} ({sid})" in page, f"{sid}: {page[:300]!r}"
        if sid not in NOT_RAW:
            assert f"Version for {name} ({sid})" in pdftotext(out / "students" / f"{sid}.pdf", 1, raw=True)
        assert name in pdftotext(out / "keys" / f"{sid}.pdf", 1)


def test_names_are_kept_exactly_in_the_manifests(built):
    _, out, manifest, _ = built
    assert {s["id"]: s["name"] for s in manifest["students"]} == NAMES
    with (out / "manifest.csv").open(encoding="utf-8", newline="") as f:
        assert {row["student_id"]: row["name"] for row in csv.DictReader(f)} == NAMES
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["students"][0]["name"] == "王小明"


def test_title_course_sections_and_instructions_in_any_script(built):
    _, out, _, _ = built
    for doc in ("students/s1.pdf", "keys/s3.pdf", "gradescope/template.pdf"):
        cover = pdftotext(out / doc, 1)
        assert cover.count(TITLE) == 2  # the cover's title and the page header
        assert "CSE 493:" in cover and "דוד" in cover and "王" in cover
        assert INSTRUCTION in cover
        assert f"1. {SECTION}" in cover  # the score table
        second = pdftotext(out / doc, 2)
        assert TITLE in second and SECTION in second and SECTION_NOTE in second


def test_the_layout_does_not_depend_on_the_script_of_a_name(built):
    _, out, manifest, _ = built
    layout = json.loads((out / "gradescope" / "layout.json").read_text())
    for student in manifest["students"]:
        assert student["regions"]["exam"] == layout["regions_sp"]
        assert student["pages"]["exam"] == manifest["pages"]
    # The version line sits at the same height on every cover, whatever the script of the name.
    tops = set()
    for sid in NAMES:
        bbox = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", str(out / "students" / f"{sid}.pdf"), "-"],
                              check=True, capture_output=True, text=True).stdout
        word = re.search(r'<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">Version</word>', bbox)
        tops.add(word.groups())
    assert len(tops) == 1, tops


def test_luatex_runs_once_per_build_and_typesets_each_piece_once(built):
    _, out, _, engines = built
    assert engines.count("lualatex") == 1  # one LuaLaTeX run for the class, never one per student
    assert engines.count("pdflatex") >= 3  # template and two batches
    source = (out / "tex" / "unicode.tex").read_text(encoding="utf-8")
    pages = re.findall(r"\\efrun\{\d+\}\{([0-9a-f]{12})\}\{(r|b|i|bi)\}", source)
    assert len(pages) == len(set(pages))  # each piece once per style
    assert ("王" not in source) and ("\\efrun" in source)  # text travels hex-encoded: never read as TeX


def test_a_rebuild_is_byte_identical(built, tmp_path):
    root, out, _, _ = built
    again = tmp_path / "again"
    build(root / "exam.yaml", root / "roster.csv", again, jobs=1)
    for sub in ("tex", "students", "keys", "gradescope"):
        for path in sorted((out / sub).iterdir()):
            assert path.read_bytes() == (again / sub / path.name).read_bytes(), f"{sub}/{path.name} differs"


def test_an_all_latin_class_never_starts_luatex(monkeypatch, tmp_path):
    import examforge.renderers.compile as compile_module

    monkeypatch.setattr(compile_module, "run_pdflatex", lambda *a, **k: pytest.fail("LaTeX ran"))
    runs = typeset_runs([UserText("Zoë O'Brien & {Co}_#1 <<x>> ^~", "roster")], tmp_path, None)
    assert runs.compiled is None and runs.files == {}


# -- refusing what nothing prints --------------------------------------------------------------


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Ana \ue000", "U+E000 is a private-use character"),
        ("Ana \u0378", "U+0378 is not an assigned Unicode character"),
        ("Ana\x07", "U+0007 is a control character"),
        ("Ana \U0001FAE0", "no installed font prints '\U0001FAE0' (U+1FAE0)"),  # newer than Symbola's emoji
    ],
)
def test_an_unprintable_name_is_refused_naming_file_row_field_and_value(tmp_path, name, expected):
    from .conftest import require_tools

    if "U+1FAE0" in expected:
        require_tools("lualatex", "fc-list")
    path = tmp_path / "roster.csv"
    path.write_text(f'id,name\ns1,Ada\ns2,"{name}"\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_roster(path)
    message = str(err.value)
    assert f"{path}: row 3: field 'name': value {name!r}: " in message and expected in message


@pytest.mark.parametrize(
    "field, yaml_value, expected",
    [
        ("title", "T \ue000", "field 'title'"),
        ("sections[0].title", "S \u0378", "field 'sections[0].title'"),
        ("instructions", "ok\x07", "field 'instructions[1]'"),
    ],
)
def test_an_unprintable_spec_field_is_refused_naming_it(tmp_path, field, yaml_value, expected):
    spec = {
        "title": "T", "seed": 1, "instructions": ["fine"],
        "sections": [{"title": "S", "questions": [{"generator": "conv.output_shape", "points": 1}]}],
    }
    if field == "title":
        spec["title"] = yaml_value
    elif field == "instructions":
        spec["instructions"].append(yaml_value)
    else:
        spec["sections"][0]["title"] = yaml_value
    path = tmp_path / "exam.yaml"
    path.write_text(json.dumps(spec), encoding="utf-8")  # JSON is YAML
    with pytest.raises(InputError) as err:
        load_spec(path)
    message = str(err.value)
    assert str(path) in message and expected in message and f"U+{ord(yaml_value[-1]):04X}" in message


def test_text_in_any_script_is_accepted():
    from .conftest import require_tools

    require_tools("lualatex", "fc-list", "kpsewhich")
    for text in [*NAMES.values(), TITLE, COURSE, INSTRUCTION, "Ελένη Παπαδοπούλου", "Иван Петров", "김민준",
                 "さくら", "สมชาย", "❤️ Ana", "👩\u200d💻", "José\u0301"]:
        assert printable_problem(text) is None, text


# -- the rule, and the escaper ------------------------------------------------------------------


def test_which_characters_pdflatex_prints():
    from .conftest import require_tools

    require_tools("kpsewhich")
    # T1 and TS1 as the utf8 input encoding declares them: ASCII, Latin-1, Latin Extended-A, symbols.
    for ch in ("a", "~", "é", "ß", "Ő", "Ł", "€", "—", "«", "e\u0301"):
        assert pdflatex_prints(ch), ch
    # Stacked Vietnamese accents, dot below with a second accent, and other scripts go to LuaLaTeX.
    for ch in ("ễ", "ị", "ọ\u0300", "王", "ד", "م", "अ", "🙂", "\ue000"):
        assert not pdflatex_prints(ch), ch


def test_every_character_sent_to_pdflatex_reads_back_as_itself(tmp_path):
    from examforge.renderers.compile import run_pdflatex

    from .conftest import require_tex

    require_tex()
    chars = [chr(c) for c in sorted(pdflatex_chars()) if c > 0x20]
    body = "\n\n".join(f"[{i}]{escape(c)}[/]" for i, c in enumerate(chars))
    (tmp_path / "chars.tex").write_text(
        "\\documentclass{article}\\usepackage[T1]{fontenc}\\usepackage[utf8]{inputenc}\\usepackage{lmodern}"
        "\\usepackage{textcomp}\\begin{document}\n" + body + "\n\\end{document}\n", encoding="utf-8")
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(run_pdflatex(tmp_path / "chars.tex")), "-"],
                          check=True, capture_output=True).stdout.decode("utf-8")
    read = {int(i): got for i, got in re.findall(r"\[(\d+)\](.*?)\[/\]", text)}
    wrong = {c: read.get(i) for i, c in enumerate(chars) if read.get(i) != c}
    assert not wrong and len(read) == len(chars), wrong


def test_how_text_is_cut_into_pieces():
    def pieces(text):
        return [(p.kind, p.text) for p in split(text)]

    assert pieces("Zoë O'Brien") == [("tex", "Zoë O'Brien")]
    assert pieces("Nguyễn Thị Ánh") == [("lua", "Nguyễn"), ("tex", " "), ("lua", "Thị"), ("tex", " Ánh")]
    # Wide characters one by one, a line may break between them (not before 、。，).
    assert pieces("王小明。") == [("lua", "王"), ("break", ""), ("lua", "小"), ("break", ""), ("lua", "明"),
                                 ("lua", "。")]
    # Right to left: the stretch the bidi algorithm reorders stays one piece, digits included.
    assert pieces("Ana محمد 12 علي end") == [("tex", "Ana "), ("lua", "محمد 12 علي"), ("tex", " end")]
    assert pieces("12 דוד כהן 3 - x") == [("tex", "12 "), ("lua", "דוד כהן 3"), ("tex", " - x")]
    assert pieces("דוד\nכהן") == [("lua", "דוד כהן")]  # a line break in the text is a space


def test_user_text_prints_literally_without_ligatures():
    assert escape("A<<B>>C,,D") == r"A<{}<B>{}>C,{},D"
    assert escape("x^2~y") == r"x\textasciicircum{}2\textasciitilde{}y"
    assert escape("O'Brien -- Jr.") == r"O\textquotesingle{}Brien {-}{-} Jr."
    assert escape("``q'' !`?` a<<<b") == (r"\textasciigrave{}\textasciigrave{}q\textquotesingle{}\textquotesingle{} "
                                          r"!\textasciigrave{}?\textasciigrave{} a<{}<{}<b")


def test_a_piece_missing_from_the_luatex_pass_fails_clearly():
    with pytest.raises(LatexError, match="needs LuaLaTeX"):
        Runs().latex("王")
