"""Our LaTeX fragments (question, solution, options) as a small tree, read with pylatexenc's
`LatexWalker`. markup.py renders the tree as HTML for the web drill, plaintext.py as Unicode
text for the terminal; both import it from here, and nothing here imports them.

Only the subset our templates use is understood: text macros (\\textbf, \\emph, \\texttt,
\\textvisiblespace, ...), paragraphs and spacing, center, itemize/enumerate with \\item[(a)],
tabular with booktabs rules, tabbing, TikZ pictures and math ($...$, \\[...\\], align*, ...).
Unknown macros are dropped (their arguments still print) and collected in `Fragment.unknown`,
so a test can check that every registered type uses only what is understood here.

Math and pictures are kept as their source, read like \\verb up to their closing delimiter: the
browser typesets math with the vendored KaTeX, figures are drawn from their model
(examforge.figures: the templates print `\\effigure{...}` in data mode), and the terminal
reads a formula with the same walker in math mode (`parse_math`) when it needs its text.

`Walker` is pylatexenc's walker with shortcuts that give the same tree, faster (pylatexenc reads
one character per token and parses every group with a fresh call): a run of ordinary characters
is one token, an alphabetic macro or a brace is found with one regular expression, a group
holding only characters is read in one step; in text, inline formulas and empty groups {} stay
inside the character runs (`_Reader.text` cuts them out). tests/test_drill_markup.py checks
that the tree we read is the one the plain walker gives for every type's LaTeX.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from pylatexenc import latexwalker
from pylatexenc.latexwalker import (
    LatexCharsNode, LatexCommentNode, LatexEnvironmentNode, LatexGroupNode, LatexMacroNode,
    LatexMathNode, LatexSpecialsNode, LatexToken,
)
from pylatexenc.macrospec import (
    EnvironmentSpec, MacroSpec, MacroStandardArgsParser, ParsedMacroArgs, SpecialsSpec,
)

from examforge import figures

# -- the tree --------------------------------------------------------------------------------


@dataclass
class Text:
    s: str


@dataclass
class Math:
    tex: str
    display: bool


@dataclass
class Style:
    kind: str  # "b", "i", "tt", "u"
    children: list


@dataclass
class Break:  # \\ or \newline in running text
    pass


@dataclass
class Par:  # a blank line, \par, \medskip, ...
    pass


@dataclass
class Block:  # center, quote, flushleft, ...
    kind: str
    children: list


@dataclass
class Item:
    label: list | None
    children: list


@dataclass
class ListEnv:
    ordered: bool
    items: list[Item]


@dataclass
class Figure:  # a figure's model (\effigure): SVG on the web, text in the terminal; None: only the PDF has it
    figure: object  # examforge.figures.Axes | CellGrid | None


@dataclass
class Span:  # \multicolumn{n}{spec}{text}
    n: int
    children: list


@dataclass
class Row:
    cells: list[list]
    rule_above: str | None = None


@dataclass
class Table:
    aligns: list[str]  # "l" | "c" | "r" per column
    rows: list[Row]
    rule_below: str | None = None


# Markers left in running text outside an environment that gives them a meaning.
@dataclass
class Tab:  # & outside a table
    pass


@dataclass
class RowEnd:  # \\ outside a table: a line break
    pass


# Markers used only while reading an environment's body.
@dataclass
class _ItemMark:
    label: list | None


@dataclass
class _Rule:
    kind: str


@dataclass
class Fragment:
    nodes: list
    unknown: set[str] = field(default_factory=set)


# -- the walker -------------------------------------------------------------------------------

MATH_ENVS = (
    "align", "align*", "aligned", "equation", "equation*", "gather", "gather*", "multline",
    "multline*", "displaymath", "math", "alignat", "alignat*", "flalign", "flalign*",
)
# What closes a formula opened by each delimiter: its source is everything up to there, with
# any \x pair skipped (so \$ and \\ stay inside). One pass, no backtracking.
_MATH_CLOSE = {
    "$": ("$", re.compile(r"(?:[^\\$]|\\.)*", re.S)),
    "$$": ("$$", re.compile(r"(?:[^\\$]|\\.|\$(?!\$))*", re.S)),
    "\\(": ("\\)", re.compile(r"(?:[^\\]|\\[^)])*", re.S)),
    "\\[": ("\\]", re.compile(r"(?:[^\\]|\\[^\]])*", re.S)),
}


class _Source(MacroStandardArgsParser):
    """Reads what follows as source text, like \\verb: a formula up to its closing delimiter, or
    an environment's body (after its optional argument) up to its \\end. The argument list is
    [optional argument or None, a chars node with the source]."""

    def __init__(self, *, close: str | None = None, env: str | None = None):
        super().__init__(argspec="[{" if env else "{")
        self.close, self.env = close, env

    def parse_args(self, w, pos, parsing_state=None):
        args: list = []
        start = pos
        if self.env is not None:
            opt = w.get_latex_maybe_optional_arg(pos, parsing_state=parsing_state) if self.env == "tikzpicture" else None
            args.append(opt[0] if opt else None)
            if opt:
                pos = opt[1] + opt[2]
            end = w.s.find(f"\\end{{{self.env}}}", pos)
            end = len(w.s) if end < 0 else end
            after = end  # the walker reads the \end itself
        else:
            closing, body = _MATH_CLOSE[self.close]
            end = body.match(w.s, pos).end()
            after = min(len(w.s), end + len(closing))
        args.append(w.make_node(LatexCharsNode, parsing_state=parsing_state, chars=w.s[pos:end], pos=pos,
                                len=end - pos))
        return ParsedMacroArgs(argspec=self.argspec, argnlist=args), start, after - start


class _CmidruleArgs(MacroStandardArgsParser):
    """\\cmidrule[width](trim){a-b}: the (trim) part is not one pylatexenc knows."""

    _TRIM = re.compile(r"\s*\([a-z]*\)")

    def __init__(self):
        super().__init__(argspec="[{")

    def parse_args(self, w, pos, parsing_state=None):
        opt = w.get_latex_maybe_optional_arg(pos, parsing_state=parsing_state)
        p = opt[1] + opt[2] if opt else pos
        trim = self._TRIM.match(w.s, p)
        p = trim.end() if trim else p
        node, np_, nl = w.get_latex_expression(p, parsing_state=parsing_state)
        return ParsedMacroArgs(argspec="[{", argnlist=[opt[0] if opt else None, node]), pos, np_ + nl - pos


_MATH_SPECIALS = {delim: SpecialsSpec(delim, args_parser=_Source(close=delim)) for delim in _MATH_CLOSE}


class _TabbingArgs(MacroStandardArgsParser):
    """No arguments; the body is read with \\= and \\> as tab stops (elsewhere \\= is an accent
    taking an argument)."""

    def parse_args(self, w, pos, parsing_state=None):
        inner = (parsing_state or w.make_parsing_state()).sub_context(latex_context=_TABBING_CONTEXT)
        return ParsedMacroArgs(argspec="", argnlist=[]), pos, 0, {"inner_parsing_state": inner}


def _context(kind: str = "text"):
    """The walker's context: "text" reads formulas and pictures as their source, "tabbing" also
    has \\= and \\> as tab stops, "math" reads a formula's body (aligned environments included)."""
    ctx = latexwalker.get_default_latex_context_db().filter_context()
    if kind == "tabbing":
        ctx.add_context_category("tabbing", prepend=True, macros=[MacroSpec("=", ""), MacroSpec(">", "")])
    sources = [] if kind == "math" else [
        EnvironmentSpec("tikzpicture", args_parser=_Source(env="tikzpicture")),
        EnvironmentSpec("picture", args_parser=_Source(env="picture")),
        *[EnvironmentSpec(env, args_parser=_Source(env=env)) for env in MATH_ENVS],
    ]
    ctx.add_context_category(
        "examforge",
        prepend=True,
        macros=[
            MacroSpec(figures.DATA_MACRO, "{"), MacroSpec("tfrac", "{{"), MacroSpec("dfrac", "{{"), MacroSpec("textnormal", "{"),
            MacroSpec("makebox", "[[{"), MacroSpec("phantom", "{"), MacroSpec("addvspace", "{"),
            MacroSpec("index", "{"), MacroSpec("addtolength", "{{"), MacroSpec("addtocounter", "{{"),
            MacroSpec("multicolumn", "{{{"), MacroSpec("cline", "{"), MacroSpec("cmidrule", args_parser=_CmidruleArgs()),
            MacroSpec("boldsymbol", "{"), MacroSpec("bm", "{"), MacroSpec("operatorname", "*{"),
        ],
        environments=[
            *sources,
            EnvironmentSpec("tabular", "[{"), EnvironmentSpec("tabular*", "{[{"), EnvironmentSpec("minipage", "[[[{"),
            EnvironmentSpec("description", "["), EnvironmentSpec("checkboxes", "["),
            EnvironmentSpec("tabbing", args_parser=_TabbingArgs()), EnvironmentSpec("darray", "[{"),
        ],
    )
    return ctx


