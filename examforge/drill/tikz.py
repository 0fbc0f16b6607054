"""The TikZ our templates draw, as SVG for the web drill and as text for the terminal.

Understood: \\node[anchor] at (x,y) {text}; \\draw / \\fill / \\filldraw paths made of
coordinates (x,y), +(dx,dy), ++(dx,dy), `--`, `rectangle`, `grid` (step/xstep/ystep) and
`cycle`; options for colour (xcolor mixes such as red!75!black, blue!45), line width (thin,
thick, very thick, ...), dashed/dotted; picture options x=..cm, y=..cm. A pgfplots `axis` is
read and drawn by examforge.plot (the same model the PDFs use: ticks, labels, curves, marks, bars).
Coordinates may be arithmetic in braces ({-4/2}, {1+0.5}); they are read by a small parser
for numbers and + - * / ^ ( ), never evaluated as code. Anything else is skipped.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

PX_PER_CM = 46.0
PT = 1 / 28.45  # cm per point

_BASE_COLOURS = {
    "red": (1, 0, 0), "green": (0, 1, 0), "blue": (0, 0, 1), "black": (0, 0, 0), "white": (1, 1, 1),
    "gray": (0.5, 0.5, 0.5), "grey": (0.5, 0.5, 0.5), "darkgray": (0.25, 0.25, 0.25),
    "lightgray": (0.75, 0.75, 0.75), "orange": (1, 0.5, 0), "yellow": (1, 1, 0), "cyan": (0, 1, 1),
    "magenta": (1, 0, 1), "violet": (0.5, 0, 0.5), "purple": (0.75, 0, 0.25), "brown": (0.75, 0.5, 0.25),
    "teal": (0, 0.5, 0.5), "lime": (0.75, 1, 0), "olive": (0.5, 0.5, 0), "pink": (1, 0.75, 0.75),
}
_WIDTHS = {"ultra thin": 0.1, "very thin": 0.2, "thin": 0.4, "semithick": 0.6, "thick": 0.8,
           "very thick": 1.2, "ultra thick": 1.6}


# -- numbers --------------------------------------------------------------------------------------


class _Expr:
    """number | x | ( expr ) with + - * / ^ and unary minus; functions sqrt, exp, ln, abs."""

    def __init__(self, text: str, x: float | None = None):
        self.s = text.replace(" ", "")
        self.i = 0
        self.x = x

    def value(self) -> float:
        v = self.sum()
        if self.i != len(self.s):
            raise ValueError(f"cannot read {self.s!r}")
        return v

    def sum(self) -> float:
        v = self.product()
        while self.i < len(self.s) and self.s[self.i] in "+-":
            op = self.s[self.i]
            self.i += 1
            w = self.product()
            v = v + w if op == "+" else v - w
        return v

    def product(self) -> float:
        v = self.power()
        while self.i < len(self.s) and self.s[self.i] in "*/":
            op = self.s[self.i]
            self.i += 1
            w = self.power()
            v = v * w if op == "*" else v / w
        return v

    def power(self) -> float:
        v = self.unary()
        if self.i < len(self.s) and self.s[self.i] == "^":
            self.i += 1
            v = v ** self.power()
        return v

    def unary(self) -> float:
        if self.i < len(self.s) and self.s[self.i] in "+-":
            sign = -1 if self.s[self.i] == "-" else 1
            self.i += 1
            return sign * self.unary()
        return self.atom()

    def atom(self) -> float:
        s, i = self.s, self.i
        if i < len(s) and s[i] == "(":
            self.i += 1
            v = self.sum()
            if self.i >= len(s) or s[self.i] != ")":
                raise ValueError(f"unbalanced parentheses in {s!r}")
            self.i += 1
            return v
        m = re.match(r"(sqrt|exp|ln|abs)\(", s[i:])
        if m:
            self.i += len(m.group(0)) - 1
            arg = self.atom()
            return {"sqrt": math.sqrt, "exp": math.exp, "ln": math.log, "abs": abs}[m.group(1)](arg)
        m = re.match(r"(\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?(cm|pt|mm)?", s[i:])
        if m:
            self.i += len(m.group(0))
            unit = {"cm": 1.0, "mm": 0.1, "pt": PT, None: 1.0}[m.group(2)]
            return float(m.group(1)) * unit if m.group(2) else float(m.group(0))
        if s.startswith("pi", i):
            self.i += 2
            return math.pi
        if i < len(s) and s[i] == "x" and self.x is not None:
            self.i += 1
            return self.x
        raise ValueError(f"cannot read {s!r} at {s[i:]!r}")


@lru_cache(maxsize=4096)
def _constant(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return _Expr(text).value()


def number(text: str, x: float | None = None) -> float:
    text = text.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    if x is None:
        return _constant(text)
    return _Expr(text, x).value()


def colour(spec: str) -> str | None:
    """An xcolor expression (blue!45, red!75!black) as #rrggbb; None when unknown."""
    parts = spec.strip().split("!")
    base = _BASE_COLOURS.get(parts[0])
    if base is None:
        return None
    rgb = list(base)
    k = 1
    while k < len(parts):
        try:
            pct = float(parts[k]) / 100
        except ValueError:
            return None
        other = _BASE_COLOURS.get(parts[k + 1], None) if k + 1 < len(parts) else (1, 1, 1)
        if other is None:
            return None
        rgb = [pct * a + (1 - pct) * b for a, b in zip(rgb, other)]
        k += 2
    return "#" + "".join(f"{round(255 * max(0, min(1, c))):02x}" for c in rgb)


