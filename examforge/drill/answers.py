"""Reading and checking a student's answer, generically for every question type.

The quantity a drill asks for is the one the multiple-choice options show:
`qtype.choice_value(answer)`. How it is entered and compared is declared by the type
(`QuestionType.answer_format`, read with `format_of`; see examforge.question.AnswerFormat),
never guessed here from the options' text. The formats read here:

    number   "0.25", "-3", "1/3", "2.5e-3"
    vector   "9, 2, 14" or "[9 2 14]" (token ids, weights, ...)
    shape    "126 x 42", "6\u00d79\u00d79", "(6, 9, 9)"
    matrix   "1 2; 3 4", "[[1, 2], [3, 4]]", one row per line
    set      "{3, 1}" (order does not matter)
    bool     "true" / "false" / "yes" / "no"
    choice   option letters: "B", "(b)", or a set of letters "A, C" when several are right

Numbers are compared with the format's tolerance (absolute; the type's `grading_tol` unless it
declares another); expected integers must match exactly (after reading, so "512.0" and "1024/2"
are 512). A malformed answer raises `AnswerSyntaxError` with a message saying what was
expected; it is never graded wrong.

A trailing "%" is read as hundredths ("16.5%" is 0.165) only where the format says the answer is
a fraction of one (`AnswerFormat.percent`: a probability, an attention weight; declared per type,
never decided from this variant's answer). Anywhere else "50%" is refused with a message instead
of being read as 0.5 and graded against an expected 50.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from numbers import Integral, Real
from typing import Any

from examforge.errors import InputError
from examforge.question import TYPED_KINDS as KINDS
from examforge.question import AnswerFormat

__all__ = ["AnswerFormat", "AnswerSyntaxError", "KINDS", "Verdict", "compare", "fits", "kind_of", "parse", "plain",
           "same_as_printed", "show", "show_as"]


class AnswerSyntaxError(InputError):
    """The answer could not be read (not: the answer is wrong)."""


# -- the expected value ------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """numpy scalars/arrays and Fractions as plain Python values; lists as tuples."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, bool):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Fraction):
        return int(value) if value.denominator == 1 else float(value)
    if isinstance(value, Real):
        return float(value)
    if isinstance(value, (set, frozenset)):
        return frozenset(plain(v) for v in value)
    if isinstance(value, (list, tuple)):
        return tuple(plain(v) for v in value)
    return value


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def kind_of(value: Any) -> str | None:
    """The structure of a value: number, vector (a flat tuple of numbers), matrix (equal rows of
    numbers), set, bool; None for anything else. Says whether a value fits its declared format
    (a shape is a vector declared as one), never which format a type has."""
    value = plain(value)
    if isinstance(value, bool):
        return "bool"
    if _is_number(value):
        return "number"
    if isinstance(value, frozenset):
        return "set" if value and all(_is_number(v) or isinstance(v, str) for v in value) else None
    if isinstance(value, tuple) and value:
        if all(_is_number(v) for v in value):
            return "vector"
        if all(isinstance(r, tuple) and r and all(_is_number(v) for v in r) for r in value):
            if len({len(r) for r in value}) == 1:
                return "matrix"
    return None


def fits(value: Any, fmt: AnswerFormat) -> bool:
    """Whether an expected value has the structure its format declares (and as many numbers as
    its labels, if any): a type whose answer does not is a bug, reported as such."""
    kind = kind_of(value)
    if fmt.kind == "shape":
        ok = kind == "vector"
    else:
        ok = kind == fmt.kind
    if ok and fmt.labels is not None:
        count = 1 if kind == "number" else len(plain(value))
        ok = len(fmt.labels) - 1 == count
    return ok


def choice_format(correct_letters: set[str]) -> AnswerFormat:
    return AnswerFormat("choice", 0.0, multiple=len(correct_letters) > 1)


def _squash(text: str) -> str:
    text = text.replace("\u2212", "-").replace("\u00d7", "x").replace("*", "x").lower()
    return "".join(text.split())


def same_as_printed(response: Any, printed: str) -> bool:
    """Whether a typed answer is the right option's text as printed ("7 \u00d7 7"), blanks, case,
    minus and times signs aside. Bounded like `parse`: longer answers are not compared."""
    if not isinstance(response, str) or len(response) > MAX_ANSWER_CHARS:
        return False
    squashed = _squash(response)
    return bool(squashed) and squashed == _squash(printed)