_CONTEXT = _context()
_TABBING_CONTEXT = _context("tabbing")
_MATH_CONTEXT = _context("math")
# A run of characters none of which starts a token of its own: no \, %, braces, $ or one of the
# context's specials (&, ~, --, ``, '', ...). Everything else is read by pylatexenc itself.
_SPECIALS = sorted({s.specials_chars for s in _CONTEXT.iter_specials_specs()}, key=len, reverse=True)
_SPECIAL = re.compile("|".join(re.escape(s) for s in _SPECIALS))
_CHAR = ("(?!" + "|".join(re.escape(s) for s in _SPECIALS if len(s) > 1) + ")[^\\\\%{}$"
         + "".join(re.escape(s) for s in _SPECIALS if len(s) == 1) + "]")
_RUN = re.compile(f"(?:{_CHAR})+")
# In text, an inline formula $...$ is source text to us (KaTeX and plaintext read it), and an
# empty group {} only ends a macro's name (\\textvisiblespace{}): the run goes on through both,
# and `_Reader.text` cuts the formulas out and drops the {}. Fewer nodes, so a faster walk.
_INLINE_FORMULA = r"\$(?!\$)" + _MATH_CLOSE["$"][1].pattern + r"\$"
_TEXT_RUN = re.compile(f"(?:{_CHAR}|{_INLINE_FORMULA}|\\{{\\}})+", re.S)
_FORMULA_OR_EMPTY = re.compile(f"{_INLINE_FORMULA}|\\{{\\}}", re.S)
# Inside [...], or looking for one: a run stops at the brackets too (and starts after blanks).
_BRACKET_RUN = re.compile(f"(?:(?![\\[\\]\\s]){_CHAR})(?:(?![\\[\\]]){_CHAR})*")
_ONE_CHAR = re.compile(f"(?!\\s){_CHAR}")  # a macro's one-token argument
# A group with nothing inside but characters (and, in text, formulas): {ij}, {The}, [(a)].
_FLAT_GROUP = {
    ("{", False): re.compile(f"\\{{((?:{_CHAR}|{_INLINE_FORMULA})*)\\}}", re.S),
    ("{", True): re.compile(f"\\{{((?:{_CHAR})*)\\}}"),
    ("[", False): re.compile(f"\\[((?:(?![\\[\\]]){_CHAR}|{_INLINE_FORMULA})*)\\]", re.S),
    ("[", True): re.compile(f"\\[((?:(?![\\[\\]]){_CHAR})*)\\]"),
}
_BLANK = re.compile(r"[^\S\n]*(?:\n[^\S\n]*)?")  # blanks before a token: a blank line is pylatexenc's
# An alphabetic macro and the blanks after it (at most one newline: a blank line ends them),
# as pylatexenc reads them; a name followed by a non-ASCII letter is left to pylatexenc.
_MACRO = re.compile(r"\\([a-zA-Z]+)((?:[^\S\n]|\n(?!\n))*)")


