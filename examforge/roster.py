"""The class roster: a CSV with id, name and (optionally) email columns.

Common header variants are recognised ("SID", "Student ID", "Full Name", "E-mail"...).
Errors name the file, the row and the value."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from examforge.errors import InputError
from examforge.renderers.scripts import printable_problem

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


def load_roster(path: str | Path) -> list[Student]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: roster file not found") from None
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: the roster must be UTF-8 text ({err.reason} at byte {err.start})") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise InputError(f"{path}: the roster is empty; it needs a header row with id and name columns")
    header = rows[0]
    columns: dict[str, int] = {}
    for index, title in enumerate(header):
        field = _canonical(title)
        if field and field not in columns:
            columns[field] = index
    for required in ("id", "name"):
        if required not in columns:
            raise InputError(
                f"{path}: no '{required}' column in the header {header!r} "
                f"(accepted names include: {', '.join(sorted(_ALIASES[required]))})"
            )
    students: list[Student] = []
    seen_ids: dict[str, int] = {}
    seen_emails: dict[str, int] = {}
    for line_no, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(field: str) -> str:
            i = columns.get(field)
            return row[i].strip() if i is not None and i < len(row) else ""

        sid, name, email = cell("id"), cell("name"), cell("email")
        for field, value in (("id", sid), ("name", name)):
            if not value:
                raise InputError(f"{path}: row {line_no}: the '{field}' field is empty")
        if not _ID_RE.match(sid):
            raise InputError(
                f"{path}: row {line_no}: field 'id': value {sid!r}: use letters, digits, '.', '_' or '-' "
                "(at most 64 characters; it names the student's PDF files)"
            )
        if len(name) > 120:
            raise InputError(f"{path}: row {line_no}: field 'name' is longer than 120 characters")
        problem = printable_problem(name)  # any script; refused only when no font prints it
        if problem:
            raise InputError(f"{path}: row {line_no}: field 'name': value {name!r}: {problem}")
        if email and not re.match(r"^[^@\s]+@[^@\s]+$", email):
            raise InputError(f"{path}: row {line_no}: field 'email': value {email!r} is not an email address")
        if sid in seen_ids:
            raise InputError(f"{path}: row {line_no}: duplicate id {sid!r} (first seen in row {seen_ids[sid]})")
        if email and email.lower() in seen_emails:
            raise InputError(
                f"{path}: row {line_no}: duplicate email {email!r} (first seen in row {seen_emails[email.lower()]})"
            )
        seen_ids[sid] = line_no
        if email:
            seen_emails[email.lower()] = line_no
        students.append(Student(id=sid, name=name, email=email))
    if not students:
        raise InputError(f"{path}: the roster has a header but no students")
    return students
