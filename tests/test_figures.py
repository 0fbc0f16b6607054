"""examforge.figures: the bank's figures as models, drawn as LaTeX pictures (the PDFs), SVG (the web
drill) and text (the terminal), all from the same model."""

from __future__ import annotations

import math
import re
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from examforge import figures, registry
from examforge.figures import Axes, Bars, CellGrid, Curve, Window, auto_ticks, sampled
from examforge.renderers.blocks import question_text, solution_latex
from examforge.renderers.exam import memoize_figures
from examforge.variant import draw

_DATA = re.compile(r"\\effigure\{([A-Za-z0-9_=-]*)\}")

BAR = Axes(width_cm=6.5, height_cm=3.8, xmin=-0.6, xmax=4.6, ymin=0, ymax=1.25, xticks=(0, 1, 2, 3, 4),
           yticks=(0, 0.5, 1), title="Prob C", lines="left",
           series=(Bars(points=((1, 0.5), (3, 0.5)), labels=(r"$\frac{1}{2}$", r"$\frac{1}{2}$"), fill="gray!50",
                        stroke="black", bar_pt=14, label_font="\\small"),))
PARABOLA = Axes(width_cm=6.5, height_cm=4, lines="middle", xlabel="$w$", ylabel="$L$", ymin=0, tick_font="\\scriptsize",
                series=(Curve(points=sampled(lambda x: 0.5 * 5 * x**2, -3.45, 3.45, 61), colour="gray", width_pt=0.8),
                        Curve(points=((3, 22.5), (-1.8, 8.1), (1.08, 2.916)), colour="blue", width_pt=0.8, marks=True,
                              mark_radius_pt=1.5)))
GRID = CellGrid(rows=2, cols=3, cell_cm=0.6, values=(("$8$", "$6$", "$1$"), ("$3$", "$-1$", "$0$")),
                windows=(Window(top=0, left=0, rows=2, cols=2, colour="red!75!black", width_pt=1.2),
                         Window(top=0, left=1, rows=2, cols=2, colour="blue!70!black", width_pt=0.8, dashed=True,
                                inset=0.08)),
                left="$X = {}$", baseline="middle")
