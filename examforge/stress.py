"""Stress-testing question types over many seeds, in the spirit of R/exams' stresstest_exercise.

For each type and form it draws N seeds and reports failures (with id and seed), time per
variant, the spread of answers, how often two seeds give the same question, and the balance
of the correct option's position (multiple choice) or of true claims (true/false)."""

from __future__ import annotations

import collections
import statistics
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable, Iterable

from examforge.question import QuestionType, values_agree
from examforge.renderers.blocks import question_latex, solution_latex
from examforge.variant import draw, draw_params


@dataclass
class StressReport:
    type_id: str
    form: str
    seeds: int
    failures: list[tuple[int, str]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    answers: collections.Counter = field(default_factory=collections.Counter)
    numeric: list[float] = field(default_factory=list)
    questions: collections.Counter = field(default_factory=collections.Counter)
    positions: collections.Counter = field(default_factory=collections.Counter)

    @property
    def ok(self) -> int:
        return self.seeds - len(self.failures)

    @property
    def ms_per_variant(self) -> float:
        return 1000 * statistics.fmean(self.seconds) if self.seconds else float("nan")

    @property
    def p95_ms(self) -> float:
        if not self.seconds:
            return float("nan")
        ordered = sorted(self.seconds)
        return 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]

    @property
    def duplicate_questions(self) -> int:
        """Seeds whose question (params and, for choices, the options) repeats an earlier seed."""
        return sum(n - 1 for n in self.questions.values())

    def to_json(self) -> dict:
        return {
            "generator": self.type_id,
            "form": self.form,
            "seeds": self.seeds,
            "failures": [{"seed": s, "error": e} for s, e in self.failures],
            "ms_per_variant": round(self.ms_per_variant, 3),
            "p95_ms": round(self.p95_ms, 3),
            "distinct_answers": len(self.answers),
            "most_common_answer_share": round(self.answers.most_common(1)[0][1] / max(1, self.ok), 4) if self.answers else None,
            "numeric_range": [min(self.numeric), max(self.numeric)] if self.numeric else None,
            "duplicate_questions": self.duplicate_questions,
            "positions": dict(sorted(self.positions.items())),
        }


def stress_type(qtype: QuestionType, form: str, seeds: Iterable[int], *, overrides: dict | None = None) -> StressReport:
    """`overrides` pin params on every draw, as a spec's `overrides:` does (e.g. a question option)."""
    seeds = list(seeds)
    report = StressReport(qtype.id, form, len(seeds))
    try:  # warm-up: template compilation and imports are not per-variant cost
        draw(qtype, seeds[0], form=form, overrides=overrides)
    except Exception:
        pass  # reported below, with its seed
    for seed in seeds:
        start = time.perf_counter()
        try:
            v = draw(qtype, seed, form=form, overrides=overrides)
            question_latex(v, key=True)
            solution_latex(v)
            elapsed = time.perf_counter() - start
            ref = qtype.reference(v.params)
            if not values_agree(v.answer.model_dump(mode="json"), ref.model_dump(mode="json"),
                                rtol=qtype.Answer.rtol, atol=qtype.Answer.atol):
                raise AssertionError(f"torch answer {v.answer!r} disagrees with the reference {ref!r}")
        except Exception as err:  # a stress test reports every failure, whatever it is
            where = traceback.extract_tb(err.__traceback__)[-1]
            report.failures.append((seed, f"{type(err).__name__}: {err} ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})"))
            continue
        report.seconds.append(elapsed)
        shown = qtype.choice_latex(qtype.choice_value(v.answer))
        report.answers["".join(shown.split())] += 1
        value = qtype.choice_value(v.answer)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            report.numeric.append(float(value))
        key = v.params.model_dump_json() + "|" + "|".join(c.latex for c in v.choices) + "|" + (v.claim or "")
        report.questions[key] += 1
        if v.form == "mc":
            report.positions[v.correct_letter] += 1
        elif v.form == "tf":
            report.positions["true" if v.claim_is_true else "false"] += 1
    return report


def run_stress(
    types: list[QuestionType],
    *,
    seeds: int,
    start: int = 0,
    forms: list[str] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    overrides: dict | None = None,
) -> list[StressReport]:
    jobs = [(t, f) for t in types for f in t.forms if forms is None or f in forms]
    if overrides:  # a pinned option may be asked in some forms only: stress those
        jobs = [(t, f) for t, f in jobs if not t.form_problem(draw_params(t, start, overrides=overrides), f)]
    reports = []
    for i, (qtype, form) in enumerate(jobs):
        if progress:
            progress(f"{qtype.id} ({form})", i, len(jobs))
        reports.append(stress_type(qtype, form, range(start, start + seeds), overrides=overrides))
    if progress:
        progress("done", len(jobs), len(jobs))
    return reports


def balance_ok(report: StressReport) -> bool:
    """Every position (or truth value) within 40% of its fair share."""
    if not report.positions or report.ok < 40:
        return True
    fair = report.ok / len(report.positions)
    return all(abs(n - fair) <= 0.4 * fair for n in report.positions.values())
