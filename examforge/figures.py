"""Figures as data: a question type builds each figure as a small model, and this module draws it
for every output: a plain LaTeX `picture` for the PDFs (pict2e and xcolor, no TikZ), SVG for the
web drill and Unicode text for the terminal.

Two kinds of figure:

- `Axes`: a plot with limits, ticks, axis lines, labels and a title, holding `Curve`s (a polyline,
  optionally with a dot at every point) and `Bars` (with a label above each bar).
- `CellGrid`: a table of cells (values, shaded cells, heavier block lines, outlined `Window`s), with
  a label on its left and a caption above.

Labels are LaTeX written by the question types (never user text). Templates print a figure with the
`figure` filter (`\\VAR{t.input_figure(p)|figure}`, examforge.renderers.latex). For the PDFs it
becomes a `picture`: ~3 ms of pdflatex each, where pgfplots took 60-90 ms and TikZ loads in
0.25 s. The drill renders the same templates with the figures as data (`\\effigure{...}`, the
model as base64 JSON, see `encode`/`decode`) and draws the SVG or the text from the model;
nothing reads the LaTeX back."""

from __future__ import annotations

import base64
import binascii
import html
import math
import re
from functools import lru_cache
from typing import Annotated, Callable, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

PT_PER_CM = 72.27 / 2.54
PX_PER_CM = 46.0  # SVG
LABEL_ALLOWANCE_PT = 45.0  # an Axes' width and height include its labels: the axis box is 45pt smaller
INNER_SEP_PT = 3.65  # the gap between a label and what it labels (0.3333em at 11pt)
MAX_POINTS = 2000
MAX_CELLS_SIDE = 64
MAX_ENCODED = 1 << 18  # base64 characters `decode` accepts

_FONT_PT = {"": 11.0, "\\tiny": 6.0, "\\scriptsize": 8.0, "\\footnotesize": 9.0, "\\small": 10.0,
            "\\normalsize": 11.0}
Font = Literal["", "\\tiny", "\\scriptsize", "\\footnotesize", "\\small", "\\normalsize"]

_BASE_COLOURS = {
    "red": (1, 0, 0), "green": (0, 1, 0), "blue": (0, 0, 1), "black": (0, 0, 0), "white": (1, 1, 1),
    "gray": (0.5, 0.5, 0.5), "darkgray": (0.25, 0.25, 0.25), "lightgray": (0.75, 0.75, 0.75),
    "orange": (1, 0.5, 0), "yellow": (1, 1, 0), "cyan": (0, 1, 1), "magenta": (1, 0, 1),
    "violet": (0.5, 0, 0.5), "purple": (0.75, 0, 0.25), "brown": (0.75, 0.5, 0.25), "teal": (0, 0.5, 0.5),
    "lime": (0.75, 1, 0), "olive": (0.5, 0.5, 0), "pink": (1, 0.75, 0.75),
}


@lru_cache(maxsize=256)
def colour(spec: str) -> str | None:
    """An xcolor expression (blue!45, red!75!black) as #rrggbb; None when it is not one."""
    parts = spec.strip().split("!")
    base = _BASE_COLOURS.get(parts[0])
    if base is None:
        return None
    rgb = list(base)
    k = 1
    while k < len(parts):
        if not re.fullmatch(r"\d{1,3}", parts[k]) or int(parts[k]) > 100:
            return None
        pct = int(parts[k]) / 100
        other = _BASE_COLOURS.get(parts[k + 1]) if k + 1 < len(parts) else (1, 1, 1)
        if other is None:
            return None
        rgb = [pct * a + (1 - pct) * b for a, b in zip(rgb, other)]
        k += 2
    return "#" + "".join(f"{round(255 * max(0, min(1, c))):02x}" for c in rgb)


def _check_colour(value: str | None) -> str | None:
    if value is not None and colour(value) is None:
        raise ValueError(f"colour {value!r} is not an xcolor expression this module draws (e.g. blue!45)")
    return value


# -- the model -----------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Number = Annotated[float, Field(allow_inf_nan=False)]
Point = tuple[Number, Number]


class Curve(_Model):
    """A polyline through `points` (data coordinates), optionally with a dot at every point."""

    kind: Literal["curve"] = "curve"
    points: Annotated[tuple[Point, ...], Field(min_length=1, max_length=MAX_POINTS)]
    colour: Optional[str] = "black"  # None: the line is not drawn (the dots still are, in black)
    width_pt: Annotated[float, Field(gt=0, le=5)] = 0.4
    marks: bool = False
    mark_radius_pt: Annotated[float, Field(gt=0, le=10)] = 2.0

    _colour = field_validator("colour")(_check_colour)


