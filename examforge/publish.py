"""Publishing a build atomically, and the processes a build starts dying with it.

A build writes its outputs into a new directory `DIR/.examforge-builds/<name>/`, verifies them
there, and then swaps one symlink, `DIR/.examforge-current`, to it with a single rename. The
visible entries (`DIR/students`, `DIR/manifest.csv`, ...) are fixed symlinks through
`.examforge-current`, so at every instant DIR shows either the whole previous build or the whole
new one, whenever the build is killed. One build at a time writes to DIR (an flock on
`DIR/.examforge-lock`); it removes what killed builds left behind."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import secrets
import shutil
import signal
import sys
from pathlib import Path

from examforge.errors import ExamforgeError, InputError


OUTPUTS = ("students", "keys", "print", "gradescope", "graders", "tex", "manifest.csv", "answers.csv", "manifest.json")


BUILDS_DIR = ".examforge-builds"  # every build's outputs, in a directory of its own


CURRENT = ".examforge-current"  # the one symlink that names the published build


LOCK_FILE = ".examforge-lock"


TMP_PREFIX = ".examforge-tmp-"  # a symlink being made, renamed over its target next


class OutputLock:
    """An exclusive flock on DIR/.examforge-lock, held for the whole build: one build writes to DIR
    at a time. The kernel drops it when the process dies, however it dies. The file is removed
    on release; a build that opened it just before checks that it locked the file still there."""

    def __init__(self, out_dir: Path):
        self.out_dir, self.path, self.fd = out_dir, out_dir / LOCK_FILE, -1

    def __enter__(self) -> "OutputLock":
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 20).decode("ascii", "replace").strip() or "?"
                os.close(fd)
                raise ExamforgeError(f"{self.out_dir}: another examforge build (pid {holder}) is writing there; "
                                     "wait for it to finish") from None
            try:
                current = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if current:
                break
            os.close(fd)  # the previous holder removed that file as we opened it: lock the new one
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        try:
            os.unlink(self.path)  # while still holding it
        except FileNotFoundError:
            pass
        os.close(self.fd)


def new_build_dir(out_dir: Path) -> Path:
    """A new, empty directory in DIR/.examforge-builds (made with the user's umask)."""
    (out_dir / BUILDS_DIR).mkdir(exist_ok=True)
    while True:
        path = out_dir / BUILDS_DIR / f"build-{secrets.token_hex(6)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def current_build(out_dir: Path) -> str | None:
    """The name, in DIR/.examforge-builds, of the build DIR shows (None: none, or an old layout)."""
    try:
        target = os.readlink(out_dir / CURRENT)
    except OSError:
        return None
    head, _, name = target.partition("/")
    return name if head == BUILDS_DIR and name and "/" not in name else None


def remove_leftovers(out_dir: Path) -> None:
    """What killed builds left: their build directories (all but the current one), half-made
    symlinks, and the staging directories of examforge versions before this layout."""
    current = current_build(out_dir)
    builds = out_dir / BUILDS_DIR
    if builds.is_dir() and not builds.is_symlink():
        for entry in builds.iterdir():
            if entry.name != current:
                _remove(entry)
    for entry in out_dir.iterdir():
        if entry.name.startswith((TMP_PREFIX, ".examforge-staging-")):
            _remove(entry)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def check_replaceable(out_dir: Path) -> None:
    """Refuse, before any work, to replace files in DIR that no examforge build made."""
    if (out_dir / CURRENT).is_symlink():
        return  # DIR has the symlink layout; real entries there are a half-adopted older build
    real = [name for name in OUTPUTS if (out_dir / name).exists() and not (out_dir / name).is_symlink()]
    if not real:
        return
    try:
        made_by_examforge = "examforge_version" in json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        made_by_examforge = False
    if not made_by_examforge:
        raise InputError(f"{out_dir}: holds {', '.join(real)} but no examforge manifest.json; a build would replace "
                         "them: remove them or choose another --out")


def publish(build_dir: Path, out_dir: Path) -> None:
    """Make `build_dir` (in DIR/.examforge-builds) the build DIR shows, atomically; then remove
    the one it replaces."""
    _adopt_real_outputs(out_dir)
    for name in OUTPUTS:
        _point(out_dir / name, f"{CURRENT}/{name}")
    previous = current_build(out_dir)
    _point(out_dir / CURRENT, f"{BUILDS_DIR}/{build_dir.name}")  # the swap
    _sync(out_dir)
    if previous and previous != build_dir.name:
        shutil.rmtree(out_dir / BUILDS_DIR / previous, ignore_errors=True)


def _point(link: Path, target: str) -> None:
    """Make `link` a symlink to `target` in one rename: it is the old link (or nothing) until then."""
    if link.is_symlink() and os.readlink(link) == target:
        return
    tmp = link.with_name(TMP_PREFIX + link.name)
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    os.replace(tmp, link)


def _sync(directory: Path) -> None:
    """Flush the directory's entries (the swap) to disk."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _adopt_real_outputs(out_dir: Path) -> None:
    """DIR holds real files and directories where the symlinks go: a build made before this layout
    (or a copy that followed the symlinks). Move them into a build directory of their own that
    .examforge-current names, one rename each, leaving a symlink in each place. This happens once
    per DIR; a build killed during it leaves one entry missing at most, which the next build
    restores before it publishes."""
    current_dir = out_dir / CURRENT
    if current_dir.exists() and not current_dir.is_symlink():
        _remove(current_dir)  # a copied .examforge-current: a duplicate of the real entries
    real = [name for name in OUTPUTS if (out_dir / name).exists() and not (out_dir / name).is_symlink()]
    if not real:
        return
    if current_build(out_dir) is None:
        _point(current_dir, f"{BUILDS_DIR}/{new_build_dir(out_dir).name}")
    adopted = out_dir / BUILDS_DIR / current_build(out_dir)
    for name in real:
        if (adopted / name).exists() or (adopted / name).is_symlink():
            _remove(adopted / name)
        os.rename(out_dir / name, adopted / name)
        _point(out_dir / name, f"{CURRENT}/{name}")


_build_pid: int | None = None  # set while this process builds: the forks it makes die with it
_prctl = None
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child forked during a build (verify's worker processes): the kernel kills it when
    the build's process dies, even by SIGKILL (Linux)."""
    if _build_pid is None or _prctl is None:
        return
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != _build_pid:  # the build died before the line above
        os._exit(1)


@contextlib.contextmanager
def children_die_with_build():
    """While inside, processes forked by this one get PR_SET_PDEATHSIG=SIGKILL. pdflatex gets it
    through `setpriv` (examforge.renderers.compile); this covers multiprocessing's forked workers."""
    global _build_pid, _prctl
    if sys.platform.startswith("linux"):
        if _prctl is None:
            try:
                _prctl = ctypes.CDLL(None, use_errno=True).prctl
            except (OSError, AttributeError):
                _prctl = None
        _build_pid = os.getpid()
    try:
        yield
    finally:
        _build_pid = None


if sys.platform.startswith("linux"):
    os.register_at_fork(after_in_child=die_with_parent)
