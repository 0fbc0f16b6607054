"""The pipeline: spec -> draw -> solve -> layout -> render -> compile -> split -> verify -> publish.

Every student gets the same physical layout (examforge.layout): the same pages, with the same
boxes at the same places; only the content inside the boxes differs. Students are typeset in
chunks, many per pdflatex run (exam and key together), a few runs in parallel, and the PDFs
are cut per student afterwards. Compiled chunks are cached by content hash, so a rebuild with
unchanged inputs compiles nothing.

Publishing is atomic (see `publish`): a build writes its outputs into a new directory
`DIR/.examforge-builds/<name>/`, verifies them there, and then swaps one symlink,
`DIR/.examforge-current`, to it with a single rename. The visible entries (`DIR/students`,
`DIR/manifest.csv`, ...) are fixed symlinks through `.examforge-current`, so at every instant
DIR shows either the whole previous build or the whole new one, whenever the build is killed.
One build at a time writes to DIR (an flock on `DIR/.examforge-lock`); it removes what killed
builds left behind, and the processes it starts die with it."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from examforge import __version__, fairness, pools, registry
from examforge import layout as L
from examforge.calibration import (
    calibration_document,
    calibration_samples,
    fallback_heights,
    heights_from_measurements,
    parse_measurements,
)
from examforge.errors import ExamforgeError, InputError, LatexError
from examforge.leaks import Leak, find_leaks
from examforge.csvsafe import csv_text
from examforge.graders import ANSWER_FIELDS, answer_rows, question_parts, write_graders
from examforge.renderers.compile import (
    Compiled,
    compile_cached,
    overfull_lines,
    place_in_source,
    resume_runs,
    stop_runs,
)
from examforge.renderers.exam import (
    DrawnQuestion,
    Entry,
    geometry_context,
    render_batch,
    template_entry,
    user_texts,
)
from examforge.renderers.scripts import typeset_runs
from examforge.renderers.split import BatchPdf, PageSink, SideFile, parse_side, write_pages
from examforge.roster import MAX_ROSTER_BYTES, Student, load_roster
from examforge.safeinput import parse_yaml, read_input
from examforge.spec import MAX_SPEC_BYTES, ExamSpec, load_spec
from examforge.variant import draw_in_build

OUTPUTS = ("students", "keys", "print", "gradescope", "graders", "tex", "manifest.csv", "answers.csv", "manifest.json")
CACHE_DIR = ".examforge-cache"
BUILDS_DIR = ".examforge-builds"  # every build's outputs, in a directory of its own
CURRENT = ".examforge-current"  # the one symlink that names the published build
LOCK_FILE = ".examforge-lock"
TMP_PREFIX = ".examforge-tmp-"  # a symlink being made, renamed over its target next
MAX_CHUNK = 64  # students per pdflatex run at most; the split depends on the class size only, so
# the PDFs do not depend on --jobs. Small chunks start LaTeX sooner (while the rest of the class
# is still being drawn) and keep both cores busy to the end; each run costs ~0.5 s of preamble.
OVERFULL_LIMIT_PT = 5.0  # a line may stick out this far into the margin, no further
QUESTION_MARGIN_PT = 4.0  # Gradescope regions start this far above a question's header line

Progress = Callable[[str, int, int], None]


class LayoutError(ExamforgeError):
    """Some student's content does not fit the fixed layout."""


@dataclass
class StudentBuild:
    student: Student
    questions: list[DrawnQuestion]
    pages: dict[str, int] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    points: dict[str, dict[str, tuple[int, int, int]]] = field(default_factory=dict)
    leaks: list[Leak] = field(default_factory=list)  # one question showing another's answer