class Walker(latexwalker.LatexWalker):
    """pylatexenc's walker with the shortcuts described in the module's docstring."""

    def __init__(self, s: str, context=_CONTEXT):
        super().__init__(s, latex_context=context, tolerant_parsing=True)

    def get_token(self, pos, include_brace_chars=None, environments=True, keep_inline_math=None,
                  parsing_state=None, **kwargs):
        """pylatexenc's token at `pos`, found with one regular expression where that is safe; the
        rest (\\begin, comments, specials, a blank line before an argument...) by pylatexenc."""
        brackets = include_brace_chars == [("[", "]")]  # an optional argument, or looking for one
        if (include_brace_chars and not brackets) or kwargs:
            return super().get_token(pos, include_brace_chars=include_brace_chars, environments=environments,
                                     parsing_state=parsing_state, **kwargs)
        s = self.s
        in_math = parsing_state is not None and parsing_state.in_math_mode
        if environments and not brackets:  # reading nodes: a run of characters, blanks included
            m = (_RUN if in_math else _TEXT_RUN).match(s, pos)
            if m:
                return LatexToken(tok="char", arg=m.group(), pos=pos, len=m.end() - pos, pre_space="")
        space = _BLANK.match(s, pos).group()
        p = pos + len(space)
        c = s[p : p + 1]
        if c == "\\":
            m = _MACRO.match(s, p)
            if m and m.group(1) not in ("begin", "end") and not s[m.end(1) : m.end(1) + 1].isalpha():
                return LatexToken(tok="macro", arg=m.group(1), pos=p, len=m.end() - p, pre_space=space,
                                  post_space=m.group(2))
            if not in_math and environments and not brackets and s[p + 1 : p + 2] in ("(", "["):
                return LatexToken(tok="specials", arg=_MATH_SPECIALS[s[p : p + 2]], pos=p, len=2, pre_space=space)
        elif c in ("{", "}") or (brackets and c in ("[", "]")):
            return LatexToken(tok="brace_open" if c in "{[" else "brace_close", arg=c, pos=p, len=1, pre_space=space)
        elif c == "$":
            if not in_math and environments and not brackets:
                delim = "$$" if s.startswith("$$", p) else "$"
                return LatexToken(tok="specials", arg=_MATH_SPECIALS[delim], pos=p, len=len(delim), pre_space=space)
        elif c and c != "\n":
            m = (_BRACKET_RUN if environments else _ONE_CHAR).match(s, p)
            if m:
                return LatexToken(tok="char", arg=m.group(), pos=p, len=m.end() - p, pre_space=space)
            m = _SPECIAL.match(s, p)
            if m and parsing_state is not None:  # &, ~, --, ...: as pylatexenc finds them, the longest first
                spec = parsing_state.latex_context.get_specials_spec(m.group())
                return LatexToken(tok="specials", arg=spec, pos=p, len=m.end() - p, pre_space=space)
        return super().get_token(pos, include_brace_chars=include_brace_chars, environments=environments,
                                 parsing_state=parsing_state, **kwargs)


    def get_latex_braced_group(self, pos, brace_type="{", parsing_state=None):
        """pylatexenc's group at `pos`; one with only characters inside is read in one step."""
        in_math = parsing_state is not None and parsing_state.in_math_mode
        flat = _FLAT_GROUP.get((brace_type, in_math))
        if flat is not None:
            p = pos + len(_BLANK.match(self.s, pos).group())
            m = flat.match(self.s, p)
            if m:
                state = parsing_state or self.make_parsing_state()
                inner = m.group(1)
                nodes = [self.make_node(LatexCharsNode, parsing_state=state, chars=inner, pos=p + 1,
                                        len=len(inner))] if inner else []
                return self._mknodeposlen(LatexGroupNode, nodelist=nodes, parsing_state=state,
                                          delimiters=(brace_type, "}" if brace_type == "{" else "]"), pos=p,
                                          len=m.end() - p)
        return super().get_latex_braced_group(pos, brace_type=brace_type, parsing_state=parsing_state)