class Bars(_Model):
    """One bar per point (x, height), `bar_pt` wide, from 0 (or the axis' bottom) up to the height;
    `labels[i]` (LaTeX, optional) is printed above bar i."""

    kind: Literal["bars"] = "bars"
    points: Annotated[tuple[Point, ...], Field(min_length=1, max_length=200)]
    labels: tuple[Optional[str], ...] = ()
    fill: Optional[str] = None
    stroke: Optional[str] = "black"
    width_pt: Annotated[float, Field(gt=0, le=5)] = 0.4  # the outline
    bar_pt: Annotated[float, Field(gt=0, le=200)] = 10.0
    label_font: Font = ""

    _colours = field_validator("fill", "stroke")(_check_colour)

    @model_validator(mode="after")
    def _labels(self):
        if self.labels and len(self.labels) != len(self.points):
            raise ValueError(f"{len(self.labels)} labels for {len(self.points)} bars")
        return self


Series = Annotated[Union[Curve, Bars], Field(discriminator="kind")]


class Axes(_Model):
    """A plot. `width_cm` and `height_cm` are the whole figure's size as pgfplots counts it: the
    axis box is `LABEL_ALLOWANCE_PT` smaller each way, leaving room for the labels. Limits left
    out follow the data (bars include 0); ticks left out are chosen by `auto_ticks`. `lines`:
    a frame ("box"), or two arrows from the bottom left ("left") or through 0 ("middle")."""

    kind: Literal["axes"] = "axes"
    width_cm: Annotated[float, Field(ge=2.5, le=30)]
    height_cm: Annotated[float, Field(ge=2.5, le=30)]
    xmin: Optional[Number] = None
    xmax: Optional[Number] = None
    ymin: Optional[Number] = None
    ymax: Optional[Number] = None
    xticks: Optional[Annotated[tuple[Number, ...], Field(max_length=50)]] = None
    yticks: Optional[Annotated[tuple[Number, ...], Field(max_length=50)]] = None
    lines: Literal["box", "left", "middle"] = "box"
    xlabel: str = ""
    ylabel: str = ""
    title: str = ""
    tick_font: Font = ""
    series: Annotated[tuple[Series, ...], Field(max_length=20)] = ()

    @model_validator(mode="after")
    def _fits(self):
        b = self.box()
        if not (b.xmax > b.xmin and b.ymax > b.ymin):
            raise ValueError(f"empty range x {b.xmin}..{b.xmax}, y {b.ymin}..{b.ymax}")
        eps = 1e-9 * max(1.0, abs(b.xmax - b.xmin), abs(b.ymax - b.ymin))
        for s in self.series:  # nothing is clipped: every point must be inside the box
            for x, y in s.points:
                if not (b.xmin - eps <= x <= b.xmax + eps and b.ymin - eps <= y <= b.ymax + eps):
                    raise ValueError(f"point ({x:g}, {y:g}) lies outside the axes "
                                     f"x {b.xmin:g}..{b.xmax:g}, y {b.ymin:g}..{b.ymax:g}")
        return self

    def box(self) -> "_Box":
        """The axis box: its size in pt, the limits and the ticks, with the defaults filled in."""
        drawn = [p for s in self.series if _drawn(s) for p in s.points]
        bars = any(isinstance(s, Bars) for s in self.series)
        data_x = [p[0] for p in drawn] or [0.0, 1.0]
        data_y = [p[1] for p in drawn] + ([0.0] if bars else []) or [0.0, 1.0]
        w = self.width_cm * PT_PER_CM - LABEL_ALLOWANCE_PT
        h = self.height_cm * PT_PER_CM - LABEL_ALLOWANCE_PT
        xmin = self.xmin if self.xmin is not None else min(data_x)
        xmax = self.xmax if self.xmax is not None else max(data_x)
        ymin = self.ymin if self.ymin is not None else min(data_y)
        ymax = self.ymax if self.ymax is not None else max(data_y)
        return _Box(
            w, h, xmin, xmax, ymin, ymax,
            list(self.xticks) if self.xticks is not None else auto_ticks(xmin, xmax, w) if xmax > xmin else [],
            list(self.yticks) if self.yticks is not None else auto_ticks(ymin, ymax, h) if ymax > ymin else [],
        )


