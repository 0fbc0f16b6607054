"""The small pgfplots plots our templates draw (axes, curves, marked iterates, labelled bars),
read into one model and drawn again as plain LaTeX `picture` code (pict2e) for the PDFs.

pgfplots takes 60-90 ms of pdflatex time per axis; a class of 500 students has hundreds of
distinct plots (every student's learning-rate parabola differs), which made them more than half
of the build's LaTeX time. The same drawing in a `picture` takes about 3 ms. Templates keep
writing pgfplots (it stays the readable source, and the web drill reads it too); the exam
renderer swaps every axis it fully understands for its `picture` (see `axis_picture`), and
leaves anything else to pgfplots, so an option we do not model is never silently dropped.

Understood: `\\begin{tikzpicture}` (no options) around one `axis` with the options in
`AXIS_KEYS`, and `\\addplot[style] {expression in x};` or `\\addplot[style] coordinates {...};`
with the styles in `PLOT_KEYS`. Expressions go through the safe arithmetic reader of
`examforge.drill.tikz` (numbers, x, + - * / ^, parentheses), never evaluated as code."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from examforge.drill.tikz import _COORD, _braced, _bracket, _split_options, colour, number

PT_PER_CM = 72.27 / 2.54
LABEL_ALLOWANCE_PT = 45.0  # pgfplots' width/height include the labels: it takes 45pt off for them
AXIS_KEYS = {
    "width", "height", "xmin", "xmax", "ymin", "ymax", "xtick", "ytick", "title", "xlabel", "ylabel",
    "axis lines", "domain", "samples", "scaled ticks", "tick label style", "every axis plot/.append style",
    "ybar", "bar width", "point meta", "nodes near coords", "every node near coord/.append style",
}
PLOT_KEYS = {"draw", "fill", "mark", "mark size", "thick", "very thick", "thin", "semithick"}
_WIDTHS_PT = {"thin": 0.4, "semithick": 0.6, "thick": 0.8, "very thick": 1.2}
_FONTS = {"\\tiny", "\\scriptsize", "\\footnotesize", "\\small", "\\normalsize"}
_FONT_PT = {"\\tiny": 6.0, "\\scriptsize": 8.0, "\\footnotesize": 9.0, "\\small": 10.0, "\\normalsize": 11.0}


class Unsupported(ValueError):
    """The axis uses something this model does not draw; pgfplots keeps it."""


@dataclass
class Series:
    points: list[tuple[float, float]]
    stroke: str | None = "black"  # xcolor names, as the template wrote them
    fill: str | None = None
    width_pt: float = 0.4
    marks: bool = False
    mark_radius_pt: float = 2.0
    labels: list[str | None] = field(default_factory=list)  # nodes near coords (LaTeX)


@dataclass
class Plot:
    box_w: float  # the axis box, in pt
    box_h: float
    xmin: float
    xmax: float
    ymin: float
    ymax: float
    xticks: list[float]
    yticks: list[float]
    axis_lines: str = "box"  # "left", "middle" or "box"
    xlabel: str = ""
    ylabel: str = ""
    title: str = ""
    tick_font: str = ""
    node_font: str = ""
    bars: bool = False
    bar_w: float = 10.0  # pt
    series: list[Series] = field(default_factory=list)


# -- reading -----------------------------------------------------------------------------------------


def _length_pt(text: str) -> float:
    m = re.fullmatch(r"\s*(-?[\d.]+)\s*(cm|pt|mm|in)?\s*", text)
    if not m:
        raise Unsupported(f"length {text!r}")
    value = float(m.group(1))
    return value * {"cm": PT_PER_CM, "mm": PT_PER_CM / 10, "in": 72.27, "pt": 1.0, None: 1.0}[m.group(2)]


def _numbers(text: str) -> list[float]:
    return [number(t) for t in text.split(",") if t.strip()]


def _font(style: str) -> str:
    m = re.fullmatch(r"\s*font\s*=\s*(\\[a-z]+)\s*", style)
    if not m or m.group(1) not in _FONTS:
        raise Unsupported(f"style {style!r}")
    return m.group(1)


def _unbrace(value: str) -> str:
    value = value.strip()
    return value[1:-1] if value.startswith("{") and value.endswith("}") else value


def parse_axis(tikz_options: str, body: str) -> Plot:
    """The plot in a tikzpicture's body (Unsupported when it holds anything else)."""
    if tikz_options.strip():
        raise Unsupported("tikzpicture options")
    body = re.sub(r"(?<!\\)%.*", "", body).strip()
    if not body.startswith("\\begin{axis}") or not body.endswith("\\end{axis}"):
        raise Unsupported("not a single axis")
    inner = body[len("\\begin{axis}"): -len("\\end{axis}")]
    options, k = _bracket(inner, 0)
    opts: dict[str, str] = {}
    for opt in _split_options(options):
        key, eq, value = opt.partition("=")
        key = key.strip()
        if key not in AXIS_KEYS:
            raise Unsupported(f"axis option {key!r}")
        opts[key] = _unbrace(value) if eq else ""
    plot_width = 0.4
    if "every axis plot/.append style" in opts:
        style = opts["every axis plot/.append style"].strip()
        if style not in _WIDTHS_PT:
            raise Unsupported(f"plot style {style!r}")
        plot_width = _WIDTHS_PT[style]
    if opts.get("scaled ticks", "false") != "false":
        raise Unsupported("scaled ticks")
    bars = "ybar" in opts
    if bars and opts["ybar"]:
        raise Unsupported("ybar value")
    labelled = "nodes near coords" in opts
    if labelled and (opts["nodes near coords"] or opts.get("point meta") != "explicit symbolic"):
        raise Unsupported("nodes near coords without explicit symbolic labels")
    if "point meta" in opts and not labelled:
        raise Unsupported("point meta")
    lo, hi = -5.0, 5.0
    if "domain" in opts:
        a, _, b = opts["domain"].partition(":")
        lo, hi = number(a), number(b)
    samples = int(number(opts.get("samples", "25")))
    if not 2 <= samples <= 200:
        raise Unsupported("samples")

    series: list[Series] = []
    rest = inner[k:]
    pos = 0
    for m in re.finditer(r"\\addplot\b", rest):
        if rest[pos: m.start()].strip():
            raise Unsupported(f"text in the axis: {rest[pos: m.start()].strip()[:30]!r}")
        style_text, j = _bracket(rest, m.end())
        s = _series_style(style_text, plot_width)
        tail = rest[j:].lstrip()
        j = len(rest) - len(tail)
        if tail.startswith("coordinates"):
            group, end = _braced(rest, j)
            s.points, s.labels = _coordinates(group, labelled)
        elif tail.startswith("{"):
            group, end = _braced(rest, j)
            xs = [lo + (hi - lo) * i / (samples - 1) for i in range(samples)]
            s.points = [(x, number(group, x=x)) for x in xs]
        else:
            raise Unsupported("addplot source")
        semi = rest.find(";", end)
        if semi < 0 or rest[end:semi].strip():
            raise Unsupported("addplot end")
        pos = semi + 1
        series.append(s)
    if rest[pos:].strip() or not series:
        raise Unsupported("text after the plots")

    width = _length_pt(opts.get("width", "240pt"))
    height = _length_pt(opts.get("height", "207pt"))
    points = [p for s in series for p in s.points if s.stroke or s.fill or s.marks]
    data_x = [p[0] for p in points] or [0.0, 1.0]
    data_y = [p[1] for p in points] + ([0.0] if bars else []) or [0.0, 1.0]
    xmin = number(opts["xmin"]) if "xmin" in opts else min(data_x)
    xmax = number(opts["xmax"]) if "xmax" in opts else max(data_x)
    ymin = number(opts["ymin"]) if "ymin" in opts else min(data_y)
    ymax = number(opts["ymax"]) if "ymax" in opts else max(data_y)
    if not (xmax > xmin and ymax > ymin):
        raise Unsupported("empty range")
    eps = 1e-9 * max(1.0, abs(xmax - xmin), abs(ymax - ymin))
    for s in series:  # pgfplots would clip; we only draw what fits
        if any(not (xmin - eps <= x <= xmax + eps and ymin - eps <= y <= ymax + eps) for x, y in s.points):
            raise Unsupported("data outside the axis limits")
    box_w, box_h = width - LABEL_ALLOWANCE_PT, height - LABEL_ALLOWANCE_PT
    if box_w < 20 or box_h < 20:
        raise Unsupported("axis too small")
    plot = Plot(
        box_w=box_w, box_h=box_h, xmin=xmin, xmax=xmax, ymin=ymin, ymax=ymax,
        xticks=_numbers(opts["xtick"]) if "xtick" in opts else auto_ticks(xmin, xmax, box_w),
        yticks=_numbers(opts["ytick"]) if "ytick" in opts else auto_ticks(ymin, ymax, box_h),
        axis_lines=opts.get("axis lines", "box"),
        xlabel=opts.get("xlabel", ""), ylabel=opts.get("ylabel", ""), title=opts.get("title", ""),
        tick_font=_font(opts["tick label style"]) if "tick label style" in opts else "",
        node_font=_font(opts["every node near coord/.append style"]) if "every node near coord/.append style" in opts else "",
        bars=bars, bar_w=_length_pt(opts["bar width"]) if "bar width" in opts else 10.0, series=series,
    )
    if plot.axis_lines not in ("left", "middle", "box"):
        raise Unsupported(f"axis lines={plot.axis_lines}")
    return plot


