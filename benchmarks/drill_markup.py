"""Time of the drill's LaTeX conversions: every registered type's question, solution, answer and
options (a few seeds, every drill form) to HTML (web) and to terminal text, with every cache of
the conversion emptied first, so each source is converted from scratch (the worst case of a
request: a variant not seen before).

Prints the total over all sources, the slowest sources, and per source (question + solution +
answer + options of one variant, HTML and text) the median, p95 and max in milliseconds of CPU
time (process time: other work on a shared machine slows the wall clock, much less this). With
--html only the HTML the web drill serves. The drill's latency target is p95 < 50 ms per
request."""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from examforge import registry
from examforge.drill import configure_torch, markup, plaintext
from examforge.drill.exercise import drill_forms, exercise


def _clear_caches() -> None:
    import importlib

    for name in ("examforge.drill.markup", "examforge.drill.plaintext", "examforge.drill.latexnodes",
                 "examforge.drill.tikz", "examforge.renderers.text"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        for value in vars(mod).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()


def _sources(seeds: int) -> list[tuple[str, list[str]]]:
    out = []
    for qtype in registry.all_types():
        for form in drill_forms(qtype):
            for seed in range(seeds):
                ex = exercise(qtype.id, seed, "medium", form)
                srcs = [ex.question_latex, ex.solution_latex, ex.answer_latex, ex.expected_latex,
                        *[c.latex for c in ex.variant.choices]]
                out.append((f"{qtype.id} {form} seed {seed}", srcs))
    return out


def _convert(srcs: list[str], text: bool) -> None:
    question, solution, answer, expected, *options = srcs
    for src in (question, solution, answer):
        markup.to_html(src)
        if text:
            plaintext.to_text(src)
    markup.inline_html(expected)
    if text:
        plaintext.inline_text(expected)
    for src in options:
        markup.inline_html(src)
        if text:
            plaintext.inline_text(src)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3, help="passes; the fastest of each variant is kept")
    parser.add_argument("--html", action="store_true", help="HTML only (what the web drill converts)")
    args = parser.parse_args()
    configure_torch()
    variants = _sources(args.seeds)
    best = [float("inf")] * len(variants)
    totals = []
    for _ in range(args.repeat):
        gc.collect()
        total = 0.0
        for k, (_, srcs) in enumerate(variants):
            _clear_caches()
            start = time.process_time()
            _convert(srcs, not args.html)
            took = time.process_time() - start
            total += took
            best[k] = min(best[k], took)
        totals.append(total)
    ms = sorted(1000 * t for t in best)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    what = "HTML" if args.html else "HTML + text"
    print(f"{len(variants)} variants ({sum(len(s) for _, s in variants)} LaTeX sources), {what}, caches emptied")
    print(f"total per pass: {', '.join(f'{t:.2f} s' for t in totals)}")
    print(f"per variant (best of {args.repeat}): median {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms, "
          f"max {ms[-1]:.2f} ms, sum {sum(ms) / 1000:.2f} s")
    slow = sorted(zip(best, (name for name, _ in variants)), reverse=True)[:5]
    print("slowest: " + "; ".join(f"{name} {1000 * t:.1f} ms" for t, name in slow))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
