"""The parsed LaTeX tree (markup.py) as plain Unicode text for the terminal drill: math through
pylatexenc (or a fast path for simple formulas) with sub/superscripts, fractions a/b, matrices
laid out in 2-D, aligned rows in columns, tables padded, TikZ figures sketched."""

from __future__ import annotations

import re
import textwrap
from functools import lru_cache

from examforge import figures
from examforge.drill.markup import (
    Block, Break, Figure, ListEnv, Math, Par, Span, Style, Table, Text, _RowEnd, _Tab, parse,
)
from examforge.renderers.text import latex_to_text

_SUB = str.maketrans("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
_SUP = str.maketrans("0123456789+-=()niT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀ")
_SUB_OK = set("0123456789+-=()aehijklmnoprstuvx")
_SUP_OK = set("0123456789+-=()niT")
_MATRIX_ENVS = ("bmatrix", "pmatrix", "matrix", "vmatrix", "Bmatrix", "smallmatrix")
_BRACKETS = {"bmatrix": "[]", "pmatrix": "()", "matrix": "  ", "vmatrix": "||", "Bmatrix": "{}", "smallmatrix": "  "}


# Math macros pylatexenc drops or prints oddly.
_MATH_SYMBOLS = {"ne": "≠", "neq": "≠", "neg": "¬", "lnot": "¬", "colon": ":", "quad": "  ", "qquad": "    ",
                 ",": " ", ";": " ", ":": " ", "!": "", "cdot": "·", "top": "ᵀ", "intercal": "ᵀ"}


def _brace_arg(tex: str, k: int) -> tuple[str, int] | None:
    """The {...} argument (or single token) starting at k, and the index after it."""
    while k < len(tex) and tex[k] == " ":
        k += 1
    if k >= len(tex):
        return None
    if tex[k] != "{":
        if tex[k] == "\\":
            m = re.match(r"\\([a-zA-Z]+|.)", tex[k:])
            return (m.group(0), k + len(m.group(0))) if m else None
        return tex[k], k + 1
    depth, j = 0, k
    while j < len(tex):
        if tex[j] == "\\":
            j += 2
            continue
        if tex[j] == "{":
            depth += 1
        elif tex[j] == "}":
            depth -= 1
            if depth == 0:
                return tex[k + 1 : j], j + 1
        j += 1
    return tex[k + 1 :], len(tex)


def _simple(s: str) -> bool:
    r"""One token, maybe after a macro (\partial L): no parentheses needed around it."""
    return re.fullmatch(r"-?(\\[a-zA-Z]+\s*)?[\w.]*", s.strip()) is not None


def _prepare_math(tex: str) -> str:
    """Rewrite what pylatexenc prints awkwardly: fractions, scripts, \\left/\\right, bold."""
    out, k = [], 0
    while k < len(tex):
        m = re.match(r"\\(d|t)?frac(?![a-zA-Z])", tex[k:])
        if m:
            a = _brace_arg(tex, k + len(m.group(0)))
            b = _brace_arg(tex, a[1]) if a else None
            if a and b:
                num, den = _prepare_math(a[0]), _prepare_math(b[0])
                num = num if _simple(num) else f"({num})"
                den = den if _simple(den) else f"({den})"
                out.append(f"{{{num}/{den}}}")
                k = b[1]
                continue
        m = re.match(r"\\(boldsymbol|mathbf|mathrm|operatorname|mathit|text|textbf|bm)(?![a-zA-Z])", tex[k:])
        if m:
            a = _brace_arg(tex, k + len(m.group(0)))
            if a:
                inner = a[0] if m.group(1) in ("text", "textbf") else _prepare_math(a[0])
                inner = inner.replace("\\textvisiblespace", "\u2423").replace("\\_", "_")
                out.append("{" + inner + "}")
                k = a[1]
                continue
        m = re.match(r"\\(left|right|bigl|bigr|Bigl|Bigr|big|Big|displaystyle|textstyle)(?![a-zA-Z])\s*", tex[k:])
        if m:
            k += len(m.group(0))
            if m.group(1) in ("left", "right") and tex[k : k + 1] == ".":
                k += 1
            continue
        if tex[k] in "_^":
            a = _brace_arg(tex, k + 1)
            if a:
                body = a[0].strip()
                table, ok = (_SUB, _SUB_OK) if tex[k] == "_" else (_SUP, _SUP_OK)
                if body == "\\top" and tex[k] == "^":
                    out.append("ᵀ")
                    k = a[1]
                    continue
                if body and set(body) <= ok:
                    out.append(body.translate(table))
                    k = a[1]
                    continue
                inner = _prepare_math(body)
                if len(body) > 1 and not re.fullmatch(r"[{\s]*[A-Za-z0-9]+[}\s]*", inner):
                    inner = "(" + inner + ")"  # x^(5 × 4), C_(out)
                out.append(tex[k] + "{" + inner + "}" if len(body) > 1 else tex[k] + body)
                k = a[1]
                continue
        if tex[k] == "\\":
            m = re.match(r"\\([a-zA-Z]+|.)", tex[k:])
            name = m.group(1)
            if name in _MATH_SYMBOLS:
                out.append(_MATH_SYMBOLS[name])
            else:  # a space ends the name even before a Unicode letter (\deltaₜ)
                out.append(m.group(0) + (" " if name.isalpha() else ""))
            k += len(m.group(0))
            continue
        out.append(tex[k])
        k += 1
    return "".join(out)


def _tidy(text: str) -> str:
    text = text.replace("\u2212", "-")
    text = re.sub(r"\s*([=×←→≈≤≥±⇒∈≠])\s*", r" \1 ", text)
    text = re.sub(r"\s*·\s*", "·", text)
    text = re.sub(r"⌊\s+", "⌊", text)
    text = re.sub(r"\s+⌋", "⌋", text)
    text = re.sub(r"⌋(?=[^\s)\],.;])", "⌋ ", text)
    text = re.sub(r"\(\s+", "(", text)
    text = re.sub(r"\s+\)", ")", text)
    text = re.sub(r"\s+", " ", text)
    return text.strip()


# Argument-free math macros as text: enough for most formulas to skip pylatexenc (slow).
_SIMPLE_MACROS = {
    "times": "×", "cdot": "·", "approx": "≈", "le": "≤", "leq": "≤", "ge": "≥", "geq": "≥", "pm": "±",
    "to": "→", "rightarrow": "→", "leftarrow": "←", "Rightarrow": "⇒", "infty": "∞", "in": "∈",
    "mid": "|", "lfloor": "⌊", "rfloor": "⌋", "lceil": "⌈", "rceil": "⌉", "langle": "⟨", "rangle": "⟩",
    "partial": "∂", "sum": "∑", "prod": "∏", "ldots": "…", "dots": "…", "cdots": "⋯", "sim": "∼",
    "log": "log", "ln": "ln", "exp": "exp", "max": "max", "min": "min", "tanh": "tanh", "sigma": "σ",
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "Delta": "Δ", "epsilon": "ϵ", "varepsilon": "ε",
    "eta": "η", "theta": "θ", "lambda": "λ", "mu": "μ", "pi": "π", "rho": "ρ", "tau": "τ", "phi": "ϕ",
    "Phi": "Φ", "omega": "ω", "Omega": "Ω", "nabla": "∇", "top": "ᵀ", "{": "{", "}": "}", "%": "%",
    "_": "_", "#": "#", "&": "&", "$": "$", " ": " ",
}
_FAST_TOKEN = re.compile(r"\\([a-zA-Z]+|.)\s*|[{}]|[^\\{}]+")


def _fast_math_text(prepared: str) -> str | None:
    """The text of math made only of characters, groups and _SIMPLE_MACROS; else None."""
    out = []
    for m in _FAST_TOKEN.finditer(prepared):
        tok = m.group(0)
        if tok[0] == "\\":
            name = m.group(1)
            if name not in _SIMPLE_MACROS:
                return None
            out.append(_SIMPLE_MACROS[name])  # like pylatexenc: a macro eats the spaces after it
        elif tok in "{}":
            continue
        elif "^" in tok or "_" in tok or "&" in tok:
            return None
        else:
            out.append(tok)
    return "".join(out)


@lru_cache(maxsize=16384)
def math_text(tex: str) -> str:
    """One line of Unicode for inline math: z₁ = w₁ x = 1.5 × (-1.5)."""
    prepared = _prepare_math(tex)
    fast = _fast_math_text(prepared)
    return _tidy(fast if fast is not None else latex_to_text("$" + prepared + "$"))


def _split_top(tex: str, sep: str) -> list[str]:
    """Split at `sep` ("\\\\" or "&") outside braces and environments."""
    parts, depth, env, k, start = [], 0, 0, 0, 0
    while k < len(tex):
        if tex.startswith("\\begin{", k):
            env += 1
        elif tex.startswith("\\end{", k):
            env -= 1
        if tex[k] == "\\" and sep == "\\\\" and tex.startswith("\\\\", k) and depth == 0 and env == 0:
            parts.append(tex[start:k])
            k += 2
            start = k
            continue
        if tex[k] == "\\":
            k += 2
            continue
        if tex[k] == "{":
            depth += 1
        elif tex[k] == "}":
            depth -= 1
        elif tex[k] == sep and depth == 0 and env == 0:
            parts.append(tex[start:k])
            start = k + 1
        k += 1
    parts.append(tex[start:])
    return parts


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


def _matrix_box(env: str, body: str) -> Box:
    rows = [r for r in _split_top(body, "\\\\") if r.strip()]
    cells = [[math_text(c.strip()) for c in _split_top(r, "&")] for r in rows]
    n = max((len(r) for r in cells), default=0)
    widths = [max((len(r[j]) for r in cells if j < len(r)), default=0) for j in range(n)]
    lines = ["  ".join(r[j].rjust(widths[j]) if j < len(r) else " " * widths[j] for j in range(n)) for r in cells]
    left, right = _BRACKETS.get(env, "[]")
    if left == "[" and len(lines) > 1:
        ls = ["⎡"] + ["⎢"] * (len(lines) - 2) + ["⎣"]
        rs = ["⎤"] + ["⎥"] * (len(lines) - 2) + ["⎦"]
    elif left == "(" and len(lines) > 1:
        ls = ["⎛"] + ["⎜"] * (len(lines) - 2) + ["⎝"]
        rs = ["⎞"] + ["⎟"] * (len(lines) - 2) + ["⎠"]
    else:
        ls, rs = [left] * len(lines), [right] * len(lines)
    return [f"{a} {line} {b}" for a, line, b in zip(ls, lines, rs)]


def _cell_box(tex: str) -> Box:
    """A piece of math, laid out in 2-D when it holds matrices."""
    pattern = re.compile(r"\\begin\{(" + "|".join(_MATRIX_ENVS) + r")\}")
    boxes: list[Box] = []
    k = 0
    while True:
        m = pattern.search(tex, k)
        if not m:
            break
        if tex[k : m.start()].strip():
            boxes.append([math_text(tex[k : m.start()])])
        end = f"\\end{{{m.group(1)}}}"
        e = tex.find(end, m.end())
        e = len(tex) if e < 0 else e
        boxes.append(_matrix_box(m.group(1), tex[m.end() : e]))
        k = e + len(end)
    rest = tex[k:]
    if rest.strip() or not boxes:
        boxes.append([math_text(rest)])
    if len(boxes) == 1:
        return boxes[0]
    spaced: list[Box] = []
    for b in boxes:
        spaced.append(b)
        spaced.append([" "])
    return _hcat(spaced[:-1])


def display_math_lines(tex: str) -> list[str]:
    """Display math as lines: aligned environments keep their columns; matrices are 2-D."""
    body = tex.strip()
    m = re.match(r"\\begin\{([a-zA-Z*]+)\}(.*)\\end\{\1\}\s*$", body, re.S)
    paired = not m or m.group(1).rstrip("*") in ("align", "aligned", "alignat", "flalign", "split", "eqnarray")
    if m:
        body = m.group(2)
        if m.group(1) in ("array", "alignat", "alignat*", "tabular"):
            spec = _brace_arg(body, 0)
            body = body[spec[1]:] if spec else body
    rows = [re.sub(r"^\s*\[[^\]]*\]", "", r) for r in _split_top(body, "\\\\")]  # \\[2pt]
    rows = [r for r in rows if r.strip()]
    table = [[_cell_box(c.strip()) for c in _split_top(r, "&")] for r in rows]
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
        elif isinstance(n, (Break, _RowEnd)):
            out.append("\n")
        elif isinstance(n, _Tab):
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
        lines = _cell_box(frag.nodes[0].tex)
        return "\n".join(lines)
    return re.sub(r"\s+", " ", _text_inline(frag.nodes).replace("\u00a0", " ")).strip()


@lru_cache(maxsize=4096)
def flat_text(latex: str) -> str:
    """A fragment as one line of text (matrices as [a b; c d]), for comparing and labels."""
    text = _text_inline(parse(latex).nodes).replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip()
