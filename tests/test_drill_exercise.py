"""Drill exercises: (type, seed, difficulty, form) fixes the variant; the difficulty mapping;
every registered type can be drilled and its own correct answer checks as right."""

from __future__ import annotations

import re

import pytest

from examforge import registry
from examforge.drill import answers
from examforge.drill import exercise as ex_mod
from examforge.drill.exercise import DIFFICULTIES, difficulty_ranges, drill_forms, exercise, option_text
from examforge.errors import InputError

TYPES = registry.all_types()


def test_same_four_values_same_variant_even_without_the_cache():
    a = exercise("conv.output_shape", 12345, "hard", "free")
    ex_mod._build.cache_clear()
    b = exercise("conv.output_shape", 12345, "hard", "free")
    assert a is not b
    assert a.question_latex == b.question_latex and a.expected == b.expected and a.solution_latex == b.solution_latex


def test_seed_and_difficulty_change_the_variant():
    base = exercise("conv.output_shape", 1, "medium", "free")
    assert exercise("conv.output_shape", 2, "medium", "free").question_latex != base.question_latex
    assert exercise("conv.output_shape", 1, "easy", "free").question_latex != base.question_latex


def test_difficulty_halves_the_ranges_generically():
    qtype = registry.get("conv.output_shape")  # min_size 7, max_size 256, max_kernel 7, max_stride 4
    assert difficulty_ranges(qtype, "medium") == {}
    assert difficulty_ranges(qtype, "easy") == {"max_size": 131, "max_kernel": 4, "max_stride": 2}
    assert difficulty_ranges(qtype, "hard") == {"min_size": 132}
    with pytest.raises(InputError, match="difficulty"):
        difficulty_ranges(qtype, "brutal")


@pytest.mark.parametrize("qtype", TYPES, ids=lambda t: t.id)
def test_difficulty_ranges_are_valid_ranges(qtype):
    for difficulty in DIFFICULTIES:
        qtype.Ranges.model_validate(difficulty_ranges(qtype, difficulty))


def test_easy_draws_come_from_the_lower_half():
    for seed in range(30):
        v = exercise("conv.output_shape", seed, "easy", "free").variant
        assert max(v.params.input_hw) <= 131 and max(v.params.kernel) <= 4 and max(v.params.stride) <= 2
        v = exercise("conv.output_shape", seed, "hard", "free").variant
        assert min(v.params.input_hw) >= 132


@pytest.mark.parametrize("bad", [-1, 2**53, "abc", "1.5", True, 2.5, None, [1]])
def test_bad_seeds_are_input_errors(bad):
    with pytest.raises(InputError, match="seed"):
        exercise("conv.output_shape", bad)


def test_unknown_type_and_form():
    with pytest.raises(InputError, match="did you mean conv.output_shape"):
        exercise("conv.output_shap", 1)
    with pytest.raises(InputError, match="form 'tf' is not offered"):
        exercise("cnn.shape_trace", 1, "medium", "tf")


def test_free_form_is_offered_only_when_the_options_print_the_value():
    # conv.stacked_vs_single's options are sentences: it is drilled as multiple choice.
    if "conv.stacked_vs_single" in registry.known_ids():
        assert "free" not in drill_forms(registry.get("conv.stacked_vs_single"))
    assert "free" in drill_forms(registry.get("conv.output_shape"))


def _right_response(ex):
    if ex.form == "free":
        return answers.show(ex.expected)
    return ", ".join(sorted(ex.expected))


def _wrong_response(ex):
    if ex.form != "free":
        return next(letter for letter in ex.letters if letter not in ex.expected)
    value = ex.expected
    if ex.fmt.kind == "number":
        return str(value + 1)
    if ex.fmt.kind in ("vector", "shape"):
        return ", ".join(answers.show(v + 1) for v in value)
    if ex.fmt.kind == "matrix":
        return "; ".join(" ".join(answers.show(v + 1) for v in row) for row in value)
    return None


@pytest.mark.parametrize("qtype", TYPES, ids=lambda t: t.id)
def test_every_type_can_be_drilled_and_its_own_answer_is_right(qtype):
    forms = drill_forms(qtype)
    assert forms, f"{qtype.id} offers no drill form"
    for form in forms:
        for difficulty in DIFFICULTIES:
            for seed in range(4):
                ex = exercise(qtype.id, seed, difficulty, form)
                where = f"{qtype.id} seed {seed} {difficulty} {form}->{ex.form}"
                verdict, _ = ex.check(_right_response(ex))
                if ex.is_open:  # an open question: compared with the model answer, never graded
                    assert verdict.correct is None and "model answer" in verdict.message, where
                    continue
                assert verdict.correct, f"{where}: its own answer {_right_response(ex)!r} is wrong: {verdict.message}"
                if ex.form == "free":  # typing the answer exactly as the option prints it is right too
                    assert ex.check(option_text(qtype, ex.variant.answer))[0].correct, where
                wrong = _wrong_response(ex)
                if wrong is not None and ex.fmt.tol < 0.5:
                    assert not ex.check(wrong)[0].correct, f"{where}: {wrong!r} was accepted"
                assert "Solution" not in ex.question_latex


