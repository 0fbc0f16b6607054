"""The shared layout, planned before any student: lengths, packing, heights, chunks, QR codes."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from examforge.build import split_class
from examforge.calibration import fallback_heights, heights_from_measurements
from examforge.errors import InputError
from examforge.layout import (
    HeadingPlan,
    SlotHeights,
    SlotPlan,
    cm_sp,
    length_sp,
    plan_layout,
    round_up_cm,
    sp_cm,
)
from examforge.qr import page_codes, pdf_drawing, qr_matrix, qr_payload
from examforge.errors import LatexError
from examforge.renderers.exam import memoize_figures
from examforge.renderers.scripts import Runs
from examforge.spec import ExamSpec, load_spec

from .helpers import write


def _spec(sections, **extra) -> ExamSpec:
    return ExamSpec.model_validate({"title": "T", "seed": 1, "sections": sections, **extra})


def _q(**kw):
    return {"generator": "conv.output_shape", "points": 2, **kw}


def test_lengths_are_tex_units():
    assert length_sp("1in") == round(72.27 * 65536)
    assert length_sp("2.54cm") == length_sp("1in")
    assert length_sp("10mm") == length_sp("1cm")
    assert length_sp("12pt") == 12 * 65536
    assert sp_cm(cm_sp(3.7)) == pytest.approx(3.7)
    assert round_up_cm(cm_sp(3.01)) == cm_sp(3.25) and round_up_cm(cm_sp(3.25)) == cm_sp(3.25)
    with pytest.raises(ValueError, match="not a LaTeX length"):
        length_sp("3 cm")


def test_questions_pack_in_order_and_headings_stay_with_their_first_question():
    spec = _spec([
        {"title": "A", "questions": [_q(question_height="4cm", box_height="4cm") for _ in range(5)]},
        {"title": "B", "questions": [_q(question_height="2cm", box_height="2cm")]},
    ])
    layout = plan_layout(spec, fallback_heights(spec))
    assert layout.n_pages == 1 + len(layout.pages)
    numbers = [s.number for s in layout.slots]
    assert numbers == [1, 2, 3, 4, 5, 6]
    pages = [s.page for s in layout.slots]
    assert pages == sorted(pages) and pages[0] == 2  # the cover is page 1
    for page in layout.pages:
        used = sum(item.height for item in page)
        assert used <= layout.text_h
        for i, item in enumerate(page):
            if isinstance(item, HeadingPlan):  # never the last thing on a page
                assert isinstance(page[i + 1], SlotPlan) and page[i + 1].section == item.section


def test_new_page_duplex_and_parts():
    spec = _spec(
        [
            {"title": "A", "questions": [_q(question_height="2cm", box_height="2cm")]},
            {"title": "B", "new_page": True, "questions": [
                _q(generator="transformer.activation_memory", points=9, question_height="6cm",
                   parts=[{"label": "a", "points": 3, "box_height": "2cm"},
                          {"label": "b", "points": 3, "box_height": "2cm"},
                          {"label": "c", "points": 3, "box_height": "3cm"}])]},
        ],
        layout={"duplex": True},
    )
    layout = plan_layout(spec, fallback_heights(spec))
    first, second = layout.slots
    assert (first.page, second.page) == (2, 3)
    assert [b.name for b in second.boxes] == ["q2a", "q2b", "q2c"]
    assert [b.label for b in second.boxes] == ["(a)", "(b)", "(c)"]
    assert [b.height for b in second.boxes] == [cm_sp(2), cm_sp(2), cm_sp(3)]
    assert layout.n_pages == 4 and layout.padding_pages == 1  # 3 pages, padded for duplex
    assert ("q2b", 3) in layout.boxes() and layout.boxes()[:2] == [("name", 1), ("sid", 1)]


def test_a_question_taller_than_a_page_is_refused():
    spec = _spec([{"title": "A", "questions": [_q(question_height="20cm", box_height="9cm")]}],
                 layout={"paper": "a4"})
    with pytest.raises(InputError, match=r"question 1 \(conv.output_shape\) needs 30.5cm but a page has 24.7cm"):
        plan_layout(spec, fallback_heights(spec))


def test_paper_is_letter_unless_the_spec_asks_for_a4():
    """Gradescope's users mostly print US letter: it is the default; a4 stays available."""
    letter = plan_layout(_spec([{"title": "A", "questions": [_q()]}]), {0: SlotHeights(cm_sp(2), (cm_sp(2),))})
    a4 = plan_layout(_spec([{"title": "A", "questions": [_q()]}], layout={"paper": "a4"}),
                     {0: SlotHeights(cm_sp(2), (cm_sp(2),))})
    assert letter.paper == "letter" and a4.paper == "a4"
    for got, want in ((letter.paper_w, "8.5in"), (letter.paper_h, "11in"), (a4.paper_w, "210mm"), (a4.paper_h, "297mm")):
        assert abs(got - length_sp(want)) <= 2  # TeX's own sizes, to a few sp
    assert load_spec("examples/midterm.yaml").layout.paper == "letter"