def draw_student(spec: ExamSpec, student: Student, *, spec_path: str = "spec",
                 members: dict[int, str] | None = None) -> list[DrawnQuestion]:
    """One student's questions; `members` says which question each pool slot asks them
    (examforge.pools.assign, made once for the class). Each slot asks its one kind of question
    for the whole class, and no question or free-response answer appears twice on one exam
    (examforge.fairness)."""
    if members is None:
        members = pools.assign(spec, [student.id], spec_path=spec_path)[0]
    drawn = []
    seen_questions: set[str] = set()
    seen_answers: set[str] = set()
    for slot, s_index, q in spec.slots():
        qtype = registry.get(members[slot])
        form = q.form_for(qtype.id)
        where = f"{spec_path}: sections[{s_index}] question slot {slot}"
        overrides = fairness.slot_overrides(q, qtype, spec.seed, slot)
        for attempt in range(fairness.MAX_REDRAWS):
            seed = fairness.redraw_seed(spec.seed, student.id, slot, attempt)
            variant = draw_in_build(qtype, seed, context=f"student draw of slot {slot} for {student.id}", form=form,
                                    params=q.params, overrides=overrides, ranges=q.ranges, where=where)
            if q.params is not None or not fairness.repeats(variant, seen_questions, seen_answers):
                break  # (fixed params: the instructor asked for exactly this)
        else:
            raise fairness.give_up(q, slot, student.id)
        seen_questions.add(fairness.signature(variant))
        text = fairness.answer_text(variant)
        if text is not None:
            seen_answers.add(text)
        drawn.append(DrawnQuestion(slot=slot, section=s_index, spec=q, variant=variant))
    return drawn


LEAK_LINES = 20  # warning lines about answer leaks at most; the manifest records every one


def report_leaks(builds: list[StudentBuild], warn: Callable[[str], None]) -> list[dict]:
    """A warning line per answer leak (examforge.leaks), and the records for the manifest."""
    records = [{"student": b.student.id, **leak.to_json()} for b in builds for leak in b.leaks]
    for r in records[:LEAK_LINES]:
        warn(f"examforge: warning: student {r['student']}: question {r['question']} shows the answer "
             f"of question {r['shows_answer_of']} ({r['text']})")
    if len(records) > LEAK_LINES:
        warn(f"examforge: warning: ... and {len(records) - LEAK_LINES} more answer leaks (manifest.json, answer_leaks)")
    return records


def exam_code(spec_path: Path | bytes) -> str:
    """A short code naming this exam (its spec, or the spec's bytes) in QR codes."""
    data = spec_path if isinstance(spec_path, bytes) else Path(spec_path).read_bytes()
    return hashlib.sha256(data).hexdigest()[:8]


def build(
    spec_path: str | Path,
    roster_path: str | Path,
    out_dir: str | Path,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    chunk_size: int = MAX_CHUNK,
    print_keys: bool = False,
    warn: Callable[[str], None] | None = None,
) -> dict:
    spec_path, roster_path, out_dir = Path(spec_path), Path(roster_path), Path(out_dir)
    progress = progress or (lambda *_: None)
    warn = warn or (lambda line: print(line, file=sys.stderr))
    spec_bytes = read_input(spec_path, what="spec", limit=MAX_SPEC_BYTES)  # each input is read once
    roster_bytes = read_input(roster_path, what="roster", limit=MAX_ROSTER_BYTES)
    check_out_dir(out_dir)
    inputs = _inputs_key(spec_path, spec_bytes, roster_bytes, print_keys=print_keys, chunk_size=chunk_size)
    parsed = None
    if not out_dir.exists():  # nothing there can be up to date: check the inputs before making DIR
        parsed = load_spec(spec_path, spec_bytes), load_roster(roster_path, roster_bytes)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"{out_dir}: cannot make the output directory: {err.strerror or err}") from None
    with OutputLock(out_dir):
        remove_leftovers(out_dir)
        check_replaceable(out_dir)
        previous = _up_to_date(out_dir, out_dir / CACHE_DIR, inputs)
        if previous is not None:
            progress("up to date", 1, 1)
            return previous
        spec, students = parsed or (load_spec(spec_path, spec_bytes), load_roster(roster_path, roster_bytes))
        return _build(spec, spec_path, spec_bytes, students, out_dir, inputs,
                      jobs=max(1, jobs or os.cpu_count() or 1), progress=progress, chunk_size=chunk_size,
                      print_keys=print_keys, warn=warn)


