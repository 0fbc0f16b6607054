"""Every type's templates through real pdflatex: one exam and one key document holding every
type in every form over several seeds (one LaTeX run each, not one per question)."""

from __future__ import annotations

import re

import pytest

from examforge import registry
from examforge.pdftext import pdf_text
from examforge.renderers.compile import run_pdflatex
from examforge.renderers.exam import DrawnQuestion, render_document
from examforge.text import normalize
from examforge.roster import Student
from examforge.spec import ExamSpec
from examforge.variant import draw

SEEDS = range(6)


@pytest.fixture(scope="module")
def everything():
    types = registry.all_types()
    questions, sections = [], []
    for s_index, qtype in enumerate(types):
        items = []
        for form in qtype.forms:
            for seed in SEEDS:
                items.append({"generator": qtype.id, "form": form, "points": 2})
        sections.append({"title": qtype.id, "questions": items})
    spec = ExamSpec.model_validate({"title": "All types", "seed": 0, "sections": sections})
    for slot, s_index, q in spec.slots():
        variant = draw(registry.get(q.generator), seed=slot % len(SEEDS) + 1000 * s_index, form=q.form)
        questions.append(DrawnQuestion(slot=slot, section=s_index, spec=q, variant=variant))
    return spec, questions


@pytest.mark.parametrize("key", [False, True], ids=["exam", "key"])
def test_every_type_compiles(tmp_path, tex, everything, key):
    spec, questions = everything
    tex_file = tmp_path / ("key.tex" if key else "exam.tex")
    tex_file.write_text(render_document(spec, Student("t1", "Test Student"), questions, key=key))
    pdf = run_pdflatex(tex_file)
    text = pdf_text(pdf)
    log = tex_file.with_suffix(".log").read_text(encoding="latin-1")
    overfull = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
    assert all(w < 5 for w in overfull), f"content runs {max(overfull)}pt into the margin"
    if key:
        flat = normalize(text)
        for dq in questions:
            for expected in dq.variant.qtype.key_texts(dq.variant.answer):
                assert normalize(expected) in flat, f"{dq.variant.qtype.id} seed {dq.variant.seed}: {expected}"
    else:
        assert "Worked solution" not in text and "Answer:" not in text