# -- the picture ------------------------------------------------------------------------------------


@dataclass
class Style:
    stroke: str = "#000000"
    fill: str | None = None
    width: float = 0.4  # pt
    dash: str | None = None
    anchor: str = "center"
    xstep: float = 1.0
    ystep: float = 1.0


@dataclass
class Shape:
    kind: str  # "line", "rect", "grid", "text", "poly", "marks"
    points: list[tuple[float, float]]
    style: Style
    text: str = ""
    draw: bool = True


@dataclass
class Picture:
    shapes: list[Shape] = field(default_factory=list)
    xscale: float = 1.0  # cm per unit
    yscale: float = 1.0
    plot: bool = False  # a pgfplots plot (examforge.plot draws it)
    skipped: list[str] = field(default_factory=list)


def _split_options(text: str) -> list[str]:
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def _style(options: str, *, fill_default: bool = False, base: Style | None = None) -> Style:
    st = Style(**(base.__dict__ if base else {}))
    if fill_default:
        st.fill = "#000000"
    for opt in _split_options(options):
        key, _, val = opt.partition("=")
        key, val = key.strip(), val.strip()
        if not _:
            if key in _WIDTHS:
                st.width = _WIDTHS[key]
            elif key in ("dashed", "densely dashed", "loosely dashed"):
                st.dash = "4 3"
            elif key in ("dotted", "densely dotted"):
                st.dash = "1 2"
            elif key in ("left", "right", "above", "below"):
                st.anchor = key
            elif colour(key):
                if fill_default:
                    st.fill = colour(key)
                st.stroke = colour(key)
            continue
        if key == "line width":
            try:
                st.width = number(val) / PT
            except ValueError:
                pass
        elif key in ("color", "draw"):
            st.stroke = colour(val) or st.stroke
        elif key == "fill":
            st.fill = colour(val)
        elif key in ("step", "xstep", "ystep"):
            try:
                step = number(val)
            except ValueError:
                continue
            if key in ("step", "xstep"):
                st.xstep = step
            if key in ("step", "ystep"):
                st.ystep = step
        elif key == "anchor":
            st.anchor = {"east": "left", "west": "right", "south": "above", "north": "below"}.get(val, "center")
    return st


_COORD = re.compile(r"(\+\+|\+)?\(\s*((?:[^(),]|\{[^{}]*\})+?)\s*,\s*((?:[^()]|\{[^{}]*\}|\([^()]*\))+?)\s*\)")


