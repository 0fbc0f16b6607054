"""Tight pages: the planned layout of each example, from a real calibration run, leaves no page
more than half empty except the last one (or one a new_page ends); exam2 fits 8 pages."""

from __future__ import annotations

from pathlib import Path

import pytest

from examforge import layout as L
from examforge.renderers.measure import calibration_document
from examforge.calibration import calibration_samples, fallback_heights, heights_from_measurements, parse_measurements
from examforge.renderers.compile import run_pdflatex
from examforge.renderers.exam import geometry_context
from examforge.spec import ExamSpec, load_spec

ROOT = Path(__file__).resolve().parents[1]


def _planned(spec: ExamSpec, work: Path) -> L.Layout:
    geometry = geometry_context(L.Layout(paper=spec.layout.paper, **L.geometry(spec.layout.paper)))
    tex = work / "calibration.tex"
    tex.write_text(calibration_document(spec, geometry, calibration_samples(spec)))
    run_pdflatex(tex, rerun=False)
    return L.plan_layout(spec, heights_from_measurements(spec, parse_measurements(tex.with_suffix(".efl").read_text())))


@pytest.mark.parametrize("name, most_pages", [("exam2", 8), ("midterm", 6)])
def test_every_page_but_the_last_is_at_least_half_full(tmp_path, tex, name, most_pages):
    spec = load_spec(ROOT / "examples" / f"{name}.yaml")
    layout = _planned(spec, tmp_path)
    fill = layout.fill()
    print(name, layout.n_pages, "pages; question pages filled", [f"{f:.0%}" for f in fill])
    assert all(0 < f <= 1 for f in fill)
    assert layout.underfilled() == [] and all(f >= 0.5 for f in fill[:-1]), fill
    assert layout.n_pages <= most_pages  # exam2 had 12 pages, then 14 with more questions
    assert layout.paper == "letter"


def _q(height_cm: float, **extra) -> dict:
    return {"generator": "conv.output_shape", "points": 2, "question_height": f"{height_cm}cm",
            "box_height": "1cm", **extra}


def test_fill_counts_every_page_and_spares_one_a_new_page_ends():
    spec = ExamSpec.model_validate({"title": "T", "seed": 1, "sections": [
        {"title": "A", "questions": [_q(3), _q(3)]},
        {"title": "B", "new_page": True, "questions": [_q(15), _q(15)]},
    ]})
    layout = L.plan_layout(spec, fallback_heights(spec))
    fill = layout.fill()
    assert len(fill) == 3 and fill[0] < 0.5 and fill[1] > 0.5  # A alone, then one B question per page
    assert layout.page_breaks == [True, False, False]  # per page: did a new_page end it
    assert layout.underfilled() == []  # page 2 is short because B asked for a new page
    no_break = ExamSpec.model_validate({"title": "T", "seed": 1, "sections": [
        {"title": "A", "questions": [_q(3), _q(3)]}, {"title": "B", "questions": [_q(15), _q(15)]}]})
    assert L.plan_layout(no_break, fallback_heights(no_break)).underfilled() == [2]  # under half full, nothing asked
