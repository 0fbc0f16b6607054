"""One drill exercise: a variant fully determined by (type, seed, difficulty, form).

Nothing here keeps state between requests: the web server and the terminal drill rebuild an
exercise from those four values whenever they need it (an LRU cache only saves the work).

- form "free": the student types the quantity the multiple-choice options show
  (`choice_value`), in the format the type declares (`QuestionType.format_of`). The question is
  the multiple-choice stem, which asks for exactly that quantity, without the options; the
  worked solution is the free-response one. A variant whose answer the type declares as picked
  among the options (a sentence) is drilled as multiple choice.
- forms "mc" and "tf": the student picks option letters (or true/false).

Difficulty maps onto the type's `Ranges` in one generic way: "medium" is the defaults; "easy"
halves every range towards its low end (max_x moves to the middle of [min_x, max_x], or of
[lowest allowed, max_x] when there is no min_x); "hard" moves every min_x to the middle of
[min_x, max_x]. Changes the type's validators reject are left out one by one, and when a
narrowed range cannot be drawn from, the default ranges are used, so every (type, seed,
difficulty) still gives one fixed variant.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import Any

import annotated_types
from pydantic import ValidationError

from examforge import registry
from examforge.drill import answers, plaintext
from examforge.errors import ExamforgeError, InputError
from examforge.question import AnswerFormat, QuestionType
from examforge.renderers.blocks import question_text, solution_latex
from examforge.variant import Variant, draw

DIFFICULTIES = ("easy", "medium", "hard")
FORM_NAMES = {"free": "type the answer", "mc": "multiple choice", "tf": "true or false",
              "multi": "select all that apply"}
MAX_SEED = 2**53 - 1  # exact in JavaScript and JSON


# -- difficulty ------------------------------------------------------------------------------------


def _lower_bound(info) -> float | None:
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Ge):
            return meta.ge
        if isinstance(meta, annotated_types.Gt):
            return meta.gt
    return None


def _decimals(*values: float) -> int:
    out = 0
    for v in values:
        text = f"{v:.10f}".rstrip("0")
        out = max(out, len(text.split(".")[1]) if "." in text else 0)
    return out


def _between(lo, hi, *, up: bool):
    """The middle of [lo, hi] in the type of the range (ints round towards the kept end)."""
    if isinstance(lo, int) and isinstance(hi, int):
        return lo + (math.ceil((hi - lo) / 2) if up else (hi - lo) // 2)
    return round(lo + (hi - lo) / 2, max(1, _decimals(lo, hi)))


@lru_cache(maxsize=None)
def _difficulty_items(type_id: str, difficulty: str) -> tuple[tuple[str, Any], ...]:
    qtype = registry.get(type_id)
    if difficulty == "medium":
        return ()
    fields = qtype.Ranges.model_fields
    defaults = qtype.Ranges()
    wanted: list[tuple[str, Any]] = []
    for name, info in fields.items():
        if not name.startswith(("min_", "max_")):
            continue
        value = getattr(defaults, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        base = name[4:]
        lo = getattr(defaults, f"min_{base}") if f"min_{base}" in fields else None
        hi = getattr(defaults, f"max_{base}") if f"max_{base}" in fields else None
        if difficulty == "easy" and name.startswith("max_"):
            floor = lo if lo is not None else _lower_bound(info)
            if floor is not None and floor < value:
                wanted.append((name, _between(floor, value, up=False)))
        elif difficulty == "hard" and name.startswith("min_") and hi is not None and value < hi:
            wanted.append((name, _between(value, hi, up=True)))
    kept: dict[str, Any] = {}
    for name, value in wanted:  # keep what the type's validators accept, in field order
        try:
            qtype.Ranges.model_validate({**kept, name: value})
        except ValidationError:
            continue
        kept[name] = value
    return tuple(kept.items())


def difficulty_ranges(qtype: QuestionType, difficulty: str) -> dict[str, Any]:
    """The Ranges fields that `difficulty` changes (empty for medium)."""
    if difficulty not in DIFFICULTIES:
        raise InputError(f"difficulty {difficulty!r} is not one of {', '.join(DIFFICULTIES)}")
    return dict(_difficulty_items(qtype.id, difficulty))


def draw_at(qtype: QuestionType, seed: int, difficulty: str, form: str) -> Variant:
    ranges = difficulty_ranges(qtype, difficulty)
    if ranges:
        try:
            return draw(qtype, seed, form=form, ranges=ranges)
        except Exception:  # narrowed ranges this generator cannot draw from: use its defaults
            pass
    return draw(qtype, seed, form=form)


# -- which forms a type offers in a drill ------------------------------------------------------------


def option_text(qtype: QuestionType, answer) -> str:
    """The right option as text (what a multiple-choice student would see): private. Only
    compared with a typed answer (`answers.same_as_printed`); the format comes from the type."""
    return plaintext.flat_text(qtype.choice_latex(qtype.choice_value(answer)))


@lru_cache(maxsize=None)
def answer_kind(type_id: str) -> str | None:
    """The kind of a type's typed answer, as it declares it (`QuestionType.format_of`); None
    when its answers are picked among the options or written in words."""
    fmt = registry.get(type_id).format_of()
    return fmt.kind if fmt.typed else None


def is_open(qtype: QuestionType) -> bool:
    """An open question (authored `free`): the student writes, then compares with the model answer."""
    return qtype.format_of().kind == "open"


def drill_forms(qtype: QuestionType) -> tuple[str, ...]:
    """Forms a drill can use: "free" only when the asked quantity can be typed (or the question
    is open, answered in the student's own words)."""
    return tuple(f for f in qtype.forms if f != "free" or is_open(qtype) or answer_kind(qtype.id) is not None)


def default_form(qtype: QuestionType) -> str:
    forms = drill_forms(qtype)
    if not forms:
        raise InputError(f"{qtype.id} cannot be drilled: its answer cannot be typed and it has no choice form")
    return forms[0]


# -- the exercise --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exercise:
    qtype: QuestionType
    seed: int
    difficulty: str
    form: str
    variant: Variant
    fmt: AnswerFormat

    @cached_property
    def option_text(self) -> str:
        """The right option as text: private (a typed answer written like it is right)."""
        return option_text(self.qtype, self.variant.answer)

    @property
    def letters(self) -> tuple[str, ...]:
        return tuple(c.letter for c in self.variant.choices)

    @property
    def is_open(self) -> bool:
        return self.fmt.kind == "open"

    @property
    def expected(self) -> Any:
        if self.is_open:
            return self.variant.answer.value
        if self.form == "free":
            return answers.plain(self.qtype.choice_value(self.variant.answer))
        return frozenset(c.letter for c in self.variant.choices if c.mistake is None)

    @cached_property
    def question_latex(self) -> str:
        """The statement only; it reads params, never the answer."""
        v = self.variant
        if self.form == "free" and "mc" in self.qtype.forms:
            v = replace(v, form="mc")  # the stem that asks for exactly the typed quantity
        return str(question_text(v, figure_mode="data"))

    @cached_property
    def solution_latex(self) -> str:
        return str(solution_latex(self.variant, figure_mode="data"))

    @cached_property
    def expected_latex(self) -> str:
        """The short right answer: the value, or the right option(s) with their text."""
        v = self.variant
        if self.is_open:
            return self.answer_latex
        if self.form == "free":
            return self.qtype.choice_latex(self.qtype.choice_value(v.answer))
        if self.form == "tf":
            return "True" if v.claim_is_true else "False"
        right = [c for c in v.choices if c.mistake is None]
        return "; ".join(rf"\textbf{{{c.letter}.}} {c.latex}" for c in right)

    @cached_property
    def answer_latex(self) -> str:
        return self.qtype.answer_latex(self.variant.answer)

    @property
    def query(self) -> dict[str, Any]:
        return {"type": self.qtype.id, "seed": self.seed, "difficulty": self.difficulty, "form": self.form}

    def rubric(self) -> list[tuple[float, str]]:
        """(points, LaTeX) of an open question's rubric; empty for other questions."""
        items = self.qtype.rubric() if hasattr(self.qtype, "rubric") else []
        return [(float(r.points), r.text) for r in items]

    def check(self, response: Any) -> tuple[Verdict, Any]:
        """The verdict and the response as read; AnswerSyntaxError when it cannot be read.
        A typed answer written exactly as the right option prints it ("7 × 7") is right too.
        A wrong answer that is one of the type's named mistakes (typed: equal to its value under
        the same reading and tolerance; chosen: a wrong option) says which, in a sentence."""
        if self.is_open:
            return self._open(response)
        if self.form == "free" and answers.same_as_printed(response, self.option_text):
            return Verdict(True, "Right."), response.strip()
        given = answers.parse(response, self.fmt, letters=self.letters)
        verdict = answers.compare(given, self.expected, self.fmt)
        if self.fmt.kind == "choice":
            return self._choice_verdict(given, verdict), given
        out = Verdict(verdict.correct, verdict.message)
        if not verdict.correct:
            name = self.typed_mistake(given)
            if name is not None:
                out = replace(out, mistake=name, why=self.why(name))
        return out, given

    def _open(self, response: Any) -> tuple[Verdict, Any]:
        if response is not None and not isinstance(response, str):
            raise answers.AnswerSyntaxError("expected your answer as text")
        text = (response or "").strip()
        if len(text) > answers.MAX_ANSWER_CHARS:
            raise answers.AnswerSyntaxError(f"the answer is longer than {answers.MAX_ANSWER_CHARS} characters")
        if not text:
            raise answers.AnswerSyntaxError("the answer is empty; write your answer first, then compare it "
                                            "with the model answer")
        return Verdict(None, "Compare with the model answer.", credit=None), text

    def _choice_verdict(self, picked: frozenset, verdict: answers.Verdict) -> Verdict:
        right = frozenset(self.expected)
        by_letter = {c.letter: c for c in self.variant.choices}
        wrong_picks = sorted(picked - right)
        names = [by_letter[x].mistake for x in wrong_picks if by_letter[x].mistake]
        if verdict.correct:
            return Verdict(True, "Right.", credit=1.0)
        if self.form == "multi":
            hits, missed = len(picked & right), len(right - picked)
            credit = 0.0
            if self.qtype.scoring == "partial":
                credit = max(0.0, (hits - len(wrong_picks)) / len(right))
            parts = []
            if missed:
                parts.append(f"{missed} correct option{'s' if missed != 1 else ''} not chosen")
            if wrong_picks:
                parts.append(f"{', '.join(wrong_picks)} {'is' if len(wrong_picks) == 1 else 'are'} wrong")
            if credit > 0:
                message = f"Partly right ({credit:.0%} credit): {'; '.join(parts)}."
            else:
                message = f"Wrong: {'; '.join(parts)}."
                if self.qtype.scoring == "partial" and hits:
                    message = f"Wrong (no credit: the wrong choices cancel the right ones): {'; '.join(parts)}."
            whys = [s for s in (self.why(n) for n in names) if s]
            return Verdict(False, message, mistake=names[0] if names else None,
                           why=" ".join(whys) or None, credit=credit, mistakes=tuple(names))
        name = names[0] if names else None
        return Verdict(False, "Wrong option." if self.form == "mc" else "Wrong.", mistake=name,
                       why=self.why(name) if name else None, credit=0.0, mistakes=tuple(names))

    def typed_mistake(self, given: Any) -> str | None:
        """The named mistake whose value the typed answer equals, under the answer's own reading
        (mistakes whose value has another structure than the answer's are not compared)."""
        for name, value in self.qtype.mistakes(self.variant.params).items():
            value = answers.plain(value)
            if answers.fits(value, self.fmt) and answers.compare(given, value, self.fmt).correct:
                return name
        return None

    def why(self, name: str) -> str:
        """The sentence for a student who made the mistake `name`, or a generic one."""
        return mistake_sentence(self.qtype, self.variant.params, name)


@dataclass(frozen=True)
class Verdict:
    """The outcome of one attempt. `correct` is None for an open question (self-assessed);
    `credit` is the fraction of the points (select-all questions with partial credit);
    `mistake` names the mistake the answer matches and `why` says it for the student."""

    correct: bool | None
    message: str
    mistake: str | None = None
    why: str | None = None
    credit: float | None = None
    mistakes: tuple[str, ...] = ()


_AUTO_NAMES = ("believes_a_false_statement", "rejects_a_true_statement")


def mistake_sentence(qtype: QuestionType, params: Any, name: str) -> str:
    """The type's own sentence for the mistake `name`, else a generic one from its name."""
    try:
        own = qtype.why(params, name)
    except Exception:
        own = ""
    if own:
        return own
    if name == "rejected_true_claim":
        return "The statement is true: the value it claims is the right one."
    if getattr(qtype, "authored", False):
        if name in _AUTO_NAMES or (name.startswith("chose_") and len(name) == 7):
            return ""  # no name worth saying: the explanation says why
        return f"That is the option for the mistake: {name.replace('_', ' ')}."
    return f"That is the value you get if you {name.replace('_', ' ')}."


MAX_TYPE_ID_CHARS = 100


def parse_seed(value: Any) -> int:
    """A seed from a query string or JSON: a whole number from 0 to MAX_SEED. Only ASCII digits
    ("²" is a digit to str.isdigit, not to int), at most 16 of them (so int() is cheap)."""
    wrong = f"seed must be a whole number from 0 to {MAX_SEED}, got "
    if isinstance(value, bool):
        raise InputError(wrong + repr(value))
    if isinstance(value, str):
        text = value.strip()
        if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_SEED))):
            raise InputError(wrong + repr(value[:40]) + ("..." if len(value) > 40 else ""))
        value = int(text)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_SEED:
        return value
    if isinstance(value, int):  # described by its size: str() of a huge int is slow, or refused
        shown = str(value) if value.bit_length() <= 64 else f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
    elif isinstance(value, float):
        shown = repr(value)
    else:
        shown = type(value).__name__
    raise InputError(wrong + shown)