def test_parts_must_add_up_and_carry_their_own_boxes(tmp_path):
    head = "title: T\nseed: 1\nsections:\n  - title: A\n    questions:\n      - "
    bad_sum = write(tmp_path / "a.yaml", head + "{generator: backprop.two_neuron, points: 10, parts: "
                    "[{label: a, points: 4}, {label: b, points: 5}]}\n")
    with pytest.raises(InputError, match="their points add up to 9, not the question's 10"):
        load_spec(bad_sum)
    both = write(tmp_path / "b.yaml", head + "{generator: backprop.two_neuron, points: 9, box_height: 3cm, parts: "
                 "[{label: a, points: 4}, {label: b, points: 5}]}\n")
    with pytest.raises(InputError, match="give box_height on each part"):
        load_spec(both)


def test_parts_need_a_type_that_answers_each_part(tmp_path):
    head = "title: T\nseed: 1\nsections:\n  - title: A\n    questions:\n      - "
    two = "[{label: a, points: 4}, {label: b, points: 5}]"
    one_answer = write(tmp_path / "a.yaml", head + f"{{generator: backprop.two_neuron, points: 9, parts: {two}}}\n")
    with pytest.raises(InputError, match=r"backprop.two_neuron gives one answer, not one per part.*"
                                         r"transformer.activation_memory"):
        load_spec(one_answer)
    wrong_count = write(tmp_path / "b.yaml", head + f"{{generator: transformer.activation_memory, points: 9, parts: {two}}}\n")
    with pytest.raises(InputError, match=r"answers 3 parts \(B, N, D\), the spec has 2"):
        load_spec(wrong_count)
    mc = write(tmp_path / "c.yaml", head + "{generator: transformer.activation_memory, form: mc, points: 9, parts: "
               "[{label: a, points: 3}, {label: b, points: 3}, {label: c, points: 3}]}\n")
    with pytest.raises(InputError, match="only a free-response question"):
        load_spec(mc)


def test_calibrated_heights_take_the_tallest_draw_plus_a_margin():
    spec = _spec([{"title": "A", "questions": [_q(form="free"), _q(question_height="3cm", box_height="2cm"),
                                                _q(form="mc"), _q(form="tf"),
                                                _q(generator="concepts.transfer.new_classes")]}])
    measured = {(0, "statement"): cm_sp(2.0), (0, "box"): 0, (0, "key"): cm_sp(3.1),
                (2, "statement"): cm_sp(1.0), (3, "statement"): cm_sp(1.0), (3, "box"): cm_sp(0.4),
                (3, "key"): cm_sp(0.4), (4, "statement"): cm_sp(0.94), (4, "box"): cm_sp(0.4), (4, "key"): cm_sp(0.4)}
    rows = {"row": (0.4, 1), "two-rows": (0.9, 0), "column": (2.1, 1)}  # one row is too narrow
    for name, (height, wide) in rows.items():
        measured.update({(2, f"box@{name}"): cm_sp(height), (2, f"key@{name}"): cm_sp(height),
                         (2, f"wide@{name}"): wide})
    heights = heights_from_measurements(spec, measured)
    assert heights[0].statement == cm_sp(2.5)  # 2cm x 1.08 + 0.3cm -> 2.46 -> 2.5
    assert heights[0].boxes == (cm_sp(3.75),)  # the key's 3.1cm + frame (~0.41cm) + 0.2cm -> 3.71 -> 3.75
    assert heights[1] == SlotHeights(cm_sp(3), (cm_sp(2),))  # given in the spec: used as is
    # multiple choice: the most compact arrangement whose options fit, the box as tall as they are
    assert heights[2].choices == "two-rows" and heights[2].boxes == (cm_sp(1.5),)  # 0.9 + 0.41 -> 1.5
    assert heights[3].boxes == (cm_sp(1.0),)  # true/false: one line, 0.4 + 0.41 -> 1.0
    # every variant of an authored question is measured: no margin for unseen draws
    assert heights[4].statement == cm_sp(1.0) and heights[2].statement == cm_sp(1.5)


