"""What `examforge build` costs a user, next to the LaTeX it needs.

For each class size N it writes a roster of N students (the names of examples/roster.csv, in turn,
numbered from the second round on), then, --repeat K times, one pair:

1. the build, as a user runs it: `python -m examforge.cli build SPEC --roster R --out DIR` in a
   fresh process (nothing imported or warmed up beforehand), into an empty DIR (no cache), with
   this source tree first on PYTHONPATH. Measured: wall time from the start of the process to its
   end; CPU (user + system) of the whole process tree, from os.wait4 on the build's process,
   which adds the CPU of every descendant it waited for (the pdflatex and lualatex runs, verify's
   workers); peak memory of the tree, the sum of the proportional set size (PSS, from
   /proc/PID/smaps_rollup) of every process in it, sampled every --interval seconds; the CPU of
   each LaTeX run seen in the tree (from /proc/PID/stat, sampled, so a lower bound by at most one
   interval each); when each stage ended (the build's progress lines).
2. the raw pass: one pdflatex run per batch file the build wrote (DIR/tex/batch-*.tex, every exam
   and key of the class, in the build's layout), each in its own folder with the files it names,
   `--jobs` at a time, with the same options and environment as the build's runs; its CPU is the
   sum of os.wait4 of each run. This is the LaTeX the pages need, with no Python work and none of
   the build's other LaTeX runs (calibration, blank template, LuaLaTeX, grader sheet), which are
   timed beside it (`other LaTeX`).

Reported per pair: wall, CPU, CPU ratio (build CPU / raw pass CPU), peak PSS, the 1-, 5- and
15-minute load averages before and after (other processes on the machine slow the wall time of
both sides; CPU time much less). Targets: CPU ratio <= 1.3; 500 students in under 30 s wall on two
idle cores; peak PSS under 600 MB. Options: --students N ..., --repeat K, --jobs, --cpus (pin
build and raw pass to these cores, e.g. --cpus 0 for one core), --interval, --keep DIR, --json."""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_ROSTER = ROOT / "examples" / "roster.csv"
TARGET_RATIO = 1.3
TARGET_WALL_S = {500: 30.0}
TARGET_PSS_MB = 600.0
LATEX = ("pdflatex", "lualatex", "luahbtex", "luatex", "pdftex")
TICK = os.sysconf("SC_CLK_TCK")
LATEX_OPTIONS = ["-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error"]


def write_roster(path: Path, n: int) -> None:
    """N students shaped like examples/roster.csv: its names in turn (the second time round with
    ' 2' after them, and so on), ids s0001..., one email each."""
    with EXAMPLE_ROSTER.open(encoding="utf-8", newline="") as f:
        names = [row["name"] for row in csv.DictReader(f)]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "name", "email"])
        for i in range(n):
            lap, name = divmod(i, len(names))
            writer.writerow([f"s{i + 1:04d}", names[name] + (f" {lap + 1}" if lap else ""),
                             f"s{i + 1:04d}@example.edu"])


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


# -- the process tree ------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """The children of every thread of `pid` (pdflatex is started from the build's worker threads)."""
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                out += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
            except OSError:
                pass
    except OSError:
        pass
    return out


def _stat(pid: int) -> tuple[str, float] | None:
    """(command name, CPU seconds so far) of a process."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm, rest = data[data.index("(") + 1:data.rindex(")")], data[data.rindex(")") + 2:].split()
    return comm, (int(rest[11]) + int(rest[12])) / TICK  # utime, stime


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class TreeSampler(threading.Thread):
    """Every `interval` seconds: every process in the tree under `root`, the sum of their PSS (the
    peak is kept) and each one's CPU so far (the last value seen is kept)."""

    def __init__(self, root: int, interval: float):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.halt = threading.Event()
        self.peak_pss_kb = 0
        self.peak_at_s = 0.0
        self.peak_processes = 0
        self.samples = 0
        self.procs: dict[int, dict] = {}  # pid -> comm, label, cpu
        self.start_time = time.perf_counter()

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(self.interval)

    def sample(self) -> None:
        tree, todo = [], [self.root]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo += _children(pid)
        total = 0
        for pid in tree:
            stat = _stat(pid)
            if stat is None:
                continue
            total += _pss_kb(pid)
            proc = self.procs.get(pid)
            if proc is None or proc["comm"] != stat[0]:  # new, or exec'd (setpriv -> pdflatex)
                proc = self.procs[pid] = {"comm": stat[0], "label": self._label(pid, stat[0]), "cpu": 0.0}
            proc["cpu"] = stat[1]
        self.samples += 1
        if total > self.peak_pss_kb:
            self.peak_pss_kb, self.peak_processes = total, len(tree)
            self.peak_at_s = time.perf_counter() - self.start_time

    @staticmethod
    def _label(pid: int, comm: str) -> str:
        """For a LaTeX run, its folder and file (e.g. batch-003/batch-003.tex)."""
        if comm not in LATEX:
            return comm
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            return comm
        tex = next((a.decode() for a in reversed(args) if a.endswith(b".tex")), "?")
        return f"{comm} {Path(cwd).name}/{tex}"

    def stop(self) -> None:
        self.halt.set()
        self.join()


