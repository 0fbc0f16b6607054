"""User-facing errors. The CLI prints their message and exits; no traceback."""

from __future__ import annotations

from pydantic import ValidationError


class ExamforgeError(Exception):
    """An error whose message is meant for the user as it is."""

    exit_code = 1


class InputError(ExamforgeError):
    """Bad user input: a spec, roster, params file or command-line value."""

    exit_code = 2


class GenerationError(ExamforgeError):
    """A generator could not produce a valid variant (names the generator and seed)."""


class LatexError(ExamforgeError):
    """pdflatex failed; the message names the question (id, seed) and quotes the log."""


class VerifyError(ExamforgeError):
    """A built PDF does not pass the post-build checks."""


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def describe_validation_error(err: ValidationError, *, where: str, prefix: str = "") -> str:
    """One line per problem: `where: field 'a.b[0]': value X: reason`."""
    lines = []
    for item in err.errors():
        field = _loc(tuple(item.get("loc", ())))
        if prefix:
            field = f"{prefix}.{field}" if field != "(top level)" else prefix
        value = item.get("input")
        reason = item.get("msg", "invalid")
        if item.get("type") == "missing":
            lines.append(f"{where}: field '{field}' is required but missing")
        elif item.get("type") == "value_error" and isinstance(value, dict):
            # a check across the fields of a whole question or part: its message names the values
            lines.append(f"{where}: field '{field}': {reason.removeprefix('Value error, ')}")
        else:
            lines.append(f"{where}: field '{field}': value {short(value)}: {reason}")
    return "\n".join(lines)


def short(value, limit: int = 80, *, quote: bool = True) -> str:
    """`value` for a message: its repr (control characters escaped, so what is shown is what is
    there), or with quote=False its text; at most `limit` characters, with an ellipsis."""
    text = repr(value) if quote else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."

