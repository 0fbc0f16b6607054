"""Variants per second for every question type: draw, torch solve, render question + solution."""

from __future__ import annotations

import argparse
import time

from examforge import registry
from examforge.renderers.blocks import question_latex, solution_latex
from examforge.variant import draw

TARGET_PER_S = 100.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=300)
    args = parser.parse_args()
    worst = float("inf")
    print(f"{'type':<28} {'form':<5} {'variants/s':>10} {'ms/variant':>10}")
    for qtype in registry.all_types():
        for form in qtype.forms:
            draw(qtype, 0, form=form)  # warm up imports and template cache
            start = time.perf_counter()
            for seed in range(args.seeds):
                v = draw(qtype, seed, form=form)
                question_latex(v, key=True)
                solution_latex(v)
            elapsed = time.perf_counter() - start
            rate = args.seeds / elapsed
            worst = min(worst, rate)
            print(f"{qtype.id:<28} {form:<5} {rate:>10.0f} {1000 / rate:>10.2f}")
    status = "OK" if worst >= TARGET_PER_S else "BELOW TARGET"
    print(f"slowest: {worst:.0f} variants/s (target >= {TARGET_PER_S:.0f}): {status}")
    return 0 if worst >= TARGET_PER_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