# -- reading -----------------------------------------------------------------------------------
#
# Everything a student types (in the terminal, in the browser, later on a scanned sheet) is read
# here, in time linear in its length and with every size bounded: the whole answer, the number of
# entries, each number's length, its exponent and its size. Anything beyond a limit is refused
# with a message naming the limit, before any big number is built. Whitespace runs are squeezed
# to one character first, so no pattern below can backtrack over more than one blank.

# The largest right answer of any type has 49 numbers and 130 characters; these limits leave room
# for a 14 x 14 grid and keep the slowest answer to read under about 3 ms.
MAX_ANSWER_CHARS = 2_000  # a whole answer, all boxes together
MAX_ENTRIES = 200  # numbers in a vector, shape, matrix or set
MAX_NUMBER_CHARS = 100  # one number as typed, with a unit word ("512 features")
MAX_EXPONENT = 400  # the e in 2.5e-3
MAX_MAGNITUDE = 10**300  # every number read fits a float, with room for the tolerance arithmetic

_NUMBER = re.compile(r"([+-]?)(?:([0-9]+)(?:\.([0-9]*))?|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?")
_FRACTION = re.compile(r"([^/]+)/([^/]+)")
_OPEN, _CLOSE = "([{⟨", ")]}⟩"
_BRACKET = re.compile("[" + re.escape(_OPEN + _CLOSE) + "]")
_DASHES = str.maketrans({"\u2212": "-", "\u2013": "-"})
_UNIT_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz "


def _clean(text: str) -> str:
    """Minus signs as '-', every run of blanks as one space, lines stripped, blank lines dropped."""
    lines = (" ".join(line.split()) for line in text.translate(_DASHES).splitlines())
    return "\n".join(line for line in lines if line)


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= 40 else text[:37] + "..."


def _too_large(shown: str) -> AnswerSyntaxError:
    return AnswerSyntaxError(f"{shown} is too large: numbers here stay below 1e300 in size")


def _bounded(value: Fraction, text: str) -> Fraction:
    if abs(value) > MAX_MAGNITUDE:
        raise _too_large(repr(_short(text)))
    return value


def _decimal(m: re.Match, text: str) -> Fraction:
    """A match of _NUMBER as an exact Fraction; the exponent is checked before 10**e is built."""
    sign, whole, frac, frac_only, exp = m.groups()
    frac = frac if frac is not None else (frac_only or "")
    shift = -len(frac)
    if exp is not None:
        e = int(exp)  # at most MAX_NUMBER_CHARS digits: cheap
        if abs(e) > MAX_EXPONENT:
            raise AnswerSyntaxError(f"{_short(text)!r}: the exponent {e} is out of range "
                                    f"(from -{MAX_EXPONENT} to {MAX_EXPONENT})")
        shift += e
    digits = int((whole or "") + frac or "0")
    value = Fraction(digits * 10**shift) if shift >= 0 else Fraction(digits, 10**-shift)
    return _bounded(-value if sign == "-" else value, text)


