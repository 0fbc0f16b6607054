"""The one place that runs LaTeX: pdflatex (and lualatex, for the text in scripts pdflatex's fonts
cannot print: examforge.renderers.scripts), no shell escape, non-interactive, reproducible.

A failure raises LatexError naming the student and the question (generator id and seed) whose
source lines contain the error, with the relevant lines of the log. `compile_cached` puts a
content-addressed cache in front of it: the same source never compiles twice.

Every LaTeX run dies with examforge: each is its own process group (so a Ctrl-C at the terminal
reaches examforge, which then kills the runs, not pdflatex half-way through a file), `stop_runs`
kills every run in progress and refuses new ones until `resume_runs` (a build that fails or is
interrupted calls it), and on Linux each run is started through `setpriv --pdeathsig KILL`, so
the kernel kills it when the thread that started it dies, even by `kill -9`."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from examforge import assets
from examforge.errors import LatexError

_MARKER = re.compile(r"^% examforge:question slot=(\d+) id=(\S+) seed=(\S+)")
_STUDENT = re.compile(r"^% examforge:student index=(\S+) id=(\S+)")
_OVERFULL = re.compile(r"^Overfull \\hbox \(([\d.]+)pt too wide\) (?:in paragraph at lines (\d+)--\d+|"
                       r"in alignment at lines (\d+)--\d+|detected at line (\d+))", re.M)
_FILE_LINE = re.compile(r"^(?:\./)?[^:\n]+\.tex:(\d+): (.*)$")
MAX_PASSES = 3


def latex_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SOURCE_DATE_EPOCH=env.get("SOURCE_DATE_EPOCH", "0"),
        FORCE_SOURCE_DATE="1",
        openout_any="p",  # write only below the working directory
        openin_any="p",  # read no dotfiles, nothing above the working directory
        shell_escape="f",
        max_print_line="1000",
    )
    return env


_runs_lock = threading.Lock()
_running: set[subprocess.Popen] = set()
_stopped = False


def stop_runs() -> None:
    """Kill every pdflatex run of this process and refuse new ones (until `resume_runs`)."""
    global _stopped
    with _runs_lock:
        _stopped = True
        for proc in _running:
            _kill_group(proc)


def resume_runs() -> None:
    global _stopped
    with _runs_lock:
        _stopped = False


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # its own group: pdflatex and anything it started
    except (ProcessLookupError, PermissionError):
        pass


@lru_cache(maxsize=1)
def _death_signal_prefix() -> tuple[str, ...]:
    """`setpriv --pdeathsig KILL --` where util-linux's setpriv offers it (Linux), else nothing."""
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    if setpriv is None:
        return ()
    try:
        help_text = subprocess.run([setpriv, "--help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    return (setpriv, "--pdeathsig", "KILL", "--") if "--pdeathsig" in help_text else ()


def _run(cmd: list[str], cwd: Path, timeout: float, name: str) -> tuple[int, bytes]:
    with _runs_lock:
        if _stopped:
            raise LatexError(f"{name}: not compiled (the build failed elsewhere or was interrupted)")
        proc = subprocess.Popen(
            [*_death_signal_prefix(), *cmd], cwd=cwd, env=latex_env(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, process_group=0,
        )
        _running.add(proc)
    try:
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            raise LatexError(f"{name}: {cmd[0]} took longer than {timeout:.0f}s") from None
        except BaseException:
            _kill_group(proc)
            proc.wait()
            raise
    finally:
        with _runs_lock:
            _running.discard(proc)
    if _stopped:
        raise LatexError(f"{name}: {cmd[0]} was stopped (the build failed elsewhere or was interrupted)")
    return proc.returncode, out


ENGINES = ("pdflatex", "lualatex")


def run_pdflatex(tex_path: Path, *, timeout: float = 300.0, rerun: bool = True, engine: str = "pdflatex") -> Path:
    """Compile `tex_path` in its own directory with `engine` (pdflatex, or lualatex); rerun while
    LaTeX asks for it (unless `rerun` is false: the exam layout has no cross-references, so one
    pass is final). Returns the PDF."""
    if engine not in ENGINES:
        raise ValueError(f"unknown TeX engine {engine!r}")
    if shutil.which(engine) is None:
        raise LatexError(f"{engine} is not installed; run 'make demo' or 'make test' to install TeX Live")
    tex_path = Path(tex_path)
    assets.place(tex_path)
    cmd = [
        engine, "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
        "-file-line-error", tex_path.name,
    ]
    log_path = tex_path.with_suffix(".log")
    for _ in range(MAX_PASSES):
        returncode, stdout = _run(cmd, tex_path.parent, timeout, tex_path.name)
        log = log_path.read_text(encoding="latin-1") if log_path.exists() else stdout.decode("latin-1")
        if returncode != 0:
            raise LatexError(describe_failure(tex_path, log))
        if not rerun or ("Rerun to get" not in log and "Label(s) may have changed" not in log):
            break
    return tex_path.with_suffix(".pdf")


def describe_failure(tex_path: Path, log: str) -> str:
    lines = log.splitlines()
    where, excerpt = None, []
    for i, line in enumerate(lines):
        m = _FILE_LINE.match(line)
        if m or line.startswith("! "):
            if m:
                where = int(m.group(1))
            excerpt = lines[i : i + 8]
            break
    student, question = _place(tex_path, where) if where else (None, None)
    head = f"LaTeX failed on {tex_path.name}"
    if where:
        head += f" line {where}"
    if student:
        head += f", student {student}"
    if question:
        head += f", in question {question[0] + 1} ({question[1]}, seed {question[2]})"
    body = "\n".join("  " + l for l in excerpt) if excerpt else "  (no error line found in the log)"
    return f"{head}:\n{body}\n  full log: {tex_path.with_suffix('.log')}"


def _place(tex_path: Path, line_no: int) -> tuple[str | None, tuple[int, str, str] | None]:
    """The student and question whose source holds `line_no`, from the examforge markers."""
    try:
        source = tex_path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None, None
    return place_in_source(source, line_no)


def place_in_source(source: list[str], line_no: int) -> tuple[str | None, tuple[int, str, str] | None]:
    student, found = None, None
    for line in source[:line_no]:
        if not line.startswith("% examforge:"):
            continue
        m = _MARKER.match(line)
        if m:
            found = (int(m.group(1)), m.group(2), m.group(3))
            continue
        m = _STUDENT.match(line)
        if m:
            student, found = m.group(2), None
        elif line.startswith("% examforge:end"):
            found = None
    return student, found


def overfull_lines(log: str, *, limit_pt: float) -> list[tuple[float, int]]:
    """(points too wide, source line) for every line that runs more than `limit_pt` into the margin."""
    out = []
    for m in _OVERFULL.finditer(log):
        width = float(m.group(1))
        line = next(int(g) for g in m.groups()[1:] if g)
        if width > limit_pt:
            out.append((width, line))
    return out


@lru_cache(maxsize=2)
def engine_id(engine: str = "pdflatex") -> str:
    """What the cache key must change with: the TeX engine and this package's templates."""
    from examforge import __version__

    try:
        banner = subprocess.run([engine, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        banner = "unknown"
    return f"{__version__}\n{banner.splitlines()[0] if banner else ''}"


@dataclass(frozen=True)
class Compiled:
    pdf: Path
    side: str  # the .efl side file LaTeX wrote: positions, pages, overflows
    log: str
    cached: bool


def compile_cached(
    tex: str, workdir: Path, name: str, cache_dir: Path | None, *,
    files: dict[str, Path] | None = None, engine: str = "pdflatex",
) -> Compiled:
    """Compile `tex` once; with a cache, the same source (and engine) returns the stored PDF.
    `files` are copied next to the source first (the source names them, with their digest)."""
    key = hashlib.sha256((engine_id(engine) + "\n" + tex).encode("utf-8")).hexdigest()
    if cache_dir is not None:
        pdf, side, log = (cache_dir / f"{key}{ext}" for ext in (".pdf", ".efl", ".log"))
        if pdf.exists() and side.exists() and log.exists():
            os.utime(pdf)  # mark as used
            return Compiled(pdf, side.read_text(encoding="utf-8"), log.read_text(encoding="latin-1"), True)
    workdir.mkdir(parents=True, exist_ok=True)
    for file_name, source in (files or {}).items():
        shutil.copyfile(source, workdir / file_name)
    tex_path = workdir / f"{name}.tex"
    tex_path.write_text(tex, encoding="utf-8")
    pdf_path = run_pdflatex(tex_path, rerun=False, engine=engine)
    side_path, log_path = tex_path.with_suffix(".efl"), tex_path.with_suffix(".log")
    if not side_path.exists():  # a document without the exam template's side file
        side_path.write_text("", encoding="utf-8")
    result = Compiled(pdf_path, side_path.read_text(encoding="utf-8"), log_path.read_text(encoding="latin-1"), False)
    if cache_dir is not None and pdf_path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        for src, ext in ((side_path, ".efl"), (log_path, ".log"), (pdf_path, ".pdf")):  # the PDF last
            tmp = cache_dir / f".{key}{ext}.tmp"
            shutil.copyfile(src, tmp)
            os.replace(tmp, cache_dir / f"{key}{ext}")
        result = Compiled(cache_dir / f"{key}.pdf", result.side, result.log, False)
    return result
