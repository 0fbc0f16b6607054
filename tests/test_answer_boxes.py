"""Answer boxes sized to what a student marks, through real pdflatex: true/false takes one line,
short options sit side by side, long ones one per line; the key's chosen bubble is filled exactly
on its circle and its "Answer: B" fits in the exam's box; the exam itself prints no red."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from PIL import Image

from examforge import layout as L
from examforge.build import draw_student
from examforge.renderers.measure import calibration_document
from examforge.calibration import calibration_samples, heights_from_measurements, parse_measurements
from examforge.pdftext import PdfDoc
from examforge.renderers.compile import run_pdflatex
from examforge.renderers.exam import Entry, geometry_context, render_batch
from examforge.renderers.split import parse_side
from examforge.roster import Student
from examforge.spec import ExamSpec

QUESTIONS = [
    {"generator": "conv.output_shape", "form": "tf", "points": 3},  # a computed claim
    {"generator": "concepts.transfer.new_classes", "points": 3},  # an authored true/false
    {"generator": "backprop.two_neuron", "form": "mc", "points": 8},  # short numbers as options
    {"generator": "concepts.transfer.finetune_curves", "points": 8},  # sentences as options
    {"generator": "concepts.attention.parallel_wall_clock", "points": 8},  # select all, six sentences
]


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    from .conftest import require_tex

    require_tex()
    spec = ExamSpec.model_validate({"title": "Boxes", "seed": 7, "sections": [{"title": "S", "questions": QUESTIONS}]})
    return _calibrate_and_typeset(spec, tmp_path_factory.mktemp("boxes"), draws=6)


def _calibrate_and_typeset(spec: ExamSpec, work, *, draws: int):
    """Calibrate `spec` with real pdflatex, plan its layout and typeset one student in it."""
    geometry = geometry_context(L.Layout(paper="letter", **L.geometry("letter")))
    tex = work / "calibration.tex"
    tex.write_text(calibration_document(spec, geometry, calibration_samples(spec, draws=draws)))
    run_pdflatex(tex, rerun=False)
    heights = heights_from_measurements(spec, parse_measurements(tex.with_suffix(".efl").read_text()))
    layout = L.plan_layout(spec, heights)
    student = Student("s1", "Ada Lovelace")
    doc = work / "class.tex"
    doc.write_text(render_batch(spec, layout, [Entry(0, student, draw_student(spec, student), exam_code="T")]))
    pdf = run_pdflatex(doc, rerun=False)
    return spec, heights, layout, pdf, parse_side(doc.with_suffix(".efl").read_text())


def test_true_false_takes_one_line_and_short_options_sit_side_by_side(calibrated):
    spec, heights, layout, _, side = calibrated
    assert not side.overflows  # every student's options and the key's answer fit the boxes
    one_line = L.cm_sp(0.75)  # a line of bubbles (~0.34cm) and the frame (~0.41cm), rounded up
    assert heights[0].boxes == (one_line,) and heights[1].boxes == (one_line,)
    assert heights[2].choices == "row" and heights[2].boxes[0] <= L.cm_sp(1.0)  # one row of numbers
    assert heights[3].choices == "column" and heights[4].choices == "column"
    assert heights[3].boxes[0] <= L.cm_sp(4.0) and heights[4].boxes[0] <= L.cm_sp(5.5)
    # the key's answer line takes no room of its own: the key measured no taller than the exam
    for slot, _, q in spec.slots():
        assert layout.slots[slot].boxes[0].height == heights[slot].boxes[0]


def _red(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r > 150) & (g < 110) & (b < 110)


def _dark(rgb: np.ndarray) -> np.ndarray:
    return (rgb.max(axis=-1) < 110)


def test_the_keys_chosen_bubble_is_filled_exactly_on_its_circle(calibrated, tmp_path):
    """The key used to print a small red bullet beside the circle's place; now a red disk fills
    the circle, centred on it (within 0.07 mm), and no other bubble has red."""
    spec, _, layout, pdf, side = calibrated
    points = side.points["0", "key"]
    pages = side.pages["0", "key"]
    dpi = 600
    px = dpi / 72.27 / 65536  # pixels per sp
    paper_h = layout.paper_h
    questions = draw_student(spec, Student("s1", "Ada Lovelace"))
    centres = [k for k in points if "@" in k]
    radius = (points["bubble:r"][1] - points[centres[-1]][1]) * px
    checked = 0
    for slot in layout.slots:
        v = questions[slot.slot].variant
        for c in v.choices:
            page, x, y = points[f"{slot.boxes[0].name}@{c.letter}"]
            r = int(radius * 1.3)
            left, top = int(x * px) - r, int(paper_h * px - y * px) - r  # pixels from the page's top left
            out = tmp_path / f"q{slot.number}{c.letter}"
            subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", str(pages[page - 1] + 1), "-l",
                            str(pages[page - 1] + 1), "-x", str(left), "-y", str(top), "-W", str(2 * r + 1),
                            "-H", str(2 * r + 1), "-singlefile", str(pdf), str(out)], check=True)
            window = np.asarray(Image.open(f"{out}.png").convert("RGB")).astype(int)
            cx, cy = x * px - left, paper_h * px - y * px - top  # the recorded centre in the window
            red = _red(window)
            if c.mistake is not None:
                assert red.sum() == 0, f"question {slot.number} option {c.letter}: red on a bubble not chosen"
                continue
            ys, xs = np.nonzero(red)
            ring_y, ring_x = np.nonzero(_dark(window) | red)  # the circle's (square's) own ink
            half = (ring_x.max() - ring_x.min()) / 2
            inside = np.pi * half ** 2 if v.form != "multi" else (2 * half) ** 2
            assert red.sum() > 0.45 * inside, f"question {slot.number}: the chosen bubble is not filled"
            # the fill's centre is the bubble's centre LaTeX recorded, and the centre of its ring
            assert abs(xs.mean() - cx) < 1.7 and abs(ys.mean() - cy) < 1.7
            assert abs((ring_x.min() + ring_x.max()) / 2 - xs.mean()) < 1.7
            assert abs((ring_y.min() + ring_y.max()) / 2 - ys.mean()) < 1.7
            checked += 1
    assert checked == sum(len(q.variant.correct_letters) for q in questions) >= 5


def test_the_exam_prints_no_red_and_the_key_shows_each_answer_in_its_box(calibrated):
    _, _, layout, pdf, side = calibrated
    with PdfDoc(pdf) as doc:
        for kind in ("exam", "key"):
            content = b"".join(doc.content(i) for i in side.pages["0", kind][:layout.n_pages])
            assert (b"1 0 0 rg" in content) == (kind == "key")
    text = subprocess.run(["pdftotext", "-f", str(side.pages["0", "key"][0] + 1), "-l",
                           str(side.pages["0", "key"][layout.n_pages - 1] + 1), str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert text.count("Answer:") == 5


# -- sketches, shared setup, part boxes side by side --------------------------------------------------

SKETCH_SPEC = {"title": "Sketch", "seed": 11, "sections": [
    {"title": "Memory", "questions": [{
        "generator": "transformer.activation_memory", "kind": "attention", "points": 9, "parts_in_row": True,
        "parts": [{"label": "a", "points": 3, "box_height": "1.6cm"}, {"label": "b", "points": 3, "box_height": "1.6cm"},
                  {"label": "c", "points": 3, "box_height": "1.6cm"}]}]},
    {"title": "Arithmetic", "shared_setup": True, "questions": [
        {"generator": "transformer.arithmetic_visibility", "points": 4},
        {"generator": "transformer.arithmetic_visibility", "points": 4}]},
]}
SETUP_WORDS = "A Transformer was trained, supervised, to do simple arithmetic"


@pytest.fixture(scope="module")
def sketched(tmp_path_factory):
    from .conftest import require_tex

    require_tex()
    built = _calibrate_and_typeset(ExamSpec.model_validate(SKETCH_SPEC), tmp_path_factory.mktemp("sketch"), draws=3)
    assert not built[-1].overflows
    return built


def _words(pdf, page_index: int) -> list[tuple[float, float, float, float, str]]:
    """(x1, y1, x2, y2, word) in bp from the page's top left, as pdftotext -bbox reads them."""
    import re

    out = subprocess.run(["pdftotext", "-bbox", "-f", str(page_index + 1), "-l", str(page_index + 1), str(pdf), "-"],
                         capture_output=True, text=True, check=True).stdout
    return [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in
            re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', out)]


def _rect(points, layout, top: str, bottom: str) -> tuple[float, float, float, float, int]:
    """A region LaTeX recorded, as (x1, y1, x2, y2) in bp from the page's top left, and its page."""
    bp = 72 / 72.27 / 65536
    (page, x1, y1), (_, x2, y2) = points[top], points[bottom]
    height = layout.paper_h * bp
    return x1 * bp, height - y1 * bp, (x2 if x2 > x1 else x1 + layout.text_w) * bp, height - y2 * bp, page


def test_sketch_axes_sit_in_the_answer_box_and_the_key_draws_the_plot_there(sketched):
    spec, heights, layout, pdf, side = sketched
    for kind in ("exam", "key"):
        points, pages = side.points["0", kind], side.pages["0", kind]
        for slot in layout.slots[1:]:  # the two arithmetic questions
            bx1, by1, bx2, by2, page = _rect(points, layout, f"{slot.boxes[0].name}:tl", f"{slot.boxes[0].name}:br")
            sx1, sy1, sx2, sy2, _ = _rect(points, layout, f"q{slot.number}:top", f"q{slot.number}:bottom")
            words = _words(pdf, pages[page - 1])
            titles = [w for w in words if w[4] == "Prob" and sy1 - 1 < w[1] < by2 + 1]
            assert len(titles) == 1, f"{kind} question {slot.number}: {len(titles)} plots in its slot"
            x1, y1, x2, y2, _ = titles[0]
            assert bx1 < x1 and x2 < (bx1 + bx2) / 2 and by1 < y1 and y2 < by2, \
                f"{kind} question {slot.number}: the axes are not in the left half of the answer box"
            inside = " ".join(w[4] for w in words if bx1 < w[0] and w[2] < bx2 and by1 < w[1] and w[3] < by2)
            assert ("Answer:" in inside) == (kind == "key")
            if kind == "key":  # the plot's bars carry their probabilities, the answer is beside it
                assert any(w[4] in ("1", "1/2", "1/3", "1/4", "1/5", "2/5") for w in words
                           if bx1 < w[0] < (bx1 + bx2) / 2 and by1 < w[1] < by2)


def test_a_shared_setup_is_printed_once_under_its_heading(sketched):
    spec, heights, layout, pdf, side = sketched
    for kind in ("exam", "key"):
        pages = side.pages["0", kind][:layout.n_pages]
        text = subprocess.run(["pdftotext", "-f", str(pages[0] + 1), "-l", str(pages[-1] + 1), str(pdf), "-"],
                              capture_output=True, text=True, check=True).stdout
        flat = " ".join(text.split())
        assert flat.count(SETUP_WORDS) == 1, kind
        assert flat.index("Arithmetic") < flat.index(SETUP_WORDS) < flat.index("Question 2")
    assert heights[1].setup > L.cm_sp(3) and heights[2].setup == 0  # measured, at the section's first slot


def test_part_boxes_in_a_row_share_their_top_and_split_the_width(sketched):
    spec, heights, layout, pdf, side = sketched
    slot = layout.slots[0]
    assert slot.in_row and slot.height < L.cm_sp(2) + slot.statement + L.cm_sp(1)
    for kind in ("exam", "key"):
        boxes = [side.points["0", kind][f"{b.name}:tl"] + side.points["0", kind][f"{b.name}:br"] for b in slot.boxes]
        tops = {b[2] for b in boxes}
        assert len(tops) == 1 and len({b[5] for b in boxes}) == 1  # one row, one height
        widths = [b[4] - b[1] for b in boxes]
        assert max(widths) - min(widths) <= 2 and all(a[4] < b[1] for a, b in zip(boxes, boxes[1:]))
        assert abs(sum(widths) + 2 * L.pt_sp(L.PART_COLUMN_GAP_PT) - layout.text_w) < 10


def test_shared_setup_and_parts_in_row_are_checked():
    from pydantic import ValidationError

    from examforge.errors import InputError
    from examforge.renderers.exam import exam_statement
    from examforge.variant import draw

    with pytest.raises(ValidationError, match="parts_in_row: puts 2 to 4 parts side by side; this question has no parts"):
        ExamSpec.model_validate({"title": "T", "seed": 1, "sections": [{"title": "A", "questions": [
            {"generator": "conv.output_shape", "points": 2, "parts_in_row": True}]}]})
    from examforge import registry

    with pytest.raises(InputError, match="shared_setup: conv.output_shape has no setup text to share"):
        exam_statement(draw(registry.get("conv.output_shape"), 1), shared_setup=True, where="sections[0]")
