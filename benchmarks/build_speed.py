"""Wall time of a whole-class build (draw, layout, render, compile, split, verify) of the example
exam, against the limit: one raw pdflatex run over the same combined .tex, with no Python work.

For each class size it prints the build's wall time, pages per second (exam + key pages), when each
stage finished, the limit and the ratio to it. Targets (2-core machine): 500 students, exam and
key, in under 60 s, within 1.5x of the limit. Other processes on the machine slow both sides; the
load average is printed with every row."""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path

from pypdf import PdfReader

from examforge.build import build, draw_student
from examforge.layout import SlotHeights, plan_layout
from examforge.renderers.compile import latex_env
from examforge.renderers.exam import Entry, render_batch
from examforge.roster import load_roster
from examforge.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = {500: 60.0}
TARGET_RATIO = 1.5
NAMES = ["Ada Lovelace", "Zoë O'Brien", "José Núñez-García", "Kwame Mensah", "Siobhán Ní Bhriain",
         "Łukasz Wróblewski", "Nguyễn Thị Minh", "Jürgen Müller", "Chloé Lefèvre", "D'Angelo Russo"]


def write_roster(path: Path, n: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "email"])
        for i in range(n):
            writer.writerow([f"s{i:04d}", f"{NAMES[i % len(NAMES)]} {i}", f"s{i}@example.edu"])


def cpu_seconds() -> float:
    """CPU time used so far by this process and its finished children (pdflatex runs, workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def raw_limit(spec_path: Path, roster: Path, out: Path, workdir: Path) -> tuple[float, int, float]:
    """One pdflatex run over the whole class in one .tex (every exam and key, in the build's
    layout, figures shared across the class), timed alone: the limit for the build."""
    spec = load_spec(spec_path)
    plan = json.loads((out / "gradescope" / "layout.json").read_text())
    heights = {s["slot"]: SlotHeights(s["statement"], tuple(b["height"] for b in s["boxes"])) for s in plan["slots"]}
    layout = plan_layout(spec, heights)
    entries = [Entry(i, s, draw_student(spec, s, spec_path=str(spec_path)), exam_code="bench")
               for i, s in enumerate(load_roster(roster))]
    tex = workdir / "whole-class.tex"
    tex.write_text(render_batch(spec, layout, entries), encoding="utf-8")
    start, cpu = time.perf_counter(), cpu_seconds()
    subprocess.run(["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                   cwd=workdir, env=latex_env(), stdout=subprocess.DEVNULL, check=True)
    elapsed, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    return elapsed, len(PdfReader(str(tex.with_suffix(".pdf"))).pages), cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--spec", default=str(ROOT / "examples" / "exam2.yaml"))
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--no-limit", action="store_true", help="Skip the raw pdflatex comparison.")
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args()
    results = []
    ok = True
    print(f"spec {Path(args.spec).name}, jobs={args.jobs}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="examforge-bench-") as tmp:  # warm up: imports, templates
        write_roster(Path(tmp) / "roster.csv", 2)
        build(args.spec, Path(tmp) / "roster.csv", Path(tmp) / "out", jobs=args.jobs)
    for n in args.students:
        with tempfile.TemporaryDirectory(prefix="examforge-bench-") as tmp:
            tmp = Path(tmp)
            roster = tmp / "roster.csv"
            write_roster(roster, n)
            stages: dict[str, float] = {}
            start = time.perf_counter()

            def progress(stage: str, done: int, total: int) -> None:
                if done == total:
                    stages[stage] = time.perf_counter() - start

            load_before = os.getloadavg()[0]
            cpu = cpu_seconds()
            manifest = build(args.spec, roster, tmp / "out", jobs=args.jobs, progress=progress)
            wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
            pages = sum(s["pages"]["exam"] + s["pages"]["key"] for s in manifest["students"])
            # Rebuild with unchanged inputs: nothing compiles.
            again = time.perf_counter()
            build(args.spec, roster, tmp / "out", jobs=args.jobs)
            rebuild = time.perf_counter() - again
            row = {"students": n, "wall_s": round(wall, 1), "pages": pages, "pages_per_s": round(pages / wall, 1),
                   "cpu_s": round(cpu, 1), "stages_s": {k: round(v, 1) for k, v in stages.items()},
                   "rebuild_s": round(rebuild, 1),
                   "load_avg": round(load_before, 1)}
            if not args.no_limit:
                (tmp / "limit").mkdir()
                limit, limit_pages, limit_cpu = raw_limit(Path(args.spec), roster, tmp / "out", tmp / "limit")
                row.update(limit_s=round(limit, 1), limit_cpu_s=round(limit_cpu, 1), limit_pages=limit_pages,
                           ratio=round(wall / limit, 2))
            results.append(row)
            line = (f"{n:>4} students: {wall:6.1f} s wall ({cpu:.0f} s CPU), {pages} pages, {pages / wall:6.1f} pages/s; "
                    f"stages {row['stages_s']}; rebuild {rebuild:.1f} s")
            if "limit_s" in row:
                line += (f"; limit (1 raw pdflatex) {row['limit_s']} s ({row['limit_cpu_s']} s CPU) "
                         f"-> ratio {row['ratio']}")
            line += f"; load {load_before:.1f}"
            print(line, flush=True)
            if n in TARGET_S and wall > TARGET_S[n]:
                ok = False
            if "ratio" in row and row["ratio"] > TARGET_RATIO:
                ok = False
    targets = ", ".join(f"{n} students < {t:.0f} s" for n, t in TARGET_S.items())
    print(f"targets: {targets}; ratio to the limit <= {TARGET_RATIO}: {'OK' if ok else 'NOT MET'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
