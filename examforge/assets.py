"""Files a LaTeX run needs next to its source: the figures of authored questions.

pdflatex runs with paranoid file access (no absolute paths, nothing above its folder), so a
figure is copied into the run's folder under a name made from its content (`fig-<sha>.pdf`),
which is also the name the templates print: the same figure always has the same name, and a
changed figure changes the source, so cached runs stay right."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

_FILES: dict[str, Path] = {}
_NAME = re.compile(r"fig-[0-9a-f]{16}\.(?:pdf|png|jpe?g)")


def register_figure(path: Path) -> str:
    """The name a LaTeX source uses for the figure `path`."""
    name = f"fig-{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}{path.suffix.lower()}"
    _FILES[name] = path
    return name


def place(tex_path: Path) -> None:
    """Copy every registered figure that the source `tex_path` names into its folder."""
    if not _FILES:
        return
    for name in set(_NAME.findall(tex_path.read_text(encoding="utf-8", errors="replace"))):
        source = _FILES.get(name)
        target = tex_path.parent / name
        if source is not None and not target.exists():
            shutil.copyfile(source, target)