def walk(latex: str) -> list:
    """pylatexenc's nodes for a text fragment (formulas and pictures left as their source)."""
    return Walker(latex).get_latex_nodes()[0]


@lru_cache(maxsize=4096)
def parse_math(tex: str) -> tuple:
    """pylatexenc's nodes for the body of a formula, read in math mode."""
    w = Walker(tex, _MATH_CONTEXT)
    return tuple(w.get_latex_nodes(parsing_state=w.make_parsing_state(in_math_mode=True))[0])


def source(node) -> str:
    """The source text a `_Source` argument parser kept (a formula's body, a picture's body)."""
    return node.nodeargd.argnlist[-1].chars


def math_of(node) -> Math | None:
    """A formula node of the text walker as a Math, or None for any other node."""
    if isinstance(node, LatexSpecialsNode) and node.specials_chars in _MATH_SPECIALS:
        return Math(source(node).strip(), node.specials_chars != "$")
    if isinstance(node, LatexEnvironmentNode) and node.environmentname in MATH_ENVS:
        env = node.environmentname
        return Math(f"\\begin{{{env}}}{source(node)}\\end{{{env}}}", True)
    if isinstance(node, LatexMathNode):  # a formula inside a formula's \text{...}
        return Math(node.latex_verbatim()[len(node.delimiters[0]) : -len(node.delimiters[1]) or None].strip(),
                    node.displaytype == "display")
    return None


