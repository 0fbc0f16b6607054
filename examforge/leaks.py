"""Cross-question answer leaks: one question of a student's exam showing another one's answer.

A question leaks an answer when what the student reads of it (its statement, a true/false
claim, its options), as plain text, contains the answer of another question of the same exam:
a true/false claim about one draw of `transformer.activation_memory` can state the very factors
a later question asks for. The build warns about every leak and records it in the manifest.

Only distinctive answers count, or every exam would leak its 2s and 0.5s. The rule: an answer
text is distinctive when its numbers hold at least MIN_SIGNIFICANT_DIGITS significant digits
(each number's digits without its leading and trailing zeros): `16384`, `0.0228`, `63 × 63`,
`B: 2×, N: 4×, D: 1×` are; `7`, `16`, `0.25`, `100`, `5 × 5`, `(1, 0, 0)` are not. An answer's
texts are the option showing the right value (for multiple choice and true/false, that is all
the student is asked) and, for a typed answer, what the key prints (the type's `key_texts`).
Texts are compared with spaces removed (and × as x), and numbers match whole: `1024` is
not found in `10240`, nor `0.31` in `0.315` or `-0.31`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from examforge.text import latex_to_text, normalize
from examforge.variant import Variant

MIN_SIGNIFICANT_DIGITS = 3
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_TIMES = re.compile(r"(\d)\s*×\s*(\d)")


def significant_digits(text: str) -> int:
    """The significant digits of every number in `text`, added up."""
    return sum(len(m.group().replace(".", "").strip("0")) for m in _NUMBER.finditer(text))


def distinctive(text: str) -> bool:
    return significant_digits(text) >= MIN_SIGNIFICANT_DIGITS


def answer_texts(v: Variant) -> list[str]:
    """The distinctive texts of `v`'s answer, as plain text (see the module's docstring)."""
    qtype = v.qtype
    texts = [latex_to_text(qtype.choice_latex(qtype.choice_value(v.answer)))]
    if v.form == "free":  # options ask for the options' value; a typed answer is what the key prints
        texts += qtype.key_texts(v.answer)
    out, seen = [], set()
    for text in texts:
        if distinctive(text) and normalize(text) not in seen:
            seen.add(normalize(text))
            out.append(_TIMES.sub(r"\1 × \2", text))  # 126 × 42, as printed (pylatexenc gives 126 ×42)
    return out


def shown_latex(v: Variant) -> str:
    """What the student reads of the question, as LaTeX: the statement (with a true/false claim)
    and the options."""
    from examforge.renderers.blocks import question_text

    return "\n".join([str(question_text(v)), *(c.latex for c in v.choices if v.form == "mc")])


def contains(text: str, needle: str) -> bool:
    """Whether normalized `text` holds normalized `needle` with its numbers whole."""
    start = text.find(needle)
    while start >= 0:
        end = start + len(needle)
        before = text[start - 1] if start else ""
        after = text[end:end + 2]
        glued_before = needle[0].isdigit() and (before.isdigit() or before in (".", "-"))
        glued_after = needle[-1].isdigit() and (after[:1].isdigit() or (after[:1] == "." and after[1:2].isdigit()))
        if not (glued_before or glued_after):
            return True
        start = text.find(needle, start + 1)
    return False


class _Numbers:
    """The numbers of a LaTeX text, with where they are."""

    def __init__(self, latex: str):
        self.latex = latex
        self.found = [(m.group(), m.start(), m.end()) for m in _NUMBER.finditer(latex)]
        self.joined = " " + " ".join(n for n, _, _ in self.found) + " "

    def windows(self, numbers: list[str]) -> list[str]:
        """The LaTeX lines holding each place where `numbers` occur in a row (converting a line
        or two to text is much cheaper than a whole statement)."""
        if " " + " ".join(numbers) + " " not in self.joined:
            return []
        latex, found, k = self.latex, self.found, len(numbers)
        out = []
        for i in range(len(found) - k + 1):
            if found[i][0] != numbers[0] or [n for n, _, _ in found[i:i + k]] != numbers:
                continue
            first, last = found[i][1], found[i + k - 1][2]
            start, end = latex.rfind("\n", 0, first) + 1, latex.find("\n", last)
            out.append(latex[start:] if end < 0 else latex[start:end])
        return out


@dataclass(frozen=True)
class Leak:
    slot: int  # the question whose text shows ...
    answer_slot: int  # ... this question's answer
    text: str  # the answer, as plain text

    def to_json(self) -> dict:
        return {"question": self.slot + 1, "shows_answer_of": self.answer_slot + 1, "text": self.text}


def find_leaks(questions: Sequence[tuple[int, Variant]]) -> list[Leak]:
    """Every (question, other question) pair of one exam where the first shows the second's
    answer. `questions` holds (slot, variant) pairs. LaTeX prints numbers as they are, so a
    statement can only show an answer where the answer's numbers occur in a row in its LaTeX;
    only the lines holding such places are converted to plain text and searched."""
    answers = [(slot, [(text, normalize(text), _NUMBER.findall(text)) for text in answer_texts(v)])
               for slot, v in questions]
    if not any(texts for _, texts in answers):
        return []
    leaks = []
    for slot, v in questions:
        shown = None
        for other, texts in answers:
            if other == slot:
                continue
            for text, needle, numbers in texts:
                shown = shown or _Numbers(shown_latex(v))
                if any(contains(normalize(latex_to_text(w)), needle) for w in shown.windows(numbers)):
                    leaks.append(Leak(slot, other, text))
                    break
    return leaks
