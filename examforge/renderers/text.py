"""LaTeX fragments as plain Unicode text, for the terminal and for checking PDFs' text."""

from __future__ import annotations

import re
from functools import lru_cache

from pylatexenc import latexwalker
from pylatexenc.macrospec import MacroSpec
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

_context = get_default_latex_context_db().filter_context()
_context.add_context_category(
    "examforge",
    prepend=True,
    macros=[
        MacroTextSpec("texttt", simplify_repl="%(1)s"),
        MacroTextSpec("textvisiblespace", simplify_repl="\u2423"),
        MacroTextSpec("textquotesingle", simplify_repl="'"),
        MacroTextSpec("textquotedbl", simplify_repl='"'),
        MacroTextSpec("textasciigrave", simplify_repl="`"),
        MacroTextSpec("frac", simplify_repl="(%(1)s)/(%(2)s)"),
        MacroTextSpec("tfrac", simplify_repl="%(1)s/%(2)s"),
        MacroTextSpec("dfrac", simplify_repl="(%(1)s)/(%(2)s)"),
    ],
)
_converter = LatexNodes2Text(latex_context=_context, math_mode="text", strict_latex_spaces=True)

# The parser must know how many arguments our macros take.
_parse_context = latexwalker.get_default_latex_context_db().filter_context()
_parse_context.add_context_category(
    "examforge",
    prepend=True,
    macros=[
        MacroSpec("tfrac", "{{"),
        MacroSpec("dfrac", "{{"),
        MacroSpec("texttt", "{"),
        MacroSpec("textvisiblespace", ""),
    ],
)


@lru_cache(maxsize=1 << 16)  # a class repeats many answers (shapes, True/False, small fractions)
def latex_to_text(latex: str) -> str:
    nodes, _, _ = latexwalker.LatexWalker(latex, latex_context=_parse_context, tolerant_parsing=True).get_latex_nodes()
    text = _converter.nodelist_to_text(nodes)
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def normalize(text: str) -> str:
    """For comparing what pdftotext read with what we expected: no spaces, ASCII minus."""
    text = text.replace("\u2212", "-").replace("\u00d7", "x").replace("_", "").replace("^", "")
    return re.sub(r"\s+", "", text)