def _path(text: str, style: Style, *, fill: bool, draw: bool) -> list[Shape]:
    """Shapes from one path: coordinates joined by --, rectangle, grid."""
    shapes: list[Shape] = []
    pos: tuple[float, float] | None = None
    op = None
    line: list[tuple[float, float]] = []
    k = 0
    while k < len(text):
        rest = text[k:]
        m = _COORD.match(rest)
        if m:
            x, y = number(m.group(2)), number(m.group(3))
            if m.group(1) and pos is not None:
                x, y = pos[0] + x, pos[1] + y
            point = (x, y)
            if op == "rectangle" and pos is not None:
                shapes.append(Shape("rect", [pos, point], style, draw=draw))
                line = []
            elif op == "grid" and pos is not None:
                shapes.append(Shape("grid", [pos, point], style))
                line = []
            elif op == "--" and line:
                line.append(point)
            else:
                if len(line) > 1:
                    shapes.append(Shape("poly", line, style, draw=draw))
                line = [point]
            pos = point if m.group(1) != "+" else pos
            op = None
            k += len(m.group(0))
            continue
        for word in ("rectangle", "grid", "--", "cycle"):
            if rest.startswith(word):
                if word == "cycle" and line:
                    line.append(line[0])
                else:
                    op = word
                k += len(word)
                break
        else:
            k += 1
    if len(line) > 1:
        shapes.append(Shape("poly", line, style, draw=draw))
    if fill:
        for s in shapes:
            s.style = Style(**{**s.style.__dict__, "fill": s.style.fill or "#000000"})
    return shapes


def _braced(text: str, k: int) -> tuple[str, int]:
    """The {...} group starting at or after k."""
    k = text.index("{", k)
    depth = 0
    for j in range(k, len(text)):
        if text[j] == "\\":
            continue
        if text[j] == "{" and (j == 0 or text[j - 1] != "\\"):
            depth += 1
        elif text[j] == "}" and text[j - 1] != "\\":
            depth -= 1
            if depth == 0:
                return text[k + 1 : j], j + 1
    return text[k + 1 :], len(text)


def _bracket(text: str, k: int) -> tuple[str, int]:
    """The [...] options at k (may contain braces), or "" when none."""
    while k < len(text) and text[k] in " \n\t":
        k += 1
    if k >= len(text) or text[k] != "[":
        return "", k
    depth, j = 0, k
    while j < len(text):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
        elif text[j] == "]" and depth == 0:
            return text[k + 1 : j], j + 1
        j += 1
    return text[k + 1 :], len(text)


def parse(options: str, body: str) -> Picture:
    pic = Picture()
    for opt in _split_options(options):
        key, _, val = opt.partition("=")
        try:
            if key.strip() == "x":
                pic.xscale = number(val)
            elif key.strip() == "y":
                pic.yscale = number(val)
            elif key.strip() == "scale":
                pic.xscale = pic.yscale = number(val)
        except ValueError:
            pass
    body = re.sub(r"(?<!\\)%.*", "", body)
    if re.search(r"\\begin\{axis\}", body):  # a pgfplots plot: examforge.plot reads and draws it
        pic.plot = True
        return pic
    k = 0
    while k < len(body):
        m = re.compile(r"\\(node|draw|fill|filldraw|path)\b").search(body, k)
        if not m:
            break
        semi = _statement_end(body, m.end())
        stmt = body[m.end() : semi]
        k = semi + 1
        try:
            _statement(pic, m.group(1), stmt)
        except (ValueError, IndexError, ZeroDivisionError) as err:
            pic.skipped.append(f"\\{m.group(1)}{stmt[:40]}: {err}")
    return pic


def _statement_end(body: str, k: int) -> int:
    depth = 0
    while k < len(body):
        ch = body[k]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == ";" and depth == 0:
            return k
        k += 1
    return len(body)


