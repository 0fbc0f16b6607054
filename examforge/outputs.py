"""The tables a build writes: manifest.csv, answers.csv (spreadsheet-safe cells) and
manifest.json (per student and question: seed, params, answer, recorded positions), and the
answer-leak warnings."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from dataclasses import dataclass, field
from typing import Callable

from examforge import __version__
from examforge import layout as L
from examforge.csvsafe import csv_text
from examforge.graders import ANSWER_FIELDS, question_parts
from examforge.gradescope import regions
from examforge.leaks import Leak
from examforge.renderers.exam import DrawnQuestion
from examforge.roster import Student
from examforge.spec import ExamSpec



@dataclass
class StudentBuild:
    student: Student
    questions: list[DrawnQuestion]
    pages: dict[str, int] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    points: dict[str, dict[str, tuple[int, int, int]]] = field(default_factory=dict)
    leaks: list[Leak] = field(default_factory=list)  # one question showing another's answer


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


def _csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    path.write_text(csv_text(rows, fields), encoding="utf-8")


MANIFEST_FIELDS = ["student_id", "name", "email", "exam_seed", "pdf", "pages", "sha256",
                   "key_pdf", "key_pages", "key_sha256"]


def write_csvs(spec: ExamSpec, builds: list[StudentBuild], staging: Path, rows: list[dict]) -> None:
    _csv(staging / "manifest.csv", [
        {"student_id": b.student.id, "name": b.student.name, "email": b.student.email, "exam_seed": spec.seed,
         "pdf": f"students/{b.student.id}.pdf", "pages": b.pages["exam"], "sha256": b.sha256["exam"],
         "key_pdf": f"keys/{b.student.id}.pdf", "key_pages": b.pages["key"], "key_sha256": b.sha256["key"]}
        for b in builds
    ], MANIFEST_FIELDS)
    _csv(staging / "answers.csv", rows, ANSWER_FIELDS)


def build_manifest(spec: ExamSpec, spec_path: Path, spec_bytes: bytes, layout: L.Layout, builds: list[StudentBuild],
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
