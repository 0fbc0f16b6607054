"""The pipeline: spec -> draw -> solve -> render -> compile -> verify, for a whole roster.

Outputs go to a staging directory inside --out and are moved into place only when every PDF
compiled and passed verification, so a failed build never leaves outputs that look complete."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from examforge import __version__, registry
from examforge.errors import ExamforgeError, VerifyError
from examforge.pdftext import page_count, pdf_text
from examforge.renderers.compile import run_pdflatex
from examforge.renderers.exam import DrawnQuestion, render_document
from examforge.renderers.text import normalize
from examforge.roster import Student, load_roster
from examforge.seeding import question_seed, variant_rngs
from examforge.spec import ExamSpec, load_spec
from examforge.variant import draw, make_variant, validate_params

OUTPUTS = ("students", "keys", "tex", "manifest.json")
KEY_MARKERS = ("SOLUTION KEY", "Worked solution")


@dataclass
class StudentBuild:
    student: Student
    questions: list[DrawnQuestion]
    exam_tex: str = ""
    key_tex: str = ""
    pages: dict[str, int] = field(default_factory=dict)


def draw_student(spec: ExamSpec, student: Student, *, spec_path: str = "spec") -> list[DrawnQuestion]:
    drawn = []
    for slot, s_index, q in spec.slots():
        qtype = registry.get(q.generator)
        seed = question_seed(spec.seed, student.id, slot)
        where = f"{spec_path}: sections[{s_index}] question slot {slot}"
        if q.params is not None:
            params = validate_params(qtype, q.params, where=spec_path)
            variant = make_variant(qtype, params, form=q.form, seed=seed, layout_rng=variant_rngs(seed)[1])
        else:
            variant = draw(qtype, seed, form=q.form, overrides=q.overrides, ranges=q.ranges, where=where)
        drawn.append(DrawnQuestion(slot=slot, section=s_index, spec=q, variant=variant))
    return drawn


def build(
    spec_path: str | Path,
    roster_path: str | Path,
    out_dir: str | Path,
    *,
    jobs: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    spec_path, out_dir = Path(spec_path), Path(out_dir)
    spec = load_spec(spec_path)
    students = load_roster(roster_path)
    builds = [StudentBuild(s, draw_student(spec, s, spec_path=str(spec_path))) for s in students]
    for b in builds:
        b.exam_tex = render_document(spec, b.student, b.questions, key=False)
        b.key_tex = render_document(spec, b.student, b.questions, key=True)

    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".examforge-staging-", dir=out_dir))
    try:
        _compile_all(builds, staging, jobs=jobs or os.cpu_count() or 1, progress=progress)
        verify_builds(builds, staging)
        manifest = _manifest(spec, spec_path, builds)
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        _publish(staging, out_dir)
        return manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _compile_all(builds: list[StudentBuild], staging: Path, *, jobs: int, progress) -> None:
    tex_dir = staging / "tex"
    for sub in ("tex", "students", "keys"):
        (staging / sub).mkdir()
    tasks = []
    for b in builds:
        for kind, text in (("exam", b.exam_tex), ("key", b.key_tex)):
            path = tex_dir / f"{b.student.id}.{kind}.tex"
            path.write_text(text, encoding="utf-8")
            tasks.append((b, kind, path))
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(run_pdflatex, path): (b, kind, path) for b, kind, path in tasks}
        for future in as_completed(futures):
            b, kind, path = futures[future]
            try:
                pdf = future.result()
            except ExamforgeError as err:
                for other in futures:
                    other.cancel()
                raise type(err)(f"student {b.student.id} ({kind}): {err}") from None
            target = staging / ("students" if kind == "exam" else "keys") / f"{b.student.id}.pdf"
            shutil.move(str(pdf), target)
            b.pages[kind] = page_count(target)
            done += 1
            if progress:
                progress(f"{b.student.id} {kind}", done, len(tasks))
    for path in tex_dir.iterdir():  # keep the .tex sources, drop LaTeX's by-products
        if path.suffix != ".tex":
            path.unlink()


def verify_builds(builds: list[StudentBuild], root: Path) -> None:
    """Each exam names its student on page 1 and carries no solution text; each key has the answers."""
    problems = []
    for b in builds:
        exam = root / "students" / f"{b.student.id}.pdf"
        key = root / "keys" / f"{b.student.id}.pdf"
        first_page = normalize(pdf_text(exam, first=1, last=1))
        if normalize(b.student.name) not in first_page or normalize(b.student.id) not in first_page:
            problems.append(f"{exam.name}: page 1 does not show {b.student.name!r} ({b.student.id})")
        exam_text = pdf_text(exam)
        for marker in KEY_MARKERS:
            if marker in exam_text:
                problems.append(f"students/{exam.name}: contains solution text {marker!r}")
        key_text = normalize(pdf_text(key))
        for dq in b.questions:
            for expected in dq.variant.qtype.key_texts(dq.variant.answer):
                if normalize(expected) not in key_text:
                    problems.append(
                        f"keys/{key.name}: answer {expected!r} of question {dq.slot + 1} "
                        f"({dq.variant.qtype.id}, seed {dq.variant.seed}) not found"
                    )
    if problems:
        raise VerifyError("verification failed:\n  " + "\n  ".join(problems))


def _manifest(spec: ExamSpec, spec_path: Path, builds: list[StudentBuild]) -> dict:
    return {
        "examforge_version": __version__,
        "spec": spec_path.name,
        "spec_sha256": hashlib.sha256(spec_path.read_bytes()).hexdigest(),
        "exam_seed": spec.seed,
        "title": spec.title,
        "students": [
            {
                "id": b.student.id,
                "name": b.student.name,
                "email": b.student.email,
                "exam_pdf": f"students/{b.student.id}.pdf",
                "key_pdf": f"keys/{b.student.id}.pdf",
                "pages": b.pages,
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


def _publish(staging: Path, out_dir: Path) -> None:
    """Replace the previous outputs with the staged ones; the manifest goes last."""
    for name in OUTPUTS:
        old = out_dir / name
        if old.is_dir():
            shutil.rmtree(old)
        elif old.exists():
            old.unlink()
    for name in ("tex", "students", "keys", "manifest.json"):
        os.replace(staging / name, out_dir / name)
