"""Stress-testing question types over many seeds, in the spirit of R/exams' stresstest_exercise.

For each type and form it draws N seeds and reports failures (with id, form and seed), time per
variant, the spread of answers, how often two seeds give the same question, and the balance
of the correct option's position (multiple choice) or of true claims (true/false).

Two depths: the full check (draw, solve, options, the question and solution LaTeX, the torch
answer against the independent reference) and `render=False` (the same without templating, for
sweeps of 100,000 seeds). Seeds are cut into chunks that a process pool can share; the figures
do not depend on the number of processes."""

from __future__ import annotations

import array
import collections
import hashlib
import math
import os
import statistics
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Callable, Iterable

from examforge.question import QuestionType, values_agree
from examforge.variant import draw

KEPT_FAILURES = 200  # failures kept with their message per type and form (all are counted)
CHUNK = 2000  # seeds per task of the process pool


def _digest(text: str) -> int:
    """A 64-bit digest: 100,000 seeds' questions are counted without keeping their text."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


@dataclass
class StressReport:
    type_id: str
    form: str
    seeds: int
    failures: list[tuple[int, str]] = field(default_factory=list)  # the first KEPT_FAILURES, by seed
    failure_count: int = 0
    seconds: array.array = field(default_factory=lambda: array.array("d"))
    answers: collections.Counter = field(default_factory=collections.Counter)  # digest of the shown answer
    questions: collections.Counter = field(default_factory=collections.Counter)  # digest of the question
    positions: collections.Counter = field(default_factory=collections.Counter)
    numeric_range: tuple[float, float] | None = None
    work_seconds: float = 0.0  # wall time spent on these seeds (reference checks included), summed over chunks
    cpu_seconds: float = 0.0  # the CPU time of that work: what other load on the machine does not inflate
    summary: dict | None = None  # set by compact(): the statistics, once the big tallies are dropped

    @property
    def ok(self) -> int:
        return self.seeds - self.failure_count

    @property
    def ms_per_variant(self) -> float:
        if self.summary:
            return self.summary["ms_per_variant"]
        return 1000 * statistics.fmean(self.seconds) if self.seconds else float("nan")

    @property
    def p95_ms(self) -> float:
        if self.summary:
            return self.summary["p95_ms"]
        if not self.seconds:
            return float("nan")
        ordered = sorted(self.seconds)
        return 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]

    @property
    def distinct_answers(self) -> int:
        return self.summary["distinct_answers"] if self.summary else len(self.answers)

    @property
    def top_answer_share(self) -> float:
        if self.summary:
            return self.summary["top_answer_share"]
        return self.answers.most_common(1)[0][1] / max(1, self.ok) if self.answers else 0.0

    @property
    def duplicate_questions(self) -> int:
        """Seeds whose question (params and, for choices, the options) repeats an earlier seed."""
        if self.summary:
            return self.summary["duplicate_questions"]
        return sum(n - 1 for n in self.questions.values())

    @property
    def variants_per_second(self) -> float:
        return self.seeds / self.work_seconds if self.work_seconds else float("nan")

    def merge(self, other: StressReport) -> None:
        """Add another chunk's tallies (same type and form, other seeds)."""
        self.seeds += other.seeds
        self.failure_count += other.failure_count
        self.failures = sorted(self.failures + other.failures)[:KEPT_FAILURES]
        self.seconds.extend(other.seconds)
        self.answers.update(other.answers)
        self.questions.update(other.questions)
        self.positions.update(other.positions)
        self.work_seconds += other.work_seconds
        self.cpu_seconds += other.cpu_seconds
        if other.numeric_range:
            lo, hi = self.numeric_range or other.numeric_range
            self.numeric_range = (min(lo, other.numeric_range[0]), max(hi, other.numeric_range[1]))

    def compact(self) -> StressReport:
        """Keep the statistics and drop the per-seed tallies (megabytes at 100,000 seeds)."""
        if self.summary is None:
            self.summary = {
                "ms_per_variant": self.ms_per_variant,
                "p95_ms": self.p95_ms,
                "distinct_answers": self.distinct_answers,
                "top_answer_share": self.top_answer_share,
                "duplicate_questions": self.duplicate_questions,
            }
            self.seconds, self.answers, self.questions = array.array("d"), collections.Counter(), collections.Counter()
        return self

    def to_json(self) -> dict:
        return {
            "generator": self.type_id,
            "form": self.form,
            "seeds": self.seeds,
            "failure_count": self.failure_count,
            "failures": [{"seed": s, "error": e} for s, e in self.failures],
            "ms_per_variant": round(self.ms_per_variant, 3),
            "p95_ms": round(self.p95_ms, 3),
            "work_seconds": round(self.work_seconds, 2),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "distinct_answers": self.distinct_answers,
            "most_common_answer_share": round(self.top_answer_share, 4) if self.ok else None,
            "numeric_range": list(self.numeric_range) if self.numeric_range else None,
            "duplicate_questions": self.duplicate_questions,
            "positions": dict(sorted(self.positions.items())),
        }


