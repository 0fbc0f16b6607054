"""The pipeline: spec -> draw -> solve -> layout -> render -> compile -> split -> verify.

Every student gets the same physical layout (examforge.layout): the same pages, with the same
boxes at the same places; only the content inside the boxes differs. Students are typeset in
chunks, many per pdflatex run (exam and key together), a few runs in parallel, and the PDFs
are cut per student afterwards. Compiled chunks are cached by content hash, so a rebuild with
unchanged inputs compiles nothing. Outputs go to a staging directory inside --out and are moved
into place only when everything compiled and `verify` passed."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from examforge import __version__, registry
from examforge import layout as L
from examforge.calibration import (
    calibration_document,
    calibration_samples,
    fallback_heights,
    heights_from_measurements,
    parse_measurements,
)
from examforge.errors import ExamforgeError, LatexError
from examforge.leaks import Leak, find_leaks
from examforge.renderers.compile import Compiled, compile_cached, overfull_lines, place_in_source
from examforge.renderers.exam import (
    DrawnQuestion,
    Entry,
    geometry_context,
    render_batch,
    template_entry,
)
from examforge.renderers.split import BatchPdf, PageSink, SideFile, parse_side, write_pages
from examforge.renderers.text import latex_to_text
from examforge.roster import Student, load_roster
from examforge.seeding import question_seed
from examforge.spec import ExamSpec, load_spec
from examforge.variant import draw_in_build

OUTPUTS = ("students", "keys", "print", "gradescope", "tex", "manifest.csv", "answers.csv", "manifest.json")
CACHE_DIR = ".examforge-cache"
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


def draw_student(spec: ExamSpec, student: Student, *, spec_path: str = "spec") -> list[DrawnQuestion]:
    drawn = []
    for slot, s_index, q in spec.slots():
        qtype = registry.get(q.generator)
        seed = question_seed(spec.seed, student.id, slot)
        where = f"{spec_path}: sections[{s_index}] question slot {slot}"
        variant = draw_in_build(qtype, seed, context=f"student draw of slot {slot} for {student.id}", form=q.form,
                                params=q.params, overrides=q.overrides, ranges=q.ranges, where=where)
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


def exam_code(spec_path: Path) -> str:
    """A short code naming this exam (its spec) in QR codes."""
    return hashlib.sha256(spec_path.read_bytes()).hexdigest()[:8]


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
    spec_path, out_dir = Path(spec_path), Path(out_dir)
    progress = progress or (lambda *_: None)
    warn = warn or (lambda line: print(line, file=sys.stderr))
    cache_dir = out_dir / CACHE_DIR
    try:  # the inputs' bytes: an up-to-date build needs no parsing (they passed before)
        inputs = _inputs_key(spec_path, roster_path, print_keys=print_keys, chunk_size=chunk_size)
    except OSError:
        inputs = None  # load_spec/load_roster say what is wrong with the file
    previous = _up_to_date(out_dir, cache_dir, inputs) if inputs else None
    if previous is not None:
        progress("up to date", 1, 1)
        return previous
    spec = load_spec(spec_path)
    students = load_roster(roster_path)
    jobs = max(1, jobs or os.cpu_count() or 1)
    code = exam_code(spec_path)

    out_dir.mkdir(parents=True, exist_ok=True)
    cache_existed = cache_dir.exists()
    staging = Path(tempfile.mkdtemp(prefix=".examforge-staging-", dir=out_dir))
    work = staging / "work"
    ok = False
    splitter = None
    try:
        splitter = Splitter(staging, progress, print_keys)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            layout, tex_sources, results, builds, rows = _compile(
                spec, spec_path, students, code, pool, work, cache_dir, chunk_size, progress, splitter
            )
        _check_fit(spec, layout, results, tex_sources, builds)
        template_points = splitter.finish()
        for name, text in tex_sources.items():
            (staging / "tex").mkdir(exist_ok=True)
            (staging / "tex" / f"{name}.tex").write_text(text, encoding="utf-8")
        _write_gradescope(spec, layout, template_points, staging)
        _write_csvs(spec, builds, staging, rows)
        manifest = _manifest(spec, spec_path, layout, builds, code)
        manifest["answer_leaks"] = report_leaks(builds, warn)
        (staging / "manifest.json").write_text(manifest_json(manifest), encoding="utf-8")
        shutil.rmtree(work, ignore_errors=True)
        digest = _verify_unless_verified(staging, cache_dir, progress, jobs)
        _publish(staging, out_dir)
        (cache_dir / f"{BUILD_STEM}.json").write_text(json.dumps({"inputs": inputs, "outputs": digest}) + "\n")
        _prune_cache(cache_dir, keep={r.pdf.stem for r in results.values()} | {VERIFIED_STEM, BUILD_STEM})
        ok = True
        return manifest
    finally:
        if splitter is not None:
            splitter.close()
        shutil.rmtree(staging, ignore_errors=True)
        if not ok and not cache_existed:
            shutil.rmtree(cache_dir, ignore_errors=True)


# -- compile ---------------------------------------------------------------------------------------


def _compile(spec, spec_path, students, code, pool, work, cache_dir, chunk_size, progress, splitter):
    """Calibrate, plan the layout, draw and render each chunk, and compile the chunks in parallel
    while the next one is being drawn; each chunk is split as soon as it is compiled, while the
    others still compile. Returns the layout, the sources, the compiled runs, the students'
    builds and the rows of answers.csv."""
    samples = calibration_samples(spec, spec_path=str(spec_path))
    geometry = geometry_context(L.plan_layout(spec, fallback_heights(spec), flow=True))  # paper and margins
    tex_sources: dict[str, str] = {}
    calibration: Future | None = None
    if samples:
        tex_sources["calibration"] = calibration_document(spec, geometry, samples)
        calibration = pool.submit(compile_cached, tex_sources["calibration"], work, "calibration", cache_dir)

    chunks = split_class(students, chunk_size)
    builds: list[StudentBuild] = []
    futures: dict[str, Future] = {}
    layout = None
    drawn = 0
    for c_index, chunk in enumerate(chunks):
        chunk_builds = []
        for s in chunk:
            b = StudentBuild(s, draw_student(spec, s, spec_path=str(spec_path)))
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
            template = template_entry(spec, chunk_builds[0].questions)
            tex_sources["template"] = render_batch(spec, layout, [template])
            futures["template"] = pool.submit(compile_cached, tex_sources["template"], work, "template", cache_dir)
        first = len(builds) - len(chunk_builds)
        entries = [Entry(first + i, b.student, b.questions, exam_code=code) for i, b in enumerate(chunk_builds)]
        name = f"batch-{c_index:03d}"
        tex_sources[name] = render_batch(spec, layout, entries)
        futures[name] = pool.submit(compile_cached, tex_sources[name], work / name, name, cache_dir)
    rows = answer_rows(spec, builds)  # while LaTeX runs
    results: dict[str, Compiled] = {}
    if calibration is not None:
        results["calibration"] = calibration.result()
    done = 0
    for name, future in futures.items():
        try:
            results[name] = future.result()
        except LatexError:
            for other in futures.values():
                other.cancel()
            raise
        if name.startswith("batch-"):
            done += 1
            progress("compiling", done, len(chunks))
        splitter.add(name, results[name], layout, builds)
    return layout, tex_sources, results, builds, rows


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


def answer_rows(spec: ExamSpec, builds: list[StudentBuild]) -> list[dict]:
    rows = []
    for b in builds:
        for dq in b.questions:
            v = dq.variant
            choice = ""
            if v.form == "tf":
                choice = "True" if v.claim_is_true else "False"
            elif v.form == "mc":
                choice = v.correct_letter or ""
            rows.append({
                "student_id": b.student.id,
                "question": dq.slot + 1,
                "answer": latex_to_text(v.qtype.answer_latex(v.answer)),
                "points": dq.spec.points_label,
                "form": v.form,
                "choice": choice,
                "generator": v.qtype.id,
                "seed": v.seed,
                "key_texts": json.dumps(v.qtype.key_texts(v.answer), ensure_ascii=False),
            })
    return rows


def _csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")


MANIFEST_FIELDS = ["student_id", "name", "email", "exam_seed", "pdf", "pages", "sha256",
                   "key_pdf", "key_pages", "key_sha256"]
ANSWER_FIELDS = ["student_id", "question", "answer", "points", "form", "choice", "generator", "seed", "key_texts"]


def _write_csvs(spec: ExamSpec, builds: list[StudentBuild], staging: Path, rows: list[dict]) -> None:
    _csv(staging / "manifest.csv", [
        {"student_id": b.student.id, "name": b.student.name, "email": b.student.email, "exam_seed": spec.seed,
         "pdf": f"students/{b.student.id}.pdf", "pages": b.pages["exam"], "sha256": b.sha256["exam"],
         "key_pdf": f"keys/{b.student.id}.pdf", "key_pages": b.pages["key"], "key_sha256": b.sha256["key"]}
        for b in builds
    ], MANIFEST_FIELDS)
    _csv(staging / "answers.csv", rows, ANSWER_FIELDS)


def _manifest(spec: ExamSpec, spec_path: Path, layout: L.Layout, builds: list[StudentBuild], code: str) -> dict:
    return {
        "examforge_version": __version__,
        "spec": spec_path.name,
        "spec_sha256": hashlib.sha256(spec_path.read_bytes()).hexdigest(),
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
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".j2") and p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _inputs_key(spec_path: Path, roster_path: str | Path, *, print_keys: bool, chunk_size: int) -> str:
    h = hashlib.sha256(_code_digest().encode())
    for path in (spec_path, Path(roster_path)):
        h.update(hashlib.sha256(path.read_bytes()).digest())
    h.update(f"print_keys={print_keys} chunk_size={chunk_size}".encode())
    return h.hexdigest()


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


def _publish(staging: Path, out_dir: Path) -> None:
    """Replace the previous outputs with the staged ones; the manifest goes last."""
    for name in OUTPUTS:
        old = out_dir / name
        if old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()
    for name in OUTPUTS:
        if (staging / name).exists():
            os.replace(staging / name, out_dir / name)


def _prune_cache(cache_dir: Path, *, keep: set[str]) -> None:
    """Keep only the compiled runs this build used (the cache never grows without bound)."""
    if not cache_dir.is_dir():
        return
    for path in cache_dir.iterdir():
        if path.name.split(".")[0] not in keep:
            path.unlink(missing_ok=True)