def parse_number(text: Any, *, percent: bool = False) -> Fraction:
    """One number: an int, decimal, scientific or fraction a/b, read exactly (a Fraction). With
    `percent`, a trailing % means hundredths ("16.5%" is 0.165); without it, a trailing % is an
    error saying so (it is never silently divided by 100). Numbers longer than MAX_NUMBER_CHARS,
    exponents beyond ±MAX_EXPONENT and values beyond MAX_MAGNITUDE are refused."""
    if isinstance(text, bool):
        raise AnswerSyntaxError(f"expected a number, got {text!r}")
    if isinstance(text, int):
        if abs(text) > MAX_MAGNITUDE:  # described by its size: str() of a huge int is slow, or refused
            raise _too_large(f"a number of about {int(text.bit_length() * 0.30103) + 1} digits")
        return Fraction(text)
    if isinstance(text, float):
        if not math.isfinite(text):
            raise AnswerSyntaxError(f"expected a finite number, got {text!r}")
        return _bounded(Fraction(text), repr(text))
    if not isinstance(text, str):
        raise AnswerSyntaxError(f"expected a number, got {type(text).__name__}")
    if len(text) <= MAX_NUMBER_CHARS:
        m = _NUMBER.fullmatch(text)  # the usual case, "0.25": nothing to clean
        if m:
            return _decimal(m, text)
    if len(text) > MAX_NUMBER_CHARS and len(text.strip()) > MAX_NUMBER_CHARS:
        raise AnswerSyntaxError(f"{_short(text)!r} is longer than {MAX_NUMBER_CHARS} characters; "
                                "that is not one number")
    s = _clean(text)
    if "/" in s:
        s = "/".join(part.strip() for part in s.split("/"))
    if s.startswith("+"):
        s = s[1:]
    s = re.sub(r"(?i)(?<=[0-9.)])\s?per\s?cent$", "%", s)  # "50 percent" is "50%", not a unit
    if s.endswith("%") and len(s) > 1:
        if percent:
            return parse_number(s[:-1]) / 100
        raise AnswerSyntaxError(f"{_short(text)!r} is a percentage, but this answer is not a probability or a "
                                "fraction of one; type the number itself, without %")
    # A unit after the number ("2 bits", "512 features"): the longest tail of letters and blanks,
    # when a digit, a point or a bracket comes before it.
    head = s.rstrip(_UNIT_CHARS)
    if head != s and head and head[-1] in "0123456789.)":
        s = head.rstrip()
    m = _NUMBER.fullmatch(s)
    if m:
        return _decimal(m, text)
    m = _FRACTION.fullmatch(s)
    a, b = (_NUMBER.fullmatch(m.group(1)), _NUMBER.fullmatch(m.group(2))) if m else (None, None)
    if a and b:
        num, den = _decimal(a, text), _decimal(b, text)
        if den == 0:
            raise AnswerSyntaxError(f"{_short(text)!r}: division by zero")
        return _bounded(num / den, text)
    if re.fullmatch(r"-?\( ?-?[0-9./eE+-]+ ?\)", s):  # "(-3)" or "-(3)"
        sign = -1 if s.startswith("-") else 1
        return sign * parse_number(s.lstrip("-")[1:-1])
    if not s.isascii() and any(ch.isdigit() for ch in s):  # "²", "٣", "１２": not read as 2, 3, 12
        raise AnswerSyntaxError(f"could not read {_short(text)!r} as a number: write its digits as 0-9")
    raise AnswerSyntaxError(f"could not read {_short(text)!r} as a number (e.g. 0.25, -3, 1/3, 2.5e-3)")


def _strip_brackets(s: str) -> str:
    """Brackets that enclose everything, removed: "((1, 2))" -> "1, 2", but "(1)(2)" stays.
    One pass over the brackets, whatever their nesting."""
    s = s.strip()
    if not s or s[0] not in _OPEN or s[-1] not in _CLOSE:
        return s
    partner: dict[int, int] = {}  # index of an opening bracket -> index of the bracket closing it
    stack: list[int] = []
    for m in _BRACKET.finditer(s):
        if m.group() in _OPEN:
            stack.append(m.start())
        elif stack:
            partner[stack.pop()] = m.start()
        else:
            break  # a closing bracket with nothing open: nothing encloses everything
    i, j = 0, len(s) - 1
    while i < j and s[i] in _OPEN and partner.get(i) == j and s[j] == _CLOSE[_OPEN.index(s[i])]:
        i, j = i + 1, j - 1
        while i <= j and s[i].isspace():
            i += 1
        while j >= i and s[j].isspace():
            j -= 1
    return s[i : j + 1]


def _too_many(count: int | str) -> AnswerSyntaxError:
    return AnswerSyntaxError(f"the answer has {count} entries; at most {MAX_ENTRIES} are read")


def _items(text: str, *, shape: bool = False) -> list[str]:
    s = _clean(text)
    if "/" in s:
        s = "/".join(part.strip() for part in s.split("/"))
    s = _strip_brackets(s)
    if shape:
        s = re.sub(r"(?i)(?<=[0-9.)\]])\s?(?:x|×|\*|by)\s?(?=[-+0-9.(\[])", ",", s)
    parts = [p for p in re.split(r"[,;\s]+", s) if p]
    if len(parts) > MAX_ENTRIES:
        raise _too_many(len(parts))
    return [p.strip(_OPEN + _CLOSE) for p in parts if p.strip(_OPEN + _CLOSE)]


def _has_digit(text: str) -> bool:
    return any(ch.isdigit() for ch in text)


def _cell(value: Any, where: str, percent: bool = False) -> Fraction:
    if isinstance(value, str) and not value.strip():
        raise AnswerSyntaxError(f"{where} is empty")
    try:
        return parse_number(value, percent=percent)
    except AnswerSyntaxError as err:
        raise AnswerSyntaxError(f"{where}: {err}") from None