def _build(spec, spec_path, spec_bytes, students, out_dir, inputs, *, jobs, progress, chunk_size, print_keys, warn):
    """Make, verify and publish a build, holding DIR's lock."""
    code = exam_code(spec_bytes)
    cache_dir = out_dir / CACHE_DIR
    cache_existed = cache_dir.exists()
    staging = _new_build_dir(out_dir)
    work = staging / "work"
    ok = False
    splitter = None
    try:
        with _children_die_with_build():
            splitter = Splitter(staging, progress, print_keys)
            try:
                with ThreadPoolExecutor(max_workers=jobs) as pool:
                    try:
                        layout, tex_sources, results, builds, rows, graders = _compile(
                            spec, spec_path, students, code, pool, work, cache_dir, chunk_size, progress, splitter
                        )
                    except BaseException:  # a LaTeX error, a layout error, Ctrl-C: stop every run now
                        pool.shutdown(wait=False, cancel_futures=True)
                        stop_runs()
                        raise
            finally:
                resume_runs()
            _check_fit(spec, layout, results, tex_sources, builds)
            template_points = splitter.finish()
            for name, text in tex_sources.items():
                (staging / "tex").mkdir(exist_ok=True)
                (staging / "tex" / f"{name}.tex").write_text(text, encoding="utf-8")
            _write_gradescope(spec, layout, template_points, staging)
            _write_marks(layout, template_points, builds, code, staging)
            sheet = graders.result()  # the grader sheets, typeset beside the last LaTeX runs
            _write_csvs(spec, builds, staging, rows)
            manifest = _manifest(spec, spec_path, spec_bytes, layout, builds, code)
            manifest["answer_leaks"] = report_leaks(builds, warn)
            (staging / "manifest.json").write_text(manifest_json(manifest), encoding="utf-8")
            shutil.rmtree(work, ignore_errors=True)
            digest = _verify_unless_verified(staging, cache_dir, progress, jobs)
        publish(staging, out_dir)
        progress("published", 1, 1)
        (cache_dir / f"{BUILD_STEM}.json").write_text(json.dumps({"inputs": inputs, "outputs": digest}) + "\n")
        _prune_cache(cache_dir, keep={r.pdf.stem for r in results.values()} | {sheet, VERIFIED_STEM, BUILD_STEM})
        ok = True
        return manifest
    finally:
        if splitter is not None:
            splitter.close()
        if not ok:
            if current_build(out_dir) != staging.name:  # never the build DIR shows
                shutil.rmtree(staging, ignore_errors=True)
            if not cache_existed:
                shutil.rmtree(cache_dir, ignore_errors=True)
            try:
                (out_dir / BUILDS_DIR).rmdir()  # when it holds no build
            except OSError:
                pass


def check_out_dir(out_dir: Path) -> None:
    """--out is a directory examforge can write into, or a path where it can make one."""
    probe = out_dir
    try:
        while not probe.exists() and not probe.is_symlink() and probe.parent != probe:
            probe = probe.parent
        if not probe.is_dir():
            raise InputError(f"{out_dir}: cannot write the build there: {probe} is a file, not a directory")
    except OSError as err:
        raise InputError(f"{out_dir}: cannot write the build there: {err.strerror or err}") from None
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{out_dir}: cannot write the build there: {probe} is not writable")


# -- compile ---------------------------------------------------------------------------------------


