"""Our LaTeX fragments (question, solution, options) as HTML for the web drill: the tree of
latexnodes.py (read with pylatexenc's walker) rendered as paragraphs, lists and tables, with
math left as TeX inside <span class="math"> for the vendored KaTeX to typeset in the browser."""

from __future__ import annotations

import html
import re
from functools import lru_cache

from examforge import figures
from examforge.drill.latexnodes import (
    Block, Break, Figure, ListEnv, Math, Par, RowEnd, Span, Style, Tab, Table, Text, array_specs, parse,
)
from examforge.drill.plaintext import flat_text

__all__ = ["inline_html", "katex_tex", "parse", "to_html"]

# -- HTML ------------------------------------------------------------------------------------

_KATEX_REWRITES = (
    (re.compile(r"\\textvisiblespace(?:\{\})?"), "\u2423"),
    (re.compile(r"\\(textquotesingle|textquotedbl|textasciigrave)(?:\{\})?"),
     lambda m: {"textquotesingle": "'", "textquotedbl": '"', "textasciigrave": "`"}[m.group(1)]),
)


_FOREIGN_COLUMN = re.compile(r"[@!<>pmb]\{|X")  # maybe a column KaTeX lacks: then the specs are rewritten


def katex_tex(tex: str) -> str:
    """Math as KaTeX reads it: array column specs without @{...}/!{...}/>{...}/<{...} (KaTeX
    knows only l, c, r, | and :), p{..} columns as l, and text macros KaTeX lacks as characters."""
    if ("\\begin{array}" in tex or "\\begin{darray}" in tex) and _FOREIGN_COLUMN.search(tex):
        for start, end, spec in sorted(array_specs(tex), reverse=True):
            tex = tex[:start] + spec + tex[end:]
    for pattern, repl in _KATEX_REWRITES:
        tex = pattern.sub(repl, tex)
    return tex


_BLOCK_TYPES = (Block, ListEnv, Table)


def _is_block(node) -> bool:
    return isinstance(node, _BLOCK_TYPES) or (isinstance(node, Math) and node.display)


def _html_inline(nodes: list) -> str:
    out = []
    for n in nodes:
        if isinstance(n, Text):
            out.append(html.escape(n.s, quote=False))
        elif isinstance(n, Math):
            cls = "math display" if n.display else "math"
            out.append(f'<span class="{cls}">{html.escape(katex_tex(n.tex), quote=False)}</span>')
        elif isinstance(n, Span):
            out.append(_html_inline(n.children))
        elif isinstance(n, Style):
            tag = {"b": "strong", "i": "em", "tt": "code", "u": "u"}[n.kind]
            out.append(f"<{tag}>{_html_inline(n.children)}</{tag}>")
        elif isinstance(n, (Break, RowEnd)):
            out.append("<br>")
        elif isinstance(n, Tab):
            out.append("&amp;")
        elif isinstance(n, Par):
            out.append(" ")
        elif isinstance(n, Figure) and n.figure is None:
            out.append('<span class="figure-note">(a figure: the PDF shows it)</span>')
        elif isinstance(n, Figure):
            out.append(f'<span class="figure">{figures.to_svg(n.figure, flat_text)}</span>')
        elif _is_block(n):
            out.append(_html_flow([n]))
    return "".join(out)


def _html_flow(nodes: list) -> str:
    out: list[str] = []
    para: list = []

    def flush():
        inner = _html_inline(para).strip()
        if inner:
            out.append(f"<p>{inner}</p>")
        para.clear()

    for n in nodes:
        if isinstance(n, Par):
            flush()
        elif isinstance(n, Math) and n.display:
            flush()
            out.append(f'<div class="math display">{html.escape(katex_tex(n.tex), quote=False)}</div>')
        elif isinstance(n, Block):
            flush()
            out.append(f'<div class="{html.escape(n.kind)}">{_html_flow(n.children)}</div>')
        elif isinstance(n, ListEnv):
            flush()
            labelled = any(it.label is not None for it in n.items)
            tag = "ol" if n.ordered else "ul"
            cls = ' class="labelled"' if labelled else ""
            items = []
            for it in n.items:
                label = f'<span class="item-label">{_html_inline(it.label)}</span> ' if it.label is not None else ""
                body = _html_flow(it.children)
                if body.startswith("<p>") and body.endswith("</p>") and body.count("<p>") == 1:
                    body = body[3:-4]  # a one-paragraph item needs no paragraph
                items.append(f"<li>{label}{body}</li>")
            out.append(f"<{tag}{cls}>{''.join(items)}</{tag}>")
        elif isinstance(n, Table):
            flush()
            out.append(_html_table(n))
        else:
            para.append(n)
    flush()
    return "".join(out)


def _html_table(t: Table) -> str:
    rows = []
    for r_index, row in enumerate(t.rows):
        classes = []
        if row.rule_above:
            classes.append(f"rule-above-{row.rule_above}")
        if r_index == len(t.rows) - 1 and t.rule_below:
            classes.append(f"rule-below-{t.rule_below}")
        cls = f' class="{" ".join(classes)}"' if classes else ""
        cells = []
        column = 0
        for cell in row.cells:
            align = t.aligns[column] if column < len(t.aligns) else "l"
            span = next((n.n for n in cell if isinstance(n, Span)), 1)
            attr = f' colspan="{span}"' if span > 1 else ""
            cells.append(f'<td class="al-{align}"{attr}>{_html_inline(cell).strip()}</td>')
            column += span
        rows.append(f"<tr{cls}>{''.join(cells)}</tr>")
    return f'<table class="tabular">{"".join(rows)}</table>'


@lru_cache(maxsize=512)
def to_html(latex: str) -> str:
    """HTML for a LaTeX fragment; math stays TeX inside <span class="math"> for KaTeX."""
    return _html_flow(parse(latex).nodes)


@lru_cache(maxsize=4096)
def inline_html(latex: str) -> str:
    """HTML for a short fragment (an option, an answer) without paragraph tags."""
    return _html_inline(parse(latex).nodes).strip()