def _drawn(s) -> bool:
    return bool(s.fill or s.stroke) if isinstance(s, Bars) else bool(s.colour or s.marks)


class _Box:
    __slots__ = ("w", "h", "xmin", "xmax", "ymin", "ymax", "xticks", "yticks")

    def __init__(self, w, h, xmin, xmax, ymin, ymax, xticks, yticks):
        self.w, self.h, self.xmin, self.xmax, self.ymin, self.ymax = w, h, xmin, xmax, ymin, ymax
        self.xticks, self.yticks = xticks, yticks

    def X(self, x: float) -> float:
        return (x - self.xmin) / (self.xmax - self.xmin) * self.w

    def Y(self, y: float) -> float:
        return (y - self.ymin) / (self.ymax - self.ymin) * self.h


Cell = tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]]


class Window(_Model):
    """An outlined block of cells: `rows` x `cols` cells from (top, left), shrunk by `inset` cells
    on every side (so two outlines on the same cells stay apart)."""

    top: Annotated[int, Field(ge=0)]
    left: Annotated[int, Field(ge=0)]
    rows: Annotated[int, Field(ge=1)]
    cols: Annotated[int, Field(ge=1)]
    colour: str = "black"
    width_pt: Annotated[float, Field(gt=0, le=5)] = 0.4
    dashed: bool = False
    inset: Annotated[float, Field(ge=0, le=0.4)] = 0.0

    _colour = field_validator("colour")(_check_colour)


class CellGrid(_Model):
    """A rows x cols table of square cells, `cell_cm` on a side. `values[r][c]` (LaTeX) is printed
    in the middle of cell (r, c); row 0 is the top row. `shaded` cells are filled with `shade`;
    `rule` lines separate every cell, `block_rule` lines every `blocks` = (rows, cols) cells.
    `left` (LaTeX) sits left of the grid, vertically centred; `above` is a caption centred above;
    every text is set in `font`. `baseline`: the grid's bottom or its middle sits on the
    baseline of the text around it."""

    kind: Literal["grid"] = "grid"
    rows: Annotated[int, Field(ge=1, le=MAX_CELLS_SIDE)]
    cols: Annotated[int, Field(ge=1, le=MAX_CELLS_SIDE)]
    cell_cm: Annotated[float, Field(gt=0, le=3)]
    values: tuple[tuple[str, ...], ...] = ()
    font: Font = ""
    shaded: Annotated[tuple[Cell, ...], Field(max_length=MAX_CELLS_SIDE**2)] = ()
    shade: str = "orange!35"
    rule: str = "gray!70"
    rule_pt: Annotated[float, Field(gt=0, le=5)] = 0.4
    blocks: Optional[tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]]] = None
    block_rule: str = "black"
    block_rule_pt: Annotated[float, Field(gt=0, le=5)] = 0.4
    windows: Annotated[tuple[Window, ...], Field(max_length=20)] = ()
    left: str = ""
    above: str = ""
    baseline: Literal["bottom", "middle"] = "bottom"

    _colours = field_validator("shade", "rule", "block_rule")(_check_colour)

    @model_validator(mode="after")
    def _inside(self):
        if self.values and (len(self.values) != self.rows or any(len(r) != self.cols for r in self.values)):
            raise ValueError(f"values must be {self.rows} rows of {self.cols}")
        for r, c in self.shaded:
            if r >= self.rows or c >= self.cols:
                raise ValueError(f"shaded cell ({r}, {c}) is outside the {self.rows}x{self.cols} grid")
        for w in self.windows:
            if w.top + w.rows > self.rows or w.left + w.cols > self.cols:
                raise ValueError(f"window at ({w.top}, {w.left}) of {w.rows}x{w.cols} leaves the grid")
        return self


Figure = Annotated[Union[Axes, CellGrid], Field(discriminator="kind")]
_FIGURE = TypeAdapter(Figure)


def sampled(fn: Callable[[float], float], lo: float, hi: float, samples: int) -> tuple[Point, ...]:
    """`samples` evenly spaced points of y = fn(x) on [lo, hi], both ends included."""
    return tuple((x, fn(x)) for x in (lo + (hi - lo) * i / (samples - 1) for i in range(samples)))


