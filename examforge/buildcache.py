"""What a build remembers between runs: the digest of its inputs and code (an unchanged build is
up to date and does nothing), the digest of verified outputs (verify is not run again on
byte-identical outputs), and the pruning of the content-addressed LaTeX run cache."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Callable

from examforge import __version__, registry
from examforge.errors import InputError
from examforge.publish import OUTPUTS
from examforge.safeinput import parse_yaml


CACHE_DIR = ".examforge-cache"


VERIFIED_STEM = "verified"


def outputs_digest(staging: Path) -> str:
    """A digest of every output file's path and bytes, and of the code that verifies them."""
    from examforge import pdftext, verify

    h = hashlib.sha256(__version__.encode())
    for module in (verify, pdftext):
        h.update(Path(module.__file__).read_bytes())
    for name in OUTPUTS:
        root = staging / name
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root] if root.exists() else []
        for path in files:
            h.update(path.relative_to(staging).as_posix().encode() + b"\0")
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def verify_unless_verified(staging: Path, cache_dir: Path, progress: Callable[[str, int, int], None], jobs: int) -> str:
    """Verify the staged outputs, unless these very bytes passed verification before (a rebuild
    with unchanged inputs): verify is a function of the files alone, so it would pass again.
    `examforge verify DIR` always checks everything."""
    from examforge.verify import verify

    digest = outputs_digest(staging)
    marker = cache_dir / f"{VERIFIED_STEM}.sha256"
    if marker.exists() and marker.read_text(encoding="ascii") == digest:
        progress("verified before", 1, 1)
        return digest
    verify(staging, progress=progress, jobs=jobs)
    cache_dir.mkdir(exist_ok=True)
    marker.write_text(digest, encoding="ascii")
    return digest


BUILD_STEM = "build"


@lru_cache(maxsize=1)
def code_digest() -> str:
    """examforge's own code and templates (what the outputs are made by)."""
    root = Path(__file__).parent
    h = hashlib.sha256(__version__.encode())
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".j2", ".yaml") and p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def inputs_key(spec_path: Path, spec_bytes: bytes, roster_bytes: bytes, *, print_keys: bool,
                chunk_size: int) -> str:
    h = hashlib.sha256(code_digest().encode())
    for data in (spec_bytes, roster_bytes):
        h.update(hashlib.sha256(data).digest())
    h.update(f"print_keys={print_keys} chunk_size={chunk_size}".encode())
    for folder in registry.user_folders(extra=_spec_question_dirs(spec_path, spec_bytes)):  # the instructor's
        h.update(registry.folder_digest(folder).encode())
    return h.hexdigest()


def _spec_question_dirs(spec_path: Path, spec_bytes: bytes) -> list[Path]:
    try:
        data = parse_yaml(spec_bytes.decode("utf-8-sig"), spec_path)  # bounded, as load_spec reads it
        dirs = data.get("question_dirs") if isinstance(data, dict) else None
        return [spec_path.parent / d for d in dirs if isinstance(d, str)] if isinstance(dirs, list) else []
    except (InputError, UnicodeDecodeError):  # load_spec says what is wrong with it
        return []


def up_to_date(out_dir: Path, cache_dir: Path, inputs: str) -> dict | None:
    """The manifest of the build in `out_dir` when it was made from these very inputs by this
    code and its outputs are still exactly as that build left them (verified then); else None."""
    record = cache_dir / f"{BUILD_STEM}.json"
    try:
        previous = json.loads(record.read_text())
        if previous.get("inputs") != inputs or outputs_digest(out_dir) != previous.get("outputs"):
            return None
        return json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, AttributeError):
        return None


def prune_cache(cache_dir: Path, *, keep: set[str]) -> None:
    """Keep only the compiled runs this build used (the cache never grows without bound)."""
    if not cache_dir.is_dir():
        return
    for path in cache_dir.iterdir():
        if path.name.split(".")[0] not in keep:
            path.unlink(missing_ok=True)