def test_percent_is_read_only_for_types_whose_answers_are_fractions_of_one():
    assert registry.get("prob.bayes").format_of().percent and registry.get("prob.clt_tail").format_of().percent
    for type_id in ("cnn.shape_trace", "rnn.param_count", "backprop.two_neuron", "conv.output_shape",
                    "tree.information_gain"):  # bits are not a fraction of one
        assert not registry.get(type_id).format_of().percent, type_id
    ex = exercise("prob.bayes", 5, "medium", "free")
    assert ex.fmt.percent
    assert ex.check(f"{100 * ex.expected:.4f}%")[0].correct  # the posterior as a percentage
    counts = exercise("cnn.shape_trace", 5, "medium", "free")  # flatten_dim, a count
    assert not counts.fmt.percent
    with pytest.raises(answers.AnswerSyntaxError, match="percentage"):
        counts.check(f"{counts.expected}%")  # was read as expected/100 and graded wrong
    assert counts.check(str(counts.expected))[0].correct


# -- answer formats are declared by the types ----------------------------------------------------------

_NUMBER_SHOWN = re.compile(r"(?<![\w.])-?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:/[0-9]+)?(?![0-9])")


@pytest.mark.parametrize("qtype", TYPES, ids=lambda t: t.id)
def test_every_type_declares_a_format_its_answers_fit(qtype):
    """Every type has a format (declared, or derived from choice_value's annotation), and each
    variant's answer fits it; a declared format's labels are the words its options print around
    the numbers, for every variant (the terminal asks "μ̂ = _, σ̂² = _" from them)."""
    declared = qtype.answer_format
    tol = declared.tol if declared is not None and declared.tol is not None else float(qtype.Answer.grading_tol)
    assert qtype.format_of().tol == tol
    for seed in range(6):
        v = ex_mod.draw_at(qtype, seed, "medium", qtype.forms[0])
        vf = qtype.format_of(v.params)
        if not vf.typed:
            continue
        value = answers.plain(qtype.choice_value(v.answer))
        assert answers.fits(value, vf), f"{qtype.id} seed {seed}: {value!r} is not a {vf.kind}"
        if vf.labels is not None:
            text = option_text(qtype, v.answer).replace("\u2212", "-")
            found = list(_NUMBER_SHOWN.finditer(text))
            pieces = [text[a.end() if a else 0 : b.start() if b else len(text)]
                      for a, b in zip([None, *found], [*found, None])]
            assert tuple(pieces) == vf.labels, f"{qtype.id} seed {seed}: the options print {text!r}"


def test_typed_kinds_of_the_bank():
    kinds = {t.id: ex_mod.answer_kind(t.id) for t in TYPES}
    assert kinds["conv.output_shape"] == "shape" and kinds["transformer.activation_memory"] == "shape"
    assert kinds["conv.forward_values"] == "matrix" and kinds["tokenizer.greedy"] == "vector"
    assert kinds["conv.stacked_vs_single"] is None and kinds["cnn.fix_linear"] is None  # options in words
    assert registry.get("jacobian.matmul").format_of().labels[0] == "\u2202C/\u2202A: "
    # a type whose answer takes another form for some params says so per variant
    qtype = registry.get("linalg.pca_svd")
    asks = {qtype.format_of(ex_mod.draw_at(qtype, seed, "medium", "free").params).kind for seed in range(12)}
    assert asks == {"number", "vector"}


@pytest.mark.parametrize("seed", ["\u00b2", "\u0663", "\uff17", "1" * 5000, "9007199254740992", " ", "1e3", 10**5000,
                                  -1, 2**53, 1e308, float("nan"), float("inf"), True, [1], {"a": 1}, None],
                         ids=lambda v: type(v).__name__)
def test_bad_seeds_are_input_errors_with_a_short_message(seed):
    """Unicode digits pass str.isdigit but not int(); huge numbers must not be printed in full."""
    with pytest.raises(InputError, match="seed must be a whole number") as err:
        ex_mod.parse_seed(seed)
    assert len(str(err.value)) < 200


def test_good_seeds():
    assert ex_mod.parse_seed("7") == ex_mod.parse_seed(7) == ex_mod.parse_seed(7.0) == ex_mod.parse_seed(" 7 ") == 7
    assert ex_mod.parse_seed(str(ex_mod.MAX_SEED)) == ex_mod.MAX_SEED


def test_overlong_type_ids_are_refused_before_the_registry_looks():
    with pytest.raises(InputError, match="unknown question type .* at most 100 characters"):
        exercise("conv.output_shape" * 100, 1)
