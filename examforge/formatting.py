"""LaTeX text made in Python: the `Latex` marker for markup that must not be escaped again, the
one escaper of user text, and the number formats every type, template and renderer shares
(fmt, num, frac, matrix, shape, texttt, article). The bottom floor: it imports nothing of
examforge, so question types, the bank and the renderers all build on it."""

from __future__ import annotations

import math
import re
from fractions import Fraction
from functools import lru_cache
from typing import Any, Iterable


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
