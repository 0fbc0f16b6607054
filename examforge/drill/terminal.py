"""`examforge drill`: endless variants in the terminal, checked as you answer them."""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from typing import Callable

from examforge import registry
from examforge.drill import answers, plaintext
from examforge.drill.exercise import Exercise, drill_forms, exercise
from examforge.drill.history import History
from examforge.drill.sets import DrillSet
from examforge.errors import InputError
from examforge.question import QuestionType

QUIT = {"q", "quit", "exit", ":q"}
GIVE_UP = {"?", "skip", "idk", "give up"}


def select_types(selector: str | None) -> list[QuestionType]:
    """All types, one type by id, or every type of a topic ("conv" -> conv.*)."""
    types = registry.all_types()
    if not selector:
        return types
    ids = [t.id for t in types]
    if selector in ids:
        return [registry.get(selector)]
    topic = selector.rstrip(".")
    matched = [t for t in types if t.id.startswith(topic + ".") or t.topic == topic]
    if matched:
        return matched
    topics = sorted({t.topic for t in types})
    hint = registry.unknown_id_message(selector)
    raise InputError(f"{hint}\ntopics: {', '.join(topics)}")


@dataclass
class Tally:
    right: int = 0
    wrong: int = 0
    compared: int = 0  # open questions: answered, then compared with the model answer

    @property
    def total(self) -> int:
        return self.right + self.wrong