PATTERN = CellGrid(rows=4, cols=6, cell_cm=0.3, shaded=((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (2, 3), (3, 4)),
                   shade="blue!45", rule="gray!40", rule_pt=0.2, blocks=(2, 3), font="\\small",
                   above=r"$\partial C/\partial A$ ($4 \times 6$)")


def _figure_types():
    """The types whose templates print a figure (the `figure` filter is the only way to draw one)."""
    out = []
    for qtype in registry.all_types():
        paths = [registry.template_path(qtype.id, name) for name in ("question.tex.j2", "solution.tex.j2")]
        sources = [p.read_text(encoding="utf-8") for p in paths if p is not None and p.is_file()]
        assert not any("tikzpicture" in s or "begin{axis}" in s for s in sources), f"{qtype.id} writes TikZ"
        if any("|figure" in s for s in sources):
            out.append(qtype)
    return out


def test_every_figure_the_bank_draws_renders_to_latex_svg_and_text():
    """Every figure of every type that draws one, over many seeds and every form: the picture the
    PDF gets is the model's, and the same model draws as SVG and as text."""
    types = _figure_types()
    assert {t.id for t in types} >= {"pool.values", "pool.max_backward", "transformer.arithmetic_visibility",
                                     "jacobian.matmul", "optim.lr_stability"}
    kinds = set()
    for qtype in types:
        for form in qtype.forms:
            for seed in range(40):
                v = draw(qtype, seed, form=form)
                for render in (question_text, solution_latex):
                    pictures = render(v)
                    data = _DATA.findall(render(v, figure_mode="data"))
                    assert len(data) == len(figures.LATEX_FIGURE.findall(pictures))
                    assert "tikz" not in pictures and "\\effigure" not in pictures
                    for encoded in data:
                        fig = figures.decode(encoded)
                        kinds.add(type(fig).__name__)
                        assert figures.to_latex(fig) in pictures, f"{qtype.id} {form} seed {seed}"
                        svg = figures.to_svg(fig, str)
                        assert svg.startswith("<svg") and svg.endswith("</svg>") and not re.search(r"\bnan\b|\binf\b", svg)
                        assert figures.to_text(fig, str)
    assert kinds == {"Axes", "CellGrid"}


def test_axes_fill_in_limits_and_ticks_from_the_data():
    box = PARABOLA.box()
    assert box.xmin == -3.45 and box.xmax == 3.45 and box.ymin == 0
    assert box.ymax == pytest.approx(0.5 * 5 * 3.45**2)  # the data's top
    assert box.xticks == auto_ticks(-3.45, 3.45, box.w) and 0 in box.xticks
    # the width includes the labels, as pgfplots counts it: the axis box is 45pt narrower
    assert BAR.box().w == pytest.approx(6.5 / 2.54 * 72.27 - 45)
    bars_only = Axes(width_cm=5, height_cm=4, series=(Bars(points=((0, 2), (1, 3))),))
    assert bars_only.box().ymin == 0  # bars stand on 0


@pytest.mark.parametrize("build, message", [
    (lambda: Axes.model_validate(BAR.model_dump() | {"ymax": 0.25}), "lies outside the axes"),
    (lambda: Curve(points=((0, 0),), colour="nosuch"), "not an xcolor expression"),
    (lambda: Curve(points=((0, float("nan")),)), "finite number"),
    (lambda: Bars(points=((0, 1),), labels=("a", "b")), "2 labels for 1 bars"),
    (lambda: CellGrid(rows=2, cols=2, cell_cm=0.5, shaded=((2, 0),)), "outside the 2x2 grid"),
    (lambda: CellGrid(rows=2, cols=2, cell_cm=0.5, windows=(Window(top=0, left=1, rows=1, cols=2),)), "leaves the grid"),
    (lambda: CellGrid(rows=2, cols=2, cell_cm=0.5, values=(("1", "2"),)), "values must be 2 rows of 2"),
    (lambda: Axes(width_cm=5, height_cm=5, xmin=1, xmax=1), "empty range"),
])
def test_a_model_that_cannot_be_drawn_is_refused(build, message):
    with pytest.raises(ValidationError, match=message):
        build()


def test_points_land_where_the_axis_puts_them():
    code = figures.to_latex(BAR)
    box = BAR.box()
    # the bar at x=1 spans 1 -+ 7pt around X(1); its top at Y(0.5)
    x = (1 - box.xmin) / (box.xmax - box.xmin) * box.w
    y = 0.5 / 1.25 * box.h
    assert f"({x - 7:.2f},0)({x + 7:.2f},0)({x + 7:.2f},{y:.2f})".replace(".00", "") in code.replace(".00", "")
    assert code.count(r"\polygon*") == 2 and "Prob C" in code and r"\small$\frac{1}{2}$" in code
    grid = figures.to_latex(PATTERN)
    u = 0.3 * figures.PT_PER_CM
    assert grid.count(r"\rule{") == 8 and f"\\put(0,{3 * u:.2f}){{\\rule{{{u:.2f}pt}}" in grid  # cell (0, 0)
    assert grid.count(r"\line(0,1)") == 7 + 3 and grid.count(r"\line(1,0)") == 5 + 3  # every cell, every block
    raised = figures.to_latex(GRID)
    assert raised.startswith(r"{\setlength{\unitlength}{1pt}\raisebox{-17.07pt}{\begin{picture}")
    assert raised.count(r"\dashbox{3}") == 1 and raised.count(r"\polygon(") == 1


@given(lo=st.floats(-1000, 1000), span=st.floats(0.01, 2000), length=st.floats(60, 400))
def test_auto_ticks_are_evenly_spaced_round_numbers_inside_the_range(lo, span, length):
    hi = lo + span
    ticks = auto_ticks(lo, hi, length)
    assert 2 <= len(ticks)
    assert lo - 1e-9 * span <= ticks[0] and ticks[-1] <= hi + 1e-9 * span
    step = ticks[1] - ticks[0]
    if len(ticks) > max(3, length / 25.6 + 2):  # about one per 0.9 cm (25.6pt), unless the next
        # round step (1, 2, 5 x 10^k) would leave fewer than two ticks in the range
        power = 10 ** math.floor(math.log10(step) + 1e-12)
        bigger = min(m * power for m in (1, 2, 5, 10, 20) if m * power > step * (1 + 1e-9))
        assert math.floor(hi / bigger + 1e-9) - math.ceil(lo / bigger - 1e-9) < 1, (ticks, bigger)
    assert all(math.isclose(b - a, step, rel_tol=1e-6) for a, b in zip(ticks, ticks[1:]))
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-12)
    assert min(abs(mantissa - m) for m in (1, 2, 5, 10)) < 1e-6


