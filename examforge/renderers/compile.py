"""The one place that runs LaTeX: pdflatex, no shell escape, non-interactive, reproducible.

A failure raises LatexError naming the question (generator id and seed) whose source lines
contain the error, with the relevant lines of the log."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from examforge.errors import LatexError

_MARKER = re.compile(r"^% examforge:question slot=(\d+) id=(\S+) seed=(\S+)")
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


def run_pdflatex(tex_path: Path, *, timeout: float = 300.0) -> Path:
    """Compile `tex_path` in its own directory; rerun while LaTeX asks for it. Returns the PDF."""
    if shutil.which("pdflatex") is None:
        raise LatexError("pdflatex is not installed; run 'make demo' or 'make test' to install TeX Live")
    tex_path = Path(tex_path)
    cmd = [
        "pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error",
        "-file-line-error", tex_path.name,
    ]
    log_path = tex_path.with_suffix(".log")
    for _ in range(MAX_PASSES):
        try:
            proc = subprocess.run(
                cmd, cwd=tex_path.parent, env=latex_env(), stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise LatexError(f"{tex_path.name}: pdflatex took longer than {timeout:.0f}s") from None
        log = log_path.read_text(encoding="latin-1") if log_path.exists() else proc.stdout.decode("latin-1")
        if proc.returncode != 0:
            raise LatexError(describe_failure(tex_path, log))
        if "Rerun to get" not in log and "Label(s) may have changed" not in log:
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
    question = _question_at(tex_path, where) if where else None
    head = f"LaTeX failed on {tex_path.name}"
    if where:
        head += f" line {where}"
    if question:
        head += f", in question {question[0] + 1} ({question[1]}, seed {question[2]})"
    body = "\n".join("  " + l for l in excerpt) if excerpt else "  (no error line found in the log)"
    return f"{head}:\n{body}\n  full log: {tex_path.with_suffix('.log')}"


def _question_at(tex_path: Path, line_no: int) -> tuple[int, str, str] | None:
    try:
        source = tex_path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    found = None
    for i, line in enumerate(source[:line_no], start=1):
        m = _MARKER.match(line)
        if m:
            found = (int(m.group(1)), m.group(2), m.group(3))
        elif line.startswith("% examforge:end"):
            found = None
    return found
