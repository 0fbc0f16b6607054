"""A draw that fails during a build names the phase (calibration or student), the slot, the
student, the type, the form and the seed, and how to reproduce it; bad input keeps its own
message naming the spec's field."""

from __future__ import annotations

import pytest

from examforge import registry
from examforge.build import draw_student
from examforge.calibration import calibration_samples
from examforge.errors import GenerationError, InputError
from examforge.roster import Student
from examforge.seeding import question_seed
from examforge.spec import ExamSpec

SPEC = {
    "title": "T", "seed": 11,
    "sections": [{"title": "S", "questions": [
        {"generator": "info.entropy", "form": "free", "points": 1},
        {"generator": "conv.output_shape", "form": "mc", "points": 1},
    ]}],
}


@pytest.fixture
def starved(monkeypatch):
    """conv.output_shape with no mistakes at all: every multiple-choice draw runs short."""
    cls = type(registry.get("conv.output_shape"))
    monkeypatch.setattr(cls, "mistakes", lambda self, p: {})
    monkeypatch.setattr(cls, "fallback_mistakes", lambda self, p, a: {})
    monkeypatch.setattr(cls, "generic_mistakes", lambda self, p, a: iter(()))


def test_calibration_draw_names_its_draw_slot_type_form_and_seed(starved):
    spec = ExamSpec.model_validate(SPEC)
    with pytest.raises(GenerationError) as caught:
        calibration_samples(spec, spec_path="exam.yaml")
    seed = question_seed(11, "~calibration-0", 1)
    assert str(caught.value) == (
        f"calibration draw 0 of slot 1 (conv.output_shape, mc, seed {seed}): only 0 distinct distractors, "
        f"need 3 (reproduce: examforge sample conv.output_shape --seed {seed} --form mc)")


def test_student_draw_names_the_student(starved):
    spec = ExamSpec.model_validate(SPEC)
    with pytest.raises(GenerationError) as caught:
        draw_student(spec, Student("s017", "Ada", "ada@example.edu"), spec_path="exam.yaml")
    seed = question_seed(11, "s017", 1)
    assert str(caught.value).startswith(
        f"student draw of slot 1 for s017 (conv.output_shape, mc, seed {seed}): only 0 distinct distractors")


def test_any_generator_failure_is_named_and_overrides_drop_the_reproduce_hint(monkeypatch):
    cls = type(registry.get("info.entropy"))
    monkeypatch.setattr(cls, "solve", lambda self, p: 1 / 0)
    spec = ExamSpec.model_validate(SPEC)
    with pytest.raises(GenerationError, match=r"^calibration draw 0 of slot 0 \(info\.entropy, free, seed \d+\): "
                                              r"ZeroDivisionError: division by zero \(reproduce: examforge sample"):
        calibration_samples(spec)
    ranged = {**SPEC, "sections": [{"title": "S", "questions": [
        {"generator": "info.entropy", "points": 1, "ranges": {"max_outcomes": 4}}]}]}
    with pytest.raises(GenerationError) as caught:
        calibration_samples(ExamSpec.model_validate(ranged))
    assert "ZeroDivisionError" in str(caught.value) and "reproduce" not in str(caught.value)


def test_bad_overrides_keep_their_input_error():
    bad = {**SPEC, "sections": [{"title": "S", "questions": [
        {"generator": "conv.output_shape", "points": 1, "overrides": {"stride": [0, 1]}}]}]}
    with pytest.raises(InputError, match=r"exam\.yaml: sections\[0\] question slot 0: field 'params\.stride"):
        draw_student(ExamSpec.model_validate(bad), Student("s1", "A", "a@example.edu"), spec_path="exam.yaml")