def _compile(spec, spec_path, students, code, pool, work, cache_dir, chunk_size, progress, splitter):
    """Calibrate, plan the layout, draw and render each chunk, and compile the chunks in parallel
    while the next one is being drawn; each chunk is split as soon as it is compiled, while the
    others still compile. Returns the layout, the sources, the compiled runs, the students'
    builds, the rows of answers.csv and the grader sheets being written (examforge.graders)."""
    # Text in scripts pdflatex's fonts cannot print: one LuaLaTeX run for the whole build (none for
    # an all-Latin class), while calibration runs (examforge.renderers.scripts).
    texts = user_texts(spec, students, spec_path=str(spec_path), roster_path="roster")
    unicode = pool.submit(typeset_runs, texts, work / "unicode", cache_dir)
    samples = calibration_samples(spec, spec_path=str(spec_path))
    geometry = geometry_context(L.plan_layout(spec, fallback_heights(spec), flow=True))  # paper and margins
    tex_sources: dict[str, str] = {}
    calibration: Future | None = None
    if samples:
        tex_sources["calibration"] = calibration_document(spec, geometry, samples)
        calibration = pool.submit(compile_cached, tex_sources["calibration"], work, "calibration", cache_dir)

    chunks = split_class(students, chunk_size)
    members = pools.assign(spec, [s.id for s in students], spec_path=str(spec_path))
    builds: list[StudentBuild] = []
    futures: dict[str, Future] = {}
    layout = None
    drawn = 0
    for c_index, chunk in enumerate(chunks):
        chunk_builds = []
        for s in chunk:
            b = StudentBuild(s, draw_student(spec, s, spec_path=str(spec_path), members=members[drawn]))
            b.leaks = find_leaks([(dq.slot, dq.variant) for dq in b.questions])
            chunk_builds.append(b)
            drawn += 1
            progress("drawing", drawn, len(students))
        builds += chunk_builds
        if layout is None:
            heights = fallback_heights(spec)
            if calibration is not None:
                heights = heights_from_measurements(spec, parse_measurements(calibration.result().side))
            layout = L.plan_layout(spec, heights)
            runs = unicode.result()
            if runs.compiled is not None:
                tex_sources["unicode"] = runs.source
            template = template_entry(spec, chunk_builds[0].questions)
            tex_sources["template"] = render_batch(spec, layout, [template], runs)
            futures["template"] = pool.submit(compile_cached, tex_sources["template"], work, "template", cache_dir,
                                              files=runs.files)
        first = len(builds) - len(chunk_builds)
        entries = [Entry(first + i, b.student, b.questions, exam_code=code) for i, b in enumerate(chunk_builds)]
        name = f"batch-{c_index:03d}"
        tex_sources[name] = render_batch(spec, layout, entries, runs)
        futures[name] = pool.submit(compile_cached, tex_sources[name], work / name, name, cache_dir, files=runs.files)
    rows = answer_rows(spec, builds)  # while LaTeX runs
    graders = pool.submit(write_graders, spec, builds, work.parent, cache_dir)  # queued after the class's runs
    results: dict[str, Compiled] = {}
    if calibration is not None:
        results["calibration"] = calibration.result()
    if runs.compiled is not None:
        results["unicode"] = runs.compiled  # kept in the cache with the other runs
    done = 0
    for name, future in futures.items():
        try:
            results[name] = future.result()
        except LatexError:
            for other in [*futures.values(), graders]:
                other.cancel()
            raise
        if name.startswith("batch-"):
            done += 1
            progress("compiling", done, len(chunks))
        splitter.add(name, results[name], layout, builds)
    return layout, tex_sources, results, builds, rows, graders


FIRST_CHUNK = 16  # a small first run, so LaTeX starts while the rest of the class is drawn