# -- shared helpers over pylatexenc's nodes ----------------------------------------------------------


def args(node) -> list:
    """A macro's or environment's parsed arguments (None where an optional one is absent)."""
    argd = getattr(node, "nodeargd", None)
    return list(argd.argnlist) if argd is not None and argd.argnlist else []


def group_nodes(node) -> list:
    """The nodes of an argument: a group's content, or the single token itself."""
    if node is None:
        return []
    return list(node.nodelist) if isinstance(node, LatexGroupNode) else [node]


def columns(spec) -> str:
    """A tabular/array column spec (its argument node) as KaTeX reads one: the l, c, r, | and :
    columns; p{..}, m{..}, b{..} and X as l; @{..}, !{..}, >{..}, <{..} left out."""
    out = []
    nodes = group_nodes(spec)
    skip = False
    for k, n in enumerate(nodes):
        if skip:
            skip = False
            continue
        if not isinstance(n, LatexCharsNode):
            continue
        chars = n.chars
        for j, ch in enumerate(chars):
            takes_arg = ch in "@!><pmb" and j == len(chars) - 1 and k + 1 < len(nodes) and isinstance(nodes[k + 1], LatexGroupNode)
            if takes_arg:
                skip = True
            if ch in "lcr|:":
                out.append(ch)
            elif ch in "pmb" and takes_arg or ch == "X":
                out.append("l")
    return "".join(out)


def array_specs(tex: str) -> list[tuple[int, int, str]]:
    """Where the column specs of a formula's arrays are, and what KaTeX reads of them:
    (start, end, "{...}") for every \\begin{array}{...} (or darray). Only the spec is walked."""
    w = Walker(tex, _MATH_CONTEXT)
    state = w.make_parsing_state(in_math_mode=True)
    out = []
    for m in _ARRAY.finditer(tex):
        p = m.end()
        opt = w.get_latex_maybe_optional_arg(p, parsing_state=state)  # \begin{array}[t]{...}
        p = _BLANK.match(tex, opt[1] + opt[2] if opt else p).end()
        if tex[p : p + 1] == "{":  # else no spec: nothing to rewrite
            group, start, length = w.get_latex_braced_group(p, parsing_state=state)
            out.append((start, start + length, "{" + columns(group) + "}"))
    return out


_ARRAY = re.compile(r"\\begin\{d?array\}")


def split_rows(nodes) -> list[list[list]]:
    """An aligned body's nodes split into rows (at \\\\) and cells (at &): rows of cells of nodes.
    A row's optional spacing argument (\\\\[2pt]) is dropped with the \\\\ that holds it."""
    rows: list[list[list]] = [[[]]]
    for n in nodes:
        if isinstance(n, LatexMacroNode) and n.macroname == "\\":
            rows.append([[]])
        elif isinstance(n, LatexSpecialsNode) and n.specials_chars == "&":
            rows[-1].append([])
        else:
            rows[-1][-1].append(n)
    return rows


