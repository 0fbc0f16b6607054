"""Where the CPU of `examforge build` goes, for the command as a user runs it.

Runs `examforge build SPEC --roster R --out DIR --quiet` for N students (the roster of
build_speed.py) in a fresh process, into an empty DIR, with a stage timer around the functions
that do each stage of the build, and samples the process tree as build_speed.py does. The stage
timer is a thin wrapper (about a microsecond a call, no profiler) that adds the CPU time of the
calling thread (time.thread_time) to the stage's total, less the time of stages nested inside it;
every import is a stage of its own ("imports during the build"), so a stage's figure is its own
work and the first-use imports it triggers are counted once, apart. Threads are counted each on
its own clock: the main thread draws, renders, cuts and verifies; the pool's threads hash and start
the LaTeX runs and write the grader sheets. verify's worker processes and the LaTeX runs are
measured from /proc (each process's CPU; a lower bound, by at most one sampling interval each).

Prints the build's CPU (os.wait4: the whole tree) split into the interpreter's start, the CLI's
imports, each stage, what the build process spent outside every stage, verify's workers and each
LaTeX run, with each row's share. Nothing of examforge is changed: the wrappers are installed from
outside, before the command runs.

Usage: profile_build.py [--students 100] [--spec examples/exam2.yaml] [--json FILE]
For a function-level view of the main thread, profile the same command with cProfile:
  python -m cProfile -o build.prof -m examforge.cli build SPEC --roster R --out DIR --quiet"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.build_speed import LATEX, ROOT, TreeSampler, loadavg, write_roster  # noqa: E402

# (stage, module, attribute): the attribute is replaced where the build looks it up.
STAGES = [
    ("inputs key (hash of examforge's code, spec, roster)", "examforge.build", "_inputs_key"),
    ("read spec (the question bank's modules, torch)", "examforge.build", "load_spec"),
    ("read roster", "examforge.build", "load_roster"),
    ("scripts: user texts for LuaLaTeX", "examforge.build", "user_texts"),
    ("LuaLaTeX pieces (thread)", "examforge.build", "typeset_runs"),
    ("calibration: samples (draws every type)", "examforge.build", "calibration_samples"),
    ("calibration: document", "examforge.build", "calibration_document"),
    ("pools.assign", "examforge.pools", "assign"),
    ("drawing: draw + solve (draw_student)", "examforge.build", "draw_student"),
    ("layout: measurements, plan", "examforge.build", "heights_from_measurements"),
    ("rendering LaTeX (render_batch)", "examforge.build", "render_batch"),
    ("rendering: template entry", "examforge.build", "template_entry"),
    ("answers.csv rows", "examforge.build", "answer_rows"),
    ("grader sheets (thread)", "examforge.build", "write_graders"),
    ("compile_cached: hash, write .tex, read logs (threads)", "examforge.build", "compile_cached"),
    ("splitting: cut per student (pikepdf)", "examforge.build.Splitter", "add"),
    ("splitting: print/exams.pdf", "examforge.build.Splitter", "finish"),
    ("fit check (logs, side files)", "examforge.build", "_check_fit"),
    ("outputs: gradescope/", "examforge.build", "_write_gradescope"),
    ("outputs: marks.json", "examforge.build", "_write_marks"),
    ("outputs: manifest.csv, answers.csv", "examforge.build", "_write_csvs"),
    ("outputs: manifest.json", "examforge.build", "_manifest"),
    ("outputs: manifest.json", "examforge.build", "manifest_json"),
    ("verify: digest of the outputs", "examforge.build", "_outputs_digest"),
    ("verify: main process (checks, waiting for workers)", "examforge.verify", "verify"),
    ("publish", "examforge.build", "publish"),
    ("prune cache", "examforge.build", "_prune_cache"),
]

BOOT = textwrap.dedent("""
    import atexit, functools, importlib, importlib._bootstrap as bootstrap, json, sys, threading, time
    start_cpu = time.process_time()
    out_json, stages, argv = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
    totals, calls, local = {}, {}, threading.local()

    def timed(label, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            stack = getattr(local, "stack", None)
            if stack is None:
                stack = local.stack = []
            frame = [time.thread_time(), 0.0]
            stack.append(frame)
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.thread_time() - frame[0]
                stack.pop()
                if stack:
                    stack[-1][1] += elapsed
                totals[label] = totals.get(label, 0.0) + elapsed - frame[1]
                calls[label] = calls.get(label, 0) + 1
        return wrapper

    def dump():
        json.dump({"start_cpu_s": start_cpu, "cli_import_cpu_s": cli_cpu, "build_import_cpu_s": build_cpu,
                   "process_cpu_s": time.process_time(), "stages": totals, "calls": calls}, open(out_json, "w"))
    atexit.register(dump)
    t = time.process_time()
    import examforge.cli
    cli_cpu = time.process_time() - t
    t = time.process_time()
    import examforge.build, examforge.verify, examforge.pools
    build_cpu = time.process_time() - t
    for label, module, attr in stages:
        owner = sys.modules.get(module)
        if owner is None:  # a class: module.Class
            head, _, cls = module.rpartition(".")
            owner = getattr(sys.modules[head], cls)
        setattr(owner, attr, timed(label, getattr(owner, attr)))
    bootstrap._find_and_load = timed("imports during the build (first use)", bootstrap._find_and_load)
    sys.argv = ["examforge", *argv]
    examforge.cli.main()
""")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--spec", type=Path, default=ROOT / "examples" / "exam2.yaml")
    parser.add_argument("--json", type=Path, help="Also write the breakdown here.")
    parser.add_argument("--interval", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="examforge-profile-") as tmp:
        tmp = Path(tmp)
        roster = tmp / "roster.csv"
        write_roster(roster, args.students)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
        cmd = [sys.executable, "-c", BOOT, str(tmp / "boot.json"), json.dumps(STAGES), "build", str(args.spec),
               "--roster", str(roster), "--out", str(tmp / "out"), "--quiet"]
        before = loadavg()
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        sampler = TreeSampler(proc.pid, args.interval)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        sampler.stop()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit("the build failed")
        boot = json.loads((tmp / "boot.json").read_text())
    cpu = usage.ru_utime + usage.ru_stime
    procs = sampler.procs
    latex = sorted((p["label"], p["cpu"]) for p in procs.values() if p["comm"] in LATEX)
    others = [p for pid, p in procs.items() if pid != proc.pid and p["comm"] not in LATEX]
    workers = sum(p["cpu"] for p in others if p["comm"].startswith("python"))
    tools = sum(p["cpu"] for p in others if not p["comm"].startswith("python"))
    main_cpu = boot["process_cpu_s"]
    rows = [("interpreter start", boot["start_cpu_s"]),
            ("import examforge.cli (click, numpy, pydantic, jinja2, registry)", boot["cli_import_cpu_s"]),
            ("import examforge.build, verify (pikepdf, ...)", boot["build_import_cpu_s"])]
    merged: dict[str, float] = {}
    for label, value in boot["stages"].items():
        merged[label] = merged.get(label, 0.0) + value
    rows += sorted(merged.items(), key=lambda kv: -kv[1])
    rows.append(("build process outside these stages (click, threads, GC, exit)", main_cpu - sum(v for _, v in rows)))
    rows.append(("verify's worker processes", workers))
    rows.append(("other programs (setpriv, kpsewhich, ...)", tools))
    rows += latex
    rows.append(("unaccounted (os.wait4 total less the rows above)", cpu - sum(v for _, v in rows)))
    latex_cpu = sum(c for _, c in latex)
    batches = sum(c for label, c in latex if "/batch-" in label)
    print(f"{args.students} students of {args.spec.name}: {wall:.1f} s wall, {cpu:.1f} s CPU (whole tree, os.wait4): "
          f"build process {main_cpu:.1f} s, LaTeX {latex_cpu:.1f} s over {len(latex)} runs (batches {batches:.1f} s), "
          f"verify's workers {workers:.1f} s; load {'/'.join(map(str, before))} -> {'/'.join(map(str, loadavg()))}")
    print(f"{'':<66} {'CPU s':>7} {'share':>6}")
    for label, value in rows:
        print(f"{label[:66]:<66} {value:7.2f} {100 * value / cpu:5.1f}%")
    if args.json:
        args.json.write_text(json.dumps({"students": args.students, "wall_s": wall, "cpu_s": cpu, "latex_cpu_s": latex_cpu,
                                         "batches_cpu_s": batches, "build_process_cpu_s": main_cpu, "workers_cpu_s": workers,
                                         "rows": rows, "calls": boot["calls"], "load_before": before}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