def split_class(students: list, max_chunk: int) -> list[list]:
    """Chunks of at most `max_chunk` students: a small first one (LaTeX starts sooner) once the
    class has more than two chunks' worth, then balanced sizes; at least two chunks (two pdflatex
    runs in parallel) once there are two students. The split depends on the class size only."""
    n = len(students)
    head = []
    if n > 2 * max_chunk and max_chunk > FIRST_CHUNK:
        head, students = [students[:FIRST_CHUNK]], students[FIRST_CHUNK:]
        n -= FIRST_CHUNK
    count = max(min(2, n), -(-n // max_chunk))
    bounds = [round(i * n / count) for i in range(count + 1)]
    return head + [students[a:b] for a, b in zip(bounds, bounds[1:])]


def _check_fit(spec, layout, results, tex_sources, builds) -> None:
    """Fail, naming student, question and overflow, when any content does not fit its box."""
    by_index = {str(i): b.student.id for i, b in enumerate(builds)}
    numbers = {str(s.slot): s.number for s in layout.slots}
    problems, worst = [], {}
    for name, result in results.items():
        if name == "calibration":  # calibration draws belong to no student
            continue
        side = parse_side(result.side)
        for entry, kind, what, need, have in side.overflows:
            who = "the blank template" if name == "template" else f"student {by_index.get(entry, entry)}"
            if what.startswith("statement"):
                number = numbers[what.removeprefix("statement")]
                place = f"question {number} statement"
                worst[(number, "question_height")] = max(worst.get((number, "question_height"), 0), need)
            elif what.startswith("q"):
                number = int("".join(ch for ch in what[1:] if ch.isdigit()))
                place = f"question {number} answer box {what}" + (" (key)" if kind == "key" else "")
                worst[(number, "box_height")] = max(worst.get((number, "box_height"), 0), need)
            else:
                place = f"the {what} block of the cover/headings"
            problems.append(
                f"{who}: {place} needs {L.sp_cm(need):.2f}cm but the layout gives it {L.sp_cm(have):.2f}cm "
                f"(overflow {L.sp_cm(need - have):.2f}cm)"
            )
        source = tex_sources[name].splitlines()
        for width, line in overfull_lines(result.log, limit_pt=OVERFULL_LIMIT_PT):
            student, question = place_in_source(source, line)
            where = f"student {student}" if student and name != "template" else "the template"
            what = f"question {question[0] + 1} ({question[1]}, seed {question[2]})" if question else f"line {line}"
            problems.append(f"{where}: {what} runs {width:.1f}pt into the margin")
    if problems:
        hints = [
            f"  set {field}: {L.sp_cm(L.round_up_cm(need + (2 * L.pt_sp(L.BOX_RULE_PT) + 2 * L.pt_sp(L.BOX_PAD_PT) if field == 'box_height' else 0))):.2f}cm "
            f"(or more) on question {number}"
            for (number, field), need in sorted(worst.items())
        ]
        shown = problems[:25] + ([f"... and {len(problems) - 25} more"] if len(problems) > 25 else [])
        raise LayoutError(
            "content does not fit the fixed layout (nothing was reflowed):\n  " + "\n  ".join(shown)
            + ("\nto fix it:\n" + "\n".join(hints) if hints else "")
        )


# -- split -----------------------------------------------------------------------------------------


class Splitter:
    """Cuts each compiled run into per-student files as soon as it is done, and fills the print
    files (every student in roster order) as the runs come in, in roster order."""

    def __init__(self, staging: Path, progress: Progress, print_keys: bool = False):
        self.staging, self.progress = staging, progress
        for sub in ("students", "keys", "print", "gradescope"):
            (staging / sub).mkdir()
        self.print = {"exam": PageSink(), **({"key": PageSink()} if print_keys else {})}
        self.last_index = -1
        self.done = 0
        self.template_points: dict | None = None
        self.batches: list[BatchPdf] = []

    def add(self, name: str, result: Compiled, layout: L.Layout, builds: list[StudentBuild]) -> None:
        side = parse_side(result.side)
        if side.overflows:  # _check_fit reports them once every run is in
            return
        if name == "template":
            template = BatchPdf(result.pdf)
            write_pages([(template, side.pages["0", "template"])], self.staging / "gradescope" / "template.pdf")
            template.close()
            self.template_points = side.points["0", "template"]
            return
        _check_geometry(side, layout, name)
        batch = BatchPdf(result.pdf)
        self.batches.append(batch)
        indices = sorted({int(e) for e, _ in side.pages})  # entries carry their roster index
        if indices[0] <= self.last_index:
            raise AssertionError(f"{name}: runs must be split in roster order")
        self.last_index = indices[-1]
        for index in indices:
            b = builds[index]
            for kind, folder in (("exam", "students"), ("key", "keys")):
                pages = side.pages[str(index), kind]
                target = self.staging / folder / f"{b.student.id}.pdf"
                b.pages[kind] = write_pages([(batch, pages)], target)
                b.sha256[kind] = hashlib.sha256(target.read_bytes()).hexdigest()
                b.points[kind] = side.points[str(index), kind]
            self.done += 1
            self.progress("splitting", self.done, len(builds))
        for kind, sink in self.print.items():
            sink.add(batch, [p for index in indices for p in side.pages[str(index), kind]])

    def finish(self) -> dict:
        """Writes the print files; returns the template's positions."""
        for kind, sink in self.print.items():
            sink.save(self.staging / "print" / ("exams.pdf" if kind == "exam" else "keys.pdf"))
        self.print = {}
        self.close()
        return self.template_points

    def close(self) -> None:
        for batch in self.batches:
            batch.close()
        self.batches = []


def _check_geometry(side: SideFile, layout: L.Layout, name: str) -> None:
    want = (layout.text_w, layout.text_h, layout.paper_w, layout.paper_h)
    if side.geometry != want:
        raise LayoutError(f"{name}: LaTeX's page geometry {side.geometry} is not the planned {want}")


# -- outputs ---------------------------------------------------------------------------------------


def regions(layout: L.Layout, points: dict[str, tuple[int, int, int]]) -> dict[str, list[int]]:
    """Every region as [page, x1, y1, x2, y2] in sp (x1, y1 = top-left corner, x2, y2 =
    bottom-right; y from the bottom of the page, as LaTeX records it), from the recorded corners."""
    out = {}
    for name, _ in layout.boxes():
        (page, x1, y1), (_, x2, y2) = points[f"{name}:tl"], points[f"{name}:br"]
        out[name] = [page, x1, y1, x2, y2]
    for slot in layout.slots:
        (page, x1, y1), (_, _, y2) = points[f"q{slot.number}:top"], points[f"q{slot.number}:bottom"]
        out[f"q{slot.number}:statement"] = [page, x1, y1, x1 + layout.text_w, y2]
    return out


def _gradescope_rect(layout: L.Layout, region: list[int]) -> dict:
    """Gradescope's crop rectangle: page from 1, corners in percent of the page width and height
    (one decimal), origin top-left."""
    page, x1, y1, x2, y2 = region
    w, h = layout.paper_w, layout.paper_h
    return {
        "page_number": page,
        "x1": round(100.0 * x1 / w, 1),
        "y1": round(100.0 * (1 - y1 / h), 1),
        "x2": round(100.0 * x2 / w, 1),
        "y2": round(100.0 * (1 - y2 / h), 1),
    }


def outline(spec: ExamSpec, layout: L.Layout, template_points) -> dict:
    """The Gradescope outline: name and ID regions, and one region per question (its statement
    and answer box, since every student's numbers differ), with one child per sub-question."""
    reg = regions(layout, template_points)
    questions = []
    for slot in layout.slots:
        q = spec.slots()[slot.slot][2]
        page, x1, top, x2, bottom = reg[f"q{slot.number}:statement"]
        statement = [page, x1, top + L.pt_sp(QUESTION_MARGIN_PT), x2, bottom]  # a little air above the header
        last = reg[slot.boxes[-1].name]
        whole = [page, x1, statement[2], last[3], last[4]]
        item = {
            "title": f"Question {slot.number}",
            "weight": q.points,
            "crop_rect_list": [_gradescope_rect(layout, whole)],
        }
        if q.parts:
            item["children"] = [
                {
                    "title": f"Question {slot.number}({p.label})",
                    "weight": p.points,
                    "crop_rect_list": [_gradescope_rect(layout, statement), _gradescope_rect(layout, reg[b.name])],
                }
                for p, b in zip(q.parts, slot.boxes)
            ]
        questions.append(item)
    return {
        "assignment": {
            "identification_regions": {
                "name": _gradescope_rect(layout, reg["name"]),
                "sid": _gradescope_rect(layout, reg["sid"]),
            }
        },
        "question_data": questions,
    }


def _write_gradescope(spec, layout, template_points, staging: Path) -> None:
    (staging / "gradescope" / "outline.json").write_text(
        json.dumps(outline(spec, layout, template_points), indent=1) + "\n"
    )
    plan = layout.to_json()
    plan["regions_sp"] = regions(layout, template_points)
    plan["regions"] = {  # fractions of the page, origin top-left
        name: {"page": page, "box": [round(x1 / layout.paper_w, 5), round(1 - y1 / layout.paper_h, 5),
                                     round(x2 / layout.paper_w, 5), round(1 - y2 / layout.paper_h, 5)]}
        for name, (page, x1, y1, x2, y2) in plan["regions_sp"].items()
    }
    (staging / "gradescope" / "layout.json").write_text(json.dumps(plan, indent=1) + "\n")


def _write_marks(layout, template_points, builds, code: str, staging: Path) -> None:
    """gradescope/marks.json: every student's bubbles where LaTeX printed them, for `examforge scan`."""
    from examforge.marks import marks_document, marks_json

    doc = marks_document(layout, builds, code, regions(layout, template_points))
    (staging / "gradescope" / "marks.json").write_text(marks_json(doc), encoding="utf-8")


def _csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    path.write_text(csv_text(rows, fields), encoding="utf-8")


MANIFEST_FIELDS = ["student_id", "name", "email", "exam_seed", "pdf", "pages", "sha256",
                   "key_pdf", "key_pages", "key_sha256"]


def _write_csvs(spec: ExamSpec, builds: list[StudentBuild], staging: Path, rows: list[dict]) -> None:
    _csv(staging / "manifest.csv", [
        {"student_id": b.student.id, "name": b.student.name, "email": b.student.email, "exam_seed": spec.seed,
         "pdf": f"students/{b.student.id}.pdf", "pages": b.pages["exam"], "sha256": b.sha256["exam"],
         "key_pdf": f"keys/{b.student.id}.pdf", "key_pages": b.pages["key"], "key_sha256": b.sha256["key"]}
        for b in builds
    ], MANIFEST_FIELDS)
    _csv(staging / "answers.csv", rows, ANSWER_FIELDS)


def _manifest(spec: ExamSpec, spec_path: Path, spec_bytes: bytes, layout: L.Layout, builds: list[StudentBuild],
              code: str) -> dict:
    return {
        "examforge_version": __version__,
        "spec": spec_path.name,
        "spec_sha256": hashlib.sha256(spec_bytes).hexdigest(),
        "exam_seed": spec.seed,
        "exam_code": code,
        "title": spec.title,
        "pages": layout.n_pages,
        "students": [
            {
                "id": b.student.id,
                "name": b.student.name,
                "email": b.student.email,
                "exam_pdf": f"students/{b.student.id}.pdf",
                "key_pdf": f"keys/{b.student.id}.pdf",
                "pages": b.pages,
                "sha256": b.sha256,
                "regions": {kind: regions(layout, pts) for kind, pts in b.points.items()},
                "questions": [
                    {
                        "number": dq.slot + 1,
                        "slot": dq.slot,
                        "section": dq.section + 1,
                        "points": dq.spec.points,
                        **dq.variant.to_json(),
                        **({"parts": parts} if (parts := question_parts(dq)) else {}),
                    }
                    for dq in b.questions
                ],
            }
            for b in builds
        ],
    }


def manifest_json(manifest: dict) -> str:
    """The manifest with one student per line: readable, diffable, and written by json's C
    encoder (an indented dump of 500 students goes through the slow pure-Python one)."""
    head = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in manifest.items() if k != "students"]
    students = [f"  {json.dumps(s, ensure_ascii=False)}" for s in manifest["students"]]
    return "{\n" + ",\n".join(head + [' "students": [\n' + ",\n".join(students) + "\n ]"]) + "\n}\n"


VERIFIED_STEM = "verified"


def _outputs_digest(staging: Path) -> str:
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


def _verify_unless_verified(staging: Path, cache_dir: Path, progress: Progress, jobs: int) -> str:
    """Verify the staged outputs, unless these very bytes passed verification before (a rebuild
    with unchanged inputs): verify is a function of the files alone, so it would pass again.
    `examforge verify DIR` always checks everything."""
    from examforge.verify import verify

    digest = _outputs_digest(staging)
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
def _code_digest() -> str:
    """examforge's own code and templates (what the outputs are made by)."""
    root = Path(__file__).parent
    h = hashlib.sha256(__version__.encode())
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".j2", ".yaml") and p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _inputs_key(spec_path: Path, spec_bytes: bytes, roster_bytes: bytes, *, print_keys: bool,
                chunk_size: int) -> str:
    h = hashlib.sha256(_code_digest().encode())
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


