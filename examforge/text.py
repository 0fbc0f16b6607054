"""LaTeX fragments as plain Unicode text, for the terminal and for checking PDFs' text."""

from __future__ import annotations

import re
from functools import lru_cache

from pylatexenc import latexwalker
from pylatexenc.macrospec import MacroSpec
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from examforge import figures


def _figure_stub(node, l2tobj) -> str:
    """A figure printed as data (\\effigure{...}) stands in the text as its (base64) data between
    NULs, and becomes the figure's text sketch once the spaces are tidied (see latex_to_text)."""
    args = node.nodeargd.argnlist if node.nodeargd is not None else []
    data = args[0].latex_verbatim()[1:-1] if args and args[0] is not None else ""
    return f"\n\n\0{data}\0\n\n"


_FIGURE_STUB = re.compile("\0([^\0]*)\0")


def _figure_text(m: re.Match) -> str:
    try:
        return "\n".join(figures.to_text(figures.decode(m.group(1)), latex_to_text))
    except ValueError:
        return "(a figure)"


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
        # symbols pylatexenc's defaults drop
        MacroTextSpec("det", simplify_repl="det "),  # "det A", as TeX prints it
        MacroTextSpec("ne", simplify_repl="\u2260"),
        MacroTextSpec("neg", simplify_repl="\u00ac"),
        MacroTextSpec("colon", simplify_repl=":"),
        MacroTextSpec("bigstar", simplify_repl="\u2605"),
        MacroTextSpec(figures.DATA_MACRO, simplify_repl=_figure_stub),
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
        MacroSpec(figures.DATA_MACRO, "{"),
    ],
)


_FAST_TOKEN = re.compile(r"\\([a-zA-Z]+)\s*|\\.|[{}$]|[^\\{}$]+")
_FAST_UNSAFE = re.compile(r"--|``|''|~|[%#&]")  # text pylatexenc would rewrite: leave it to pylatexenc


@lru_cache(maxsize=None)
def _simple_macro(name: str) -> str | None:
    """The text of an argument-free macro whose text is a fixed string, as pylatexenc has it."""
    parse_spec = _parse_context.get_macro_spec(name)
    text_spec = _context.get_macro_spec(name)
    parser = getattr(parse_spec, "args_parser", None)  # the walker reads unknown macros without arguments
    if text_spec is None or (parser is not None and getattr(parser, "argspec", "?")):
        return None
    repl = getattr(text_spec, "simplify_repl", None)
    return repl if isinstance(repl, str) and "%" not in repl else None


def _fast_text(latex: str) -> str | None:
    """pylatexenc's text for LaTeX made only of characters, groups, $ and argument-free macros
    with a fixed text (most answers: shapes, numbers, tuples); None for anything else. A test
    checks it against pylatexenc on every type's answers."""
    if _FAST_UNSAFE.search(latex) or latex.count("$") % 2:
        return None  # an unclosed $ changes how pylatexenc reads what follows
    out = []
    for m in _FAST_TOKEN.finditer(latex):
        tok = m.group(0)
        if tok[0] == "\\":
            repl = _simple_macro(m.group(1)) if m.group(1) else None
            if repl is None:
                return None
            out.append(repl)
        elif tok not in "{}$":
            out.append(tok)
    return "".join(out)


@lru_cache(maxsize=1 << 16)  # a class repeats many answers (shapes, True/False, small fractions)
def latex_to_text(latex: str) -> str:
    text = _fast_text(latex)
    if text is None:
        nodes, _, _ = latexwalker.LatexWalker(latex, latex_context=_parse_context, tolerant_parsing=True).get_latex_nodes()
        text = _converter.nodelist_to_text(nodes)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return _FIGURE_STUB.sub(_figure_text, text) if "\0" in text else text


def normalize(text: str) -> str:
    """For comparing what pdftotext read with what we expected: no spaces, ASCII minus."""
    text = text.replace("\u2212", "-").replace("\u00d7", "x").replace("_", "").replace("^", "")
    return re.sub(r"\s+", "", text)
