"""Hostile inputs: each is refused quickly, within bounded memory, with a message naming the file,
the line, row or field, and the value; never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from examforge.csvsafe import spreadsheet_cell
from examforge.errors import InputError
from examforge.roster import MAX_ROWS, load_roster
from examforge.spec import load_spec

from .helpers import write

ROOT = Path(__file__).resolve().parents[1]
HEAD = "title: T\nseed: 1\n"
SECTION = "sections:\n  - title: A\n    questions:\n      - {generator: conv.output_shape, points: 2}\n"

ALIAS_BOMB = "".join(
    f"{name}: &{name} [{', '.join([prev] * 9)}]\n"
    for name, prev in zip("abcdefghi", ['"lol"'] + [f"*{c}" for c in "abcdefgh"])
)  # 9 levels of 9: 387,420,489 strings once expanded


def _message(path: Path, loader=load_spec) -> str:
    with pytest.raises(InputError) as err:
        loader(path)
    return str(err.value)


# -- the spec's YAML ----------------------------------------------------------------------------


MEASURE = r"""
import json, resource, sys, time
from pathlib import Path
from examforge.errors import InputError
if sys.argv[1] == "spec":
    from examforge.spec import load_spec as load
else:  # the YAML parser alone: little else in memory
    from examforge.safeinput import parse_yaml
    load = lambda path: parse_yaml(Path(path).read_text(encoding="utf-8"), path)

def peak_mb():
    # VmHWM: this process's peak resident memory. getrusage's ru_maxrss would also count the
    # memory of the parent (pytest) this process was forked from, which Linux carries over exec.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

before = peak_mb()
start, wall = time.process_time(), time.perf_counter()
try:
    load(sys.argv[2])
    message = None
except InputError as err:
    message = str(err)
seconds, wall = time.process_time() - start, time.perf_counter() - wall
print(json.dumps({"cpu_seconds": seconds, "wall_seconds": wall, "peak_mb": peak_mb(), "before_mb": before,
                  "message": message}))