def _up_to_date(out_dir: Path, cache_dir: Path, inputs: str) -> dict | None:
    """The manifest of the build in `out_dir` when it was made from these very inputs by this
    code and its outputs are still exactly as that build left them (verified then); else None."""
    record = cache_dir / f"{BUILD_STEM}.json"
    try:
        previous = json.loads(record.read_text())
        if previous.get("inputs") != inputs or _outputs_digest(out_dir) != previous.get("outputs"):
            return None
        return json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, AttributeError):
        return None


def _prune_cache(cache_dir: Path, *, keep: set[str]) -> None:
    """Keep only the compiled runs this build used (the cache never grows without bound)."""
    if not cache_dir.is_dir():
        return
    for path in cache_dir.iterdir():
        if path.name.split(".")[0] not in keep:
            path.unlink(missing_ok=True)


# -- publish ---------------------------------------------------------------------------------------
#
# DIR/.examforge-builds/<name>/      a build's outputs: students/, keys/, ..., manifest.json
# DIR/.examforge-current             symlink -> .examforge-builds/<name>   (the published build)
# DIR/students, DIR/manifest.csv...  symlinks -> .examforge-current/students, ... (never change)
#
# Publishing a new build is one rename of a new symlink over .examforge-current (rename(2) is
# atomic), so whoever opens DIR/students/s1.pdf gets the old build's file or the new build's,
# and a build killed at any instant leaves one of the two whole. The visible symlinks are made
# before the swap; in a DIR that holds no build yet they dangle until it, so DIR shows nothing
# rather than part of a build. Everything in .examforge-builds that .examforge-current does not
# name belongs to a build that was killed (the lock says no other build is running) and is
# removed by the next build.


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


def _new_build_dir(out_dir: Path) -> Path:
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
        _point(current_dir, f"{BUILDS_DIR}/{_new_build_dir(out_dir).name}")
    adopted = out_dir / BUILDS_DIR / current_build(out_dir)
    for name in real:
        if (adopted / name).exists() or (adopted / name).is_symlink():
            _remove(adopted / name)
        os.rename(out_dir / name, adopted / name)
        _point(out_dir / name, f"{CURRENT}/{name}")


# -- child processes -------------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1
_build_pid: int | None = None  # set while this process builds: the forks it makes die with it
_prctl = None


def _die_with_parent() -> None:
    """In a child forked during a build (verify's worker processes): the kernel kills it when
    the build's process dies, even by SIGKILL (Linux)."""
    if _build_pid is None or _prctl is None:
        return
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != _build_pid:  # the build died before the line above
        os._exit(1)


if sys.platform.startswith("linux"):
    os.register_at_fork(after_in_child=_die_with_parent)


@contextlib.contextmanager
def _children_die_with_build():
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
