"""The Jinja2 environment for LaTeX templates and its filters.

Delimiters are LaTeX-safe (\\VAR{...}, \\BLOCK{...}, \\#{...}), undefined names fail loudly,
and every plain string that reaches the output is escaped unless it is `Latex` markup made
by one of our filters. Templates hold no logic beyond choosing what to print."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache
from typing import Any, Iterable

import jinja2

from examforge import figures



class Latex(str):
    """A string that is already LaTeX and must not be escaped again."""


# What each character special to LaTeX (or to its T1 fonts) becomes in escaped user text.
_SPECIAL = {
    "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
    "\\": r"\textbackslash{}",
    "~": r"\textasciitilde{}",  # the ASCII character, not an accent or a non-breaking space
    "^": r"\textasciicircum{}",
    "\xa0": "~",  # a non-breaking space stays one
    "\n": " ",  # user text is one paragraph
    "-": "{-}", "[": "{[}", "]": "{]}",  # no -- or --- dashes; no optional argument opened
    # Straight quotes and backticks print as themselves, not as typographic quotes.
    "'": r"\textquotesingle{}", "`": r"\textasciigrave{}", '"': r"\textquotedbl{}",
}
_TABLE = str.maketrans(_SPECIAL)
_NEEDS_ESCAPE = re.compile("[" + re.escape("".join(_SPECIAL)) + "]|<<|>>|,,")
# T1 fonts turn << >> ,, into one glyph (guillemets, low quotes); `{}` between keeps them apart.
# (-- --- and the quote ligatures `` '' !` ?` cannot form: - and the quotes are escaped one by one.)
_LIGATURE = re.compile(r"([<>,])(?=\1)")


def escape(text: Any) -> Latex:
    """User text as LaTeX that prints it literally and reads back as written (pdftotext): every
    character of `_SPECIAL` replaced, one at a time, and `{}` between the characters of a T1
    ligature. The one place text is escaped; the template environment calls it for every plain
    string it prints."""
    return _escape(text if isinstance(text, str) else str(text))


@lru_cache(maxsize=1 << 14)  # templates print the same words over and over
def _escape(text: str) -> Latex:
    if not _NEEDS_ESCAPE.search(text):  # most text has nothing to escape
        return Latex(text)
    return Latex(_LIGATURE.sub(r"\1{}", text.translate(_TABLE)))


def fmt(x: Any, digits: int = 4) -> Latex:
    """A number as a short, exact-looking decimal: 3, -0.75, 0.4547. Bools print as words."""
    if isinstance(x, bool):
        return Latex("True" if x else "False")
    if isinstance(x, int):
        return Latex(str(x))
    if isinstance(x, Fraction):
        return Latex(str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}")
    if isinstance(x, float):
        return _fmt_float(x, digits)
    if isinstance(x, (list, tuple)):
        return Latex("(" + ", ".join(fmt(v, digits) for v in x) + ")")
    raise TypeError(f"fmt: cannot format {type(x).__name__} {x!r}")


@lru_cache(maxsize=1 << 16)  # the same numbers come back in every statement, solution and option
def _fmt_float(x: float, digits: int) -> Latex:
    if math.isnan(x) or math.isinf(x):
        return Latex(r"\infty" if x > 0 else (r"-\infty" if x < 0 else "NaN"))
    # Exact short decimals print in full (0.03125); others round to `digits` places.
    r = x if round(x, 6) == x else round(x, digits)
    if r == 0:
        r = 0.0
    if float(r).is_integer():
        return Latex(str(int(r)))
    return Latex(f"{r:.6f}".rstrip("0").rstrip("."))


def num(x: Any) -> Latex:
    """A number as `fmt` prints it, in parentheses when negative: an operand in a worked
    product or sum (`3 \\times (-0.5)`)."""
    return Latex(f"({fmt(x)})") if x < 0 else fmt(x)


def frac(x: float, max_den: int = 12) -> Latex:
    """A number as a fraction when it is one with a small denominator (1/7), else a decimal."""
    f = Fraction(x).limit_denominator(max_den)
    if abs(float(f) - x) < 1e-9 and f.denominator != 1:
        sign = "-" if f < 0 else ""
        return Latex(rf"{sign}\tfrac{{{abs(f.numerator)}}}{{{f.denominator}}}")
    return fmt(x)


def matrix(rows: Iterable[Iterable[Any]], digits: int = 4, env: str = "bmatrix", fractions: bool = False) -> Latex:
    cell = (lambda v: frac(v)) if fractions else (lambda v: fmt(v, digits))
    body = r" \\ ".join(" & ".join(cell(v) for v in row) for row in rows)
    return Latex(rf"\begin{{{env}}} {body} \end{{{env}}}")


def shape(dims: Iterable[Any]) -> Latex:
    return Latex(r" \times ".join(fmt(d) for d in dims))


def texttt(text: Any) -> Latex:
    """Literal text in typewriter font with visible spaces (for tokens and code strings)."""
    escaped = escape(text)
    return Latex(r"\texttt{" + escaped.replace(" ", r"\textvisiblespace{}") + "}")


def article(n: Any) -> Latex:
    """"a" or "an" before a number as it is read aloud: an 8-head, an 11 x 11, an 80, a 7."""
    digits = str(abs(int(n))) if isinstance(n, (int, float)) and float(n).is_integer() else str(n)
    spoken_vowel = digits.startswith("8") or (digits[:2] in ("11", "18") and len(digits) % 3 == 2)
    return Latex("an" if spoken_vowel else "a")


def _finalize(value: Any) -> Any:
    if isinstance(value, Latex):
        return value
    if isinstance(value, str):
        return escape(value)
    if isinstance(value, (bool, int, float, Fraction)):
        return fmt(value)
    if value is None:
        raise TypeError("template printed None")
    raise TypeError(f"template printed a {type(value).__name__}; use a filter (fmt, matrix, shape)")


@jinja2.pass_context
def _figure(context: jinja2.runtime.Context, fig: figures.Axes | figures.CellGrid) -> Latex:
    """A figure model (examforge.figures) as a LaTeX `picture`; as the model itself
    (\\effigure{...}) when the renderer asked for `figure_mode="data"` (the drill draws it)."""
    if not isinstance(fig, (figures.Axes, figures.CellGrid)):
        raise TypeError(f"the figure filter draws examforge.figures models, not a {type(fig).__name__}")
    mode = context.get("figure_mode", "picture")
    if mode == "data":
        return Latex(figures.as_data(fig))
    if mode != "picture":
        raise ValueError(f"figure_mode {mode!r}: draw figures as a 'picture' or as 'data'")
    return Latex(figures.to_latex(fig))


def _latex_filter(value: Any) -> Latex:
    """Mark trusted LaTeX made in Python (never user text)."""
    return value if isinstance(value, Latex) else Latex(str(value))


class _QuestionLoader(jinja2.BaseLoader):
    """`questions/<id>/<file>` from the folder the type was loaded from (bank or user folder)."""

    def get_source(self, environment, template):
        from examforge import registry

        parts = template.split("/")
        if len(parts) != 3 or parts[0] != "questions":
            raise jinja2.TemplateNotFound(template)
        path = registry.template_path(parts[1], parts[2])
        if path is None or not path.is_file():
            raise jinja2.TemplateNotFound(template)
        source = path.read_text(encoding="utf-8")
        return source, str(path), lambda: True


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.PackageLoader("examforge", "templates"), _QuestionLoader()]),
        auto_reload=False,  # templates ship with the package; no stat() per render
        block_start_string=r"\BLOCK{",
        block_end_string="}",
        variable_start_string=r"\VAR{",
        variable_end_string="}",
        comment_start_string=r"\#{",
        comment_end_string="}",
        line_statement_prefix="%%",
        line_comment_prefix="%#",
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        finalize=_finalize,
    )
    env.filters.update(
        fmt=fmt,
        num=num,
        frac=frac,
        matrix=matrix,
        shape=shape,
        tex=escape,
        texttt=texttt,
        latex=_latex_filter,
        a_an=article,
        figure=_figure,
    )
    return env


def render(template: str, **context: Any) -> Latex:
    return Latex(environment().get_template(template).render(**context))