"""


@pytest.mark.parametrize("what", ["yaml", "spec"])
def test_alias_bomb_is_refused_in_milliseconds_and_megabytes(tmp_path, what):
    path = write(tmp_path / "bomb.yaml", ALIAS_BOMB)
    assert len(path.read_bytes()) < 600
    done = subprocess.run([sys.executable, "-c", MEASURE, what, str(path)], capture_output=True, text=True,
                          cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["cpu_seconds"] < 1.0, result  # CPU time: other work on the machine does not count
    assert result["peak_mb"] - result["before_mb"] < 20, result  # what refusing the bomb cost
    assert result["peak_mb"] < 100, result  # the whole process, Python and its imports included
    message = result["message"]
    assert message and str(path) in message and "line " in message and "alias *" in message
    assert "larger than 50000 nodes" in message


def test_deep_nesting_is_refused(tmp_path):
    for text in ("[" * 100_000, "a:\n" + "".join(" " * i + "- \n" for i in range(1, 200)), "{a: " * 5000):
        message = _message(write(tmp_path / "deep.yaml", text))
        assert "nested more than 64 levels deep" in message and "line " in message, message


def test_huge_integer_is_refused(tmp_path):
    message = _message(write(tmp_path / "big.yaml", HEAD.replace("seed: 1", "seed: " + "9" * 5000) + SECTION))
    assert "line 2" in message and "an integer of 5000 digits" in message and "at most 50" in message
    assert len(message) < 300  # the value is cut to a readable length


def test_recursive_alias_is_refused(tmp_path):
    message = _message(write(tmp_path / "loop.yaml", HEAD + "sections: &s [*s]\n"))
    assert "alias *s refers to a collection that contains it" in message and "line 3" in message


@pytest.mark.parametrize("text,key,line,first", [
    (HEAD + "title: U\n" + SECTION, "title", 3, 1),
    (HEAD + "sections:\n  - title: A\n    questions:\n      - {generator: conv.output_shape, points: 2, points: 3}\n",
     "points", 6, 6),
])
def test_duplicate_keys_are_refused(tmp_path, text, key, line, first):
    path = write(tmp_path / "dup.yaml", text)
    message = _message(path)
    assert f"{path}: invalid YAML at line {line}" in message
    assert f"duplicate key '{key}' (first at line {first})" in message


def test_anchors_and_merge_keys_within_bounds_still_work(tmp_path):
    path = write(tmp_path / "ok.yaml", HEAD + (
        "sections:\n  - title: A\n    questions:\n"
        "      - &q {generator: conv.output_shape, points: 2}\n"
        "      - *q\n"
        "      - {<<: *q, form: mc}\n"
    ))
    questions = load_spec(path).sections[0].questions
    assert [(q.generator, q.form, q.points) for q in questions] == [
        ("conv.output_shape", None, 2), ("conv.output_shape", None, 2), ("conv.output_shape", "mc", 2)]


def test_spec_files_that_are_not_specs(tmp_path):
    assert "is a directory, not a spec file" in _message(tmp_path)
    assert "/dev/zero: is a device or a socket, not a spec file" in _message(Path("/dev/zero"))
    binary = tmp_path / "x.yaml"
    binary.write_bytes(b"title: \x00\x01\x02")
    assert "binary file" in _message(binary)
    latin = tmp_path / "l.yaml"
    latin.write_bytes(b"title: Caf\xe9\n")
    assert "must be UTF-8 text" in _message(latin)
    large = write(tmp_path / "large.yaml", HEAD + "# " + "x" * 1_000_001 + "\n" + SECTION)
    assert "larger than 1 MB" in _message(large)


# -- the roster -----------------------------------------------------------------------------------


SEPARATORS = ["\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85"]  # str.splitlines() breaks at them


@pytest.mark.parametrize("sep", SEPARATORS, ids=[f"U+{ord(c):04X}" for c in SEPARATORS])
def test_line_separators_in_a_name_are_refused_not_split(tmp_path, sep):
    path = tmp_path / "r.csv"
    path.write_text(f"id,name,email\ns001,Bob{sep}s999,a@x.edu\n", encoding="utf-8")
    message = _message(path, load_roster)
    assert f"{path}: row 2: field 'name'" in message and repr(f"Bob{sep}s999") in message
    assert f"U+{ord(sep):04X}" in message


@pytest.mark.parametrize("sep", SEPARATORS, ids=[f"U+{ord(c):04X}" for c in SEPARATORS])
def test_line_separators_do_not_end_rows(tmp_path, sep):
    """Only CSV line ends end a row: in a column examforge does not use, nothing else does."""
    path = tmp_path / "r.csv"
    path.write_text(f"id,name,email,note\ns001,Bob,a@x.edu,x{sep}s999\ns002,Al,b@x.edu,\n", encoding="utf-8")
    students = load_roster(path)
    assert [(s.id, s.name, s.email) for s in students] == [("s001", "Bob", "a@x.edu"), ("s002", "Al", "b@x.edu")]


@pytest.mark.parametrize("text,expected", [
    ('id,name\ns1,"Bob\ns2,Al\n', ["row 2", "a quoted field is never closed", "'s1,\"Bob\\ns2,Al\\n'"]),
    ('id,name\ns1,"Bob"x\n', ["row 2", "not valid CSV"]),
    ("id,name\ns1,Bo\x1bb\n", ["row 2", "field 'name'", "'Bo\\x1bb'", "U+001B"]),
    ("id,name\ns1,Bo\x9bb\n", ["row 2", "field 'name'", "'Bo\\x9bb'", "U+009B"]),
    ("id,name\ns1,Bo\tb\n", ["row 2", "field 'name'", "'Bo\\tb'", "U+0009"]),
    ('id,name\ns1,"Bo\r\nb"\n', ["row 2", "field 'name'", "'Bo\\r\\nb'"]),
    ("id,name,email\ns1,Ada,a@x.org\ns2,Bob,b\x7f@x.org\n", ["row 3", "field 'email'", "U+007F"]),
    ('id,name\ns1,Ada\n"s2\n",Bob\ns3,"Ca\nrl"\n', ["row 4 (line 5)", "field 'name'", "'Ca\\nrl'"]),
    ('id,name\ns1,"A\nB"\ns2,"C\nD"\n', ["row 2", "field 'name'"]),
    ("id,name\ns1," + "x" * 500 + "\n", ["row 2", "field 'name'", "longer than 120", "..."]),
])
def test_bad_rows_name_row_field_and_value(tmp_path, text, expected):
    path = tmp_path / "r.csv"
    path.write_bytes(text.encode("utf-8"))
    message = _message(path, load_roster)
    assert message.startswith(str(path))
    for fragment in expected:
        assert fragment in message, (fragment, message)
    assert len(message) < 400


def test_quoted_commas_tabs_around_values_and_line_ends_are_fine(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes(b'id,name,email\r\ns1,"Lovelace, Ada",\ta@x.org\t\r\n\r\ns2,"Bob ""B"" Bo",\rs3,Cy,c@x.org')
    students = load_roster(path)
    assert [(s.id, s.name, s.email) for s in students] == [
        ("s1", "Lovelace, Ada", "a@x.org"), ("s2", 'Bob "B" Bo', ""), ("s3", "Cy", "c@x.org")]


def test_roster_files_that_are_not_rosters(tmp_path):
    assert "is a directory, not a roster file" in _message(tmp_path, load_roster)
    assert "/dev/urandom: is a device or a socket, not a roster file" in _message(Path("/dev/urandom"), load_roster)
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"id,name\ns1,\x00\xff\xfe")
    assert "binary file" in _message(binary, load_roster)
    large = tmp_path / "large.csv"
    large.write_bytes(b"id,name\n" + b"s1,Ada" + b" " * 10_000_000 + b"\n")
    assert "larger than 10 MB" in _message(large, load_roster)
    many = tmp_path / "many.csv"
    many.write_text("id,name\n" + "".join(f"s{i},N\n" for i in range(MAX_ROWS + 1)))
    assert f"more than {MAX_ROWS} rows" in _message(many, load_roster)
    assert "roster file not found (a parent of it is a file" in _message(binary / "x.csv", load_roster)


def test_roster_from_a_pipe(tmp_path):
    """`--roster <(...)` gives a pipe: it is read once, within the same limits."""
    fifo = tmp_path / "roster.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_text("id,name\ns1,Ada\n"))
    writer.start()
    try:
        assert [s.id for s in load_roster(fifo)] == ["s1"]
    finally:
        writer.join(10)


# -- the command line --------------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "examforge.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)


def test_cli_refuses_bad_paths_with_exit_2_and_no_traceback(tmp_path):
    spec = write(tmp_path / "exam.yaml", HEAD + SECTION)
    roster = write(tmp_path / "roster.csv", "id,name\ns1,Ada\n")
    a_file = write(tmp_path / "file.txt", "x")
    cases = [
        (("build", str(spec), "--roster", str(tmp_path), "--out", str(tmp_path / "o")), "is a directory, not a roster"),
        (("build", str(spec), "--roster", "/dev/urandom", "--out", str(tmp_path / "o")), "is a device or a socket"),
        (("build", str(spec), "--roster", str(roster), "--out", str(a_file / "out")),
         f"{a_file / 'out'}: cannot write the build there: {a_file} is a file, not a directory"),
        (("build", str(spec), "--roster", str(roster), "--out", "/proc/examforge-out"), "/proc/examforge-out: cannot"),
        (("build", str(tmp_path / "none.yaml"), "--roster", str(roster), "--out", str(tmp_path / "o")),
         "none.yaml: spec file not found"),
    ]
    for args, expected in cases:
        done = _cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert expected in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
    assert not (tmp_path / "o").exists()  # nothing was made for inputs that were refused


# -- CSV outputs --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value,cell", [
    ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
    ("@SUM(1+1)", "'@SUM(1+1)"),
    ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"),
    ("-3", "-3"), ("+2.5", "+2.5"), ("-2.5e-3", "-2.5e-3"), ("-.5", "-.5"), (-7, "-7"),
    ("Ada Lovelace", "Ada Lovelace"), ("a=b", "a=b"), ("", ""), (None, ""), ("-", "'-"), ("-3 (x)", "'-3 (x)"),
])
def test_spreadsheet_cells(value, cell):
    assert spreadsheet_cell(value) == cell