class TerminalDrill:
    def __init__(
        self,
        types: list[QuestionType],
        *,
        seed: int | None = None,
        form: str | None = None,
        difficulty: str = "medium",
        history: History | None = None,
        width: int | None = None,
        ask: Callable[[str], str] = input,
        say: Callable[[str], None] = print,
    ):
        self.types = types
        self.seed = seed
        self.form = form
        self.difficulty = difficulty
        self.history = history
        self.width = width or max(60, min(100, shutil.get_terminal_size((88, 24)).columns - 2))
        self.ask = ask
        self.say = say
        # --seed: a fixed sequence (seeds N, N+1, ...; types in a seeded order, history unused)
        self.rng = random.Random(seed) if seed is not None else random.SystemRandom()
        self.tally = Tally()

    def next_exercise(self, k: int) -> Exercise:
        if len(self.types) == 1:
            qtype = self.types[0]
        elif self.seed is None and self.history is not None:
            weights = self.history.weights([t.id for t in self.types])
            qtype = self.rng.choices(self.types, weights=weights)[0]
        else:
            qtype = self.rng.choice(self.types)
        variant_seed = self.seed + k if self.seed is not None else self.rng.randrange(2**31)
        form = self.form if self.form in drill_forms(qtype) else None
        return exercise(qtype.id, variant_seed, self.difficulty, form)

    def run(self, count: int | None = None) -> Tally:
        k = 0
        try:
            while count is None or k < count:
                ex = self.next_exercise(k)
                k += 1
                if not self.play(ex, k):
                    break
                if count is not None:  # --count: the next variant follows, nothing asked
                    continue
                reply = self.ask("\nAnother variant? [Enter = yes, q = quit] ").strip().lower()
                if reply in QUIT or reply in ("n", "no"):
                    break
        except (EOFError, KeyboardInterrupt):
            self.say("")
        line = f"\nDrilled {self.tally.total}: {self.tally.right} right, {self.tally.wrong} wrong"
        if self.tally.compared:
            line += f"; {self.tally.compared} open answer{'s' if self.tally.compared != 1 else ''} to compare"
        self.say(line + ".")
        return self.tally

    # -- one exercise ----------------------------------------------------------------------------
    def show(self, ex: Exercise, k: int) -> None:
        head = f"[{k}] {ex.qtype.id} \u00b7 seed {ex.seed} \u00b7 {ex.difficulty}"
        self.say("\n" + head + "  " + "\u2500" * max(0, self.width - len(head) - 2))
        self.say(plaintext.to_text(ex.question_latex, self.width))
        if ex.form == "tf":
            self.say("\n  T. True\n  F. False")
        elif ex.variant.choices:
            self.say("")
            for c in ex.variant.choices:
                lines = plaintext.inline_text(c.latex).split("\n")
                pad = " " * (len(c.letter) + 4)
                mid = len(lines) // 2
                for i, line in enumerate(lines):
                    lead = f"  {c.letter}. " if i == mid else pad
                    self.say(lead + line)

    def prompt(self, ex: Exercise) -> str:
        if ex.is_open:
            return ("\nYour answer \u2014 in your own words; end with an empty line. "
                    "'?' shows the model answer, 'q' quits\n> ")
        if ex.fmt.kind == "choice":
            what = "T or F" if ex.form == "tf" else ex.fmt.hint
            if ex.form == "multi":
                what = "select all that apply: every right letter, e.g. A, C"
        elif ex.fmt.template is not None:
            what = f"{ex.fmt.template}  (the numbers, in this order)"
        else:
            what = ex.fmt.hint
        return f"\nYour answer \u2014 {what}; '?' shows the solution, 'q' quits\n> "

    def play(self, ex: Exercise, k: int) -> bool:
        """Ask until the answer can be read; False when the student quits."""
        self.show(ex, k)
        question = self.prompt(ex)
        while True:
            raw = self.ask(question)
            text = raw.strip()
            if text.lower() in QUIT:
                return False
            if not text:
                question = "> "
                continue
            if text.lower() in GIVE_UP:
                verdict, given = answers.Verdict(False, "Skipped."), None
                break
            if ex.is_open:
                text = self.read_paragraph(text)
            if ex.fmt.kind == "matrix" and ";" not in text and "\n" not in text and "[" not in text:
                text = self.read_rows(text)
            try:
                verdict, given = ex.check(text)
                break
            except answers.AnswerSyntaxError as err:
                self.say(f"  Could not read that: {err}")
                question = "> "
        self.report(ex, verdict, given, text)
        return True

    def read_paragraph(self, first: str) -> str:
        """An open answer, over as many lines as the student likes; an empty line ends it."""
        lines = [first]
        while sum(len(x) for x in lines) < answers.MAX_ANSWER_CHARS:
            line = self.ask("  ").rstrip()
            if not line.strip():
                break
            lines.append(line)
        return "\n".join(lines)

    def read_rows(self, first: str) -> str:
        """A matrix typed one row per line; an empty line ends it."""
        rows = [first]
        while True:
            line = self.ask("  next row (Enter when done)> ").strip()
            if not line:
                return "; ".join(rows)
            rows.append(line)

    def report(self, ex: Exercise, verdict, given, text: str) -> None:
        if ex.is_open:
            self.report_open(ex, verdict, given, text)
            return
        if verdict.correct:
            self.tally.right += 1
            self.say("\u2714 " + verdict.message)
        else:
            self.tally.wrong += 1
            self.say(("\u25d1 " if getattr(verdict, "credit", None) else "\u2718 ") + verdict.message)
            if given is not None:
                self.say(f"  You answered: {answers.show_as(given, ex.fmt)}")
            why = getattr(verdict, "why", None)
            if why:
                self.say("\n".join("  " + line for line in plaintext.to_text(why, self.width - 2).split("\n")))
        expected = plaintext.inline_text(ex.expected_latex)
        lines = expected.split("\n")
        self.say("  The answer: " + lines[0] if len(lines) == 1 else "  The answer:")
        if len(lines) > 1:
            self.say("\n".join("    " + line for line in lines))
        if plaintext.flat_text(ex.answer_latex) != plaintext.flat_text(ex.expected_latex):
            full = plaintext.to_text(r"\textbf{Full answer:} " + ex.answer_latex, self.width - 2)
            self.say("\n".join("  " + line for line in full.split("\n")))
        self.say("\nWorked solution:")
        self.say(plaintext.to_text(ex.solution_latex, self.width))
        if self.history is not None:
            self.history.record(ex.qtype.id, ex.seed, ex.difficulty, ex.form, verdict.correct, text)


    def report_open(self, ex: Exercise, verdict, given, text: str) -> None:
        """An open question: the model answer and the rubric; the student grades themself."""
        self.tally.compared += 1
        self.say("\u270e " + ("Compare with the model answer." if given is not None else "Skipped."))
        self.say("  Nothing is graded here: tick off the rubric yourself.\n")
        self.say(plaintext.to_text(ex.solution_latex, self.width))  # the model answer and the rubric

def run(selector: str | None, *, seed: int | None, form: str | None, difficulty: str | None, count: int | None,
        history: History | None, ask=input, say=print, drill_set: DrillSet | None = None) -> Tally:
    """Drill `selector` (a type id, a topic or everything), or the types of `drill_set` with its
    difficulty and form (a given `difficulty` or `form` wins over the set's)."""
    if drill_set is not None:
        if selector:
            raise InputError(f"give either a topic ({selector!r}) or a drill set ({drill_set.name!r}), not both")
        types = [registry.get(type_id) for type_id in drill_set.type_ids]
        difficulty = difficulty or drill_set.difficulty
        form = form or drill_set.form
        n = len(types)
        say(f"Drill set {drill_set.name}: {drill_set.title} ({n} question type{'s' if n != 1 else ''}, {difficulty})")
    else:
        types = select_types(selector)
    difficulty = difficulty or "medium"
    if form is not None and len(types) == 1 and form not in drill_forms(types[0]):
        exercise(types[0].id, 0, difficulty, form)  # raises InputError naming the offered forms
    drill = TerminalDrill(types, seed=seed, form=form, difficulty=difficulty, history=history, ask=ask, say=say)
    return drill.run(count)
