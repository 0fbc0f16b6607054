"""examforge.plot: the bank's pgfplots plots drawn as plain LaTeX pictures for the PDFs."""

from __future__ import annotations

import math
import re
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from examforge import registry
from examforge.plot import Unsupported, auto_ticks, axis_picture, parse_axis, to_picture
from examforge.renderers.blocks import question_text, solution_latex
from examforge.renderers.exam import memoize_figures
from examforge.variant import draw

_FIGURE = re.compile(r"\\begin\{tikzpicture\}(\[[^\]]*\])?(.*?)\\end\{tikzpicture\}", re.S)

BAR = r"""
\begin{axis}[ybar, width=6.5cm, height=3.8cm, ymin=0, ymax=1.25, xmin=-0.6, xmax=4.6,
  xtick={0,1,2,3,4}, ytick={0,0.5,1}, bar width=14pt, title={Prob C}, axis lines=left,
  point meta=explicit symbolic, nodes near coords, every node near coord/.append style={font=\small}]
\addplot[fill=gray!50, draw=black] coordinates {(1,0.5) [$\frac{1}{2}$] (3,0.5) [$\frac{1}{2}$] };
\end{axis}
"""
PARABOLA = r"""
\begin{axis}[width=6.5cm, height=4cm, axis lines=middle, xlabel={$w$}, ylabel={$L$},
  domain=-3.45:3.45, samples=61, ymin=0, scaled ticks=false,
  tick label style={font=\scriptsize}, every axis plot/.append style={thick}]
\addplot[gray] {0.5*5*x^2};
\addplot[blue, mark=*, mark size=1.5pt] coordinates {(3, 22.5) (-1.8, 8.1) (1.08, 2.916) };
\end{axis}
"""


def _bank_plots():
    """Every pgfplots axis the bank draws, over many seeds and every form."""
    for qtype in registry.all_types():
        for form in qtype.forms:
            for seed in range(40):
                v = draw(qtype, seed, form=form)
                for m in _FIGURE.finditer(question_text(v) + solution_latex(v)):
                    if "\\begin{axis}" in m.group(2):
                        yield qtype.id, form, seed, (m.group(1) or "[]")[1:-1], m.group(2)


def test_every_plot_the_bank_draws_gets_the_fast_picture():
    seen = set()
    for type_id, form, seed, options, body in _bank_plots():
        assert axis_picture(options, body) is not None, f"{type_id} {form} seed {seed} falls back to pgfplots"
        seen.add(type_id)
    assert {"optim.lr_stability", "transformer.arithmetic_visibility"} <= seen


def test_the_model_reads_limits_ticks_series_and_labels():
    bar = parse_axis("", BAR)
    assert (bar.xmin, bar.xmax, bar.ymin, bar.ymax) == (-0.6, 4.6, 0.0, 1.25)
    assert bar.xticks == [0, 1, 2, 3, 4] and bar.yticks == [0, 0.5, 1]
    assert bar.bars and bar.bar_w == 14 and bar.title == "Prob C" and bar.axis_lines == "left"
    assert bar.series[0].points == [(1, 0.5), (3, 0.5)]
    assert bar.series[0].labels == [r"$\frac{1}{2}$", r"$\frac{1}{2}$"]
    assert bar.series[0].fill == "gray!50" and bar.series[0].stroke == "black"
    # pgfplots' width includes the labels: the axis box is 45pt narrower
    assert bar.box_w == pytest.approx(6.5 / 2.54 * 72.27 - 45)

    par = parse_axis("", PARABOLA)
    curve, iterates = par.series
    assert len(curve.points) == 61 and curve.points[0] == pytest.approx((-3.45, 0.5 * 5 * 3.45**2))
    assert iterates.marks and iterates.mark_radius_pt == 1.5 and iterates.stroke == "blue"
    assert par.ymin == 0 and par.ymax == pytest.approx(0.5 * 5 * 3.45**2)  # the data's top
    assert par.xticks == auto_ticks(-3.45, 3.45, par.box_w) and 0 in par.xticks


def test_points_land_where_the_axis_puts_them():
    code = to_picture(parse_axis("", BAR))
    box = parse_axis("", BAR)
    # bar at x=1 spans 1 -+ 7pt around X(1); its top at Y(0.5)
    x = (1 - box.xmin) / (box.xmax - box.xmin) * box.box_w
    y = 0.5 / 1.25 * box.box_h
    assert f"({x - 7:.2f},0)({x + 7:.2f},0)({x + 7:.2f},{y:.2f})".replace(".00", "") in code.replace(".00", "")
    assert code.count(r"\polygon*") == 2 and "Prob C" in code and r"\small$\frac{1}{2}$" in code


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