def auto_ticks(lo: float, hi: float, length_pt: float) -> list[float]:
    """pgfplots-like ticks: a step of 1, 2 or 5 times a power of ten, about one per 0.9 cm, and
    never fewer than two ticks."""
    wanted = max(2.0, length_pt / (0.9 * PT_PER_CM))
    raw = (hi - lo) / wanted
    power = 10.0 ** math.floor(math.log10(raw))
    steps = sorted(f * power * 10.0**e for f in (1, 2, 5) for e in (-2, -1, 0, 1))
    step_index = next(i for i, s in enumerate(steps) if s >= raw * 0.999)
    for step in reversed(steps[: step_index + 1]):
        first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
        if last - first >= 1:
            return [round(n * step, 10) for n in range(first, last + 1)]
    return [lo, hi]


# -- LaTeX (the PDFs) --------------------------------------------------------------------------------

# Every figure to_latex draws, and only those: memoize_figures (examforge.renderers.exam) finds them
# by this envelope to typeset each distinct one once per document.
LATEX_FIGURE = re.compile(
    r"\{\\setlength\{\\unitlength\}\{1pt\}(\\raisebox\{-?[\d.]+pt\}\{)?\\begin\{picture\}.*?\\end\{picture\}\}(?(1)\})",
    re.S,
)


def _tick(v: float) -> str:
    return f"${v:.6g}$"