def test_auto_ticks_examples():
    assert auto_ticks(0, 10, 200) == [0, 2, 4, 6, 8, 10]
    assert auto_ticks(-3.45, 3.45, 140) == [-2, 0, 2]
    assert auto_ticks(0, 0.9, 100) == pytest.approx([0, 0.5])


def test_colours_are_xcolor_expressions():
    assert figures.colour("blue!45") == "#8c8cff" and figures.colour("red!75!black") == "#bf0000"
    assert figures.colour("nosuch") is None and figures.colour("red!200") is None and figures.colour("red!x") is None


def test_the_drill_data_round_trips_and_junk_is_refused():
    for fig in (BAR, PARABOLA, GRID, PATTERN):
        encoded = figures.encode(fig)
        assert re.fullmatch(r"[A-Za-z0-9_=-]+", encoded)  # nothing LaTeX would read as markup
        assert figures.decode(encoded) == fig
        assert figures.as_data(fig) == f"\\effigure{{{encoded}}}"
    for junk in ("", "not base64!", figures.encode(BAR)[:-8], "eyJraW5kIjogImF4ZXMifQ==",  # {"kind": "axes"}
                 "A" * (figures.MAX_ENCODED + 4)):
        with pytest.raises(ValueError):
            figures.decode(junk)


def test_memoize_figures_shares_identical_pictures():
    plot, grid = figures.to_latex(BAR), figures.to_latex(GRID)
    out = memoize_figures(f"{plot} and {grid} and {plot} and {grid}")
    assert out.count(r"\efmemouse") == 2
    memos = re.findall(r"\\begin\{efmemo\}\{[0-9a-f]{16}\}(.*?)\\end\{efmemo\}", out, re.S)
    assert memos == [plot, grid]  # each figure whole, the raised grid included


def test_tikz_loads_only_when_a_figure_still_needs_it():
    head = "\\documentclass{exam}\n\\usepackage{tikz}% examforge:tikz\n\\usepackage{pgfplots}% examforge:tikz\n"
    pictures = figures.to_latex(BAR) + figures.to_latex(GRID)
    other = r"\begin{tikzpicture}\draw (0,0) -- (1,1);\end{tikzpicture}"  # a question folder's own figure
    only = memoize_figures(head + "\\begin{document}" + pictures + "\\end{document}")
    assert "tikz" not in only.split("\\begin{document}")[0] and r"\begin{picture}" in only
    mixed = memoize_figures(head + "\\begin{document}" + pictures + other + "\\end{document}")
    assert mixed.split("\\begin{document}")[0] == head and mixed.count(r"\begin{efmemo}") == 3


def test_the_pictures_compile_and_read_back(tmp_path, tex):
    doc = (r"\documentclass[11pt]{article}\usepackage{xcolor,pict2e}\begin{document}"
           + r"\par ".join(figures.to_latex(f) for f in (BAR, PARABOLA, GRID, PATTERN)) + r"\end{document}")
    (tmp_path / "p.tex").write_text(doc)
    run = subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "p.tex"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:]
    log = (tmp_path / "p.log").read_text(errors="replace")
    assert "Overfull" not in log and "tikz" not in log
    text = subprocess.run(["pdftotext", "-layout", "p.pdf", "-"], cwd=tmp_path, capture_output=True,
                          text=True, check=True).stdout
    assert "Prob C" in text and "0.5" in text and "w" in text and "L" in text
    for tick in ("4", "−2", "20"):
        assert tick in text.replace("-", "−")
    assert re.search(r"8\s+6\s+1", text) and re.search(r"X\s*=", text) and "∂C/∂A (4 × 6)" in text


