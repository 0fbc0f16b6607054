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


# -- the tree is pylatexenc's ----------------------------------------------------------------------

from pylatexenc.latexwalker import LatexToken, LatexWalker  # noqa: E402

from examforge.drill import latexnodes  # noqa: E402


class _PlainWalker(LatexWalker):
    """pylatexenc's own walker, read as latexnodes reads it (its context; formulas and pictures
    as their source) but without any of `latexnodes.Walker`'s shortcuts."""

    def __init__(self, s, context):
        super().__init__(s, latex_context=context, tolerant_parsing=True)

    def get_token(self, pos, include_brace_chars=None, environments=True, keep_inline_math=None,
                  parsing_state=None, **kwargs):
        tok = super().get_token(pos, include_brace_chars=include_brace_chars, environments=environments,
                                parsing_state=parsing_state, **kwargs)
        in_math = parsing_state is not None and parsing_state.in_math_mode
        if (tok.tok in ("mathmode_inline", "mathmode_display") and tok.arg in latexnodes._MATH_SPECIALS
                and environments and not include_brace_chars and not in_math):
            return LatexToken(tok="specials", arg=latexnodes._MATH_SPECIALS[tok.arg], pos=tok.pos, len=tok.len,
                              pre_space=tok.pre_space)
        return tok


def _merged(nodes: list) -> list:
    """Our tree with adjacent Text nodes joined (the shortcuts cut text in other places)."""
    out: list = []
    for n in nodes:
        if isinstance(n, latexnodes.Text):
            if not n.s:
                continue
            if out and isinstance(out[-1], latexnodes.Text):
                out[-1] = latexnodes.Text(out[-1].s + n.s)
                continue
            out.append(latexnodes.Text(n.s))
            continue
        if isinstance(n, (latexnodes.Style, latexnodes.Block, latexnodes.Span)):
            n = type(n)(*[_merged(v) if isinstance(v, list) else v for v in vars(n).values()])
        elif isinstance(n, latexnodes.ListEnv):
            n = latexnodes.ListEnv(n.ordered, [latexnodes.Item(_merged(it.label) if it.label is not None else None,
                                                                _merged(it.children)) for it in n.items])
        elif isinstance(n, latexnodes.Table):
            n = latexnodes.Table(n.aligns, [latexnodes.Row([_merged(c) for c in r.cells], r.rule_above) for r in n.rows],
                                 n.rule_below)
        out.append(n)
    return out


def _dump(nodes) -> list:
    """pylatexenc's nodes as plain data, with adjacent character nodes joined."""
    out: list = []
    for n in nodes:
        if n is None:
            out.append(None)
            continue
        if type(n).__name__ == "LatexCharsNode":
            if out and isinstance(out[-1], str):
                out[-1] += n.chars
            else:
                out.append(n.chars)
            continue
        name = getattr(n, "macroname", None) or getattr(n, "environmentname", None) or getattr(n, "specials_chars", None)
        out.append((type(n).__name__, name, getattr(n, "delimiters", None), _dump(getattr(n, "nodelist", None) or []),
                    _dump(latexnodes.args(n))))
    return out


def _formulas(nodes: list) -> list[str]:
    found = []
    for n in nodes:
        if isinstance(n, latexnodes.Math):
            found.append(n.tex)
        for value in vars(n).values() if hasattr(n, "__dict__") else ():
            if isinstance(value, list):
                found += _formulas([x for x in value if hasattr(x, "__dict__")])
    return found


@pytest.mark.parametrize("qtype", registry.all_types(), ids=lambda t: t.id)
def test_the_tree_is_the_one_pylatexenc_reads(qtype):
    """latexnodes' shortcuts change nothing: every source of a variant of every form reads as the
    plain pylatexenc walker reads it, and every formula's nodes are the plain walker's."""
    for form in drill_forms(qtype):
        ex = exercise(qtype.id, 1, "medium", form)
        for src in [ex.question_latex, ex.solution_latex, ex.expected_latex, *[c.latex for c in ex.variant.choices]]:
            fast = latexnodes.parse(src)
            plain = latexnodes.read(_PlainWalker(src, latexnodes._CONTEXT).get_latex_nodes()[0])
            assert _merged(fast.nodes) == _merged(plain.nodes), f"{qtype.id} ({form}): {src[:200]!r}"
            assert fast.unknown == plain.unknown
            for tex in _formulas(fast.nodes):
                w = _PlainWalker(tex, latexnodes._MATH_CONTEXT)
                plain_math = w.get_latex_nodes(parsing_state=w.make_parsing_state(in_math_mode=True))[0]
                assert _dump(latexnodes.parse_math(tex)) == _dump(plain_math), f"{qtype.id} ({form}): {tex[:200]!r}"


def test_shortcuts_on_edge_cases():
    cases = [r"a {} b \textvisiblespace{}c", r"\item[$x$] [y] \\[2pt] z", "$a$$b$ $$c$$ \\(d\\) \\[e\\]",
             "x % comment\n y\n\n\\par z", r"\texttt{a{}b} {\bfseries c} \'e \c{c} \~n", "\\begin{tabbing}a \\= b\\kill\nc \\> d\\\\\n\\end{tabbing}",
             "\\textbf {x} \\emph\n{y}", r"unclosed $x"]
    for src in cases:
        plain = latexnodes.read(_PlainWalker(src, latexnodes._CONTEXT).get_latex_nodes()[0])
        assert _merged(latexnodes.parse(src).nodes) == _merged(plain.nodes), src


def test_the_node_model_imports_neither_renderer():
    """latexnodes holds the tree; markup (HTML) and plaintext (text) import it, never each other's
    way round: markup may use plaintext for the SVG labels, plaintext never imports markup."""
    import ast
    from pathlib import Path

    def imports(name: str) -> set[str]:
        tree = ast.parse(Path(latexnodes.__file__).with_name(f"{name}.py").read_text())
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                found.add(node.module or "")
                found.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
        return found

    assert not {m for m in imports("latexnodes") if "markup" in m or "plaintext" in m}
    assert not {m for m in imports("plaintext") if "markup" in m}