def _f(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if abs(v) >= 0.005 else "0"


@lru_cache(maxsize=4096)
def to_latex(fig: Axes | CellGrid) -> str:
    """The figure as LaTeX `picture` code (unit 1pt; needs pict2e and xcolor)."""
    return _axes_latex(fig) if isinstance(fig, Axes) else _grid_latex(fig)


def _picture(width: float, height: float, x0: float, y0: float, body: list[str], raise_pt: float = 0.0) -> str:
    pic = (f"\\begin{{picture}}({_f(width)},{_f(height)})({_f(x0)},{_f(y0)})" + "".join(body)
           + "\\end{picture}")
    if raise_pt:
        pic = f"\\raisebox{{{_f(raise_pt)}pt}}{{{pic}}}"
    return "{\\setlength{\\unitlength}{1pt}" + pic + "}"


def _axes_latex(fig: Axes) -> str:
    b = fig.box()
    W, H, X, Y = b.w, b.h, b.X, b.Y
    out: list[str] = []
    put = out.append
    tick_pt = _FONT_PT[fig.tick_font]
    font = fig.tick_font
    # Axis lines: where they cross, and whether they end in arrows.
    if fig.lines == "middle":
        ax_y = Y(min(max(0.0, b.ymin), b.ymax))
        ax_x = X(min(max(0.0, b.xmin), b.xmax))
    else:
        ax_y, ax_x = 0.0, 0.0
    arrows = fig.lines in ("left", "middle")
    ext = 6.0 if arrows else 0.0  # the arrows run a little past the limits
    put("\\linethickness{0.4pt}")
    if fig.lines == "box":
        put(f"\\polygon(0,0)({_f(W)},0)({_f(W)},{_f(H)})(0,{_f(H)})")
    else:
        put(f"\\Vector(0,{_f(ax_y)})({_f(W + ext)},{_f(ax_y)})")
        put(f"\\Vector({_f(ax_x)},0)({_f(ax_x)},{_f(H + ext)})")
    # Ticks and their labels (the middle axes hide the ones at the crossing).
    for t in b.xticks:
        x = X(t)
        if fig.lines == "middle" and abs(x - ax_x) < 1e-6:
            continue
        put(f"\\Line({_f(x)},{_f(ax_y - 2)})({_f(x)},{_f(ax_y + 2)})")
        put(f"\\put({_f(x)},{_f(ax_y - 4)}){{\\makebox(0,0)[t]{{{font}{_tick(t)}}}}}")
    for t in b.yticks:
        y = Y(t)
        if fig.lines == "middle" and abs(y - ax_y) < 1e-6:
            continue
        put(f"\\Line({_f(ax_x - 2)},{_f(y)})({_f(ax_x + 2)},{_f(y)})")
        put(f"\\put({_f(ax_x - 4)},{_f(y)}){{\\makebox(0,0)[r]{{{font}{_tick(t)}}}}}")
    # Labels and title.
    if fig.xlabel:
        if fig.lines == "middle":
            put(f"\\put({_f(W + ext + 3)},{_f(ax_y)}){{\\makebox(0,0)[l]{{{fig.xlabel}}}}}")
        else:
            put(f"\\put({_f(W / 2)},{_f(-tick_pt - 10)}){{\\makebox(0,0)[t]{{{fig.xlabel}}}}}")
    if fig.ylabel:
        if fig.lines == "middle":
            put(f"\\put({_f(ax_x)},{_f(H + ext + 3)}){{\\makebox(0,0)[b]{{{fig.ylabel}}}}}")
        else:
            put(f"\\put({_f(-30)},{_f(H / 2)}){{\\makebox(0,0)[r]{{{fig.ylabel}}}}}")
    if fig.title:
        put(f"\\put({_f(W / 2)},{_f(H + ext + 4)}){{\\makebox(0,0)[b]{{{fig.title}}}}}")
    # The data.
    for s in fig.series:
        pts = [(X(x), Y(y)) for x, y in s.points]
        body: list[str] = [f"\\linethickness{{{s.width_pt:g}pt}}"]
        if isinstance(s, Bars):
            half = s.bar_pt / 2
            base = Y(max(b.ymin, 0.0))
            for x, y in pts:
                corners = f"({_f(x - half)},{_f(base)})({_f(x + half)},{_f(base)})({_f(x + half)},{_f(y)})({_f(x - half)},{_f(y)})"
                if s.fill:
                    body.append(f"{{\\color{{{s.fill}}}\\polygon*{corners}}}")
                if s.stroke:
                    body.append(f"{{\\color{{{s.stroke}}}\\polygon{corners}}}")
            for (x, y), label in zip(pts, s.labels):
                if label is not None:
                    body.append(f"\\put({_f(x)},{_f(y + 2)}){{\\makebox(0,0)[b]{{{s.label_font}{label}}}}}")
        else:
            if s.colour and len(pts) > 1:
                body.append(f"{{\\color{{{s.colour}}}\\polyline" + "".join(f"({_f(x)},{_f(y)})" for x, y in pts) + "}")
            if s.marks:
                body.append(f"{{\\color{{{s.colour or 'black'}}}" + "".join(
                    f"\\put({_f(x)},{_f(y)}){{\\circle*{{{_f(2 * s.mark_radius_pt)}}}}}" for x, y in pts) + "}")
        put("{" + "".join(body) + "}")
    # The picture's box: the axis box plus room for the tick labels, the labels and the title.
    left = max([len(_tick(t)) for t in b.yticks] + [0]) * 0.55 * tick_pt + 6
    if fig.ylabel and fig.lines != "middle":
        left += 30
    right = (ext + 3 + 0.6 * 11 * max(1, len(fig.xlabel))) if fig.xlabel and fig.lines == "middle" else ext + 4
    bottom = tick_pt + 6 + (14 if fig.xlabel and fig.lines != "middle" else 0)
    top = ext + (14 if fig.ylabel and fig.lines == "middle" else 0) + (16 if fig.title else 0) + 2
    if any(isinstance(s, Bars) and any(label is not None for label in s.labels) for s in fig.series):
        top = max(top, 14)
    return _picture(left + W + right, bottom + H + top, -left, -bottom, out)


def _text_width_pt(latex: str, font: str) -> float:
    """A rough width for room around a label: its visible characters at the font's size."""
    visible = re.sub(r"\\[a-zA-Z]+|[{}$^_]", "", latex)  # "$X = {}$": "X = ", the space after = counts
    return 0.55 * _FONT_PT[font] * len(visible)


def _grid_latex(g: CellGrid) -> str:
    u = g.cell_cm * PT_PER_CM
    W, H = g.cols * u, g.rows * u
    out: list[str] = []
    put = out.append
    if g.shaded:  # under everything else
        put(f"{{\\color{{{g.shade}}}" + "".join(
            f"\\put({_f(c * u)},{_f(H - (r + 1) * u)}){{\\rule{{{_f(u)}pt}}{{{_f(u)}pt}}}}" for r, c in g.shaded) + "}")
    for r, row in enumerate(g.values):
        for c, value in enumerate(row):
            if value:
                put(f"\\put({_f((c + 0.5) * u)},{_f(H - (r + 0.5) * u)}){{\\makebox(0,0){{{g.font}{value}}}}}")
    put(_lines(g.rows, g.cols, u, 1, 1, g.rule, g.rule_pt))
    if g.blocks:
        put(_lines(g.rows, g.cols, u, g.blocks[0], g.blocks[1], g.block_rule, g.block_rule_pt))
    for w in g.windows:
        x0, x1 = (w.left + w.inset) * u, (w.left + w.cols - w.inset) * u
        y0, y1 = H - (w.top + w.rows - w.inset) * u, H - (w.top + w.inset) * u
        if w.dashed:
            shape = f"\\put({_f(x0)},{_f(y0)}){{\\dashbox{{3}}({_f(x1 - x0)},{_f(y1 - y0)}){{}}}}"
        else:
            shape = f"\\polygon({_f(x0)},{_f(y0)})({_f(x1)},{_f(y0)})({_f(x1)},{_f(y1)})({_f(x0)},{_f(y1)})"
        put(f"{{\\color{{{w.colour}}}\\linethickness{{{w.width_pt:g}pt}}{shape}}}")
    left = top = 0.0
    if g.left:
        put(f"\\put({_f(-INNER_SEP_PT)},{_f(H / 2)}){{\\makebox(0,0)[r]{{{g.font}{g.left}}}}}")
        left = _text_width_pt(g.left, g.font) + 2 * INNER_SEP_PT
    if g.above:
        put(f"\\put({_f(W / 2)},{_f(INNER_SEP_PT + H)}){{\\makebox(0,0)[b]{{{g.font}{g.above}}}}}")
        top = _FONT_PT[g.font] + 2 * INNER_SEP_PT
    raise_pt = -H / 2 if g.baseline == "middle" else 0.0
    return _picture(left + W, H + top, -left, 0, out, raise_pt)


def _lines(rows: int, cols: int, u: float, row_step: int, col_step: int, colour_name: str, width: float) -> str:
    """The lines every `col_step` columns and `row_step` rows, over the whole grid."""
    W, H = cols * u, rows * u
    xs = [c * u for c in range(0, cols + 1, col_step)]
    ys = [H - r * u for r in range(0, rows + 1, row_step)]
    body = "".join(f"\\put({_f(x)},0){{\\line(0,1){{{_f(H)}}}}}" for x in xs)
    body += "".join(f"\\put(0,{_f(y)}){{\\line(1,0){{{_f(W)}}}}}" for y in ys)
    return f"{{\\color{{{colour_name}}}\\linethickness{{{width:g}pt}}{body}}}"


# -- the drill's transport: the model inside LaTeX ------------------------------------------------------

DATA_MACRO = "effigure"  # \effigure{<base64 of the model's JSON>}


def encode(fig: Axes | CellGrid) -> str:
    """The model as URL-safe base64 of its JSON: no braces, backslashes or % to confuse LaTeX readers."""
    return base64.urlsafe_b64encode(fig.model_dump_json().encode("utf-8")).decode("ascii")


def as_data(fig: Axes | CellGrid) -> str:
    return f"\\{DATA_MACRO}{{{encode(fig)}}}"


def decode(text: str) -> Axes | CellGrid:
    """The model `encode` wrote; ValueError (naming what is wrong) for anything else."""
    text = text.strip()
    if len(text) > MAX_ENCODED:
        raise ValueError(f"figure data of {len(text)} characters (at most {MAX_ENCODED})")
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii"))
        return _FIGURE.validate_json(raw)
    except (binascii.Error, UnicodeEncodeError, ValidationError) as err:
        raise ValueError(f"not figure data: {str(err).splitlines()[0]}") from None


# -- SVG (the web drill) -----------------------------------------------------------------------------


def to_svg(fig: Axes | CellGrid, text_of: Callable[[str], str]) -> str:
    """The figure as SVG markup; `text_of(latex)` turns a label into plain text."""
    return _axes_svg(fig, text_of) if isinstance(fig, Axes) else _grid_svg(fig, text_of)


def _text(x, y, label, anchor="middle", base="central", size=13):
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" dominant-baseline="{base}" '
            f'font-size="{size}">{html.escape(label)}</text>')


