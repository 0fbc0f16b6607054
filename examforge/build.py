"""The pipeline: spec -> draw -> solve -> layout -> render -> compile -> split -> verify -> publish.

Every student gets the same physical layout (examforge.layout): the same pages, with the same
boxes at the same places; only the content inside the boxes differs. Students are typeset in
chunks, many per pdflatex run (exam and key together), a few runs in parallel, and the PDFs
are cut per student afterwards. Compiled chunks are cached by content hash, so a rebuild with
unchanged inputs compiles nothing.

The pipeline's outputs and mechanics live beside it: examforge.publish (the atomic swap of a
verified build into DIR, one build per DIR, children dying with the build), examforge.gradescope
(outline, layout and bubble positions), examforge.outputs (manifest.csv, answers.csv,
manifest.json) and examforge.buildcache (up-to-date inputs, verified outputs, the run cache)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from examforge import fairness, pools, registry
from examforge import layout as L
from examforge.renderers.measure import calibration_document
from examforge.calibration import (
    calibration_samples,
    fallback_heights,
    heights_from_measurements,
    parse_measurements,
)
from examforge.errors import ExamforgeError, InputError, LatexError
from examforge.leaks import find_leaks
from examforge.graders import answer_rows, write_graders
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
from examforge.safeinput import read_input
from examforge.spec import MAX_SPEC_BYTES, ExamSpec, load_spec
from examforge.variant import draw_in_build
from examforge.buildcache import (
    BUILD_STEM,
    CACHE_DIR,
    VERIFIED_STEM,
    inputs_key,
    prune_cache,
    up_to_date,
    verify_unless_verified,
)
from examforge.gradescope import write_gradescope, write_marks
from examforge.outputs import StudentBuild, build_manifest, manifest_json, report_leaks, write_csvs
from examforge.publish import (
    BUILDS_DIR,
    OutputLock,
    check_replaceable,
    children_die_with_build,
    current_build,
    new_build_dir,
    publish,
    remove_leftovers,
)

MAX_CHUNK = 64  # students per pdflatex run at most; the split depends on the class size only, so
# the PDFs do not depend on --jobs. Small chunks start LaTeX sooner (while the rest of the class
# is still being drawn) and keep both cores busy to the end; each run costs ~0.5 s of preamble.
OVERFULL_LIMIT_PT = 5.0  # a line may stick out this far into the margin, no further

Progress = Callable[[str, int, int], None]


class LayoutError(ExamforgeError):
    """Some student's content does not fit the fixed layout."""




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
    inputs = inputs_key(spec_path, spec_bytes, roster_bytes, print_keys=print_keys, chunk_size=chunk_size)
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
        previous = up_to_date(out_dir, out_dir / CACHE_DIR, inputs)
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
    staging = new_build_dir(out_dir)
    work = staging / "work"
    ok = False
    splitter = None
    try:
        with children_die_with_build():
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
            write_gradescope(spec, layout, template_points, staging)
            write_marks(layout, template_points, builds, code, staging)
            sheet = graders.result()  # the grader sheets, typeset beside the last LaTeX runs
            write_csvs(spec, builds, staging, rows)
            manifest = build_manifest(spec, spec_path, spec_bytes, layout, builds, code)
            manifest["answer_leaks"] = report_leaks(builds, warn)
            (staging / "manifest.json").write_text(manifest_json(manifest), encoding="utf-8")
            shutil.rmtree(work, ignore_errors=True)
            digest = verify_unless_verified(staging, cache_dir, progress, jobs)
        publish(staging, out_dir)
        progress("published", 1, 1)
        (cache_dir / f"{BUILD_STEM}.json").write_text(json.dumps({"inputs": inputs, "outputs": digest}) + "\n")
        prune_cache(cache_dir, keep={r.pdf.stem for r in results.values()} | {sheet, VERIFIED_STEM, BUILD_STEM})
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