def latex_runs(sampler: TreeSampler) -> list[tuple[str, float]]:
    return [(p["label"], p["cpu"]) for p in sampler.procs.values() if p["comm"] in LATEX]


# -- the build -------------------------------------------------------------------------------------


_STAGE = re.compile(r"^examforge: (\w[\w ]*?) (?:\d+/\d+ [\w ]+ )?\((\d+\.\d)s\)$")


def run_build(spec: Path, roster: Path, out: Path, *, jobs: int | None, cpus: set[int] | None,
              interval: float, logs: Path) -> dict:
    """`examforge build` in a fresh process, measured as described above."""
    cmd = [sys.executable, "-m", "examforge.cli", "build", str(spec), "--roster", str(roster), "--out", str(out)]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    before = loadavg()
    with (logs / "build.out").open("wb") as stdout, (logs / "build.err").open("wb") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, cwd=ROOT,
                                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        sampler = TreeSampler(proc.pid, interval)
        sampler.start_time = start
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    sampler.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = (logs / "build.err").read_text(encoding="utf-8", errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"build failed (exit {proc.returncode}):\n{err[-3000:]}")
    stages: dict[str, float] = {}
    for line in err.splitlines():
        m = _STAGE.match(line)
        if m:
            stages[m.group(1)] = float(m.group(2))  # the last line of a stage: when it ended
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    runs = latex_runs(sampler)
    latex_cpu = sum(cpu for _, cpu in runs)
    tree_cpu = sum(p["cpu"] for p in sampler.procs.values())
    cpu = usage.ru_utime + usage.ru_stime
    if tree_cpu > cpu + 0.5:  # wait4 counts only descendants that were waited for
        print(f"warning: the processes seen in the tree used {tree_cpu:.1f} s of CPU, more than the "
              f"{cpu:.1f} s os.wait4 reports: some were not waited for", file=sys.stderr)
    return {
        "wall_s": wall, "cpu_s": cpu, "user_s": usage.ru_utime, "system_s": usage.ru_stime,
        "peak_pss_mb": sampler.peak_pss_kb / 1024, "peak_pss_at_s": sampler.peak_at_s,
        "peak_pss_processes": sampler.peak_processes, "max_rss_mb": usage.ru_maxrss / 1024,
        "samples": sampler.samples, "processes": len(sampler.procs),
        "latex_cpu_sampled_s": latex_cpu, "latex_runs": len(runs),
        "latex_runs_cpu_s": {label: round(c, 2) for label, c in sorted(runs)},
        "non_latex_cpu_s": cpu - latex_cpu, "tree_cpu_sampled_s": tree_cpu,
        "pages": sum(s["pages"]["exam"] + s["pages"]["key"] for s in manifest["students"]),
        "stages_s": stages, "load_before": before, "load_after": loadavg(),
    }


# -- the raw pass ----------------------------------------------------------------------------------


def _latex_env() -> dict[str, str]:
    sys.path.insert(0, str(ROOT))
    from examforge.renderers.compile import latex_env  # the build's own environment for LaTeX

    return latex_env()


_FIGURE = re.compile(r"fig-[0-9a-f]{16}\.(?:pdf|png|jpe?g)")
_UNICODE = re.compile(r"\\def\\ef@ufile\{([^}]+)\}% sha256 ([0-9a-f]{64})")