def _svg(items: list[str], xs: list[float], ys: list[float], pad: float = 6) -> str:
    x0, x1, y0, y1 = min(xs) - pad, max(xs) + pad, min(ys) - pad, max(ys) + pad
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x0:.1f} {y0:.1f} {x1 - x0:.1f} {y1 - y0:.1f}" '
            f'width="{x1 - x0:.0f}" height="{y1 - y0:.0f}" font-family="KaTeX_Main, Times New Roman, serif" '
            f'font-size="16" role="img">{"".join(items)}</svg>')


def _axes_svg(fig: Axes, text_of) -> str:
    b = fig.box()
    k = PX_PER_CM / PT_PER_CM  # px per pt
    W, H = b.w * k, b.h * k

    def P(x: float, y: float) -> tuple[float, float]:  # data -> px, y down
        return b.X(x) * k, H - b.Y(y) * k

    def text(x, y, label, anchor="middle", base="central", size=13):
        return _text(x, y, text_of(label), anchor, base, size)

    items: list[str] = []
    if fig.lines == "middle":
        ox, oy = P(min(max(0.0, b.xmin), b.xmax), min(max(0.0, b.ymin), b.ymax))
    else:
        ox, oy = 0.0, H
    ext = 8.0 if fig.lines != "box" else 0.0
    axis = 'stroke="#000" stroke-width="1"'
    if fig.lines == "box":
        items.append(f'<rect x="0" y="0" width="{W:.1f}" height="{H:.1f}" fill="none" {axis}/>')
    else:
        items.append(f'<line x1="0" y1="{oy:.1f}" x2="{W + ext:.1f}" y2="{oy:.1f}" {axis}/>')
        items.append(f'<line x1="{ox:.1f}" y1="{H:.1f}" x2="{ox:.1f}" y2="{-ext:.1f}" {axis}/>')
        items.append(f'<polygon points="{W + ext + 5:.1f},{oy:.1f} {W + ext - 1:.1f},{oy - 3:.1f} '
                     f'{W + ext - 1:.1f},{oy + 3:.1f}" fill="#000"/>')
        items.append(f'<polygon points="{ox:.1f},{-ext - 5:.1f} {ox - 3:.1f},{-ext + 1:.1f} '
                     f'{ox + 3:.1f},{-ext + 1:.1f}" fill="#000"/>')
    for t in b.xticks:
        x, _ = P(t, b.ymin)
        if fig.lines == "middle" and abs(x - ox) < 1e-6:
            continue
        items.append(f'<line x1="{x:.1f}" y1="{oy - 3:.1f}" x2="{x:.1f}" y2="{oy + 3:.1f}" {axis}/>')
        items.append(text(x, oy + 6, _tick(t), base="hanging", size=11))
    for t in b.yticks:
        _, y = P(b.xmin, t)
        if fig.lines == "middle" and abs(y - oy) < 1e-6:
            continue
        items.append(f'<line x1="{ox - 3:.1f}" y1="{y:.1f}" x2="{ox + 3:.1f}" y2="{y:.1f}" {axis}/>')
        items.append(text(ox - 6, y, _tick(t), anchor="end", size=11))
    if fig.xlabel:
        items.append(text(W + ext + 8, oy, fig.xlabel, anchor="start") if fig.lines == "middle"
                     else text(W / 2, H + 24, fig.xlabel, base="hanging"))
    if fig.ylabel:
        items.append(text(ox, -ext - 10, fig.ylabel, base="auto") if fig.lines == "middle"
                     else text(-34, H / 2, fig.ylabel, anchor="end"))
    if fig.title:
        items.append(text(W / 2, -ext - 10 - (14 if fig.ylabel and fig.lines == "middle" else 0),
                          fig.title, base="auto"))
    for s in fig.series:
        pts = [P(x, y) for x, y in s.points]
        if isinstance(s, Bars):
            half = s.bar_pt * k / 2
            _, base = P(b.xmin, max(b.ymin, 0.0))
            fill = colour(s.fill) if s.fill else "none"
            stroke = colour(s.stroke) if s.stroke else "none"
            for x, y in pts:
                items.append(f'<rect x="{x - half:.1f}" y="{min(y, base):.1f}" width="{2 * half:.1f}" '
                             f'height="{abs(base - y):.1f}" fill="{fill}" stroke="{stroke}"/>')
            for (x, y), label in zip(pts, s.labels):
                if label is not None:
                    items.append(text(x, y - 4, label, base="auto", size=12))
            continue
        stroke = colour(s.colour) if s.colour else None
        if stroke and len(pts) > 1:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
            items.append(f'<polyline points="{coords}" fill="none" stroke="{stroke}" '
                         f'stroke-width="{s.width_pt * k:.2f}"/>')
        if s.marks:
            items += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{s.mark_radius_pt * k:.1f}" fill="{stroke or "#000"}"/>'
                      for x, y in pts]
    top = -ext - 10 - (16 if fig.title else 0) - (16 if fig.ylabel else 0)
    return _svg(items, [-40, W + ext + 8 + (10 * len(fig.xlabel) if fig.xlabel else 0)], [top, H + 22])