def _series_style(text: str, width: float) -> Series:
    s = Series(points=[], width_pt=width)
    for opt in _split_options(text):
        key, eq, value = (part.strip() for part in opt.partition("="))
        if not eq and colour(key):
            s.stroke = key
        elif not eq and key in _WIDTHS_PT:
            s.width_pt = _WIDTHS_PT[key]
        elif key == "draw" and eq:
            s.stroke = None if value == "none" else value
            if value != "none" and not colour(value):
                raise Unsupported(f"colour {value!r}")
        elif key == "fill" and eq:
            if not colour(value):
                raise Unsupported(f"colour {value!r}")
            s.fill = value
        elif key == "mark" and value == "*":
            s.marks = True
        elif key == "mark size" and eq:
            s.mark_radius_pt = _length_pt(value)
        else:
            raise Unsupported(f"plot option {opt!r}")
    return s


def _coordinates(text: str, labelled: bool) -> tuple[list[tuple[float, float]], list[str | None]]:
    points, labels = [], []
    k = 0
    while True:
        m = _COORD.search(text, k)
        if not m:
            break
        if text[k: m.start()].strip():
            raise Unsupported("coordinates")
        points.append((number(m.group(2)), number(m.group(3))))
        k = m.end()
        if text[k:].lstrip().startswith("["):
            label, j = _bracket(text, k)
            if not labelled:
                raise Unsupported("point meta without nodes near coords")
            labels.append(label)
            k = j
        else:
            labels.append(None)
    if text[k:].strip():
        raise Unsupported("coordinates")
    return points, labels


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