def _needed_files(tex: str, out: Path, search: list[Path]) -> dict[str, Path]:
    """The files a source names that its folder must hold: the LuaLaTeX run's PDF (found in the
    build's cache by its sha256) and figures (found under the spec's folder by their name)."""
    files = {}
    for name, digest in set(_UNICODE.findall(tex)):
        found = [p for p in (out / ".examforge-cache").glob("*.pdf")
                 if hashlib.sha256(p.read_bytes()).hexdigest() == digest]
        if not found:
            raise SystemExit(f"raw pass: no PDF with sha256 {digest} ({name}) in {out}/.examforge-cache")
        files[name] = found[0]
    for name in set(_FIGURE.findall(tex)):
        stem, suffix = name[4:20], Path(name).suffix
        found = [p for folder in search for p in folder.rglob(f"*{suffix}")
                 if hashlib.sha256(p.read_bytes()).hexdigest()[:16] == stem]
        if not found:
            raise SystemExit(f"raw pass: figure {name} not found under {', '.join(map(str, search))}")
        files[name] = found[0]
    return files


def _one_run(tex_path: Path, work: Path, engine: str, env: dict, files: dict[str, Path],
             cpus: set[int] | None) -> dict:
    folder = work / tex_path.stem
    folder.mkdir(parents=True)
    shutil.copyfile(tex_path, folder / tex_path.name)
    for name, source in files.items():
        shutil.copyfile(source, folder / name)
    start = time.perf_counter()
    proc = subprocess.Popen([engine, *LATEX_OPTIONS, tex_path.name], cwd=folder, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"raw pass: {engine} {tex_path.name} failed (exit {proc.returncode}); see {folder}")
    return {"name": tex_path.stem, "engine": engine, "wall_s": time.perf_counter() - start,
            "cpu_s": usage.ru_utime + usage.ru_stime, "pdf": folder / f"{tex_path.stem}.pdf"}


def run_raw(out: Path, spec: Path, work: Path, *, jobs: int, cpus: set[int] | None) -> dict:
    """One pdflatex run per batch file, `jobs` at a time; then the build's other LaTeX sources."""
    import pikepdf

    env = _latex_env()
    tex_dir = out / "tex"
    batches = sorted(tex_dir.glob("batch-*.tex"))
    if not batches:
        raise SystemExit(f"raw pass: no batch-*.tex in {tex_dir}")
    search = [spec.resolve().parent]
    files = {p: _needed_files(p.read_text(encoding="utf-8"), out, search) for p in tex_dir.glob("*.tex")}
    before = loadavg()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        runs = list(pool.map(lambda p: _one_run(p, work / "raw", "pdflatex", env, files[p], cpus), batches))
    wall = time.perf_counter() - start
    after = loadavg()
    pages = 0
    for run in runs:
        with pikepdf.open(run.pop("pdf")) as pdf:
            pages += len(pdf.pages)
    others = []
    for name in ("unicode", "calibration", "template"):
        path = tex_dir / f"{name}.tex"
        if path.exists():
            other = _one_run(path, work / "other", "lualatex" if name == "unicode" else "pdflatex", env,
                             files[path], cpus)
            other.pop("pdf")
            others.append(other)
    return {"raw_wall_s": wall, "raw_cpu_s": sum(r["cpu_s"] for r in runs), "raw_runs": runs, "raw_pages": pages,
            "raw_load_before": before, "raw_load_after": after,
            "other_latex": others, "other_latex_cpu_s": sum(o["cpu_s"] for o in others)}


# -- report ----------------------------------------------------------------------------------------


def _load(values: list[float]) -> str:
    return "/".join(f"{v:.1f}" for v in values)


def describe(row: dict) -> str:
    line = (f"{row['students']:>4} students, run {row['run']}: build {row['wall_s']:.1f} s wall, "
            f"{row['cpu_s']:.1f} s CPU ({row['user_s']:.1f} user + {row['system_s']:.1f} sys; LaTeX seen in the tree "
            f"{row['latex_cpu_sampled_s']:.1f} s over {row['latex_runs']} runs, the rest {row['non_latex_cpu_s']:.1f} s), "
            f"peak PSS {row['peak_pss_mb']:.0f} MB ({row['peak_pss_processes']} processes, at {row['peak_pss_at_s']:.1f} s), "
            f"{row['pages']} pages; load {_load(row['load_before'])} -> {_load(row['load_after'])}")
    if "raw_cpu_s" in row:
        line += (f"\n      raw pdflatex over the same pages: {len(row['raw_runs'])} runs, {row['raw_cpu_s']:.1f} s CPU, "
                 f"{row['raw_wall_s']:.1f} s wall, {row['raw_pages']} pages; other LaTeX of the build "
                 f"{row['other_latex_cpu_s']:.1f} s CPU ("
                 + ", ".join(f"{o['name']} {o['cpu_s']:.2f}" for o in row["other_latex"])
                 + f"); load {_load(row['raw_load_before'])} -> {_load(row['raw_load_after'])}"
                 f"\n      CPU ratio build / raw pdflatex = {row['cpu_ratio']:.2f}")
    line += "\n      stages ended at (s): " + ", ".join(f"{k} {v}" for k, v in row["stages_s"].items())
    return line


