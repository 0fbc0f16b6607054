"""The class roster: a CSV with id, name and (optionally) email columns.

Common header variants are recognised ("SID", "Student ID", "Full Name", "E-mail"...). The file
is read within bounds (a regular file or a pipe, at most MAX_ROSTER_BYTES and MAX_ROWS rows, UTF-8
text) and parsed by the csv module on the raw text, so rows end only where CSV lines end (\n, \r
or \r\n outside quotes), never at the other characters Python's str.splitlines() breaks at
(U+2028, \x0b, \x0c, \x85...). A quote that is never closed is an error, and so is a control
character (C0, C1, U+2028, U+2029) inside an id, a name or an email: a name is printed on one
line. Errors name the file, the row, the field and the value."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from examforge.errors import InputError, short
from examforge.renderers.scripts import printable_problem
from examforge.safeinput import decode_text, read_input

MAX_ROSTER_BYTES = 10_000_000
MAX_ROWS = 100_000

_ALIASES = {
    "id": {"id", "sid", "studentid", "student_id", "studentnumber", "studentno", "netid", "uwnetid",
           "userid", "username", "matriculation", "matrikelnummer"},
    "name": {"name", "fullname", "studentname", "full_name", "displayname"},
    "email": {"email", "e-mail", "emailaddress", "mail", "studentemail"},
}
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Student:
    id: str
    name: str
    email: str = ""


def _canonical(header: str) -> str | None:
    key = re.sub(r"[\s_]+", "", header.strip().lower())
    for field, names in _ALIASES.items():
        if key in {n.replace("_", "") for n in names}:
            return field
    return None


def _bad_character(value: str) -> str | None:
    """The first character of `value` that has no place in a one-line field, if any."""
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Zl", "Zp", "Cs") or ch in "\ufffe\uffff":
            return ch
    return None


def _rows(text: str, path: Path):
    """(row number, first line, cells) for each CSV record of `text`; the header is row 1."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    row_no = 0
    while True:
        row_no += 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raw = io.StringIO(text, newline="").readlines()  # the lines as the csv module counts them
            shown = "".join(raw[line - 1 : line + 1])
            reason = ("a quoted field is never closed (a '\"' without its closing '\"')"
                      if "unexpected end of data" in str(err) else f"not valid CSV ({err})")
            at = f"{path}: row {row_no}" + (f" (line {line})" if line != row_no else "")
            raise InputError(f"{at}: {reason}: {short(shown)}") from None
        if row_no > MAX_ROWS + 1:
            raise InputError(f"{path}: more than {MAX_ROWS} rows; that is not a class roster")
        yield row_no, line, cells
        line = reader.line_num + 1


def load_roster(path: str | Path, data: bytes | None = None) -> list[Student]:
    """The students of the roster `path` (or of `data`, its bytes, when the caller read them)."""
    path = Path(path)
    if data is None:
        data = read_input(path, what="roster", limit=MAX_ROSTER_BYTES)
    text = decode_text(data, path, what="roster")
    rows = _rows(text, path)
    try:
        _, _, header = next(rows)
    except StopIteration:
        raise InputError(f"{path}: the roster is empty; it needs a header row with id and name columns") from None
    columns: dict[str, int] = {}
    for index, title in enumerate(header):
        field = _canonical(title)
        if field and field not in columns:
            columns[field] = index
    for required in ("id", "name"):
        if required not in columns:
            raise InputError(
                f"{path}: no '{required}' column in the header {short(header)} "
                f"(accepted names include: {', '.join(sorted(_ALIASES[required]))})"
            )
    students: list[Student] = []
    seen_ids: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    for row_no, line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        where = f"{path}: row {row_no}" + (f" (line {line})" if line != row_no else "")

        def cell(field: str) -> str:
            i = columns.get(field)
            return row[i].strip() if i is not None and i < len(row) else ""

        sid, name, email = cell("id"), cell("name"), cell("email")
        for field, value in (("id", sid), ("name", name), ("email", email)):
            bad = _bad_character(value)
            if bad is not None:
                kind = {"Zl": "a line separator", "Zp": "a paragraph separator",
                        "Cs": "a lone surrogate"}.get(unicodedata.category(bad), "a control character")
                raise InputError(
                    f"{where}: field '{field}': value {short(value)}: U+{ord(bad):04X} is {kind}; "
                    "a roster field is one line of printable text"
                )
        for field, value in (("id", sid), ("name", name)):
            if not value:
                raise InputError(f"{where}: the '{field}' field is empty")
        if not _ID_RE.match(sid):
            raise InputError(
                f"{where}: field 'id': value {short(sid)}: use letters, digits, '.', '_' or '-' "
                "(at most 64 characters; it names the student's PDF files)"
            )
        if len(name) > 120:
            raise InputError(f"{where}: field 'name': value {short(name)} is longer than 120 characters")
        problem = printable_problem(name)  # any script; refused only when no font prints it
        if problem:
            raise InputError(f"{where}: field 'name': value {short(name)}: {problem}")
        if email and not re.match(r"^[^@\s]+@[^@\s]+$", email):
            raise InputError(f"{where}: field 'email': value {short(email)} is not an email address")
        if sid in seen_ids:
            raise InputError(f"{where}: duplicate id {sid!r} (first seen in row {seen_ids[sid]})")
        if email and email.lower() in seen_emails:
            raise InputError(
                f"{where}: duplicate email {short(email)} (first seen in row {seen_emails[email.lower()]})"
            )
        seen_ids[sid] = row_no
        if email:
            seen_emails[email.lower()] = row_no
        students.append(Student(id=sid, name=name, email=email))
    if not students:
        raise InputError(f"{path}: the roster has a header but no students")
    return students
