"""The `examforge` command: list, sample, solve, build, verify."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from pathlib import Path

import click

from examforge import __version__, registry
from examforge.errors import ExamforgeError, InputError
from examforge.renderers.blocks import question_latex, question_text, solution_latex
from examforge.text import latex_to_text
from examforge.variant import Variant, draw, make_variant, validate_params


def _fail(err: ExamforgeError) -> None:
    click.echo(f"examforge: error: {err}", err=True)
    sys.exit(err.exit_code)


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ExamforgeError as err:
            _fail(err)


FORM = click.option("--form", type=click.Choice(["free", "mc", "tf", "multi"]), default=None,
                    help="free, mc, tf or multi (default: the type's first form).")


def _load_questions(ctx, param, value):
    """`--questions DIR`: the instructor's question folders, loaded before anything else; also put in
    $EXAMFORGE_QUESTIONS so worker processes (the drill server) load them too."""
    import os

    folders = [str(Path(v).resolve()) for v in value]
    if folders:
        known = [f for f in os.environ.get(registry.ENV_FOLDERS, "").split(os.pathsep) if f]
        os.environ[registry.ENV_FOLDERS] = os.pathsep.join(dict.fromkeys(known + folders))
        registry.load_folders(folders)
    return value


QUESTIONS = click.option(
    "--questions", "question_dirs", multiple=True, type=click.Path(path_type=Path), expose_value=False,
    callback=_load_questions, help="A folder of your own questions (repeatable).",
)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="examforge")
def main() -> None:
    """Per-student deep-learning exam questions with torch-checked answers."""


@main.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@QUESTIONS
def list_types(fmt: str) -> None:
    """List the question types."""
    types = registry.all_types()
    if fmt == "json":
        click.echo(json.dumps(
            [
                {"id": t.id, "summary": t.summary, "mirrors": t.mirrors, "forms": list(t.forms),
                 "ranges": t.Ranges().model_dump(mode="json"), "options": dict(t.options)}
                for t in types
            ],
            indent=2,
        ))
        return
    width = max(len(t.id) for t in types)
    for t in types:
        click.echo(f"{t.id:<{width}}  {t.summary}")
        origin = f"mirrors seed {t.mirrors}" if t.mirrors else f"from {registry.origin(t.id)}"
        click.echo(f"{'':<{width}}  forms: {', '.join(t.forms)}; {origin}")
        for pin, what in t.options.items():
            click.echo(f"{'':<{width}}  option overrides: {{{pin}}}: {what}")


def _record(v: Variant) -> dict:
    data = v.to_json()
    data["question"] = str(question_latex(v, key=False))
    data["solution"] = str(solution_latex(v))
    return data


def _as_text(v: Variant) -> str:
    head = f"{v.qtype.id}  seed {v.seed if v.seed is not None else '-'}  ({v.form})"
    lines = [head, "=" * len(head), latex_to_text(question_text(v, figure_mode="data"))]  # figures as text
    for c in v.choices:
        lines.append(f"  {c.letter}. {latex_to_text(c.latex)}")
    answer = latex_to_text(v.qtype.answer_latex(v.answer))
    if v.form == "tf":
        lines += ["", f"Answer: {'True' if v.claim_is_true else 'False'} ({answer})"]
    elif v.choices:
        lines += ["", f"Answer: ({v.correct_letter}) {answer}"]
    else:
        lines += ["", f"Answer: {answer}"]
    lines += ["", "Worked solution:", latex_to_text(solution_latex(v, figure_mode="data")), ""]
    return "\n".join(lines)


def _emit(v: Variant, fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(_record(v), ensure_ascii=False))
    elif fmt == "latex":
        click.echo(f"% {v.qtype.id} seed {v.seed} ({v.form})\n{question_latex(v, key=False)}")
        click.echo(f"% --- solution ---\n{solution_latex(v)}")
    else:
        click.echo(_as_text(v))





@main.command()
@click.argument("type_id")
@click.option("--seed", type=click.IntRange(0, 2**53 - 1), default=0, show_default=True)
@click.option("--count", type=click.IntRange(1, 100000), default=1, show_default=True)
@FORM
@click.option("--format", "fmt", type=click.Choice(["text", "latex", "json"]), default="text", show_default=True)
@QUESTIONS
def sample(type_id: str, seed: int, count: int, form: str, fmt: str) -> None:
    """Draw variants of TYPE_ID for seeds SEED ... SEED+COUNT-1."""
    qtype = registry.get(type_id)
    for s in range(seed, seed + count):
        _emit(draw(qtype, s, form=form or qtype.forms[0]), fmt)


@main.command()
@click.argument("type_id")
@click.option("--params", "params_file", required=True, type=click.File("r", encoding="utf-8"),
              help="JSON params: one object, a list, or one object per line; '-' reads stdin.")
@FORM
@click.option("--format", "fmt", type=click.Choice(["text", "latex", "json"]), default="json", show_default=True)
@QUESTIONS
def solve(type_id: str, params_file, form: str, fmt: str) -> None:
    """Solve TYPE_ID for given params (seed is null in the output)."""
    qtype = registry.get(type_id)
    name = params_file.name if params_file.name != "<stdin>" else "stdin"
    for where, data in _read_params(params_file.read(), name):
        if not isinstance(data, dict):
            raise InputError(f"{where}: expected a JSON object of params, got {type(data).__name__}")
        params = validate_params(qtype, data, where=where, prefix="params")
        _emit(make_variant(qtype, params, form=form or qtype.forms[0], seed=None), fmt)


def _read_params(text: str, name: str):
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        yield name, whole
        return
    if isinstance(whole, list):
        for i, item in enumerate(whole):
            yield f"{name}[{i}]", item
        return
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"{name} line {line_no}", json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{name} line {line_no}: invalid JSON: {err.msg} (column {err.colno})") from None


def _stage_progress(bar):
    """A progress callback showing one bar per stage (drawing, compiling, splitting, verifying)."""
    tasks: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return progress


def _progress_bar(quiet: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=Console(stderr=True), disable=quiet, transient=False)


_UNITS = {"drawing": "students", "compiling": "LaTeX runs", "splitting": "students", "verifying": "students"}


class _LineProgress:
    """Progress as plain lines on stderr, for logs, pipes and CI, where a bar shows nothing: each
    LaTeX run, each tenth of the students of a stage, and the end of every stage, e.g.
    `examforge: compiling 3/8 LaTeX runs (12.4s)`."""

    def __init__(self):
        self.start = time.monotonic()
        self.shown: dict[str, int] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        tenth = 10 * done // max(1, total)
        if stage == "compiling" or done >= total or self.shown.get(stage, -1) < tenth:
            self.shown[stage] = tenth
            count = f"{done}/{total} {_UNITS.get(stage, '')}".strip() if stage in _UNITS or total > 1 else ""
            words = ["examforge:", stage, count, f"({time.monotonic() - self.start:.1f}s)"]
            click.echo(" ".join(w for w in words if w), err=True)


@contextlib.contextmanager
def _progress(quiet: bool):
    """A progress callback: a bar on a terminal, plain lines otherwise, nothing with --quiet."""
    if quiet:
        yield lambda *_: None
    elif sys.stderr.isatty():
        with _progress_bar(False) as bar:
            yield _stage_progress(bar)
    else:
        yield _LineProgress()


def _stop_on_signals() -> None:
    """SIGTERM and SIGHUP end a build the way Ctrl-C does: LaTeX runs killed, its work removed."""
    def stop(signum, frame):
        raise SystemExit(128 + signum)

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop)


@main.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--roster", required=True, type=click.Path(path_type=Path), help="CSV with id, name, email.")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--jobs", type=click.IntRange(1, 256), default=None, help="Parallel LaTeX runs (default: cores).")
@click.option("--print-keys", is_flag=True, help="Also write print/keys.pdf (every key, roster order).")
@click.option("--quiet", is_flag=True, help="No progress (a bar on a terminal, plain lines otherwise).")
@QUESTIONS
def build(spec: Path, roster: Path, out_dir: Path, jobs: int | None, print_keys: bool, quiet: bool) -> None:
    """Build every student's exam and solution key from SPEC into OUT, in one shared
    Gradescope-ready layout, then verify the result (exit 1 if it fails)."""
    from examforge.build import build as run_build

    _stop_on_signals()
    stages: set[str] = set()
    with _progress(quiet) as show:

        def progress(stage: str, done: int, total: int) -> None:
            stages.add(stage)
            show(stage, done, total)

        manifest = run_build(spec, roster, out_dir, jobs=jobs, progress=progress, print_keys=print_keys)
    n = len(manifest["students"])
    if "up to date" in stages:
        click.echo(f"{out_dir}/ is up to date: the same spec, roster and examforge made its {n} exams and keys, "
                   "which are unchanged since they were verified")
        return
    click.echo(f"built {n} exams and {n} keys of {manifest['pages']} pages in {out_dir}/ (students/, keys/, "
               "print/, gradescope/, manifest.csv, answers.csv); verified")


@main.command()
@click.argument("out_dir", type=click.Path(path_type=Path, file_okay=False, exists=True))
@click.option("--jobs", type=click.IntRange(1, 256), default=None, help="Parallel readers (default: cores).")
@click.option("--quiet", is_flag=True, help="No progress (a bar on a terminal, plain lines otherwise).")
def verify(out_dir: Path, jobs: int | None, quiet: bool) -> None:
    """Re-read every PDF of a build in OUT_DIR: same pages and boxes for everyone, each student
    named on page 1, no solutions in exams, keys matching answers.csv (exit 1 if not)."""
    from examforge.verify import verify as run_verify

    with _progress(quiet) as show:
        report = run_verify(out_dir, jobs=jobs, progress=show)
    click.echo(report.summary())


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--build", "build_dir", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="The build the exams came from (its gradescope/marks.json and manifest.json).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path, file_okay=False))
@click.option("--jobs", type=click.IntRange(1, 256), default=None, help="Parallel readers (default: cores).")
@click.option("--dpi", type=click.IntRange(100, 400), default=200, show_default=True,
              help="Resolution PDF pages are rasterised at.")
@click.option("--quiet", is_flag=True, help="No progress (a bar on a terminal, plain lines otherwise).")
def scan(inputs: tuple[Path, ...], build_dir: Path, out_dir: Path, jobs: int | None, dpi: int, quiet: bool) -> None:
    """Read scanned pages (PDFs, PNG/JPEG images, or folders of them) back: identify every page by
    its QR code, whatever the order or orientation; write each student's pages in order
    (OUT/students/), the marks of every multiple-choice, true/false and select-all box scored
    against that student's key (OUT/scores.csv), the boxes in doubt (OUT/review.pdf), the item
    analysis (OUT/items.csv) and a report of missing, duplicate, unreadable and foreign pages."""
    from examforge.scan import scan as run_scan
    from examforge.scan import summary

    with _progress(quiet) as show:
        report = run_scan(list(inputs), build_dir, out_dir, jobs=jobs, dpi=dpi, progress=show)
    for line in report.lines() + summary(report):
        click.echo(line)
    click.echo(f"wrote {out_dir}/: students/, scores.csv, items.csv, review.pdf, report.txt")


@main.command()
@click.argument("type_ids", nargs=-1)
@click.option("--seeds", type=click.IntRange(1, 10_000_000), default=1000, show_default=True)
@click.option("--start", type=click.IntRange(0, 2**53 - 1), default=0, show_default=True, help="First seed.")
@click.option("--form", "forms", multiple=True, type=click.Choice(["free", "mc", "tf", "multi"]),
              help="Only these forms (default: every form a type offers).")
@click.option("--draw-only", is_flag=True,
              help="Draw, solve, build the options and check the reference, without rendering LaTeX (fast sweeps).")
@click.option("--jobs", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Processes sharing the seeds (chunks of 2000).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--show", type=click.IntRange(0, 1000), default=5, show_default=True, help="Failures shown per type.")
@QUESTIONS
def stress(type_ids: tuple[str, ...], seeds: int, start: int, forms: tuple[str, ...], draw_only: bool, jobs: int,
           fmt: str, show: int) -> None:
    """Run question types (default: all) over many seeds and report failures (type, form, seed),
    timing, the spread of answers, repeated questions and the balance of correct options. A line
    on stderr as each type and form completes; exit 1 on any failure."""
    import time

    from rich.console import Console
    from rich.table import Table

    from examforge.stress import _one_thread, balance_ok, load_average, run_stress

    types = [registry.get(t) for t in type_ids] if type_ids else registry.all_types()
    _one_thread()
    load_before = load_average()
    began = time.perf_counter()
    mode = "draw only" if draw_only else "full"
    click.echo(f"stress: seeds {start}..{start + seeds - 1}, {mode}, {jobs} process(es), load {load_before}", err=True)

    def finished(r, i: int, n: int) -> None:
        fails = f", {r.failure_count} FAILED (first: seed {r.failures[0][0]})" if r.failure_count else ", 0 failures"
        click.echo(f"stress: [{i}/{n}] {r.type_id} ({r.form}): {r.seeds} seeds{fails}, {r.work_seconds:.1f} s "
                   f"({r.cpu_seconds:.1f} s CPU), {r.variants_per_second:.0f} variants/s per process, "
                   f"{time.perf_counter() - began:.0f} s elapsed, load {load_average()}", err=True)

    reports = run_stress(types, seeds=seeds, start=start, forms=list(forms) or None, render=not draw_only,
                         jobs=jobs, finished=finished)
    wall = time.perf_counter() - began
    load_after = load_average()
    failures = sum(r.failure_count for r in reports)
    total_variants = sum(r.seeds for r in reports)
    cpu = sum(r.cpu_seconds for r in reports)
    if fmt == "json":
        click.echo(json.dumps({"seeds": seeds, "start": start, "mode": mode, "jobs": jobs, "failures": failures,
                               "wall_seconds": round(wall, 1), "variants": total_variants,
                               "variants_per_second": round(total_variants / wall, 1),
                               "cpu_seconds": round(cpu, 1),
                               "cpu_ms_per_variant": round(1000 * cpu / total_variants, 3),
                               "load_before": load_before, "load_after": load_after,
                               "reports": [r.to_json() for r in reports]}, indent=2))
    else:
        table = Table(title=f"examforge stress: seeds {start}..{start + seeds - 1} ({mode})")
        for column in ("type", "form", "ok", "fail", "ms/var", "p95 ms", "answers", "top share", "dup q", "balance"):
            table.add_column(column, justify="left" if column in ("type", "form", "balance") else "right")
        for r in reports:
            balance = " ".join(f"{k}:{v}" for k, v in sorted(r.positions.items())) or "-"
            if not balance_ok(r):
                balance = f"[red]{balance}[/red]"
            table.add_row(r.type_id, r.form, str(r.ok), f"[red]{r.failure_count}[/red]" if r.failure_count else "0",
                          f"{r.ms_per_variant:.2f}", f"{r.p95_ms:.2f}", str(r.distinct_answers),
                          f"{r.top_answer_share:.0%}", str(r.duplicate_questions), balance)
        Console(width=None if sys.stdout.isatty() else 160).print(table)
        for r in reports:
            for seed, message in r.failures[:show]:
                click.echo(f"FAIL {r.type_id} ({r.form}) seed {seed}: {message}")
        click.echo(f"{len(reports)} type/form pairs, {total_variants} variants, {failures} failures, "
                   f"{wall:.1f} s wall with {jobs} process(es), {total_variants / wall:.0f} variants/s, "
                   f"{1000 * cpu / total_variants:.2f} ms CPU per variant; "
                   f"load average {load_before} before, {load_after} after")
    if failures:
        sys.exit(1)


@main.command()
@click.argument("targets", nargs=-1)
@click.option("--seeds", type=click.IntRange(1, 100_000), default=200, show_default=True,
              help="Seeds per type and form.")
@click.option("--no-compile", is_flag=True, help="Skip the pdflatex run of every type's templates.")
@QUESTIONS
def check(targets: tuple[str, ...], seeds: int, no_compile: bool) -> None:
    """Hold question types to the common contract: TARGETS are ids or question folders (default:
    every type). Valid, deterministic, JSON-round-tripping params; the torch answer equal to the
    independent reference; both templates render and compile; the key holds the answer; options
    distinct, named and balanced; enough variety. Exits 1 on any failure."""
    from examforge.testing import check as run_checks

    types, seen = [], set()
    for target in targets:
        ids = registry.load_folders([target]) if Path(target).is_dir() else None
        if ids is None:
            ids = [registry.get(target).id]
        elif not ids:  # loaded before (e.g. also given with --questions): its ids by origin
            folder = Path(target).resolve()
            ids = [i for i in registry.known_ids() if folder in registry.origin(i).parents]
        for type_id in ids:
            if type_id not in seen:
                seen.add(type_id)
                types.append(registry.get(type_id))
    if not targets:
        types = registry.all_types()
    if not types:
        raise InputError("nothing to check: no question types in " + ", ".join(targets))
    failures = run_checks(types, seeds=seeds, compile=not no_compile,
                          progress=lambda label, done, total: click.echo(f"[{done}/{total}] {label}", err=True)
                          if label != "done" else None)
    by_type: dict[str, int] = {}
    for f in failures:
        by_type[f.type_id] = by_type.get(f.type_id, 0) + 1
        click.echo(f"FAIL {f}")
    ok = len(types) - len([t for t in types if t.id in by_type])
    click.echo(f"examforge check: {len(types)} types, {seeds} seeds each; {ok} passed, "
               f"{len(by_type)} failed ({len(failures)} failed checks)")
    if failures:
        sys.exit(1)


@main.command()
@click.argument("topic", required=False)
@click.option("--seed", type=click.IntRange(0, 2**53 - 1), default=None,
              help="Reproducible: variants SEED, SEED+1, ... (history does not pick the types).")
@click.option("--form", type=click.Choice(["free", "mc", "tf"]), default=None,
              help="free: type the answer (default where it can be typed); mc: options; tf: true/false.")
@click.option("--difficulty", type=click.Choice(["easy", "medium", "hard"]), default=None,
              help="easy, medium or hard (default: medium, or the drill set's).")
@click.option("--count", type=click.IntRange(1, 100000), default=None, help="Stop after this many variants.")
@click.option("--set", "set_name", default=None, metavar="NAME", help="Drill the set NAME of the --sets file.")
@click.option("--sets", "sets_file", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="A YAML file of drill sets (default: $EXAMFORGE_DRILL_SETS).")
@QUESTIONS
def drill(topic: str | None, seed: int | None, form: str | None, difficulty: str | None, count: int | None,
          set_name: str | None, sets_file: Path | None) -> None:
    """Drill TOPIC (a type id, a topic such as conv, or everything), or a drill set (--set NAME
    --sets FILE), in the terminal. Missed types come back more often (history in the user data
    directory)."""
    from examforge.drill.history import History
    from examforge.drill.terminal import run as run_drill

    drill_set = _drill_set(set_name, sets_file) if set_name or sets_file else None
    with History() as history:
        run_drill(topic, seed=seed, form=form, difficulty=difficulty, count=count, history=history,
                  ask=input, say=click.echo, drill_set=drill_set)


def _drill_set(name: str | None, path: Path | None):
    """The set NAME of the sets file (--sets FILE, else $EXAMFORGE_DRILL_SETS)."""
    import os

    from examforge.drill.sets import ENV_SETS, load_sets

    path = path or (Path(os.environ[ENV_SETS]) if os.environ.get(ENV_SETS) else None)
    if path is None:
        raise InputError(f"--set {name} needs the file of drill sets: --sets FILE (or ${ENV_SETS})")
    sets = load_sets(path)
    if name is None or name not in sets:
        what = "name a set with --set NAME" if name is None else f"there is no set {name!r}"
        raise InputError(f"{path}: {what}; its sets are: {', '.join(sets)}")
    return sets[name]


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Server processes; default one per core (the server is stateless, so any number works).")
@click.option("--sets", "sets_file", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="A YAML file of drill sets, each served at /?set=NAME.")
@QUESTIONS
def serve(host: str, port: int, workers: int | None, sets_file: Path | None) -> None:
    """Serve the web drill page and its JSON API (/api) at http://HOST:PORT/."""
    import os

    from examforge.drill.server import serve as run_server

    if sets_file is not None:  # checked here, then read again by every worker process
        from examforge.drill.sets import use_in_workers

        use_in_workers(sets_file)

    run_server(host=host, port=port, workers=workers or os.cpu_count() or 1)


if __name__ == "__main__":
    main()
