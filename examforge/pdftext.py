"""Reading built PDFs back: text with pdftotext, page counts with pypdf."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from pypdf import PdfReader

from examforge.errors import ExamforgeError


def pdf_text(path: Path, *, first: int | None = None, last: int | None = None) -> str:
    if shutil.which("pdftotext") is None:
        raise ExamforgeError("pdftotext is not installed (Debian: poppler-utils)")
    cmd = ["pdftotext", "-enc", "UTF-8"]
    if first:
        cmd += ["-f", str(first)]
    if last:
        cmd += ["-l", str(last)]
    cmd += [str(path), "-"]
    return subprocess.run(cmd, check=True, capture_output=True).stdout.decode("utf-8")


def page_count(path: Path) -> int:
    return len(PdfReader(str(path)).pages)
