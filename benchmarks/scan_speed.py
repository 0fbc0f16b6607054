"""Pages per second of `examforge scan` on a simulated scanned stack of examples/exam2.yaml.

The class is built (or reused from --work), its print file rendered at --dpi, filled in by hand-like
marks (tests/scansim.py), turned (some pages upside down, others skewed by 1-3 degrees), shuffled,
one page lost and one scanned twice, with noise and JPEG compression, into one PDF as a scanner
writes it. Then `scan` reads it back with --jobs workers and the reading is checked against the
marks. Printed: wall time, pages per second, CPU seconds per page (this process and its workers)
and the load average before and after, since the machine may be shared.

Target (2 cores): at least 20 pages/s. The target configuration is 500 students; simulating a stack
costs far more than scanning it, so the default is a smaller class."""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.build_speed import write_roster  # noqa: E402
from examforge.build import build  # noqa: E402
from examforge.scan import scan  # noqa: E402
from tests.scansim import check_scores, simulate, to_pdf  # noqa: E402

TARGET = 20.0


def cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=64)
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--work", type=Path, default=None, help="keep the build and the stack here")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="scan-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    roster = work / "roster.csv"
    write_roster(roster, args.students)
    out = work / "build"
    t = time.perf_counter()
    build(ROOT / "examples" / "exam2.yaml", roster, out)
    print(f"build: {args.students} students in {time.perf_counter() - t:.1f} s", flush=True)
    stack_pdf = work / f"stack-{args.dpi}.pdf"
    t = time.perf_counter()
    stack, expected = simulate(out, dpi=args.dpi, seed=1)
    to_pdf(stack, stack_pdf, args.dpi)
    print(f"simulated stack: {len(stack)} pages at {args.dpi} dpi in {time.perf_counter() - t:.1f} s", flush=True)
    load_before = os.getloadavg()
    cpu = cpu_seconds()
    t = time.perf_counter()
    report = scan([stack_pdf], out, work / "scan", jobs=args.jobs)
    wall = time.perf_counter() - t
    cpu = cpu_seconds() - cpu
    load_after = os.getloadavg()
    with (work / "scan" / "scores.csv").open(encoding="utf-8") as f:
        problems = check_scores(list(csv.DictReader(f)), expected)
    rate = report.pages / wall
    print(f"scan: {report.pages} pages in {wall:.1f} s = {rate:.1f} pages/s with {args.jobs} workers "
          f"({1000 * cpu / report.pages:.0f} ms CPU per page, {report.pages / cpu:.1f} pages per CPU second); "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(report.lines()[0])
    print(f"reading: {len(problems)} differences from the simulated marks" + (": " + "; ".join(problems[:5]) if problems else ""))
    print(f"target {TARGET:.0f} pages/s: {'met' if rate >= TARGET else 'not met'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
