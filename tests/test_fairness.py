"""Equal exams (examforge.fairness): one kind of question per slot for the whole class, and no
question or free-response answer twice on one student's exam."""

from __future__ import annotations

from pathlib import Path

import pytest

from examforge import fairness, pools, registry
from examforge.build import draw_student
from examforge.errors import InputError
from examforge.roster import load_roster
from examforge.spec import ExamSpec, load_spec

ROOT = Path(__file__).resolve().parent.parent


def _class(spec_path: Path):
    spec = load_spec(spec_path)
    students = load_roster(ROOT / "examples" / "roster.csv")
    plan = pools.assign(spec, [s.id for s in students])
    return spec, [draw_student(spec, s, members=plan[i]) for i, s in enumerate(students)]


@pytest.mark.parametrize("name", ["exam2.yaml", "midterm.yaml"])
def test_every_slot_asks_one_kind_and_no_student_gets_a_question_or_answer_twice(name):
    spec, exams = _class(ROOT / "examples" / name)
    for slot, _, q in spec.slots():
        kinds = set()
        for exam in exams:
            v = exam[slot].variant
            if getattr(v.qtype, "kind_field", None):
                kinds.add(getattr(v.params, v.qtype.kind_field))
        assert len(kinds) <= 1, f"{name} question {slot + 1}: kinds {kinds}"
    for exam in exams:
        signatures = [fairness.signature(dq.variant) for dq in exam]
        assert len(set(signatures)) == len(signatures)
        answers = [a for a in (fairness.answer_text(dq.variant) for dq in exam) if a is not None]
        assert len(set(answers)) == len(answers), answers


def test_exam2_pins_the_attention_then_the_mlp_block():
    spec, exams = _class(ROOT / "examples" / "exam2.yaml")
    memory = [slot for slot, _, q in spec.slots() if q.generator == "transformer.activation_memory"]
    assert [exams[0][s].variant.params.block for s in memory] == ["attention", "mlp"]
    assert all(e[memory[0]].variant.params.block == "attention" for e in exams)


def _spec(question: dict) -> ExamSpec:
    return ExamSpec.model_validate({"title": "T", "seed": 3, "sections": [{"title": "S", "questions": [question]}]})


def test_a_slot_without_a_pinned_kind_still_gives_everyone_the_same_kind():
    spec = _spec({"generator": "prob.moments", "points": 2})
    students = [type("S", (), {"id": f"s{i}", "name": "x", "email": ""})() for i in range(40)]
    kinds = {draw_student(spec, s)[0].variant.params.distribution for s in students}
    assert len(kinds) == 1
    spec_any = _spec({"generator": "prob.moments", "points": 2, "kind": "any"})
    kinds_any = {draw_student(spec_any, s)[0].variant.params.distribution for s in students}
    assert len(kinds_any) > 1  # "any" lets it vary


def test_an_unknown_kind_names_the_type_and_its_kinds():
    with pytest.raises(Exception) as err:
        _spec({"generator": "transformer.activation_memory", "points": 2, "kind": "conv"})
    assert "attention, mlp" in str(err.value)


def _six(n: int, max_factor: int) -> ExamSpec:
    q = {"generator": "transformer.activation_memory", "kind": "attention",
         "ranges": {"min_factor": 2, "max_factor": max_factor}, "points": 2}
    return ExamSpec.model_validate({"title": "T", "seed": 1, "sections": [{"title": "S", "questions": [q] * n}]})


def test_repeated_answers_are_drawn_again_and_an_impossible_slot_is_refused():
    student = type("S", (), {"id": "s1", "name": "x", "email": ""})()
    for sid in range(20):  # three slots, three possible answers (factor 2, 3 or 4): all must differ
        student.id = f"s{sid}"
        exam = draw_student(_six(3, 4), student)
        answers = [fairness.answer_text(dq.variant) for dq in exam]
        assert len(set(answers)) == 3, answers
    with pytest.raises(Exception, match="question 2 .*repeats another question or answer"):
        draw_student(_six(2, 2), student)  # factor 2 only: one possible answer for two slots