def plain_text(nodes) -> str:
    """The characters of a few nodes (group contents included), macros left out: a number, a
    name, a tab stop's label."""
    out = []
    for n in nodes:
        if isinstance(n, LatexCharsNode):
            out.append(n.chars)
        elif isinstance(n, LatexGroupNode):
            out.append(plain_text(n.nodelist))
    return "".join(out)


# -- reading our tree ---------------------------------------------------------------------------

_STYLE_ARG = {
    "textbf": "b", "textit": "i", "emph": "i", "textsl": "i", "texttt": "tt", "underline": "u",
}
_TRANSPARENT_ARG = {"textrm", "textsf", "textnormal", "textup", "textmd", "textsc", "mbox", "text", "makebox"}
_FONT_SWITCH = {"bfseries": "b", "itshape": "i", "em": "i", "slshape": "i", "ttfamily": "tt"}
_SYMBOLS = {
    "textvisiblespace": "\u2423", "textquotesingle": "'", "textquotedbl": '"', "textasciigrave": "`",
    "textbackslash": "\\", "textasciitilde": "~", "textasciicircum": "^", "textbar": "|",
    "textless": "<", "textgreater": ">", "textendash": "\u2013", "textemdash": "\u2014",
    "ldots": "\u2026", "dots": "\u2026", "textellipsis": "\u2026", "S": "\u00a7", "P": "\u00b6",
    "textbullet": "\u2022", "textdegree": "\u00b0", "quad": "\u2003", "qquad": "\u2003\u2003",
    "enspace": "\u2002", "thinspace": "\u2009", "ss": "\u00df", "copyright": "\u00a9",
    "textregistered": "\u00ae", "texttrademark": "\u2122", "dag": "\u2020", "ddag": "\u2021",
    "textunderscore": "_", "i": "\u0131", "LaTeX": "LaTeX", "TeX": "TeX", "checkmark": "\u2713",
}
_CONTROL_SYMBOLS = {
    "&": "&", "%": "%", "$": "$", "#": "#", "_": "_", "{": "{", "}": "}", " ": " ",
    ",": "\u2009", ";": "\u2004", ":": "\u2005", "!": "", "@": "", "/": "", "-": "", "\n": " ",
    "\t": " ",
}
_ACCENTS = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
            ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327"}
_IGNORED = {
    "noindent", "centering", "small", "footnotesize", "scriptsize", "tiny", "large", "Large",
    "LARGE", "normalsize", "raggedright", "raggedleft", "relax", "hfill", "vfill", "null",
    "protect", "leavevmode", "newpage", "clearpage", "indent", "strut", "displaystyle",
    "nobreak", "allowbreak", "break", "linebreak", "pagebreak", "nopagebreak", "sloppy",
    "normalfont", "rmfamily", "sffamily", "upshape", "mdseries",
    # their arguments are read by the walker and dropped with them
    "vspace", "hspace", "label", "phantom", "hphantom", "vphantom", "addvspace", "index",
    "setlength", "addtolength", "setcounter", "addtocounter", "renewcommand",
}
_VERTICAL_SPACE = {"par", "medskip", "smallskip", "bigskip"}
_RULES = {"toprule": "top", "midrule": "mid", "bottomrule": "bottom", "hline": "mid", "cmidrule": "mid", "cline": "mid"}
_BLOCK_ENVS = {"center", "flushleft", "flushright", "quote", "quotation", "minipage", "small",
               "footnotesize", "document", "verse", "oneparchoices", "choices"}
_LIGATURES = {"--": "\u2013", "---": "\u2014", "``": "\u201c", "''": "\u201d", "~": "\u00a0", "!`": "\u00a1",
              "?`": "\u00bf"}
_BLANKS = re.compile(r"[ \t\n]+")
_PARAGRAPH = re.compile(r"[ \t]*\n[ \t]*\n[ \t\n]*")
_QUOTES = str.maketrans({"`": "\u2018", "'": "\u2019"})


