"""Our LaTeX fragments as HTML (math left to KaTeX) and as terminal text, and figures (printed as
data, examforge.figures) as SVG and as text."""

from __future__ import annotations

import re

import pytest

from examforge import figures, registry
from examforge.drill import markup, plaintext
from examforge.drill.exercise import drill_forms, exercise


def test_text_macros_become_html():
    html = markup.to_html(r"A \textbf{bold} and \emph{new} \texttt{nn.Conv2d} with in\_features \& 50\%.")
    assert html == ("<p>A <strong>bold</strong> and <em>new</em> <code>nn.Conv2d</code> with in_features "
                    "&amp; 50%.</p>")


def test_math_is_left_for_katex_and_escaped():
    html = markup.to_html(r"Inline $a < b$ and display \[ \frac{1}{2} \] and $$x$$.")
    assert '<span class="math">a &lt; b</span>' in html
    assert '<div class="math display">\\frac{1}{2}</div>' in html
    assert '<div class="math display">x</div>' in html


def test_align_and_array_for_katex():
    html = markup.to_html("\\begin{align*}\na &= b\\\\\nc &= d\n\\end{align*}")
    assert html.startswith('<div class="math display">\\begin{align*}') and "&amp;= b" in html
    tex = markup.katex_tex(r"\begin{array}{l@{\qquad}l|r}a & b & c\end{array}")
    assert tex == r"\begin{array}{ll|r}a & b & c\end{array}"
    assert markup.katex_tex(r"\text{\textvisiblespace}") == "\\text{\u2423}"


def test_paragraphs_lists_and_center():
    html = markup.to_html("One.\n\nTwo \\par Three.\n\\begin{center}C\\end{center}\n"
                          "\\begin{itemize}\\item[(a)] first \\item[(b)] second\\end{itemize}")
    assert html.startswith("<p>One.</p><p>Two</p><p>Three.</p>")
    assert '<div class="center"><p>C</p></div>' in html
    assert '<ul class="labelled"><li><span class="item-label">(a)</span> first</li>' in html


def test_tabular_with_booktabs_rules_and_multicolumn():
    src = ("\\begin{tabular}{lr}\n\\toprule\nLayer & id \\\\\n\\midrule\nConv & 3 \\\\\n"
           "\\multicolumn{2}{l}{all} \\\\\n\\bottomrule\n\\end{tabular}")
    html = markup.to_html(src)
    assert '<tr class="rule-above-top"><td class="al-l">Layer</td><td class="al-r">id</td></tr>' in html
    assert '<tr class="rule-above-mid"><td class="al-l">Conv</td>' in html
    assert '<td class="al-l" colspan="2">all</td></tr></table>' in html and "rule-below-bottom" in html
    text = plaintext.to_text(src)
    assert text.split("\n")[1:4] == ["Layer  id", "\u2500" * 9, "Conv    3"]


def test_unknown_macros_are_reported_not_printed():
    frag = markup.parse(r"a \weird{b} c")
    assert frag.unknown == {"weird"}
    assert markup.to_html(r"a \weird{b} c") == "<p>a b c</p>"


def test_quotes_dashes_and_texttt_literals():
    assert markup.to_html("``x'' -- y --- z") == "<p>\u201cx\u201d \u2013 y \u2014 z</p>"
    assert markup.to_html(r"\texttt{a--b\textvisiblespace{}c}") == "<p><code>a--b\u2423c</code></p>"


def test_math_text_for_the_terminal():
    assert plaintext.math_text(r"z_1 = w_1 x = 1.5 \times (-1.5)") == "z\u2081 = w\u2081 x = 1.5 \u00d7 (-1.5)"
    assert plaintext.math_text(r"\frac{\partial L}{\partial X}") == "\u2202L/\u2202X"
    assert plaintext.math_text(r"\left\lfloor \frac{5 + 2\cdot 0 - 3}{1} \right\rfloor + 1") == "\u230a(5 + 2\u00b70 - 3)/1\u230b + 1"
    assert plaintext.math_text(r"P(+ \mid \neg D)").replace(" ", "") == "P(+|\u00acD)"
    assert plaintext.math_text(r"\delta_t\, h_{t-1}") == "\u03b4\u209c h\u209c\u208b\u2081"


def test_display_matrices_are_two_dimensional_in_the_terminal():
    lines = plaintext.display_math_lines(r"X = \begin{bmatrix} 1 & -2 \\ 3 & 4 \end{bmatrix}")
    assert lines == ["X = \u23a1 1  -2 \u23a4", "    \u23a3 3   4 \u23a6"]


def test_aligned_rows_keep_their_columns():
    lines = plaintext.display_math_lines("\\begin{align*}\nz_1 &= 2\\\\\n\\hat y &= 10\n\\end{align*}")
    assert [line.index("=") for line in lines] == [lines[0].index("=")] * 2


def test_figures_printed_as_data_become_svg_and_text():
    grid = figures.CellGrid(rows=2, cols=2, cell_cm=0.6, values=(("$8$", "$6$"), ("$3$", "$-1$")),
                            windows=(figures.Window(top=0, left=0, rows=1, cols=1, colour="red!75!black"),),
                            left="$X = {}$")
    src = "The map\n\\begin{center}\n" + figures.as_data(grid) + "\n\\end{center}\nbelow."
    html = markup.to_html(src)
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert '<span class="figure"><svg' in html and svg.count("<text") == 5 and 'stroke="#bf0000"' in svg
    assert ">X =<" in svg and ">-1<" in svg  # labels as text, not LaTeX
    assert not markup.parse(src).unknown
    assert plaintext.to_text(src).split("\n")[2:4] == [" " * 12 + "\u2502 8   6 \u2502", " " * 8 + "X = \u2502 3  -1 \u2502"]


def test_figures_the_drill_cannot_draw_leave_a_note():
    for src in (r"\begin{tikzpicture}\draw (0,0) -- (1,1); \node at (0,0) {x};\end{tikzpicture}",
                r"{\setlength{\unitlength}{1pt}\begin{picture}(10,10)\put(0,0){x}\end{picture}}",
                r"\effigure{bm90IGEgZmlndXJl}"):  # base64 of "not a figure"
        html = markup.to_html(src)
        assert "figure-note" in html and "draw" not in html and "put" not in html and "<svg" not in html
        assert plaintext.to_text(src) == "    (a figure: the PDF shows it)"


@pytest.mark.parametrize("qtype", registry.all_types(), ids=lambda t: t.id)
def test_every_type_uses_only_understood_latex(qtype):
    """Questions, solutions, answers and options of every registered type convert without
    unknown macros, and no LaTeX command leaks into the HTML outside math."""
    for form in drill_forms(qtype):
        for seed in range(4):
            ex = exercise(qtype.id, seed, "medium", form)
            sources = [ex.question_latex, ex.solution_latex, ex.answer_latex, ex.expected_latex,
                       *[c.latex for c in ex.variant.choices]]
            for src in sources:
                frag = markup.parse(src)
                assert not frag.unknown, f"{qtype.id} seed {seed} ({form}): unknown LaTeX {sorted(frag.unknown)}"
                html = markup.to_html(src)
                outside = re.sub(r'<(span|div) class="math[^"]*">.*?</\1>|<svg.*?</svg>', "", html, flags=re.S)
                assert not re.search(r"\\[a-zA-Z]+", outside), f"{qtype.id} seed {seed}: LaTeX leaked: {outside[:300]}"
                assert plaintext.to_text(src).strip()
