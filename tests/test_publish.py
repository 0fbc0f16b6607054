"""Publishing a build is atomic: killed at any step, DIR holds the whole old build or the whole new
one, `verify` passes on it, and the next build removes what the killed one left. The processes a
build starts die with it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from examforge.build import build
from examforge.buildcache import outputs_digest
from examforge.publish import BUILDS_DIR, CURRENT, OUTPUTS, OutputLock, current_build, remove_leftovers
from examforge.errors import ExamforgeError, VerifyError
from examforge.verify import verify

from .helpers import ROSTER_3, SMALL_SPEC, write

ROOT = Path(__file__).resolve().parents[1]
FORMULA = '=HYPERLINK("http://x","y")'  # a name a spreadsheet would run as a formula
ROSTER = ROSTER_3 + 's4,"=HYPERLINK(""http://x"",""y"")",h@example.edu\n'

# Runs publish() (alone, or inside a whole `examforge build`) and SIGKILLs the process just before
# its KILL_AT-th change to the file system (symlink, rename, unlink, rmdir, mkdir); with STEP_LOG,
# writes the list of those changes when publish returns.
KILLER = r"""
import json, os, signal, sys
from pathlib import Path
import examforge.build as B

kill_at, log = int(os.environ.get("KILL_AT", "0")), os.environ.get("STEP_LOG")
steps, active = [], [False]
real = {name: getattr(os, name) for name in ("symlink", "replace", "rename", "unlink", "rmdir", "mkdir")}

def counted(name):
    def call(*args, **kwargs):
        if active[0]:
            steps.append(f"{name} {args[0]}")
            if len(steps) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
        return real[name](*args, **kwargs)
    return call

for name in real:
    setattr(os, name, counted(name))
real_publish = B.publish

def publish(*args, **kwargs):
    active[0] = True
    try:
        return real_publish(*args, **kwargs)
    finally:
        active[0] = False
        if log:
            Path(log).write_text(json.dumps(steps))

B.publish = publish
if sys.argv[1] == "publish":
    B.publish(Path(sys.argv[2]), Path(sys.argv[3]))
else:
    from examforge.cli import main
    main(sys.argv[2:])
"""


def run_killer(*args: str, kill_at: int = 0, log: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, KILL_AT=str(kill_at), PYTHONPATH=str(ROOT))
    if log is not None:
        env["STEP_LOG"] = str(log)
    return subprocess.run([sys.executable, "-c", KILLER, *args], env=env, capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    """Build A published in `old` (a pristine copy), and the outputs of build B (another exam
    seed) in a directory of their own, ready to be published over it."""
    from .conftest import require_tex

    require_tex()
    root = tmp_path_factory.mktemp("publish")
    roster = write(root / "roster.csv", ROSTER)
    out = root / "out"
    build(write(root / "a.yaml", SMALL_SPEC), roster, out, jobs=2)
    digest_a = outputs_digest(out)
    old = root / "old"
    shutil.copytree(out, old, symlinks=True)
    build(write(root / "b.yaml", SMALL_SPEC.replace("seed: 42", "seed: 43")), roster, out, jobs=2)
    digest_b = outputs_digest(out)
    assert digest_a != digest_b
    new = root / "new"
    shutil.copytree(out / BUILDS_DIR / current_build(out), new)
    return old, new, digest_a, digest_b


def _visible(out: Path) -> list[str]:
    return [name for name in OUTPUTS if (out / name).exists()]


def _stage(old: Path | None, new: Path, target: Path) -> Path:
    """A DIR holding `old` (or nothing), with the new build's outputs staged in it."""
    if old is not None:
        shutil.copytree(old, target, symlinks=True)
    staged = target / BUILDS_DIR / "build-staged"
    shutil.copytree(new, staged)
    return staged