# -- drawing ------------------------------------------------------------------------------------------


def _tick(v: float) -> str:
    return f"${v:.6g}$"


def _f(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if abs(v) >= 0.005 else "0"


def to_picture(plot: Plot) -> str:
    """LaTeX `picture` code (unit 1pt; needs pict2e and xcolor) drawing the plot."""
    W, H = plot.box_w, plot.box_h

    def X(x: float) -> float:
        return (x - plot.xmin) / (plot.xmax - plot.xmin) * W

    def Y(y: float) -> float:
        return (y - plot.ymin) / (plot.ymax - plot.ymin) * H

    out: list[str] = []
    put = out.append
    tick_pt = _FONT_PT.get(plot.tick_font, 11.0)
    font = plot.tick_font
    # Axis lines: where they cross, and whether they end in arrows.
    if plot.axis_lines == "middle":
        ax_y = Y(min(max(0.0, plot.ymin), plot.ymax))
        ax_x = X(min(max(0.0, plot.xmin), plot.xmax))
    else:
        ax_y, ax_x = 0.0, 0.0
    arrows = plot.axis_lines in ("left", "middle")
    ext = 6.0 if arrows else 0.0  # pgfplots lets the arrow run a little past the limit
    put("\\linethickness{0.4pt}")
    if plot.axis_lines == "box":
        put(f"\\polygon(0,0)({_f(W)},0)({_f(W)},{_f(H)})(0,{_f(H)})")
    else:
        put(f"\\Vector(0,{_f(ax_y)})({_f(W + ext)},{_f(ax_y)})")
        put(f"\\Vector({_f(ax_x)},0)({_f(ax_x)},{_f(H + ext)})")
    # Ticks and their labels (the middle axes hide the ones at the crossing, as pgfplots does).
    for t in plot.xticks:
        x = X(t)
        if plot.axis_lines == "middle" and abs(x - ax_x) < 1e-6:
            continue
        put(f"\\Line({_f(x)},{_f(ax_y - 2)})({_f(x)},{_f(ax_y + 2)})")
        put(f"\\put({_f(x)},{_f(ax_y - 4)}){{\\makebox(0,0)[t]{{{font}{_tick(t)}}}}}")
    for t in plot.yticks:
        y = Y(t)
        if plot.axis_lines == "middle" and abs(y - ax_y) < 1e-6:
            continue
        put(f"\\Line({_f(ax_x - 2)},{_f(y)})({_f(ax_x + 2)},{_f(y)})")
        put(f"\\put({_f(ax_x - 4)},{_f(y)}){{\\makebox(0,0)[r]{{{font}{_tick(t)}}}}}")
    # Labels and title.
    if plot.xlabel:
        if plot.axis_lines == "middle":
            put(f"\\put({_f(W + ext + 3)},{_f(ax_y)}){{\\makebox(0,0)[l]{{{plot.xlabel}}}}}")
        else:
            put(f"\\put({_f(W / 2)},{_f(-tick_pt - 10)}){{\\makebox(0,0)[t]{{{plot.xlabel}}}}}")
    if plot.ylabel:
        if plot.axis_lines == "middle":
            put(f"\\put({_f(ax_x)},{_f(H + ext + 3)}){{\\makebox(0,0)[b]{{{plot.ylabel}}}}}")
        else:
            put(f"\\put({_f(-30)},{_f(H / 2)}){{\\makebox(0,0)[r]{{{plot.ylabel}}}}}")
    if plot.title:
        put(f"\\put({_f(W / 2)},{_f(H + ext + 4)}){{\\makebox(0,0)[b]{{{plot.title}}}}}")
    # The data.
    for s in plot.series:
        pts = [(X(x), Y(y)) for x, y in s.points]
        body: list[str] = [f"\\linethickness{{{s.width_pt:g}pt}}"]
        if plot.bars:
            half = plot.bar_w / 2
            base = Y(max(plot.ymin, 0.0))
            for x, y in pts:
                corners = f"({_f(x - half)},{_f(base)})({_f(x + half)},{_f(base)})({_f(x + half)},{_f(y)})({_f(x - half)},{_f(y)})"
                if s.fill:
                    body.append(f"{{\\color{{{s.fill}}}\\polygon*{corners}}}")
                if s.stroke:
                    body.append(f"{{\\color{{{s.stroke}}}\\polygon{corners}}}")
        elif s.stroke and len(pts) > 1:
            body.append(f"{{\\color{{{s.stroke}}}\\polyline" + "".join(f"({_f(a)},{_f(b)})" for a, b in pts) + "}")
        if s.marks:
            colour_name = s.stroke or "black"
            body.append(f"{{\\color{{{colour_name}}}" + "".join(
                f"\\put({_f(a)},{_f(b)}){{\\circle*{{{_f(2 * s.mark_radius_pt)}}}}}" for a, b in pts) + "}")
        for (a, b), label in zip(pts, s.labels):
            if label is not None:
                body.append(f"\\put({_f(a)},{_f(b + 2)}){{\\makebox(0,0)[b]{{{plot.node_font}{label}}}}}")
        put("{" + "".join(body) + "}")
    # The picture's box: the axis box plus room for the tick labels, the labels and the title.
    left = max([len(_tick(t)) for t in plot.yticks] + [0]) * 0.55 * tick_pt + 6
    if plot.ylabel and plot.axis_lines != "middle":
        left += 30
    right = (ext + 3 + 0.6 * 11 * max(1, len(plot.xlabel))) if plot.xlabel and plot.axis_lines == "middle" else ext + 4
    bottom = tick_pt + 6 + (14 if plot.xlabel and plot.axis_lines != "middle" else 0)
    top = ext + (14 if plot.ylabel and plot.axis_lines == "middle" else 0) + (16 if plot.title else 0) + 2
    if plot.series and any(s.labels and any(s.labels) for s in plot.series):
        top = max(top, 14)
    return (
        "{\\setlength{\\unitlength}{1pt}"
        f"\\begin{{picture}}({_f(left + W + right)},{_f(bottom + H + top)})({_f(-left)},{_f(-bottom)})"
        + "".join(out)
        + "\\end{picture}}"
    )


@lru_cache(maxsize=4096)
def axis_picture(tikz_options: str, body: str) -> str | None:
    """The `picture` for a tikzpicture holding one plot we model, or None (pgfplots draws it)."""
    try:
        return to_picture(parse_axis(tikz_options, body))
    except (Unsupported, ValueError, ZeroDivisionError, OverflowError, IndexError):
        return None


# -- SVG (the web drill) ---------------------------------------------------------------------------


def to_svg(plot: Plot, text_of) -> str:
    """The same drawing as SVG for the web drill; `text_of(latex)` turns labels into plain text."""
    import html

    from examforge.drill.tikz import PX_PER_CM, _svg, colour

    k = PX_PER_CM / PT_PER_CM  # px per pt
    W, H = plot.box_w * k, plot.box_h * k

    def P(x: float, y: float) -> tuple[float, float]:  # data -> px, y down
        return (x - plot.xmin) / (plot.xmax - plot.xmin) * W, H - (y - plot.ymin) / (plot.ymax - plot.ymin) * H

    def text(x, y, label, anchor="middle", base="central", size=13):
        return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" dominant-baseline="{base}" '
                f'font-size="{size}">{html.escape(text_of(label))}</text>')

    items: list[str] = []
    if plot.axis_lines == "middle":
        ox, oy = P(min(max(0.0, plot.xmin), plot.xmax), min(max(0.0, plot.ymin), plot.ymax))
    else:
        ox, oy = 0.0, H
    ext = 8.0 if plot.axis_lines != "box" else 0.0
    axis = 'stroke="#000" stroke-width="1"'
    if plot.axis_lines == "box":
        items.append(f'<rect x="0" y="0" width="{W:.1f}" height="{H:.1f}" fill="none" {axis}/>')
    else:
        items.append(f'<line x1="0" y1="{oy:.1f}" x2="{W + ext:.1f}" y2="{oy:.1f}" {axis}/>')
        items.append(f'<line x1="{ox:.1f}" y1="{H:.1f}" x2="{ox:.1f}" y2="{-ext:.1f}" {axis}/>')
        items.append(f'<polygon points="{W + ext + 5:.1f},{oy:.1f} {W + ext - 1:.1f},{oy - 3:.1f} '
                     f'{W + ext - 1:.1f},{oy + 3:.1f}" fill="#000"/>')
        items.append(f'<polygon points="{ox:.1f},{-ext - 5:.1f} {ox - 3:.1f},{-ext + 1:.1f} '
                     f'{ox + 3:.1f},{-ext + 1:.1f}" fill="#000"/>')
    for t in plot.xticks:
        x, _ = P(t, 0)
        if plot.axis_lines == "middle" and abs(x - ox) < 1e-6:
            continue
        items.append(f'<line x1="{x:.1f}" y1="{oy - 3:.1f}" x2="{x:.1f}" y2="{oy + 3:.1f}" {axis}/>')
        items.append(text(x, oy + 6, f"${t:.6g}$", base="hanging", size=11))
    for t in plot.yticks:
        _, y = P(0, t)
        if plot.axis_lines == "middle" and abs(y - oy) < 1e-6:
            continue
        items.append(f'<line x1="{ox - 3:.1f}" y1="{y:.1f}" x2="{ox + 3:.1f}" y2="{y:.1f}" {axis}/>')
        items.append(text(ox - 6, y, f"${t:.6g}$", anchor="end", size=11))
    if plot.xlabel:
        items.append(text(W + ext + 8, oy, plot.xlabel, anchor="start") if plot.axis_lines == "middle"
                     else text(W / 2, H + 24, plot.xlabel, base="hanging"))
    if plot.ylabel:
        items.append(text(ox, -ext - 10, plot.ylabel, base="auto") if plot.axis_lines == "middle"
                     else text(-34, H / 2, plot.ylabel, anchor="end"))
    if plot.title:
        items.append(text(W / 2, -ext - 10 - (14 if plot.ylabel and plot.axis_lines == "middle" else 0),
                          plot.title, base="auto"))
    for s in plot.series:
        pts = [P(x, y) for x, y in s.points]
        stroke = colour(s.stroke) if s.stroke else None
        if plot.bars:
            half = plot.bar_w * k / 2
            _, base = P(0, max(plot.ymin, 0.0))
            for x, y in pts:
                items.append(f'<rect x="{x - half:.1f}" y="{min(y, base):.1f}" width="{2 * half:.1f}" '
                             f'height="{abs(base - y):.1f}" fill="{colour(s.fill) if s.fill else "none"}" '
                             f'stroke="{stroke or "none"}"/>')
        elif stroke and len(pts) > 1:
            coords = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
            items.append(f'<polyline points="{coords}" fill="none" stroke="{stroke}" '
                         f'stroke-width="{s.width_pt * k:.2f}"/>')
        if s.marks:
            items += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="{s.mark_radius_pt * k:.1f}" fill="{stroke or "#000"}"/>'
                      for a, b in pts]
        for (a, b), label in zip(pts, s.labels):
            if label is not None:
                items.append(text(a, b - 4, label, base="auto", size=12))
    top = -ext - 10 - (16 if plot.title else 0) - (16 if plot.ylabel else 0)
    return _svg(items, [-40, W + ext + 8 + (10 * len(plot.xlabel) if plot.xlabel else 0)], [top, H + 22])