def parse_sequence(response: Any, *, shape: bool = False, labels: bool = False,
                   percent: bool = False) -> tuple[Fraction, ...]:
    if isinstance(response, (list, tuple)):
        if len(response) > MAX_ENTRIES:
            raise _too_many(len(response))
        values = [_cell(v, f"entry {k}", percent) for k, v in enumerate(response, start=1)]
    elif isinstance(response, str):
        # Words and symbols without digits are labels ("mu =", "w ←"), not entries ("²" is a digit:
        # it is an entry, refused with a message).
        items = _items(response, shape=shape)
        if labels and any(map(_has_digit, items)):
            items = [item for item in items if _has_digit(item)]
        values = []
        for k, item in enumerate(items, start=1):
            try:
                values.append(parse_number(item, percent=percent))
            except AnswerSyntaxError as err:
                raise AnswerSyntaxError(f"entry {k}: {err}") from None
    else:
        raise AnswerSyntaxError(f"expected a list of numbers, got {type(response).__name__}")
    if not values:
        raise AnswerSyntaxError("the answer is empty; " + ("give the dimensions, e.g. 28 x 28" if shape
                                                            else "give the numbers separated by commas"))
    return tuple(values)


def parse_matrix(response: Any, *, percent: bool = False) -> tuple[tuple[Fraction, ...], ...]:
    if isinstance(response, (list, tuple)):
        rows_in = list(response)
        if not rows_in or not all(isinstance(r, (list, tuple)) for r in rows_in):
            raise AnswerSyntaxError("expected a matrix as a list of rows (lists of numbers)")
        cells = sum(len(r) for r in rows_in)
        if cells > MAX_ENTRIES:
            raise _too_many(cells)
        rows = [tuple(_cell(v, f"row {i}, column {j}", percent) for j, v in enumerate(r, start=1))
                for i, r in enumerate(rows_in, start=1)]
    elif isinstance(response, str):
        s = _clean(response)
        if re.search(r"[\[(]\s?[\[(]", s):  # [[1, 2], [3, 4]]
            inner = _strip_brackets(s)
            raw_rows = [r.strip().lstrip("[(").rstrip("])") for r in re.split(r"[\])]\s?[,;]?\s?[\[(]", inner)]
        else:
            raw_rows = re.split(r"\s?(?:;|\n|\\\\)\s?", _strip_brackets(s))
        raw_rows = [r for r in raw_rows if r.strip()]
        if len(raw_rows) > MAX_ENTRIES:
            raise _too_many(len(raw_rows))
        rows, cells = [], 0
        for i, r in enumerate(raw_rows, start=1):
            try:
                rows.append(parse_sequence(r, percent=percent))
            except AnswerSyntaxError as err:
                raise AnswerSyntaxError(f"row {i}: {err}") from None
            cells += len(rows[-1])
            if cells > MAX_ENTRIES:
                raise _too_many(cells)
    else:
        raise AnswerSyntaxError(f"expected a matrix, got {type(response).__name__}")
    if not rows or not any(rows):
        raise AnswerSyntaxError("the matrix is empty; write rows separated by ';', e.g. 1 2; 3 4")
    widths = [len(r) for r in rows]
    if len(set(widths)) > 1:
        shown = widths if len(widths) <= 12 else widths[:12] + ["..."]
        raise AnswerSyntaxError(f"the rows have different lengths {shown}; every row needs the same number of entries")
    return tuple(rows)


def parse_bool(response: Any) -> bool:
    if isinstance(response, bool):
        return response
    if isinstance(response, int) and response in (0, 1):
        return bool(response)
    if not isinstance(response, str):
        raise AnswerSyntaxError(f"expected true or false, got {type(response).__name__}")
    s = response.strip().lower().rstrip(".")
    if s in ("true", "t", "yes", "y", "1", "correct"):
        return True
    if s in ("false", "f", "no", "n", "0", "incorrect"):
        return False
    raise AnswerSyntaxError(f"could not read {_short(response)!r} as true or false")


def parse_letters(response: Any, letters: tuple[str, ...]) -> frozenset[str]:
    """Option letters: "B", "(b)", "b.", "A, C", "AC"; true/false for a T/F question."""
    items = response if isinstance(response, (list, tuple)) else [response]
    if not all(isinstance(x, str) for x in items):
        raise AnswerSyntaxError("expected option letters as text, e.g. \"B\"")
    text = " ".join(items).strip()
    if set(letters) == {"T", "F"}:
        try:
            return frozenset({"T" if parse_bool(text) else "F"})
        except AnswerSyntaxError:
            pass
    tokens = [t for t in re.split(r"(?i)[\s,;/&+]+|\band\b", text.upper()) if t]
    picked: set[str] = set()
    for tok in tokens:
        tok = tok.strip("().[]:)")
        if not tok:
            continue
        if not tok.isalpha() or any(ch not in letters for ch in tok):
            raise AnswerSyntaxError(f"could not read {_short(text)!r}: choose from {', '.join(letters)}")
        picked.update(tok)
    if not picked:
        raise AnswerSyntaxError(f"no option chosen; choose from {', '.join(letters)}")
    return frozenset(picked)