def stress_type(qtype: QuestionType, form: str, seeds: Iterable[int], *, render: bool = True) -> StressReport:
    """Every seed of `seeds` through draw, solve, options (and with `render`, the question and
    solution LaTeX), and the torch answer against the independent reference."""
    if render:
        from examforge.renderers.blocks import question_latex, solution_latex
    seeds = list(seeds)
    report = StressReport(qtype.id, form, len(seeds))
    began, began_cpu = time.perf_counter(), time.process_time()
    try:  # warm-up: template compilation and imports are not per-variant cost
        draw(qtype, seeds[0], form=form)
    except Exception:
        pass  # reported below, with its seed
    lo, hi = math.inf, -math.inf
    for seed in seeds:
        start = time.perf_counter()
        try:
            v = draw(qtype, seed, form=form)
            if render:
                question_latex(v, key=True)
                solution_latex(v)
            elapsed = time.perf_counter() - start
            ref = qtype.reference(v.params)
            if not values_agree(v.answer.model_dump(mode="json"), ref.model_dump(mode="json"),
                                rtol=qtype.Answer.rtol, atol=qtype.Answer.atol):
                raise AssertionError(f"torch answer {v.answer!r} disagrees with the reference {ref!r}")
        except Exception as err:  # a stress test reports every failure, whatever it is
            where = traceback.extract_tb(err.__traceback__)[-1]
            report.failure_count += 1
            if len(report.failures) < KEPT_FAILURES:
                message = f"{type(err).__name__}: {err} ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})"
                report.failures.append((seed, message))
            continue
        report.seconds.append(elapsed)
        value = qtype.choice_value(v.answer)
        shown = qtype.choice_latex(value)
        report.answers[_digest("".join(shown.split()))] += 1
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            lo, hi = min(lo, float(value)), max(hi, float(value))
        key = v.params.model_dump_json() + "|" + "|".join(c.latex for c in v.choices) + "|" + (v.claim or "")
        report.questions[_digest(key)] += 1
        if v.form == "mc":
            report.positions[v.correct_letter] += 1
        elif v.form == "tf":
            report.positions["true" if v.claim_is_true else "false"] += 1
    if lo <= hi:
        report.numeric_range = (lo, hi)
    report.work_seconds = time.perf_counter() - began
    report.cpu_seconds = time.process_time() - began_cpu
    return report


# -- many types, many seeds, several processes -------------------------------------------------


def _one_thread() -> None:
    """One torch thread per process: the tensors are tiny and the processes share the cores."""
    import torch

    torch.set_num_threads(1)


def _chunk(type_id: str, form: str, start: int, stop: int, render: bool) -> StressReport:
    from examforge import registry

    return stress_type(registry.get(type_id), form, range(start, stop), render=render)


Progress = Callable[[str, int, int], None]
Finished = Callable[[StressReport, int, int], None]


def run_stress(
    types: list[QuestionType],
    *,
    seeds: int,
    start: int = 0,
    forms: list[str] | None = None,
    render: bool = True,
    jobs: int = 1,
    chunk: int = CHUNK,
    progress: Progress | None = None,
    finished: Finished | None = None,
) -> list[StressReport]:
    """Every (type, form) over seeds start ... start+seeds-1. With jobs > 1 the seeds go in
    chunks to a pool of processes (types are looked up by id there, so they must be registered).
    `progress(label, chunks done, chunks)` follows the chunks; `finished(report, i, n)` is called
    as each type and form completes (reports are compacted then). Reports come back in order."""
    pairs = [(t, f) for t in types for f in t.forms if forms is None or f in forms]
    spans = [(a, min(a + chunk, start + seeds)) for a in range(start, start + seeds, chunk)]
    reports: list[StressReport | None] = [None] * len(pairs)
    pending = [len(spans)] * len(pairs)
    done_pairs = 0
    total = len(pairs) * len(spans)

    def add(i: int, part: StressReport, done: int) -> None:
        nonlocal done_pairs
        if reports[i] is None:
            reports[i] = part
        else:
            reports[i].merge(part)
        pending[i] -= 1
        if progress:
            progress(f"{pairs[i][0].id} ({pairs[i][1]})", done, total)
        if pending[i] == 0:
            reports[i].compact()
            done_pairs += 1
            if finished:
                finished(reports[i], done_pairs, len(pairs))

    tasks = [(i, a, b) for i in range(len(pairs)) for a, b in spans]
    if jobs <= 1:
        for done, (i, a, b) in enumerate(tasks, start=1):
            add(i, stress_type(pairs[i][0], pairs[i][1], range(a, b), render=render), done)
    else:
        import multiprocessing

        # spawn, not fork: torch's thread pools do not survive a fork.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_one_thread) as pool:
            queue = iter(tasks)
            running: dict = {}

            def submit() -> None:
                for i, a, b in queue:  # a few tasks ahead per worker, not all at once
                    running[pool.submit(_chunk, pairs[i][0].id, pairs[i][1], a, b, render)] = i
                    if len(running) >= 2 * jobs:
                        return

            submit()
            done = 0
            while running:
                ready, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in ready:
                    i = running.pop(future)
                    done += 1
                    add(i, future.result(), done)
                submit()
    if progress:
        progress("done", total, total)
    return [r for r in reports if r is not None]


def balance_ok(report: StressReport) -> bool:
    """Every position (or truth value) within 40% of its fair share."""
    if not report.positions or report.ok < 40:
        return True
    fair = report.ok / len(report.positions)
    return all(abs(n - fair) <= 0.4 * fair for n in report.positions.values())


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages (other work on the machine slows every figure)."""
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