def test_figures_in_an_exam_are_centred(tmp_path, tex):
    """A figure in a center environment sits in the middle of the text block (a memoized figure
    once started in vertical mode and ended up flush left): here the worked solution's plot, the
    last one of the key (the first, the question's sketch, is the key's answer box's, at its left)."""
    from examforge.renderers.compile import run_pdflatex
    from examforge.renderers.exam import DrawnQuestion, render_document
    from examforge.roster import Student
    from examforge.spec import ExamSpec

    spec = ExamSpec.model_validate({"title": "Plots", "seed": 0, "sections": [{"title": "T", "questions": [
        {"generator": "transformer.arithmetic_visibility", "form": "free", "points": 2}]}]})
    qtype = registry.get("transformer.arithmetic_visibility")
    questions = [DrawnQuestion(slot=0, section=0, spec=spec.slots()[0][2], variant=draw(qtype, 3, form="free"))]
    tex_file = tmp_path / "exam.tex"
    tex_file.write_text(render_document(spec, Student("t1", "Test Student"), questions, key=True))
    source = tex_file.read_text()
    assert r"\begin{picture}" in source and r"\usepackage{tikz}" not in source
    pdf = run_pdflatex(tex_file)
    bbox = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    words = re.findall(r'<page width="([\d.]+)"|<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', bbox)
    width = float(next(w[0] for w in words if w[0]))
    prob = [(float(a), float(b)) for _, a, b, text in words if text == "Prob"]
    assert prob, "the plot's title is not in the PDF"
    centre = (prob[-1][0] + prob[-1][1]) / 2
    assert abs(centre - width / 2) < 0.08 * width, f"title centred at {centre:.0f}pt on a {width:.0f}pt page"


def test_svg_draws_the_same_model():
    svg = figures.to_svg(BAR, str)
    assert svg.count("<rect") == 2 and "Prob C" in svg and svg.count(r"$\frac{1}{2}$") == 2  # bars and labels
    assert all(f">${t}$<" in svg for t in ("0", "1", "2", "3", "4", "0.5"))  # the ticks
    svg = figures.to_svg(PARABOLA, str)
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 3
    svg = figures.to_svg(GRID, str)
    assert svg.count("<text") == 7 and 'stroke="#bf0000"' in svg and "stroke-dasharray" in svg  # red!75!black
    svg = figures.to_svg(PATTERN, str)
    assert svg.count('fill="#8c8cff"') == 8 and svg.count("<line") == (7 + 5) + (3 + 3)


def test_text_draws_the_same_model():
    plain = lambda s: s.replace("$", "").replace("{}", "").replace("\\partial ", "∂").replace("\\times", "×")  # noqa: E731
    assert figures.to_text(GRID, plain) == ["    │ 8   6  1 │", "X = │ 3  -1  0 │"]
    shaded = GRID.model_copy(update={"shaded": ((0, 1),), "left": "", "windows": ()})
    assert figures.to_text(shaded, plain) == ["│  8  [ 6]  1  │", "│  3   -1   0  │"]
    assert figures.to_text(PATTERN, plain) == ["∂C/∂A (4 × 6)", "■ ■ ■ · · ·", "■ ■ ■ · · ·", "· · · ■ · ·",
                                               "· · · · ■ ·"]
    assert figures.to_text(BAR, plain) == ["Prob C", "  1 │████████ \\frac{1}{2}", "  3 │████████ \\frac{1}{2}"]
    assert figures.to_text(PARABOLA, plain) == ["(a plot; the web drill and the PDF key show it)"]


def test_the_figure_filter_draws_models_only():
    from examforge.renderers.latex import environment

    template = environment().from_string(r"\VAR{x|figure}")
    assert template.render(x=GRID) == figures.to_latex(GRID)
    assert template.render(x=GRID, figure_mode="data") == figures.as_data(GRID)
    with pytest.raises(TypeError, match="draws examforge.figures models, not a str"):
        template.render(x=r"\begin{tikzpicture}\end{tikzpicture}")
    with pytest.raises(ValueError, match="figure_mode 'svg'"):
        template.render(x=GRID, figure_mode="svg")