@pytest.mark.parametrize("change", [
    ("axis lines=left", "axis lines=left, xmode=log"),          # an option we do not model
    (r"\addplot[fill", r"\node at (1,1) {x};\addplot[fill"),   # something besides plots
    ("ymax=1.25", "ymax=0.25"),                                 # data pgfplots would clip
    ("fill=gray!50", "fill=gray!50, pattern=north east lines"),
])
def test_anything_not_modelled_stays_pgfplots(change):
    body = BAR.replace(*change)
    assert body != BAR
    with pytest.raises(Unsupported):
        parse_axis("", body)
    assert axis_picture("", body) is None
    out = memoize_figures(r"\begin{tikzpicture}" + body + r"\end{tikzpicture}")
    assert r"\begin{axis}" in out and r"\begin{picture}" not in out


def test_memoize_figures_swaps_plots_and_keeps_sharing():
    fig = r"\begin{tikzpicture}" + BAR + r"\end{tikzpicture}"
    out = memoize_figures(f"{fig} and {fig}")
    assert r"\begin{axis}" not in out and out.count(r"\begin{picture}") == 1 and out.count(r"\efmemouse") == 1


def test_the_picture_compiles_and_reads_back(tmp_path, tex):
    doc = (r"\documentclass{article}\usepackage{xcolor,pict2e}\begin{document}"
           + to_picture(parse_axis("", BAR)) + r"\par " + to_picture(parse_axis("", PARABOLA))
           + r"\end{document}")
    (tmp_path / "p.tex").write_text(doc)
    run = subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "p.tex"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:]
    assert "Overfull" not in (tmp_path / "p.log").read_text(errors="replace")
    text = subprocess.run(["pdftotext", "-layout", "p.pdf", "-"], cwd=tmp_path, capture_output=True,
                          text=True, check=True).stdout
    assert "Prob C" in text and "0.5" in text and "w" in text and "L" in text
    for tick in ("4", "−2", "20"):
        assert tick in text.replace("-", "−")


def test_figures_in_an_exam_are_centred(tmp_path, tex):
    """A figure in a center environment sits in the middle of the text block (a memoized figure
    once started in vertical mode and ended up flush left)."""
    from examforge.renderers.compile import run_pdflatex
    from examforge.renderers.exam import DrawnQuestion, render_document
    from examforge.roster import Student
    from examforge.spec import ExamSpec

    spec = ExamSpec.model_validate({"title": "Plots", "seed": 0, "sections": [{"title": "T", "questions": [
        {"generator": "transformer.arithmetic_visibility", "form": "free", "points": 2}]}]})
    qtype = registry.get("transformer.arithmetic_visibility")
    questions = [DrawnQuestion(slot=0, section=0, spec=spec.slots()[0][2], variant=draw(qtype, 3, form="free"))]
    tex_file = tmp_path / "exam.tex"
    tex_file.write_text(render_document(spec, Student("t1", "Test Student"), questions, key=False))
    assert r"\begin{picture}" in tex_file.read_text() and r"\begin{axis}" not in tex_file.read_text()
    pdf = run_pdflatex(tex_file)
    bbox = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    words = re.findall(r'<page width="([\d.]+)"|<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', bbox)
    width = float(next(w[0] for w in words if w[0]))
    prob = [(float(a), float(b)) for _, a, b, text in words if text == "Prob"]
    assert prob, "the plot's title is not in the PDF"
    centre = (prob[-1][0] + prob[-1][1]) / 2
    assert abs(centre - width / 2) < 0.08 * width, f"title centred at {centre:.0f}pt on a {width:.0f}pt page"


def test_tikz_loads_only_when_a_figure_still_needs_it():
    head = "\\documentclass{exam}\n\\usepackage{tikz}% examforge:tikz\n\\usepackage{pgfplots}% examforge:tikz\n"
    plot = r"\begin{tikzpicture}" + BAR + r"\end{tikzpicture}"
    other = r"\begin{tikzpicture}\draw (0,0) -- (1,1);\end{tikzpicture}"
    only_plots = memoize_figures(head + "\\begin{document}" + plot + "\\end{document}")
    assert "tikz" not in only_plots.split("\\begin{document}")[0] and r"\begin{picture}" in only_plots
    mixed = memoize_figures(head + "\\begin{document}" + plot + other + "\\end{document}")
    assert mixed.split("\\begin{document}")[0] == head


def test_the_web_drill_draws_the_same_model_bars_and_all():
    from examforge.drill import plaintext, tikz

    svg = tikz.to_svg("", BAR, plaintext.flat_text)
    assert svg.count("<rect") == 2 and "Prob C" in svg and svg.count("1/2") == 2  # bars and their labels
    assert all(f">{t}<" in svg for t in ("0", "1", "2", "3", "4", "0.5"))  # the ticks
    svg = tikz.to_svg("", PARABOLA, plaintext.flat_text)
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 3
    assert tikz.to_svg("", BAR.replace("axis lines=left", "axis lines=left, xmode=log"), plaintext.flat_text) == ""