def markdown(rows: list[dict]) -> str:
    head = ("| students | run | build wall | build CPU | raw pdflatex CPU | CPU ratio | peak PSS | pages | "
            "load before / after |\n|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    lines = [head]
    for r in rows:
        ratio = f"{r['cpu_ratio']:.2f}" if "cpu_ratio" in r else "-"
        raw = f"{r['raw_cpu_s']:.1f} s" if "raw_cpu_s" in r else "-"
        lines.append(f"| {r['students']} | {r['run']} | {r['wall_s']:.1f} s | {r['cpu_s']:.1f} s | {raw} | {ratio} | "
                     f"{r['peak_pss_mb']:.0f} MB | {r['pages']} | {_load(r['load_before'])} / {_load(r['load_after'])} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, nargs="+", default=[100, 500])
    parser.add_argument("--repeat", type=int, default=1, help="Pairs (build, raw pass) per class size.")
    parser.add_argument("--spec", type=Path, default=ROOT / "examples" / "exam2.yaml")
    parser.add_argument("--jobs", type=int, default=None, help="--jobs of the build (default: its own) and of the raw pass.")
    parser.add_argument("--cpus", type=lambda s: {int(c) for c in s.split(",")}, default=None,
                        help="Pin the build and the raw pass to these cores, e.g. 0 or 0,1.")
    parser.add_argument("--interval", type=float, default=0.05, help="Seconds between samples of the tree.")
    parser.add_argument("--no-raw", action="store_true", help="Skip the raw pdflatex pass.")
    parser.add_argument("--keep", type=Path, help="Keep the builds and raw runs under this folder.")
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    jobs = args.jobs or (len(args.cpus) if args.cpus else cores)
    print(f"spec {args.spec.name}; {os.cpu_count()} cores, {cores} usable; build --jobs {args.jobs or 'default'}"
          f"{'; pinned to cores ' + ','.join(map(str, sorted(args.cpus))) if args.cpus else ''}; "
          f"raw pass {jobs} at a time; {sys.executable}", flush=True)
    rows, ok = [], True
    for n in args.students:
        for k in range(1, args.repeat + 1):
            base = Path(tempfile.mkdtemp(prefix=f"examforge-bench-{n}-{k}-", dir=args.keep))
            try:
                roster = base / "roster.csv"
                write_roster(roster, n)
                row = {"students": n, "run": k, **run_build(args.spec, roster, base / "out", jobs=args.jobs,
                                                            cpus=args.cpus, interval=args.interval, logs=base)}
                if not args.no_raw:
                    row.update(run_raw(base / "out", args.spec, base, jobs=jobs, cpus=args.cpus))
                    row["cpu_ratio"] = row["cpu_s"] / row["raw_cpu_s"]
                    if row["raw_pages"] != row["pages"]:
                        raise SystemExit(f"raw pass made {row['raw_pages']} pages, the build {row['pages']}")
            finally:
                if args.keep is None:
                    shutil.rmtree(base, ignore_errors=True)
            rows.append(row)
            print(describe(row), flush=True)
            if row.get("cpu_ratio", 0) > TARGET_RATIO or row["peak_pss_mb"] > TARGET_PSS_MB:
                ok = False
            if n in TARGET_WALL_S and row["wall_s"] > TARGET_WALL_S[n]:
                ok = False
    print()
    print(markdown(rows))
    print(f"\ntargets: CPU ratio <= {TARGET_RATIO}, peak PSS < {TARGET_PSS_MB:.0f} MB, "
          + ", ".join(f"{n} students < {t:.0f} s wall (idle cores)" for n, t in TARGET_WALL_S.items())
          + f": {'OK' if ok else 'NOT MET'}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