class _Reader:
    """pylatexenc's nodes of a text fragment as our tree."""

    def __init__(self):
        self.unknown: set[str] = set()
        self.tt = 0  # inside \texttt: no -- ligatures or quote glyphs

    def nodes(self, nodes) -> list:
        out: list = []
        for k, n in enumerate(nodes):
            if isinstance(n, LatexMacroNode) and n.macroname in _FONT_SWITCH:  # the rest of the group
                kind = _FONT_SWITCH[n.macroname]
                self.tt += kind == "tt"
                out.append(Style(kind, self.nodes(nodes[k + 1 :])))
                self.tt -= kind == "tt"
                break
            self.node(n, out)
        return out

    def text(self, chars: str, out: list) -> None:
        """Characters: inline formulas cut out, every run of blanks as one space, a blank line (a
        run holding two newlines) as a paragraph break; quotes as curly quotes outside \\texttt."""
        for piece in split_formulas(chars):
            if isinstance(piece, Math):
                out.append(piece)
            else:
                self.words(piece, out)

    def words(self, chars: str, out: list) -> None:
        if not chars:
            return
        if not self.tt:
            chars = chars.translate(_QUOTES)
        pieces = _PARAGRAPH.split(chars) if "\n" in chars else (chars,)
        for k, piece in enumerate(pieces):
            if k:
                out.append(Par())
            if piece:
                out.append(Text(_BLANKS.sub(" ", piece)))

    def node(self, n, out: list) -> None:
        if isinstance(n, LatexCharsNode):
            self.text(n.chars, out)
        elif isinstance(n, LatexGroupNode):
            out.extend(self.nodes(n.nodelist))
        elif isinstance(n, LatexMacroNode):
            self.macro(n, out)
        elif isinstance(n, LatexSpecialsNode):
            math = math_of(n)
            if math is not None:
                out.append(math)
            elif n.specials_chars == "&":
                out.append(Tab())
            elif n.specials_chars == "~":
                out.append(Text("\u00a0"))
            else:
                out.append(Text(n.specials_chars if self.tt else _LIGATURES.get(n.specials_chars, n.specials_chars)))
        elif isinstance(n, LatexEnvironmentNode):
            self.environment(n, out)
        elif isinstance(n, LatexMathNode):
            out.append(math_of(n))
        elif isinstance(n, LatexCommentNode):
            pass

    def arg(self, node) -> list:
        return self.nodes(group_nodes(node))

    def macro(self, n, out: list) -> None:
        name = n.macroname
        a = args(n)
        if name == figures.DATA_MACRO:  # a figure's model, as the templates print it in data mode
            try:
                out.append(Figure(figures.decode(a[0].latex_verbatim()[1:-1] if a and a[0] is not None else "")))
            except ValueError:
                out.append(Figure(None))
        elif name == "\\":
            out.append(RowEnd())
        elif name in ("=", ">") and not a:  # tabbing's tab stops
            out.append(Tab())
        elif name in _ACCENTS:
            text = "".join(x.s for x in self.arg(a[0] if a else None) if isinstance(x, Text))
            out.append(Text(unicodedata.normalize("NFC", text[:1] + _ACCENTS[name] + text[1:])))
        elif name in _CONTROL_SYMBOLS:
            out.append(Text(_CONTROL_SYMBOLS[name]))
        elif name in _STYLE_ARG:
            kind = _STYLE_ARG[name]
            self.tt += kind == "tt"
            out.append(Style(kind, self.arg(a[-1] if a else None)))
            self.tt -= kind == "tt"
        elif name in _TRANSPARENT_ARG:
            out.extend(self.arg(a[-1] if a else None))
        elif name in _SYMBOLS:
            out.append(Text(_SYMBOLS[name]))
        elif name in _VERTICAL_SPACE:
            out.append(Par())
        elif name == "newline":
            out.append(Break())
        elif name in _IGNORED:
            pass
        elif name in _RULES:
            out.append(_Rule(_RULES[name]))
        elif name == "multicolumn":
            n_cols = plain_text(group_nodes(a[0])).strip() if a else "1"
            out.append(Span(int(n_cols) if n_cols.isdigit() else 1, self.arg(a[2] if len(a) > 2 else None)))
        elif name == "item":
            out.append(_ItemMark(self.arg(a[0]) if a and a[0] is not None else None))
        elif name == "kill":
            out.append(_Rule("kill"))
        else:
            self.unknown.add(name)
            for arg in a:  # an unknown macro's arguments still print
                if arg is not None:
                    out.extend(self.arg(arg))

    def environment(self, n, out: list) -> None:
        env = n.environmentname
        math = math_of(n)
        if math is not None:
            out.append(math)
            return
        a = args(n)
        if env in ("tikzpicture", "picture"):  # drawn for the PDF only; the drill draws figures from data
            out.append(Figure(None))
            return
        body = self.nodes(n.nodelist)
        if env == "tabbing":  # every column left-aligned
            out.append(_table("", body))
        elif env in ("tabular", "tabular*", "array"):
            out.append(_table(columns(a[-1] if a else None), body))
        elif env in ("itemize", "enumerate", "description", "checkboxes"):
            out.append(_list(env not in ("itemize", "description"), body))
        else:
            if env not in _BLOCK_ENVS:
                self.unknown.add(f"env:{env}")
            out.append(Block(env, body))