def _statement(pic: Picture, kind: str, stmt: str) -> None:
    opts, k = _bracket(stmt, 0)
    if kind == "node":
        m = re.search(r"\bat\s*", stmt[k:])
        if not m:
            raise ValueError("node without 'at'")
        c = _COORD.match(stmt[k + m.end():])
        if not c:
            raise ValueError("node position")
        text, _ = _braced(stmt, k + m.end() + len(c.group(0)))
        pic.shapes.append(Shape("text", [(number(c.group(2)), number(c.group(3)))], _style(opts), text=text))
        return
    style = _style(opts, fill_default=kind in ("fill", "filldraw"))
    draw = kind in ("draw", "filldraw")
    for shape in _path(stmt[k:], style, fill=kind in ("fill", "filldraw"), draw=draw):
        pic.shapes.append(shape)


# -- SVG ----------------------------------------------------------------------------------------------


def to_svg(options: str, body: str, text_of) -> str:
    """SVG markup. `text_of(latex)` turns node text into plain text."""
    pic = parse(options, body)
    if pic.plot:
        from examforge import plot  # plot reads TikZ with this module's helpers

        try:
            return plot.to_svg(plot.parse_axis(options, body), text_of)
        except (plot.Unsupported, ValueError, ZeroDivisionError, OverflowError):
            return ""  # a plot the model does not read: the PDF key shows it
    sx, sy = pic.xscale * PX_PER_CM, pic.yscale * PX_PER_CM
    items: list[str] = []
    xs: list[float] = []
    ys: list[float] = []

    def P(p):  # picture units -> px (SVG y grows downwards)
        return p[0] * sx, -p[1] * sy

    for s in pic.shapes:
        st = s.style
        stroke = f'stroke="{st.stroke}" stroke-width="{st.width * 1.33:.2f}"' if s.draw or s.kind == "grid" else 'stroke="none"'
        dash = f' stroke-dasharray="{st.dash}"' if st.dash else ""
        if s.kind == "rect":
            (x1, y1), (x2, y2) = P(s.points[0]), P(s.points[1])
            fill = st.fill or "none"
            items.append(f'<rect x="{min(x1, x2):.1f}" y="{min(y1, y2):.1f}" width="{abs(x2 - x1):.1f}" '
                         f'height="{abs(y2 - y1):.1f}" fill="{fill}" {stroke}{dash}/>')
            xs += [x1, x2]
            ys += [y1, y2]
        elif s.kind == "grid":
            (ax, ay), (bx, by) = s.points
            x0, x1 = sorted((ax, bx))
            y0, y1 = sorted((ay, by))
            lines = []
            for n in range(math.ceil(x0 / st.xstep - 1e-9), math.floor(x1 / st.xstep + 1e-9) + 1):
                x = n * st.xstep
                lines.append((P((x, y0)), P((x, y1))))
            for n in range(math.ceil(y0 / st.ystep - 1e-9), math.floor(y1 / st.ystep + 1e-9) + 1):
                y = n * st.ystep
                lines.append((P((x0, y)), P((x1, y))))
            for (a, b), (c, d) in lines:
                items.append(f'<line x1="{a:.1f}" y1="{b:.1f}" x2="{c:.1f}" y2="{d:.1f}" {stroke}{dash}/>')
            for p in (P((x0, y0)), P((x1, y1))):
                xs.append(p[0])
                ys.append(p[1])
        elif s.kind == "poly":
            pts = [P(p) for p in s.points]
            fill = st.fill or "none"
            items.append(f'<polyline points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}" fill="{fill}" {stroke}{dash}/>')
            xs += [a for a, _ in pts]
            ys += [b for _, b in pts]
        elif s.kind == "text":
            x, y = P(s.points[0])
            label = text_of(s.text)
            anchor, dx, dy, base = {
                "center": ("middle", 0, 0, "central"), "left": ("end", -4, 0, "central"),
                "right": ("start", 4, 0, "central"), "above": ("middle", 0, -4, "auto"),
                "below": ("middle", 0, 4, "hanging"),
            }[st.anchor]
            items.append(f'<text x="{x + dx:.1f}" y="{y + dy:.1f}" text-anchor="{anchor}" '
                         f'dominant-baseline="{base}">{html.escape(label)}</text>')
            w = 8.5 * len(label)
            left = x + dx - (w if anchor == "end" else w / 2 if anchor == "middle" else 0)
            xs += [left, left + w]
            ys += [y + dy - 12 - (8 if base == "auto" else 0), y + dy + 12]
    return _svg(items, xs, ys)


