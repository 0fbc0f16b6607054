"""Our LaTeX fragments (question, solution, options) parsed into a small tree, and that tree as
HTML for the web drill (plaintext.py renders the same tree for the terminal).

Only the subset our templates use is understood: text macros (\\textbf, \\emph, \\texttt,
\\textvisiblespace, ...), paragraphs and spacing, center, itemize/enumerate with \\item[(a)],
tabular with booktabs rules, and math ($...$, \\[...\\], align*, ...). Math is kept as TeX:
the browser typesets it with the vendored KaTeX, the terminal gets `math_text`. Unknown
macros are dropped (their braced arguments still print) and collected in `Fragment.unknown`,
so a test can check that every registered type uses only what is understood here.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

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
    figure: figures.Axes | figures.CellGrid | None


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


# Markers used only while parsing an environment's body.
@dataclass
class _Tab:
    pass


@dataclass
class _RowEnd:
    pass


@dataclass
class _ItemMark:
    label: list | None


@dataclass
class _Rule:
    kind: str


# -- parsing ---------------------------------------------------------------------------------

MATH_ENVS = {
    "align", "align*", "aligned", "equation", "equation*", "gather", "gather*", "multline",
    "multline*", "displaymath", "math", "alignat", "alignat*", "flalign", "flalign*",
}
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
}
_IGNORED_WITH_ARG = {"vspace", "hspace", "label", "phantom", "hphantom", "vphantom", "addvspace", "index"}
_IGNORED_WITH_TWO_ARGS = {"setlength", "addtolength", "setcounter", "addtocounter", "renewcommand"}
_VERTICAL_SPACE = {"par", "medskip", "smallskip", "bigskip"}
_RULES = {"toprule": "top", "midrule": "mid", "bottomrule": "bottom", "hline": "mid"}
_RULES_WITH_ARG = {"cmidrule", "cline"}
_BLOCK_ENVS = {"center", "flushleft", "flushright", "quote", "quotation", "minipage", "small",
               "footnotesize", "document", "verse", "oneparchoices", "choices"}


_SPACES = re.compile(r"[ \t\n]*")
_PLAIN_RUN = re.compile(r"[^\\{}$%&~\s`'\-]+")
_MATH_END = re.compile(r"\\.|\$\$|\$|\\\)|\\\]", re.S)


class _Parser:
    def __init__(self, src: str):
        self.src = src
        self.i = 0
        self.unknown: set[str] = set()
        self.tt = 0  # inside \texttt: no -- ligatures or quote glyphs

    # -- low level
    def peek(self, k: int = 0) -> str:
        j = self.i + k
        return self.src[j] if j < len(self.src) else ""

    def startswith(self, s: str) -> bool:
        return self.src.startswith(s, self.i)

    def skip_spaces(self, *, newlines: int = 1) -> None:
        while self.i < len(self.src) and self.src[self.i] in " \t\n":
            if self.src[self.i] == "\n":
                if newlines == 0:
                    return
                newlines -= 1
            self.i += 1

    def raw_group(self) -> str | None:
        """The raw text of a {...} argument (balanced), or None when none follows."""
        j = self.i
        while j < len(self.src) and self.src[j] in " \t\n":
            j += 1
        if j >= len(self.src) or self.src[j] != "{":
            return None
        depth, k = 0, j
        while k < len(self.src):
            c = self.src[k]
            if c == "\\":
                k += 2
                continue
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    self.i = k + 1
                    return self.src[j + 1 : k]
            k += 1
        self.i = len(self.src)
        return self.src[j + 1 :]

    def raw_optional(self) -> str | None:
        j = self.i
        while j < len(self.src) and self.src[j] in " \t":
            j += 1
        if j >= len(self.src) or self.src[j] != "[":
            return None
        depth, k = 0, j
        while k < len(self.src):
            c = self.src[k]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
            elif c == "]" and depth == 0:
                self.i = k + 1
                return self.src[j + 1 : k]
            k += 1
        return None

    def arg_nodes(self) -> list:
        j = self.i
        while j < len(self.src) and self.src[j] in " \t\n":
            j += 1
        if j < len(self.src) and self.src[j] == "{":
            self.i = j + 1
            return self.nodes(stop="}")
        if j < len(self.src) and self.src[j] == "\\":  # \textbf\foo: a single token
            self.i = j
            return self.nodes(stop="token")
        if j < len(self.src):
            self.i = j + 1
            return [Text(self.src[j])]
        return []

    def find(self, end: str) -> int:
        """Index of the closing delimiter `end` of math starting at self.i (skips \\x pairs)."""
        if end.startswith("\\end{"):
            k = self.src.find(end, self.i)
            return len(self.src) if k < 0 else k
        k = self.i
        while True:
            m = _MATH_END.search(self.src, k)
            if not m:
                return len(self.src)
            if m.group(0) == end or (end == "$" and m.group(0) == "$$"):
                return m.start()
            k = m.end() if m.group(0) != "$$" else m.start() + 1

    def math(self, end: str, display: bool) -> Math:
        k = self.find(end)
        tex = self.src[self.i : k]
        self.i = min(len(self.src), k + len(end))
        return Math(tex.strip(), display)

    # -- the main loop
    def nodes(self, stop: str | None = None) -> list:
        """Nodes until `stop`: None (end), "}" (group end), "token" (one macro) or "end:<env>"."""
        out: list = []
        buf: list[str] = []

        def flush():
            if buf:
                out.append(Text("".join(buf)))
                buf.clear()

        src, plain_run = self.src, _PLAIN_RUN.match
        while self.i < len(src):
            m = plain_run(src, self.i)
            if m:  # ordinary characters, taken in one step
                buf.append(m.group(0))
                self.i = m.end()
                continue
            c = src[self.i]
            if stop == "}" and c == "}":
                self.i += 1
                break
            if c == "%":
                nl = self.src.find("\n", self.i)
                self.i = len(self.src) if nl < 0 else nl + 1
                while self.peek() in (" ", "\t"):
                    self.i += 1
                continue
            if c in " \t\n":
                j = _SPACES.match(src, self.i).end()
                if src.count("\n", self.i, j) >= 2:
                    flush()
                    out.append(Par())
                else:
                    buf.append(" ")
                self.i = j
                continue
            if c == "{":
                self.i += 1
                flush()
                out.extend(self.nodes(stop="}"))
                continue
            if c == "}":  # stray
                self.i += 1
                continue
            if c == "$":
                flush()
                if self.peek(1) == "$":
                    self.i += 2
                    out.append(self.math("$$", True))
                else:
                    self.i += 1
                    out.append(self.math("$", False))
                continue
            if c == "&":
                self.i += 1
                flush()
                out.append(_Tab())
                continue
            if c == "~":
                self.i += 1
                buf.append("\u00a0")
                continue
            if not self.tt and c in "-`'":
                for seq, glyph in (("---", "\u2014"), ("--", "\u2013"), ("``", "\u201c"), ("''", "\u201d")):
                    if self.startswith(seq):
                        buf.append(glyph)
                        self.i += len(seq)
                        break
                else:
                    buf.append({"`": "\u2018", "'": "\u2019"}.get(c, c))
                    self.i += 1
                continue
            if c == "\\":
                flush()
                done = self.macro(out, stop)
                if done or stop == "token":
                    break
                continue
            buf.append(c)
            self.i += 1
        flush()
        return out

    def macro(self, out: list, stop: str | None) -> bool:
        """Handle the control sequence at self.i; True when it closes the current `stop`."""
        self.i += 1
        c = self.peek()
        if not c:
            return False
        if not c.isalpha():
            self.i += 1
            if c == "\\":
                self.raw_optional()
                out.append(_RowEnd())
            elif c == "(":
                out.append(self.math("\\)", False))
            elif c == "[":
                out.append(self.math("\\]", True))
            elif c in _ACCENTS:
                base = self.arg_nodes()
                text = "".join(n.s for n in base if isinstance(n, Text))
                out.append(Text(unicodedata.normalize("NFC", text[:1] + _ACCENTS[c] + text[1:])))
            else:
                out.append(Text(_CONTROL_SYMBOLS.get(c, c)))
            return False
        j = self.i
        while j < len(self.src) and self.src[j].isalpha():
            j += 1
        name = self.src[self.i : j]
        self.i = j
        if self.peek() == "*" and name in ("vspace", "hspace", "section", "subsection"):
            self.i += 1
        if name == "begin":
            env = (self.raw_group() or "").strip()
            self.environment(env, out)
            return False
        if name == "end":
            env = (self.raw_group() or "").strip()
            return stop == f"end:{env}"
        if name in _ACCENTS and len(name) == 1:  # \c{c}, \v{s}, \H{o}, \u{a}
            base = self.arg_nodes()
            text = "".join(n.s for n in base if isinstance(n, Text))
            out.append(Text(unicodedata.normalize("NFC", text[:1] + _ACCENTS[name] + text[1:])))
            return False
        self.skip_spaces()
        if name in _STYLE_ARG:
            kind = _STYLE_ARG[name]
            self.tt += kind == "tt"
            out.append(Style(kind, self.arg_nodes()))
            self.tt -= kind == "tt"
        elif name in _TRANSPARENT_ARG:
            out.extend(self.arg_nodes())
        elif name in _FONT_SWITCH:
            kind = _FONT_SWITCH[name]
            self.tt += kind == "tt"
            rest = self.nodes(stop=stop if stop in ("}",) else None) if stop != "token" else []
            self.tt -= kind == "tt"
            out.append(Style(kind, rest))
            return stop == "}"  # the group's closing brace was consumed by the inner call
        elif name == figures.DATA_MACRO:
            try:
                out.append(Figure(figures.decode(self.raw_group() or "")))
            except ValueError:
                out.append(Figure(None))
        elif name in _SYMBOLS:
            out.append(Text(_SYMBOLS[name]))
        elif name in _VERTICAL_SPACE:
            out.append(Par())
        elif name in ("newline",):
            out.append(Break())
        elif name in _IGNORED:
            pass
        elif name in _IGNORED_WITH_ARG:
            self.raw_group()
        elif name in _IGNORED_WITH_TWO_ARGS:  # layout settings: \setlength{\tabcolsep}{3pt}
            if self.raw_group() is None:
                m = re.match(r"\s*\\[a-zA-Z]+", self.src[self.i:])  # \setlength\tabcolsep{3pt}
                self.i += m.end() if m else 0
            self.raw_group()
        elif name in _RULES:
            out.append(_Rule(_RULES[name]))
        elif name in _RULES_WITH_ARG:
            self.raw_optional()
            if self.peek() == "(":
                close = self.src.find(")", self.i)
                self.i = close + 1 if close > 0 else self.i
            self.raw_group()
            out.append(_Rule("mid"))
        elif name == "multicolumn":
            n = (self.raw_group() or "1").strip()
            self.raw_group()
            out.append(Span(int(n) if n.isdigit() else 1, self.arg_nodes()))
        elif name == "item":
            label = self.raw_optional()
            out.append(_ItemMark(_Parser(label).nodes() if label is not None else None))
        else:
            self.unknown.add(name)
        return False

    def environment(self, env: str, out: list) -> None:
        if env in MATH_ENVS:
            end = f"\\end{{{env}}}"
            k = self.find(end)
            body = self.src[self.i : k]
            self.i = min(len(self.src), k + len(end))
            out.append(Math(f"\\begin{{{env}}}{body}\\end{{{env}}}", True))
            return
        if env in ("tikzpicture", "picture"):  # drawn for the PDF only; the drill draws figures from data
            end = f"\\end{{{env}}}"
            k = self.src.find(end, self.i)
            k = len(self.src) if k < 0 else k
            out.append(Figure(None))
            self.i = min(len(self.src), k + len(end))
            return
        if env == "tabbing":  # \= and \> are tab stops; a line ending in \kill only sets them
            end = "\\end{tabbing}"
            k = self.src.find(end, self.i)
            k = len(self.src) if k < 0 else k
            body = re.sub(r"[^\n]*\\kill[ \t]*\n?", "", self.src[self.i : k])
            body = re.sub(r"\\[=>]", "&", body)
            self.i = min(len(self.src), k + len(end))
            inner = _Parser(body)
            nodes = inner.nodes()
            self.unknown |= inner.unknown
            cols = 1 + max((line.count("&") for line in body.split("\\\\")), default=0)
            out.append(_table("l" * cols, nodes))
            return
        if env in ("tabular", "tabular*", "array"):
            if env == "tabular*":
                self.raw_group()
            self.raw_optional()
            spec = self.raw_group() or ""
            body = self.nodes(stop=f"end:{env}")
            out.append(_table(spec, body))
            return
        if env in ("itemize", "enumerate", "description", "checkboxes"):
            self.raw_optional()
            body = self.nodes(stop=f"end:{env}")
            out.append(_list(env != "itemize" and env != "description", body))
            return
        if env == "minipage":
            self.raw_optional()
            self.raw_optional()
            self.raw_optional()
            self.raw_group()
        elif env not in _BLOCK_ENVS:
            self.unknown.add(f"env:{env}")
        body = self.nodes(stop=f"end:{env}")
        out.append(Block(env, body))


def _table(spec: str, body: list) -> Table:
    aligns: list[str] = []
    k = 0
    while k < len(spec):
        ch = spec[k]
        if ch in "lcr":
            aligns.append(ch)
        elif ch in "pmbX":
            aligns.append("l")
        if ch in "@!>< pmb" and k + 1 < len(spec) and spec[k + 1] == "{":
            depth, k = 0, k + 1
            while k < len(spec):
                depth += {"{": 1, "}": -1}.get(spec[k], 0)
                if depth == 0:
                    break
                k += 1
        k += 1
    rows: list[Row] = []
    cells: list[list] = [[]]
    pending_rule: str | None = None

    def end_row():
        nonlocal cells, pending_rule
        if any(_has_content(cell) for cell in cells):
            rows.append(Row(cells, pending_rule))
            pending_rule = None
        cells = [[]]

    for node in body:
        if isinstance(node, _Tab):
            cells.append([])
        elif isinstance(node, _RowEnd):
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


@dataclass
class Fragment:
    nodes: list
    unknown: set[str] = field(default_factory=set)


def parse(latex: str) -> Fragment:
    p = _Parser(str(latex))
    nodes = p.nodes()
    return Fragment(nodes, p.unknown)


# -- HTML ------------------------------------------------------------------------------------

_KATEX_REWRITES = (
    (re.compile(r"\\textvisiblespace(?:\{\})?"), "\u2423"),
    (re.compile(r"\\(textquotesingle|textquotedbl|textasciigrave)(?:\{\})?"),
     lambda m: {"textquotesingle": "'", "textquotedbl": '"', "textasciigrave": "`"}[m.group(1)]),
)


def katex_tex(tex: str) -> str:
    """Math as KaTeX reads it: array column specs without @{...}/!{...}/>{...}/<{...} (KaTeX
    knows only l, c, r, | and :), p{..} columns as l, and text macros KaTeX lacks as characters."""
    def colspec(m: re.Match) -> str:
        spec = m.group(2)
        out, k = [], 0
        while k < len(spec):
            ch = spec[k]
            if ch in "@!><pmb" and spec[k + 1 : k + 2] == "{":
                depth, k = 0, k + 1
                while k < len(spec):
                    depth += {"{": 1, "}": -1}.get(spec[k], 0)
                    if depth == 0:
                        break
                    k += 1
                if ch in "pmb":
                    out.append("l")
            elif ch in "lcr|:":
                out.append(ch)
            k += 1
        return f"\\begin{{{m.group(1)}}}{{{''.join(out)}}}"

    tex = re.sub(r"\\begin\{(array|darray)\}\{((?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*)\}", colspec, tex)
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
        elif isinstance(n, (Break, _RowEnd)):
            out.append("<br>")
        elif isinstance(n, _Tab):
            out.append("&amp;")
        elif isinstance(n, Par):
            out.append(" ")
        elif isinstance(n, Figure) and n.figure is None:
            out.append('<span class="figure-note">(a figure: the PDF shows it)</span>')
        elif isinstance(n, Figure):
            from examforge.drill.plaintext import flat_text  # the SVG's labels are plain text

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