def _grid_svg(g: CellGrid, text_of) -> str:
    u = g.cell_cm * PX_PER_CM
    W, H = g.cols * u, g.rows * u
    items: list[str] = []
    shade = colour(g.shade)
    for r, c in g.shaded:
        items.append(f'<rect x="{c * u:.1f}" y="{r * u:.1f}" width="{u:.1f}" height="{u:.1f}" fill="{shade}"/>')
    size = 16 * _FONT_PT[g.font] / 11
    for r, row in enumerate(g.values):
        for c, value in enumerate(row):
            if value:
                items.append(_text((c + 0.5) * u, (r + 0.5) * u, text_of(value), size=round(size)))

    def lines(row_step: int, col_step: int, colour_name: str, width_pt: float) -> None:
        stroke = f'stroke="{colour(colour_name)}" stroke-width="{width_pt * 1.33:.2f}"'
        for c in range(0, g.cols + 1, col_step):
            items.append(f'<line x1="{c * u:.1f}" y1="0" x2="{c * u:.1f}" y2="{H:.1f}" {stroke}/>')
        for r in range(0, g.rows + 1, row_step):
            items.append(f'<line x1="0" y1="{r * u:.1f}" x2="{W:.1f}" y2="{r * u:.1f}" {stroke}/>')

    lines(1, 1, g.rule, g.rule_pt)
    if g.blocks:
        lines(g.blocks[0], g.blocks[1], g.block_rule, g.block_rule_pt)
    for w in g.windows:
        x0, y0 = (w.left + w.inset) * u, (w.top + w.inset) * u
        dash = ' stroke-dasharray="4 3"' if w.dashed else ""
        items.append(f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{(w.cols - 2 * w.inset) * u:.1f}" '
                     f'height="{(w.rows - 2 * w.inset) * u:.1f}" fill="none" stroke="{colour(w.colour)}" '
                     f'stroke-width="{w.width_pt * 1.33:.2f}"{dash}/>')
    xs, ys = [0.0, W], [0.0, H]
    if g.left:
        label = text_of(g.left)
        items.append(_text(-6, H / 2, label, anchor="end"))
        xs.append(-6 - 8.5 * len(label))
    if g.above:
        label = text_of(g.above)
        items.append(_text(W / 2, -6, label, base="auto"))
        ys.append(-26)
        xs += [W / 2 - 4.5 * len(label), W / 2 + 4.5 * len(label)]
    return _svg(items, xs, ys)