def _svg(items: list[str], xs: list[float], ys: list[float], pad: float = 6) -> str:
    if not xs:
        return ""
    x0, x1, y0, y1 = min(xs) - pad, max(xs) + pad, min(ys) - pad, max(ys) + pad
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x0:.1f} {y0:.1f} {x1 - x0:.1f} {y1 - y0:.1f}" '
            f'width="{x1 - x0:.0f}" height="{y1 - y0:.0f}" font-family="KaTeX_Main, Times New Roman, serif" '
            f'font-size="16" role="img">{"".join(items)}</svg>')


# -- text -----------------------------------------------------------------------------------------------


def to_text(options: str, body: str, text_of) -> list[str]:
    """Lines for the terminal: node grids as a table of their texts, filled unit cells as
    ■ on a · background, plots as a note."""
    pic = parse(options, body)
    if pic.plot:
        return ["(a plot; the web drill and the PDF key show it)"]
    nodes = [s for s in pic.shapes if s.kind == "text"]
    centred = [s for s in nodes if s.style.anchor == "center"]
    labels = [s for s in nodes if s.style.anchor != "center"]
    fills = [s for s in pic.shapes if s.kind == "rect" and s.style.fill]
    lines: list[str] = []
    if centred:
        xs = sorted({round(s.points[0][0], 6) for s in centred})
        ys = sorted({round(s.points[0][1], 6) for s in centred}, reverse=True)
        grid = [["" for _ in xs] for _ in ys]
        for s in centred:
            grid[ys.index(round(s.points[0][1], 6))][xs.index(round(s.points[0][0], 6))] = text_of(s.text)
        widths = [max(len(row[j]) for row in grid) for j in range(len(xs))]
        body_lines = ["\u2502 " + "  ".join(row[j].rjust(widths[j]) for j in range(len(xs))) + " \u2502" for row in grid]
        left = [text_of(s.text) + " " for s in labels if s.style.anchor == "left"]
        prefix = left[0] if left else ""
        mid = len(body_lines) // 2
        lines = [(prefix if i == mid else " " * len(prefix)) + line for i, line in enumerate(body_lines)]
        for s in labels:
            if s.style.anchor in ("above", "below"):
                (lines.insert(0, text_of(s.text)) if s.style.anchor == "above" else lines.append(text_of(s.text)))
    elif fills:
        grids = [s for s in pic.shapes if s.kind == "grid"]
        pts = [p for s in grids + fills for p in s.points]
        x0, x1 = math.floor(min(p[0] for p in pts)), math.ceil(max(p[0] for p in pts))
        y0, y1 = math.floor(min(p[1] for p in pts)), math.ceil(max(p[1] for p in pts))
        if (x1 - x0) * (y1 - y0) > 4000:
            return ["(a figure too large for the terminal)"]
        cells = [["\u00b7"] * (x1 - x0) for _ in range(y1 - y0)]
        for s in fills:
            (ax, ay), (bx, by) = s.points
            for x in range(math.floor(min(ax, bx)), math.ceil(max(ax, bx))):
                for y in range(math.floor(min(ay, by)), math.ceil(max(ay, by))):
                    cells[y1 - 1 - y][x - x0] = "\u25a0"
        lines = [" ".join(row) for row in cells]
        for s in labels:
            (lines.insert(0, text_of(s.text)) if s.style.anchor == "above" else lines.append(text_of(s.text)))
    return lines or ["(a figure; the web drill and the PDF key show it)"]