def _table(spec: str, body: list) -> Table:
    aligns = [ch for ch in spec if ch in "lcr"]
    rows: list[Row] = []
    cells: list[list] = [[]]
    pending_rule: str | None = None
    killed = False

    def end_row():
        nonlocal cells, pending_rule, killed
        if not killed and any(_has_content(cell) for cell in cells):
            rows.append(Row(cells, pending_rule))
            pending_rule = None
        cells, killed = [[]], False

    for node in body:
        if isinstance(node, Tab):
            cells.append([])
        elif isinstance(node, RowEnd):
            end_row()
        elif isinstance(node, _Rule) and node.kind == "kill":  # a tabbing line that only sets the stops
            killed = True
            end_row()
        elif isinstance(node, _Rule):
            if any(_has_content(cell) for cell in cells):
                end_row()
            pending_rule = node.kind if not rows else (node.kind if node.kind != "top" else "mid")
        else:
            cells[-1].append(node)
    end_row()
    return Table(aligns, rows, rule_below=pending_rule)


def _list(ordered: bool, body: list) -> ListEnv:
    items: list[Item] = []
    for node in body:
        if isinstance(node, _ItemMark):
            items.append(Item(node.label, []))
        elif items:
            items[-1].children.append(node)
    return ListEnv(ordered, items)


def _has_content(nodes: list) -> bool:
    for n in nodes:
        if isinstance(n, Text) and n.s.strip():
            return True
        if not isinstance(n, (Text, Par, Break)):
            return True
    return False


def split_formulas(chars: str) -> list:
    """A text run's characters as strings and the inline formulas in it as Math; the empty
    groups {} it holds dropped (the string pieces around one stay apart)."""
    if "$" not in chars and "{}" not in chars:
        return [chars]
    out: list = []
    last = 0
    for m in _FORMULA_OR_EMPTY.finditer(chars):
        out.append(chars[last : m.start()])
        if m.group() != "{}":
            out.append(Math(m.group()[1:-1].strip(), False))
        last = m.end()
    out.append(chars[last:])
    return out


def read(nodes) -> Fragment:
    """Our tree for pylatexenc's nodes of a text fragment."""
    reader = _Reader()
    return Fragment(reader.nodes(nodes), reader.unknown)


def parse(latex: str) -> Fragment:
    """Our tree for a LaTeX fragment, with the names of the macros it does not understand."""
    latex = str(latex)
    if _TEXT_RUN.fullmatch(latex):  # what the walker reads as one run: an option, an answer, a label
        out: list = []
        _Reader().text(latex, out)
        return Fragment(out)
    return read(walk(latex))
