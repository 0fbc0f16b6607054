"""The key's worked solutions: a solution that fits on a page is never split across pages (the
kv-cache table of exam2's question 10 once was), through real pdflatex."""

from __future__ import annotations

from examforge import registry
from examforge.renderers.compile import run_pdflatex
from examforge.renderers.exam import DrawnQuestion, render_document
from examforge.renderers.split import parse_side
from examforge.roster import Student
from examforge.spec import ExamSpec
from examforge.variant import draw

# Solutions with tables (tabular, and tabbing, which TeX would break) and displays, of many heights,
# so that page ends fall inside some of them if nothing keeps them together.
TYPES = [("transformer.kv_cache", "tf"), ("tokenizer.repeated_tokens", "free"), ("transformer.activation_memory", "free"),
         ("info.entropy", "tf"), ("backprop.two_neuron", "mc"), ("transformer.arithmetic_visibility", "free")]


def test_a_worked_solution_shorter_than_a_page_stays_on_one_page(tmp_path, tex):
    items = [(TYPES[i % len(TYPES)], i) for i in range(24)]
    spec = ExamSpec.model_validate({"title": "Key", "seed": 0, "sections": [{"title": "S", "questions": [
        {"generator": g, "form": f, "points": 2} for (g, f), _ in items]}]})
    questions = [DrawnQuestion(slot, s_index, q, draw(registry.get(g), seed, form=f))
                 for (slot, s_index, q), ((g, f), seed) in zip(spec.slots(), items)]
    tex_file = tmp_path / "key.tex"
    tex_file.write_text(render_document(spec, Student("t1", "Test"), questions, key=True))
    run_pdflatex(tex_file)
    side = parse_side(tex_file.with_suffix(".efl").read_text())
    points = side.points["0", "key"]
    text_h = side.geometry[1]
    pages = set()
    for number in range(1, len(items) + 1):
        (top_page, _, top_y), (bottom_page, _, bottom_y) = points[f"sol{number}:top"], points[f"sol{number}:bottom"]
        pages.add(top_page)
        assert top_page == bottom_page, f"the solution of question {number} runs from page {top_page} to {bottom_page}"
        assert 0 < top_y - bottom_y < text_h
    assert len(pages) >= 5  # the solutions fill several pages: page ends had to be placed