def test_the_class_splits_into_balanced_chunks_that_depend_on_its_size_only():
    assert [len(c) for c in split_class(list(range(1)), 250)] == [1]
    assert sorted(len(c) for c in split_class(list(range(3)), 250)) == [1, 2]
    assert [len(c) for c in split_class(list(range(250)), 125)] == [125] * 2
    assert [len(c) for c in split_class(list(range(500)), 125)] == [16] + [121] * 4  # a small first run
    sizes = [len(c) for c in split_class(list(range(501)), 250)]
    assert sum(sizes) == 501 and len(sizes) == 3 and sizes[0] == 16 and max(sizes[1:]) - min(sizes[1:]) <= 1
    assert all(len(c) <= 64 for c in split_class(list(range(500)), 64))
    assert [x for c in split_class(list(range(77)), 10) for x in c] == list(range(77))


def test_latin_names_are_pdflatex_text_and_other_scripts_need_the_luatex_pass():
    latex = Runs().latex  # no LuaLaTeX pass: only what pdflatex prints itself
    assert latex("Zoë O'Brien") == r"Zoë O\textquotesingle{}Brien"
    assert latex("Jose\u0301 Nu\u0301n\u0303ez") == "José Núñez"  # composed (NFC) for inputenc
    assert latex("\\input{x}") == r"\textbackslash{}input\{x\}"
    for name in ("李", "Nguyễn", "Adébáyọ̀"):  # no T1 character (or a stacked accent): never "?"
        with pytest.raises(LatexError, match="needs LuaLaTeX"):
            latex(name)


def test_identical_figures_are_typeset_once_per_document():
    pic = r"\begin{tikzpicture}\draw (0,0) -- (1,1);\end{tikzpicture}"
    other = r"\begin{tikzpicture}\draw (0,0) -- (2,1);\end{tikzpicture}"
    out = memoize_figures(f"a {pic} b {pic} c {other}")
    assert out.count(r"\begin{efmemo}") == 2 and out.count(r"\efmemouse") == 1
    assert out.index(r"\begin{efmemo}") < out.index(r"\efmemouse")


def _pgm(matrix: np.ndarray, path, scale: int = 8) -> None:
    image = np.pad(matrix, 4).repeat(scale, 0).repeat(scale, 1)
    data = np.where(image, 0, 255).astype(np.uint8)
    path.write_bytes(f"P5 {data.shape[1]} {data.shape[0]} 255\n".encode() + data.tobytes())


@pytest.mark.parametrize("text", ["EF|3f9a2c1d|s001|3/12", "EF|3f9a2c1d|" + "a" * 64 + "|12/12", "x" * 150])
def test_qr_codes_decode(tmp_path, text):
    from .conftest import require_tools

    require_tools("zbarimg")
    for mask in (None, 3):
        matrix = qr_matrix(text, mask=mask)
        size = matrix.shape[0]
        assert size == 4 * ((size - 17) // 4) + 17
        _pgm(matrix, tmp_path / "q.pgm")
        read = subprocess.run(["zbarimg", "-q", "--raw", str(tmp_path / "q.pgm")], capture_output=True, text=True)
        assert read.stdout.strip() == text


@pytest.mark.parametrize("sid, n_pages", [("s001", 14), ("Zoe.OBrien-2", 12), ("x", 3), ("s0042", 101)])
def test_page_codes_are_segnos_codes_of_every_page(sid, n_pages):
    """The pages combined from other codes (examforge.qr) are exactly segno's codes, with the
    mask segno picks for page 1."""
    codes = page_codes("3f9a2c1d", sid, n_pages)
    assert len(codes) == n_pages
    first = qr_payload("3f9a2c1d", sid, 1, n_pages)
    mask = next(m for m in range(8) if (qr_matrix(first, mask=m) == qr_matrix(first)).all())
    for page, code in enumerate(codes, start=1):
        assert (code == qr_matrix(qr_payload("3f9a2c1d", sid, page, n_pages), mask=mask)).all(), page
    assert len({c.tobytes() for c in codes}) == n_pages


def test_qr_structure_and_drawing():
    matrix = qr_matrix("HELLO")
    assert matrix.shape == (21, 21)
    finder = matrix[:7, :7]
    assert finder[0].all() and finder[6].all() and finder[:, 0].all() and finder[2:5, 2:5].all()
    assert not finder[1, 1:6].any()
    assert list(matrix[6, 8:13]) == [True, False, True, False, True]  # timing pattern
    drawing = pdf_drawing(matrix, 36.0)
    assert drawing.startswith("q 0 g ") and drawing.endswith(" f Q")
    assert drawing.count(" re") == sum(
        int(np.count_nonzero(np.diff(np.concatenate(([0], row.astype(int), [0]))) == 1)) for row in matrix)
