"""LaTeX fragments as plain Unicode text, for the terminal and for checking PDFs' text."""

from __future__ import annotations

import re

from pylatexenc.latex2text import LatexNodes2Text

_converter = LatexNodes2Text(math_mode="text", strict_latex_spaces=True)


def latex_to_text(latex: str) -> str:
    text = _converter.latex_to_text(latex)
    text = re.sub(r"[ \t]+", " ", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def normalize(text: str) -> str:
    """For comparing what pdftotext read with what we expected: no spaces, ASCII minus."""
    return re.sub(r"\s+", "", text.replace("\u2212", "-").replace("\u00d7", "x"))
