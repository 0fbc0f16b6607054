"""The tree of latexnodes.py as plain Unicode text for the terminal drill: formulas read with
pylatexenc's walker in math mode and written by pylatexenc's latex2text, with sub/superscripts
as Unicode (x₁, Wᵀ), fractions a/b, matrices laid out in 2-D, aligned rows in columns,
tables padded, TikZ figures sketched."""

from __future__ import annotations

import re
import textwrap
from functools import lru_cache

from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db
from pylatexenc.latexwalker import LatexCharsNode, LatexEnvironmentNode, LatexGroupNode, LatexMacroNode

from examforge import figures
from examforge.drill.latexnodes import (
    Block, Break, Figure, ListEnv, Math, Par, RowEnd, Span, Style, Tab, Table, Text, args, math_of, parse, parse_math,
    split_formulas, split_rows,
)

_SUB = str.maketrans("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
_SUP = str.maketrans("0123456789+-=()niT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀ")
_SUB_OK = frozenset("0123456789+-=()aehijklmnoprstuvx")
_SUP_OK = frozenset("0123456789+-=()niT")
_BRACKETS = {"bmatrix": "[]", "pmatrix": "()", "matrix": "  ", "vmatrix": "||", "Bmatrix": "{}", "smallmatrix": "  "}
_ROW_ENVS = {"align", "align*", "aligned", "alignat", "alignat*", "flalign", "flalign*", "split", "eqnarray",
             "eqnarray*", "gather", "gather*", "multline", "multline*", "equation", "equation*", "array",
             "displaymath", "cases"}
_PAIRED_ENVS = {"align", "aligned", "alignat", "flalign", "split", "eqnarray"}  # rhs = lhs columns

# Math macros pylatexenc drops or prints otherwise than we want.
_MATH_SYMBOLS = {"ne": "≠", "neq": "≠", "neg": "¬", "lnot": "¬", "colon": ":", "quad": "  ",
                 "qquad": "    ", ",": " ", ";": " ", ":": " ", "!": "", "cdot": "·", "top": "ᵀ",
                 "intercal": "ᵀ", "|": "‖"}
_SIZING = {"left", "right", "bigl", "bigr", "Bigl", "Bigr", "big", "Big", "displaystyle", "textstyle",
           "scriptstyle"}
_FRACTIONS = {"frac", "dfrac", "tfrac"}
_CONTENT = {"boldsymbol", "mathbf", "mathrm", "operatorname", "mathit", "bm"}  # their argument, as it is
# A numerator or denominator that needs no parentheses: a number, or one name (a letter and what
# follows it, maybe after a symbol such as \u2202): 12, -0.5, \u2202L, \u03c3\u00b2, x\u1d62; not 2\u03c3\u00b2, n-1, \u221a(d).
_SIMPLE = re.compile(r"-?(?:[0-9]+(?:\.[0-9]+)?[\u00b2\u00b3\u00b9\u2070-\u209f]*|[^\s\w]?(?:[^\W\d_]\w*)?)")

_L2T_CONTEXT = get_default_latex_context_db().filter_context()
_L2T_CONTEXT.add_context_category("examforge", prepend=True, macros=[
    MacroTextSpec("textvisiblespace", simplify_repl="\u2423"),
    MacroTextSpec("textquotesingle", simplify_repl="'"),
    MacroTextSpec("textquotedbl", simplify_repl='"'),
    MacroTextSpec("textasciigrave", simplify_repl="`"),
    MacroTextSpec("texttt", simplify_repl="%(1)s"),
])


class _MathText(LatexNodes2Text):
    """pylatexenc's latex2text for a formula's nodes, with our notation: scripts in Unicode where
    every character has one (else _(...) and ^(...)), fractions a/b, bold and roman letters as
    they are, no sizing macros."""

    def __init__(self):
        super().__init__(latex_context=_L2T_CONTEXT, math_mode="text", strict_latex_spaces=True)

    def nodelist_to_text(self, nodelist) -> str:
        out: list[str] = []
        nodes = list(nodelist)
        k = 0
        while k < len(nodes):
            n = nodes[k]
            k += 1
            if not isinstance(n, LatexCharsNode):
                out.append(self.node_to_text(n))
                continue
            chars = n.chars
            if not n.parsing_state.in_math_mode:  # inside \\text{...}: no scripts, maybe formulas
                out += [math_text(x.tex) if isinstance(x, Math) else x for x in split_formulas(chars)]
                continue
            if k >= 2 and isinstance(nodes[k - 2], LatexMacroNode) and nodes[k - 2].macroname in ("left", "right"):
                chars = chars[1:] if chars.startswith(".") else chars  # \left. and \right. show nothing
            start = 0
            for m in re.finditer(r"[_^]", chars):
                if m.start() < start:
                    continue
                out.append(chars[start : m.start()])
                rest = chars[m.end() :]
                if rest.strip():  # the script is the next character
                    j = m.end() + len(rest) - len(rest.lstrip())
                    out.append(self._script(m.group(), chars[j], None))
                    start = j + 1
                elif k < len(nodes):  # the script is the next node (and the blanks after a macro)
                    out.append(self._script(m.group(), _source_of(nodes[k]), nodes[k]))
                    out.append(getattr(nodes[k], "macro_post_space", "")[:1])
                    k += 1
                    start = len(chars)
                else:
                    out.append(m.group())
                    start = m.end()
            out.append(chars[start:])
        return "".join(out)

    def _script(self, kind: str, src: str, node) -> str:
        body = src.strip()
        if kind == "^" and body == "\\top":
            return "\u1d40"
        table, ok = (_SUB, _SUB_OK) if kind == "_" else (_SUP, _SUP_OK)
        if body and set(body) <= ok:
            return body.translate(table)
        inner = self._groupnodecontents_to_text(node).strip() if node is not None else body
        if len(body) > 1 and not re.fullmatch(r"[A-Za-z0-9]+", inner):
            inner = f"({inner})"  # x^(5 \u00d7 4), w_(\u03b8)
        return kind + inner

    def macro_node_to_text(self, node) -> str:
        name = node.macroname
        if name in _MATH_SYMBOLS:
            return _MATH_SYMBOLS[name]
        if name in _SIZING:
            return ""
        a = args(node)
        if name in _FRACTIONS and len(a) == 2:
            num, den = (self._groupnodecontents_to_text(x).strip() for x in a)
            num = num if _SIMPLE.fullmatch(num) else f"({num})"
            den = den if _SIMPLE.fullmatch(den) else f"({den})"
            return f"{num}/{den}"
        if name in _CONTENT and a:
            return self._groupnodecontents_to_text(a[-1])
        return super().macro_node_to_text(node)

    def specials_node_to_text(self, node) -> str:
        math = math_of(node)  # $...$ inside \text{...}
        return math_text(math.tex) if math is not None else super().specials_node_to_text(node)


def _source_of(node) -> str:
    """A script's argument as written: a group's content, or the token itself."""
    text = node.latex_verbatim()
    return text[1:-1] if isinstance(node, LatexGroupNode) else text


_MATH = _MathText()
# A formula the walker reads as one run of characters with no script in it.
_PLAIN_MATH = re.compile(r"(?:(?!--)[^\\%{}$&~_^'`])*")


_TIDY = tuple((re.compile(pattern), repl) for pattern, repl in (
    (r"\s*([=\u00d7\u2190\u2192\u2248\u2264\u2265\u00b1\u21d2\u2208\u2260])\s*", r" \1 "),
    (r"\s*\u00b7\s*", "\u00b7"),
    (r"\u230a\s+", "\u230a"),
    (r"\s+\u230b", "\u230b"),
    (r"\u230b(?=[^\s)\],.;])", "\u230b "),
    (r"\(\s+", "("),
    (r"\s+\)", ")"),
    (r"\s+", " "),
))


def _tidy(text: str) -> str:
    """Spaces as a formula is read: around = \u00d7 \u2190 \u2192 ..., none around \u00b7 or inside brackets."""
    text = text.replace("\u2212", "-")
    for pattern, repl in _TIDY:
        text = pattern.sub(repl, text)
    return text.strip()


def _line(nodes) -> str:
    """Formula nodes as one line of Unicode."""
    return _tidy(_MATH.nodelist_to_text(nodes))


@lru_cache(maxsize=16384)
def math_text(tex: str) -> str:
    """One line of Unicode for inline math: z\u2081 = w\u2081 x = 1.5 \u00d7 (-1.5)."""
    if _PLAIN_MATH.fullmatch(tex):  # characters only (8, -1.5, (x + 1)): they are their own text
        return _tidy(tex)
    return _line(parse_math(tex))


Box = list[str]


def _hcat(boxes: list[Box]) -> Box:
    height = max((len(b) for b in boxes), default=0)
    out = [""] * height
    for b in boxes:
        width = max((len(line) for line in b), default=0)
        top = (height - len(b)) // 2
        for r in range(height):
            i = r - top
            out[r] += (b[i] if 0 <= i < len(b) else "").ljust(width)
    return [line.rstrip() for line in out]


def _blank(nodes) -> bool:
    return all(isinstance(n, LatexCharsNode) and not n.chars.strip() for n in nodes)


def _matrix_box(env) -> Box:
    rows = [r for r in split_rows(env.nodelist) if not all(_blank(c) for c in r)]
    cells = [[_line(c) for c in r] for r in rows]
    n = max((len(r) for r in cells), default=0)
    widths = [max((len(r[j]) for r in cells if j < len(r)), default=0) for j in range(n)]
    lines = ["  ".join(r[j].rjust(widths[j]) if j < len(r) else " " * widths[j] for j in range(n)) for r in cells]
    left, right = _BRACKETS.get(env.environmentname, "[]")
    if left == "[" and len(lines) > 1:
        ls = ["\u23a1"] + ["\u23a2"] * (len(lines) - 2) + ["\u23a3"]
        rs = ["\u23a4"] + ["\u23a5"] * (len(lines) - 2) + ["\u23a6"]
    elif left == "(" and len(lines) > 1:
        ls = ["\u239b"] + ["\u239c"] * (len(lines) - 2) + ["\u239d"]
        rs = ["\u239e"] + ["\u239f"] * (len(lines) - 2) + ["\u23a0"]
    else:
        ls, rs = [left] * len(lines), [right] * len(lines)
    return [f"{a} {line} {b}" for a, line, b in zip(ls, lines, rs)]


def _is_matrix(node) -> bool:
    return isinstance(node, LatexEnvironmentNode) and node.environmentname in _BRACKETS


def _cell_box(nodes) -> Box:
    """A piece of math, laid out in 2-D when it holds matrices."""
    boxes: list[Box] = []
    run: list = []
    for n in nodes:
        if _is_matrix(n):
            if not _blank(run):
                boxes.append([_line(run)])
            boxes.append(_matrix_box(n))
            run = []
        else:
            run.append(n)
    if not _blank(run) or not boxes:
        boxes.append([_line(run)])
    if len(boxes) == 1:
        return boxes[0]
    spaced: list[Box] = []
    for b in boxes:
        spaced.append(b)
        spaced.append([" "])
    return _hcat(spaced[:-1])


@lru_cache(maxsize=1024)
def display_math_lines(tex: str) -> list[str]:
    """Display math as lines: aligned environments keep their columns; matrices are 2-D."""
    nodes = [n for n in parse_math(tex) if not _blank([n])]
    paired = True
    if len(nodes) == 1 and isinstance(nodes[0], LatexEnvironmentNode) and nodes[0].environmentname in _ROW_ENVS:
        paired = nodes[0].environmentname.rstrip("*") in _PAIRED_ENVS
        nodes = nodes[0].nodelist
    rows = [r for r in split_rows(nodes) if not all(_blank(c) for c in r)]
    table = [[_cell_box(c) for c in r] for r in rows]
    if not table:
        return []
    n = max(len(r) for r in table)
    widths = [max((max((len(x) for x in r[j]), default=0) for r in table if j < len(r)), default=0) for j in range(n)]
    lines: list[str] = []
    for r in table:
        boxes = []
        for j in range(n):
            box = r[j] if j < len(r) else [""]
            w = widths[j]
            # align: odd columns (1st, 3rd, ...) right-aligned, the others left-aligned
            if not paired:
                box = [x.ljust(w) + ("    " if j + 1 < n else "") for x in box]
            elif j % 2 == 0 and n > 1:
                box = [x.rjust(w) + " " for x in box]  # "lhs " then "= rhs"
            else:
                box = [x.ljust(w) + ("    " if j + 1 < n else "") for x in box]
            boxes.append(box)
        for line in _hcat(boxes):
            lines.append(" " + line if n > 1 else line)
    return [re.sub(r"\s+$", "", x) for x in lines]


def _text_inline(nodes: list) -> str:
    out = []
    for n in nodes:
        if isinstance(n, Text):
            out.append(n.s)
        elif isinstance(n, Math):
            t = math_text(n.tex)
            out.append(t.replace(" ", "\u00a0") if len(t) <= 40 else t)
        elif isinstance(n, (Style, Span)):
            out.append(_text_inline(n.children))
        elif isinstance(n, (Break, RowEnd)):
            out.append("\n")
        elif isinstance(n, Tab):
            out.append("&")
        elif isinstance(n, Par):
            out.append(" ")
    return "".join(out)


def _wrap(text: str, width: int, indent: str = "", first: str | None = None) -> list[str]:
    lines = []
    for k, raw in enumerate(text.split("\n")):
        raw = re.sub(r"[ \t]+", " ", raw).strip()
        if not raw:
            continue
        lead = first if (first is not None and not lines) else indent
        wrapped = textwrap.wrap(raw, width=max(20, width), initial_indent=lead, subsequent_indent=indent,
                                break_long_words=False, break_on_hyphens=False)
        lines.extend(wrapped)
    return [line.replace("\u00a0", " ") for line in lines]


def _text_flow(nodes: list, width: int, indent: str = "") -> list[str]:
    """Paragraph-separated lines; blocks get a blank line around them."""
    chunks: list[list[str]] = []
    para: list = []

    def flush():
        if para:
            lines = _wrap(_text_inline(para), width, indent)
            if lines:
                chunks.append(lines)
            para.clear()

    for n in nodes:
        if isinstance(n, Par):
            flush()
        elif isinstance(n, Math) and n.display:
            flush()
            chunks.append([indent + "    " + line for line in display_math_lines(n.tex)])
        elif isinstance(n, Block):
            flush()
            inner = _text_flow(n.children, width - 4, indent + "    ") if n.kind == "center" else _text_flow(
                n.children, width, indent)
            if inner:
                chunks.append(inner)
        elif isinstance(n, ListEnv):
            flush()
            lines: list[str] = []
            for number, it in enumerate(n.items, start=1):
                label = _text_inline(it.label).strip() if it.label is not None else (
                    f"{number}." if n.ordered else "\u2022")
                body = _text_flow(it.children, width - len(label) - 3, indent + " " * (len(label) + 3))
                first = f"{indent}  {label} "
                if body:
                    body[0] = first + body[0][len(indent) + len(label) + 3:]
                else:
                    body = [first]
                lines.extend(body)
            chunks.append(lines)
        elif isinstance(n, Table):
            flush()
            chunks.append([indent + line for line in _text_table(n)])
        elif isinstance(n, Figure):
            flush()
            lines = figures.to_text(n.figure, flat_text) if n.figure else ["(a figure: the PDF shows it)"]
            chunks.append([indent + "    " + line for line in lines])
        else:
            para.append(n)
    flush()
    out: list[str] = []
    for chunk in chunks:
        if out:
            out.append("")
        out.extend(chunk)
    return out


def _text_table(t: Table) -> list[str]:
    grid = [[_text_inline(cell).replace("\u00a0", " ").strip() for cell in row.cells] for row in t.rows]
    n = max((len(r) for r in grid), default=0)
    widths = [max((len(r[j]) for r in grid if j < len(r)), default=0) for j in range(n)]
    total = sum(widths) + 2 * max(0, n - 1)
    lines = []
    for row, cells in zip(t.rows, grid):
        if row.rule_above:
            lines.append(("━" if row.rule_above in ("top", "bottom") else "─") * total)
        out = []
        for j in range(n):
            cell = cells[j] if j < len(cells) else ""
            align = t.aligns[j] if j < len(t.aligns) else "l"
            out.append(cell.rjust(widths[j]) if align == "r" else (
                cell.center(widths[j]) if align == "c" else cell.ljust(widths[j])))
        lines.append("  ".join(out).rstrip())
    if t.rule_below:
        lines.append(("━" if t.rule_below in ("top", "bottom") else "─") * total)
    return lines


def to_text(latex: str, width: int = 78) -> str:
    """Plain Unicode text for the terminal, wrapped to `width` columns."""
    return "\n".join(_text_flow(parse(latex).nodes, width)).rstrip()


def inline_text(latex: str) -> str:
    """A short fragment (an option, an answer) on one line."""
    frag = parse(latex)
    if len(frag.nodes) == 1 and isinstance(frag.nodes[0], Math):
        lines = _cell_box(parse_math(frag.nodes[0].tex))
        return "\n".join(lines)
    return re.sub(r"\s+", " ", _text_inline(frag.nodes).replace("\u00a0", " ")).strip()


@lru_cache(maxsize=4096)
def flat_text(latex: str) -> str:
    """A fragment as one line of text (matrices as [a b; c d]), for comparing and labels."""
    text = _text_inline(parse(latex).nodes).replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip()