def _kill_points(steps: list[str]) -> list[int]:
    """Every step up to the swap and one after it, then the first, a middle and the last step
    of removing the old build (all those leave the same visible state)."""
    swap = next(i for i, s in enumerate(steps, 1) if s.startswith("replace") and s.endswith(CURRENT))
    after = list(range(swap + 1, len(steps) + 1))
    return sorted(set(range(1, swap + 2)) | set(after[:1] + after[len(after) // 2 : len(after) // 2 + 1] + after[-1:])
                  | {len(steps) + 1})


def test_killed_publish_leaves_the_whole_old_or_the_whole_new_build(two_builds, tmp_path):
    old, new, digest_a, digest_b = two_builds
    dry = tmp_path / "dry"
    staged = _stage(old, new, dry)
    log = tmp_path / "steps.json"
    done = run_killer("publish", str(staged), str(dry), log=log)
    assert done.returncode == 0, done.stderr
    steps = json.loads(log.read_text())
    assert any(s.startswith("rmdir") for s in steps)  # the old build is removed after the swap
    assert outputs_digest(dry) == digest_b
    seen = set()
    for k in _kill_points(steps):
        out = tmp_path / f"k{k}"
        staged = _stage(old, new, out)
        killed = run_killer("publish", str(staged), str(out), kill_at=k)
        assert killed.returncode == (-signal.SIGKILL if k <= len(steps) else 0), (k, killed.stderr)
        assert sorted(_visible(out)) == sorted(OUTPUTS), (k, steps[k - 1: k])
        digest = outputs_digest(out)
        assert digest in (digest_a, digest_b), (k, steps[k - 1: k])
        seen.add("old" if digest == digest_a else "new")
        assert verify(out, jobs=1).students == 4
        with OutputLock(out):  # what the next build does first
            remove_leftovers(out)
        assert [p.name for p in (out / BUILDS_DIR).iterdir()] == [current_build(out)]
        assert not [p.name for p in out.iterdir() if p.name.startswith((".examforge-tmp-", ".examforge-staging"))]
        assert outputs_digest(out) == digest
    assert seen == {"old", "new"}


def test_killed_first_publish_shows_nothing_or_the_whole_build(two_builds, tmp_path):
    _, new, _, digest_b = two_builds
    dry = tmp_path / "dry"
    log = tmp_path / "steps.json"
    assert run_killer("publish", str(_stage(None, new, dry)), str(dry), log=log).returncode == 0
    steps = json.loads(log.read_text())
    swap = next(i for i, s in enumerate(steps, 1) if s.startswith("replace") and s.endswith(CURRENT))
    outcomes = []  # the first link, one in the middle, the last link, the swap, what follows
    for k in sorted({1, 2, 3, swap // 2, swap - 2, swap - 1, swap, swap + 1, len(steps)} & set(range(1, len(steps) + 1))):
        out = tmp_path / f"k{k}"
        killed = run_killer("publish", str(_stage(None, new, out)), str(out), kill_at=k)
        assert killed.returncode == -signal.SIGKILL
        visible = _visible(out)
        if visible:
            assert sorted(visible) == sorted(OUTPUTS) and outputs_digest(out) == digest_b, (k, steps[k - 1])
            verify(out, jobs=1)
        else:
            with pytest.raises(VerifyError, match="not a complete build"):
                verify(out, jobs=1)
        outcomes.append(bool(visible))
    assert outcomes == sorted(outcomes) and not outcomes[0]  # nothing, ..., then the whole build


def test_an_older_layout_is_adopted(two_builds, tmp_path):
    """A DIR with real directories (an examforge before this layout, or a copy that followed the
    symlinks) is replaced like any other: the new build, whole, through the symlinks."""
    old, new, digest_a, digest_b = two_builds
    out = tmp_path / "out"
    shutil.copytree(old, out)  # follows the symlinks: real files everywhere, and a real .examforge-current
    assert not (out / "students").is_symlink() and outputs_digest(out) == digest_a
    staged = out / BUILDS_DIR / "build-staged"
    shutil.copytree(new, staged)
    done = run_killer("publish", str(staged), str(out))
    assert done.returncode == 0, done.stderr
    assert all((out / name).is_symlink() for name in OUTPUTS) and (out / CURRENT).is_symlink()
    assert outputs_digest(out) == digest_b and current_build(out) == "build-staged"
    verify(out, jobs=1)
    with OutputLock(out):
        remove_leftovers(out)  # the copy of .examforge-builds that copytree made
    assert os.listdir(out / BUILDS_DIR) == ["build-staged"] and outputs_digest(out) == digest_b


def test_csv_cells_are_safe_for_spreadsheets(two_builds):
    """A name that starts with '=' is written to manifest.csv with a leading apostrophe, as OWASP
    advises against CSV injection; manifest.json and the exam keep it exactly as written."""
    old, _, _, _ = two_builds
    import csv

    from examforge.pdftext import pdf_text

    with (old / "manifest.csv").open(encoding="utf-8", newline="") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert rows["s4"]["name"] == "'" + FORMULA
    assert rows["s1"]["name"] == "Ada Lovelace"
    manifest = json.loads((old / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["students"][3]["name"] == FORMULA
    assert FORMULA in pdf_text(old / "students" / "s4.pdf", first=1, last=1)
    for name in ("manifest.csv", "answers.csv"):
        with (old / name).open(encoding="utf-8", newline="") as f:
            for row in csv.reader(f):
                for cell in row:
                    assert not cell.startswith(("=", "+", "@", "\t", "\r")), (name, cell)
                    assert not cell.startswith("-") or cell.lstrip("-").replace(".", "", 1).isdigit(), (name, cell)


def test_a_dir_of_other_files_is_not_replaced(tmp_path):
    out = tmp_path / "out"
    (out / "students").mkdir(parents=True)
    (out / "students" / "mine.txt").write_text("keep me")
    spec = write(tmp_path / "exam.yaml", SMALL_SPEC)
    roster = write(tmp_path / "roster.csv", ROSTER)
    with pytest.raises(ExamforgeError, match=r"holds students but no examforge manifest.json"):
        build(spec, roster, out)
    assert (out / "students" / "mine.txt").read_text() == "keep me"


def test_killed_build_is_cleaned_up_by_the_next_and_not_by_a_concurrent_one(two_builds, tmp_path):
    """A whole `examforge build`, killed at the swap, leaves its build directory behind; a build
    that finds DIR locked by a running build touches nothing; the next build removes it."""
    old, new, digest_a, _ = two_builds
    out = tmp_path / "out"
    shutil.copytree(old, out, symlinks=True)
    for run in (new.parent / "out" / ".examforge-cache").glob("*.*"):  # B's LaTeX runs: nothing to compile
        if run.suffix in (".pdf", ".efl", ".log"):
            shutil.copy(run, out / ".examforge-cache" / run.name)
    spec = write(tmp_path / "b.yaml", SMALL_SPEC.replace("seed: 42", "seed: 43"))
    roster = write(tmp_path / "roster.csv", ROSTER)
    args = ("cli", "build", str(spec), "--roster", str(roster), "--out", str(out), "--jobs", "2")
    log = tmp_path / "steps.json"
    # the swap is the 3rd change: unlink of a leftover temporary link, symlink, rename
    killed = run_killer(*args, kill_at=3, log=log)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert outputs_digest(out) == digest_a  # the old build, whole
    verify(out, jobs=1)
    left = sorted(p.name for p in (out / BUILDS_DIR).iterdir())
    assert len(left) == 2 and current_build(out) in left

    with OutputLock(out):  # a build running in DIR
        busy = run_killer(*args)
        assert busy.returncode == 1 and "another examforge build" in busy.stderr, busy.stderr
        assert "Traceback" not in busy.stderr
        assert sorted(p.name for p in (out / BUILDS_DIR).iterdir()) == left  # nothing removed

    again = run_killer(*args)  # stderr is a pipe: plain progress lines
    assert again.returncode == 0, again.stderr
    assert "examforge: compiling 1/2 LaTeX runs" in again.stderr and "examforge: published" in again.stderr
    assert [p.name for p in (out / BUILDS_DIR).iterdir()] == [current_build(out)]
    verify(out, jobs=1)
    quiet = run_killer(*args, "--quiet")
    assert quiet.returncode == 0 and quiet.stderr == "" and "is up to date" in quiet.stdout


# Starts a build (argv[2:]) below a subreaper, waits for its pdflatex (argv[1] == "pdflatex", stopped
# with SIGSTOP so it cannot finish on its own) or for its child processes ("children"), SIGKILLs the
# build and reports which of those processes are still alive 3 s later. As a subreaper it inherits
# them (init would, and would send a stopped orphan SIGHUP), so the test sees only what examforge did.
HARNESS = r"""
import ctypes, json, os, signal, subprocess, sys, time
from pathlib import Path

ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
mode, out, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
build = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def processes():
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            name = (entry / "comm").read_text().strip()
            cwd = os.readlink(entry / "cwd") if name == "pdflatex" else ""
        except (OSError, IndexError, ValueError):
            continue
        if fields[0] != "Z":
            found[int(entry.name)] = (int(fields[1]), name, cwd)
    return found

def targets():
    if mode == "pdflatex":
        return [pid for pid, (_, name, cwd) in processes().items() if name == "pdflatex" and cwd.startswith(out)]
    return [pid for pid, (parent, _, _) in processes().items() if parent == build.pid]

found, end = [], time.monotonic() + 90
try:
    while not found and time.monotonic() < end and build.poll() is None:
        found = targets()
        found = found if mode == "pdflatex" or len(found) >= 2 else []
        time.sleep(0.05)
    for pid in found if mode == "pdflatex" else []:
        os.kill(pid, signal.SIGSTOP)
finally:
    build.kill()
    build.wait()
end = time.monotonic() + 3
while time.monotonic() < end:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass
    if not set(found) & set(processes()):
        break
    time.sleep(0.05)
survivors = sorted(set(found) & set(processes()))
for pid in survivors:
    os.kill(pid, signal.SIGKILL)
time.sleep(0.2)
try:
    while os.waitpid(-1, os.WNOHANG)[0] > 0:
        pass
except ChildProcessError:
    pass
print(json.dumps({"found": found, "survivors": survivors}))
"""


def run_harness(mode: str, out: Path, *cmd: str) -> dict:
    done = subprocess.run([sys.executable, "-c", HARNESS, mode, str(out), *cmd], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=180)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_kill_9_of_the_build_kills_pdflatex(tmp_path):
    from .conftest import require_tex

    require_tex()
    spec = write(tmp_path / "exam.yaml", SMALL_SPEC)
    roster = write(tmp_path / "roster.csv", ROSTER)
    out = tmp_path / "out"
    report = run_harness("pdflatex", out, sys.executable, "-m", "examforge.cli", "build", str(spec),
                         "--roster", str(roster), "--out", str(out), "--quiet")
    assert report["found"], "pdflatex never started"
    assert report["survivors"] == [], f"pdflatex {report['survivors']} outlived the build"


KEEP_VERIFYING = r"""
import sys, time
import examforge.verify as v
def slow(*args):
    time.sleep(60)
v._check_student_args = slow
from examforge.cli import main
main(sys.argv[1:])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_kill_9_of_the_build_kills_its_verify_workers(two_builds, tmp_path):
    old, _, _, _ = two_builds
    out = tmp_path / "out"
    shutil.copytree(old, out, symlinks=True)
    (out / ".examforge-cache" / "verified.sha256").unlink()  # so verify runs (and its workers hang)
    (out / ".examforge-cache" / "build.json").unlink()
    spec = write(tmp_path / "exam.yaml", SMALL_SPEC)
    roster = write(tmp_path / "roster.csv", ROSTER)
    report = run_harness("children", out, sys.executable, "-c", KEEP_VERIFYING, "build", str(spec),
                         "--roster", str(roster), "--out", str(out), "--quiet", "--jobs", "2")
    assert len(report["found"]) >= 2, "verify's workers never started"
    assert report["survivors"] == [], f"workers {report['survivors']} outlived the build"