def exercise(type_id: str, seed: int, difficulty: str = "medium", form: str | None = None) -> Exercise:
    """Validate the four values (InputError naming the bad one) and build the exercise."""
    if not isinstance(type_id, str) or not type_id:
        raise InputError("type is required: a question type id such as conv.output_shape")
    if len(type_id) > MAX_TYPE_ID_CHARS:
        raise InputError(f"unknown question type {type_id[:40]!r}...: type ids are at most {MAX_TYPE_ID_CHARS} "
                         "characters (see /api/types or 'examforge list')")
    qtype = registry.get(type_id)
    seed = parse_seed(seed)
    if not isinstance(difficulty, str) or difficulty not in DIFFICULTIES:
        raise InputError(f"difficulty {str(difficulty)[:40]!r} is not one of {', '.join(DIFFICULTIES)}")
    forms = drill_forms(qtype)
    if form is None:
        form = default_form(qtype)
    elif form not in forms:
        why = "" if form not in qtype.forms else " (its answer cannot be typed; choose from the options)"
        raise InputError(f"{qtype.id}: form {str(form)[:20]!r} is not offered{why}; choose one of {', '.join(forms)}")
    return _build(qtype.id, seed, difficulty, form)


@lru_cache(maxsize=1024)
def _build(type_id: str, seed: int, difficulty: str, form: str) -> Exercise:
    qtype = registry.get(type_id)
    v = draw_at(qtype, seed, difficulty, form)
    if form == "free":
        fmt = qtype.format_of(v.params)
        if fmt.kind == "open":
            return Exercise(qtype, seed, difficulty, form, v, fmt)
        if not fmt.typed:  # this variant's answer is picked among its options (words, say)
            fallback = next((f for f in qtype.forms if f != "free"), None)
            if fallback is None:
                raise ExamforgeError(f"{type_id} seed {seed}: the answer cannot be typed and there are no options")
            return _build(type_id, seed, difficulty, fallback)
        expected = answers.plain(qtype.choice_value(v.answer))
        if not answers.fits(expected, fmt):
            raise ExamforgeError(f"{type_id} seed {seed}: the answer {str(expected)[:60]} does not fit the format "
                                 f"the type declares ({fmt.kind}{', labels ' + repr(fmt.labels) if fmt.labels else ''})")
        if fmt.kind == "shape":  # the question states the number of dimensions
            fmt = replace(fmt, rank=len(expected))
        return Exercise(qtype, seed, difficulty, form, v, fmt)
    fmt = answers.choice_format({c.letter for c in v.choices if c.mistake is None})
    if form == "multi":  # select all: checkboxes even when one option is right (that is not told)
        fmt = replace(fmt, multiple=True)
    return Exercise(qtype, seed, difficulty, form, v, fmt)