# -- text (the terminal) ---------------------------------------------------------------------------------

MAX_TEXT_CELLS = 4000


def to_text(fig: Axes | CellGrid, text_of: Callable[[str], str]) -> list[str]:
    """Lines of Unicode text: a grid of values as a table (shaded values in brackets), a grid
    without values as ■ on ·, bars as a horizontal bar chart; other plots as a note."""
    if isinstance(fig, CellGrid):
        return _grid_text(fig, text_of)
    bars = [s for s in fig.series if isinstance(s, Bars)]
    if not bars:
        return ["(a plot; the web drill and the PDF key show it)"]
    lines = [text_of(fig.title)] if fig.title else []
    b = fig.box()
    width = max(len(f"{x:g}") for s in bars for x, _ in s.points)
    for s in bars:
        labels = [text_of(label) if label is not None else "" for label in s.labels] or [""] * len(s.points)
        for (x, y), label in zip(s.points, labels):
            n = round(20 * (y - max(b.ymin, 0.0)) / (b.ymax - b.ymin))
            lines.append((f"  {x:>{width}g} \u2502" + "\u2588" * max(0, n) + f" {label}").rstrip())
    return lines


def _grid_text(g: CellGrid, text_of) -> list[str]:
    shaded = set(g.shaded)
    if g.values:
        cells = [[text_of(v) for v in row] for row in g.values]
        widths = [max(len(row[c]) for row in cells) for c in range(g.cols)]

        def cell(r: int, c: int) -> str:
            text = cells[r][c].rjust(widths[c])
            if not shaded:
                return text
            return f"[{text}]" if (r, c) in shaded else f" {text} "

        gap = " " if shaded else "  "
        body = ["\u2502 " + gap.join(cell(r, c) for c in range(g.cols)) + " \u2502" for r in range(g.rows)]
    elif g.rows * g.cols > MAX_TEXT_CELLS:
        return ["(a figure too large for the terminal)"]
    else:
        body = [" ".join("\u25a0" if (r, c) in shaded else "\u00b7" for c in range(g.cols)) for r in range(g.rows)]
    prefix = text_of(g.left).strip() + " " if g.left else ""
    lines = [(prefix if i == len(body) // 2 else " " * len(prefix)) + line for i, line in enumerate(body)]
    if g.above:
        lines.insert(0, text_of(g.above))
    return lines