def parse_set(response: Any) -> frozenset[str]:
    """Elements of a set, as text (compared as numbers where the expected element is one)."""
    if isinstance(response, str):
        items = _items(response)
    else:
        items = response if isinstance(response, (list, tuple)) else [response]
    out = set()
    for k, x in enumerate(items, start=1):
        if isinstance(x, (int, float)) and not isinstance(x, bool):
            x = show(parse_number(x))  # bounded first: str() of a huge int is slow, or refused
        if not isinstance(x, str):
            raise AnswerSyntaxError(f"entry {k}: expected text or a number, got {type(x).__name__}")
        if x.strip():
            out.add(_strip_brackets(x).strip())
    return frozenset(out)


def check_size(response: Any) -> None:
    """Refuse an answer beyond the limits before reading any of it: text of at most
    MAX_ANSWER_CHARS characters, or a list (a grid: a list of lists) of at most MAX_ENTRIES
    entries holding that much text; nothing nested deeper. A look at each entry at most."""
    if isinstance(response, str):
        chars = len(response)
    elif isinstance(response, (list, tuple)):
        chars = cells = 0
        for row in response:
            if isinstance(row, (list, tuple)):
                entries = row
            else:
                entries = (row,)
            cells += len(entries)
            if cells > MAX_ENTRIES:
                raise _too_many(f"more than {MAX_ENTRIES}")
            for x in entries:
                if isinstance(x, str):
                    chars += len(x)
                elif entries is row and isinstance(x, (list, tuple, dict)):
                    raise AnswerSyntaxError("the answer is nested too deeply: give text, a list of entries "
                                            "or a list of rows")
    else:
        return
    if chars > MAX_ANSWER_CHARS:
        raise AnswerSyntaxError(f"the answer is longer than {MAX_ANSWER_CHARS} characters")


def _filled(response: Any) -> bool:
    """Anything typed at all (a browser sends every box of a grid, filled or not)."""
    if isinstance(response, str):
        return bool(response.strip())
    if isinstance(response, (list, tuple)):
        return any(_filled(x) for x in response)
    return True


def parse(response: Any, fmt: AnswerFormat, *, letters: tuple[str, ...] = ()) -> Any:
    """The response read into the format's value type (AnswerSyntaxError if malformed).

    The one reader of typed answers (terminal, web, ...): its time is linear in the length of
    the answer, which `check_size` bounds first."""
    check_size(response)
    if response is None or not _filled(response):
        if isinstance(response, (list, tuple)) and fmt.kind != "choice":
            raise AnswerSyntaxError("the answer is empty; fill in the boxes")
        raise AnswerSyntaxError(f"the answer is empty; expected {fmt.hint}")
    if fmt.kind == "choice":
        return parse_letters(response, letters)
    if fmt.kind == "number":
        if isinstance(response, (list, tuple)) and len(response) == 1:
            response = response[0]
        return parse_number(response, percent=fmt.percent)
    if fmt.kind in ("vector", "shape"):
        values = parse_sequence(response, shape=fmt.kind == "shape", labels=True, percent=fmt.percent)
        # The number of entries is public when the question states it (a shape's rank,
        # labelled numbers): a different count is a typo, not a wrong answer.
        known = fmt.rank if fmt.kind == "shape" else (len(fmt.labels) - 1 if fmt.labels else None)
        if known is not None and len(values) != known:
            what = "dimensions" if fmt.kind == "shape" else "numbers"
            raise AnswerSyntaxError(f"expected {known} {what}, got {len(values)}; {fmt.hint if not fmt.labels else 'in the order ' + fmt.template}")
        return values
    if fmt.kind == "matrix":
        return parse_matrix(response, percent=fmt.percent)
    if fmt.kind == "bool":
        return parse_bool(response)
    if fmt.kind == "set":
        return parse_set(response)
    raise AnswerSyntaxError(f"answers of kind {fmt.kind!r} cannot be typed")


# -- comparing -----------------------------------------------------------------------------------


