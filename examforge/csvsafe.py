"""The CSV files a build writes (manifest.csv, answers.csv, graders/answers-by-question.csv,
gradescope/roster.csv), safe to open in a spreadsheet.

A spreadsheet runs a cell that starts with = + - @ (or a tab or CR before one) as a formula, and a
roster name such as =HYPERLINK("http://x","y") would become a link (OWASP: CSV injection). Such a
cell gets a leading apostrophe, which spreadsheets show as text, unless it is a plain number such
as -3 or +2.5e-3: a number is not a formula, and negative answers stay readable. manifest.json
keeps every value exactly as written."""

from __future__ import annotations

import csv
import io
import re

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_cell(value) -> str:
    """`value` as a CSV cell that no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(rows: list[dict], fields: list[str]) -> str:
    """A header and `rows`, every cell made spreadsheet-safe; lines end with \\n."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows({key: spreadsheet_cell(value) for key, value in row.items()} for row in rows)
    return buf.getvalue()