def number_matches(given: Fraction | float, expected: Any, tol: float) -> bool:
    if isinstance(expected, bool) or not _is_number(expected):
        return False
    if isinstance(expected, int):
        return Fraction(given) == expected
    return abs(float(given) - expected) <= tol + 1e-12


def _set_matches(given: frozenset, expected: frozenset, tol: float) -> bool:
    if len(given) != len(expected):
        return False
    pending = list(expected)
    for g in given:
        for e in pending:
            if _is_number(e):
                try:
                    ok = number_matches(parse_number(g), e, tol)
                except AnswerSyntaxError:
                    ok = False
            else:
                ok = " ".join(str(g).split()).casefold() == " ".join(str(e).split()).casefold()
            if ok:
                pending.remove(e)
                break
        else:
            return False
    return True


@dataclass(frozen=True)
class Verdict:
    correct: bool
    message: str  # one line for the student: what was read and, if wrong, why


def compare(given: Any, expected: Any, fmt: AnswerFormat) -> Verdict:
    """`given` as returned by `parse`; `expected` the plain choice_value (or letter set)."""
    expected = plain(expected)
    if fmt.kind == "choice":
        ok = given == frozenset(expected)
        return Verdict(ok, "Right." if ok else "Wrong option.")
    if fmt.kind == "number":
        ok = number_matches(given, expected, fmt.tol)
        if ok:
            return Verdict(True, "Right.")
        why = "" if isinstance(expected, int) else f" (accepted within \u00b1{fmt.tol:g})"
        return Verdict(False, f"Wrong{why}.")
    if fmt.kind in ("vector", "shape"):
        if len(given) != len(expected):
            what = "dimension" if fmt.kind == "shape" else "value"
            plural = lambda n: f"{n} {what}{'' if n == 1 else 's'}"  # noqa: E731
            return Verdict(False, f"Wrong: you gave {plural(len(given))}, the answer has {plural(len(expected))}.")
        bad = [k for k, (g, e) in enumerate(zip(given, expected), start=1) if not number_matches(g, e, fmt.tol)]
        if not bad:
            return Verdict(True, "Right.")
        return Verdict(False, f"Wrong: entr{'y' if len(bad) == 1 else 'ies'} {', '.join(map(str, bad))} differ{'s' if len(bad) == 1 else ''}.")
    if fmt.kind == "matrix":
        gs, es = (len(given), len(given[0])), (len(expected), len(expected[0]))
        if gs != es:
            return Verdict(False, f"Wrong: your matrix is {gs[0]}\u00d7{gs[1]}, the answer is {es[0]}\u00d7{es[1]}.")
        bad = [(i, j) for i, (gr, er) in enumerate(zip(given, expected), start=1)
               for j, (g, e) in enumerate(zip(gr, er), start=1) if not number_matches(g, e, fmt.tol)]
        if not bad:
            return Verdict(True, "Right.")
        shown = ", ".join(f"({i},{j})" for i, j in bad[:6]) + (", ..." if len(bad) > 6 else "")
        return Verdict(False, f"Wrong: {len(bad)} entr{'y differs' if len(bad) == 1 else 'ies differ'}: {shown}.")
    if fmt.kind == "bool":
        ok = given == expected
        return Verdict(ok, "Right." if ok else "Wrong.")
    if fmt.kind == "set":
        ok = _set_matches(given, expected, fmt.tol)
        return Verdict(ok, "Right." if ok else "Wrong.")
    raise ValueError(f"unknown answer kind {fmt.kind!r}")


def show_as(value: Any, fmt: AnswerFormat) -> str:
    """What was read, in the answer's own notation (126 × 42 for a shape, B, C for options)."""
    if isinstance(value, str):
        return value
    if fmt.kind == "shape":
        return " \u00d7 ".join(show(v) for v in value)
    if fmt.kind == "choice":
        return ", ".join(sorted(value))
    return show(value)


def show(value: Any) -> str:
    """A parsed answer back as short text, for echoing what was read."""
    if isinstance(value, Fraction):
        return str(value.numerator) if value.denominator == 1 else (
            f"{value.numerator}/{value.denominator}" if value.denominator <= 1000 else f"{float(value):.6g}")
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, frozenset):
        return "{" + ", ".join(sorted(show(v) for v in value)) + "}"
    if isinstance(value, tuple) and value and isinstance(value[0], tuple):
        return "; ".join(" ".join(show(v) for v in row) for row in value)
    if isinstance(value, tuple):
        return ", ".join(show(v) for v in value)
    return str(value)
