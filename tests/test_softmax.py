"""softmax.temperature, softmax.jacobian and softmax.ce_gradient: the seeds' own statements
(002 MC1, 002 Problem 2.2, 003 Q1-Q2), autograd against the closed forms, the named mistakes,
sampling ranges and the Params validation messages."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from examforge.bank.softmax import (
    CEGradientParams,
    ClassesRanges,
    JacobianParams,
    SoftmaxCEGradient,
    SoftmaxJacobian,
    SoftmaxTemperature,
    TemperatureParams,
    TemperatureRanges,
    statement_truths,
)
from examforge.errors import InputError
from examforge.renderers.blocks import question_text, solution_latex
from examforge.text import latex_to_text, normalize
from examforge.seeding import variant_rngs
from examforge.solvers.softmax import (
    cross_entropy_gradient, softmax_jacobian, softmax_values, temperature_statement_truths,
)
from examforge.variant import draw, make_variant

TEMP = SoftmaxTemperature()
JAC = SoftmaxJacobian()
CE = SoftmaxCEGradient()


# -- softmax.temperature -------------------------------------------------------------------


def test_seed_002_mc1_statements():
    """The seed's z = (4, 3, 2, 1): as T -> 0+ the limit is (1, 0, 0, 0) (statement C, true),
    as T -> infinity it is uniform (statement B, true), and no entry is ever 0 (statement D)."""
    p = TemperatureParams(z=(4, 3, 2, 1), temperature=2.0, ask="cold_limit")
    a = TEMP.solve(p)
    assert a.cold_limit == (1.0, 0.0, 0.0, 0.0)
    assert a.hot_limit == (0.25,) * 4
    assert all(v > 0 for v in a.probs)
    # e^{(z - 4)/2} = (1, e^-0.5, e^-1, e^-1.5), divided by their sum
    e = [math.exp(-k / 2) for k in range(4)]
    assert a.probs == pytest.approx([v / sum(e) for v in e], abs=1e-12)
    assert [round(v, 4) for v in a.probs] == [0.4551, 0.276, 0.1674, 0.1015]
    assert TEMP.reference(p) == a


def test_seed_002_mc1_false_statement_equal_logits_are_uniform_at_every_t():
    """Statement A is false: z = (a, a, a, a) gives the uniform distribution at any T."""
    for t in (0.5, 1.0, 3.0):
        a = TEMP.solve(TemperatureParams(z=(2, 2, 2, 2), temperature=t))
        assert a.all_equal and a.probs == (0.25,) * 4 and a.cold_limit == (0.25,) * 4


def test_seed_002_problem_2_2_argmax_limits_share_ties():
    # lim_{T->0+} softmax([1, -2, 5, 0]/T) = [0, 0, 1, 0]; with a tie [5, -2, 5, 0] -> [1/2, 0, 1/2, 0]
    assert TEMP.solve(TemperatureParams(z=(1, -2, 5, 0), temperature=3.0)).cold_limit == (0, 0, 1, 0)
    tied = TemperatureParams(z=(5, -2, 5, 0), temperature=3.0, ask="cold_limit")
    assert TEMP.solve(tied).cold_limit == (0.5, 0.0, 0.5, 0.0)
    wrong = TEMP.mistakes(tied)
    assert wrong["tie_to_first_max"] == (1.0, 0.0, 0.0, 0.0)
    assert wrong["uniform_limit"] == (0.25,) * 4


def test_temperature_values_mistakes_are_the_named_wrong_paths():
    p = TemperatureParams(z=(2, 0, -1), temperature=2.0)
    wrong = TEMP.mistakes(p)
    assert wrong["forgot_temperature"] == pytest.approx(softmax_values((2, 0, -1)))
    assert wrong["multiplied_by_temperature"] == pytest.approx(softmax_values((4, 0, -2)))
    assert wrong["cold_limit_instead"] == (1.0, 0.0, 0.0)
    v = make_variant(TEMP, p, form="mc", seed=3)
    assert {c.mistake for c in v.choices} - {None} <= set(wrong)


def test_temperature_solver_matches_torch_temperature_directly():
    z = (3, -1, 0, 2)
    ours = softmax_values(z, temperature=0.5)
    theirs = torch.softmax(torch.tensor(z, dtype=torch.float64) * 2, dim=0).tolist()
    assert ours == pytest.approx(theirs, abs=1e-12)


def test_temperature_validation_names_the_problem():
    with pytest.raises(ValidationError, match="rounds to 0 at 4 decimals"):
        TemperatureParams(z=(9, -9, 0), temperature=0.5)
    with pytest.raises(ValidationError, match="temperature"):
        TemperatureParams(z=(1, 2), temperature=0)
    with pytest.raises(ValidationError, match="min_temperature 4.0 is larger than max_temperature 2.0"):
        TemperatureRanges(min_temperature=4.0, max_temperature=2.0)


def test_temperature_ranges_are_honoured():
    r = TemperatureRanges(min_classes=5, max_classes=5, min_temperature=2.0, max_temperature=3.0)
    for seed in range(40):
        p = TEMP.sample(variant_rngs(seed)[0], r)
        assert len(p.z) == 5 and 2.0 <= p.temperature <= 3.0 and len(set(p.z)) > 1


def test_temperature_tf_claim_reads_as_a_statement():
    v = make_variant(TEMP, TemperatureParams(z=(4, 3, 2, 1), temperature=2.0, ask="cold_limit"), form="tf", seed=1)
    text = normalize(latex_to_text(question_text(v)))
    assert normalize("True or false: as T →0^+, softmax_T(𝐳) approaches") in text
    assert normalize(latex_to_text(v.claim)) in text


# -- softmax.jacobian ----------------------------------------------------------------------


def test_jacobian_example_exact_values():
    a = JAC.solve(JacobianParams(exp_logits=(2, 1, 1)))
    assert a.probs == (0.5, 0.25, 0.25)
    assert a.jacobian == ((0.25, -0.125, -0.125), (-0.125, 0.1875, -0.0625), (-0.125, -0.0625, 0.1875))
    assert a.row_sums == (0.0, 0.0, 0.0)
    assert [(e.i, e.j, e.left, e.right, e.value) for e in a.diagonal][1] == (2, 2, 0.25, 0.75, 0.1875)
    assert [(e.i, e.j) for e in a.off_diagonal] == [(1, 2), (1, 3), (2, 3)]
    assert JAC.reference(JacobianParams(exp_logits=(2, 1, 1))) == a


def test_autograd_jacobian_is_diag_s_minus_outer_for_any_logits():
    z = [0.3, -1.2, 2.0, 0.0]
    s, jac = softmax_jacobian(z)
    st = torch.tensor(s, dtype=torch.float64)
    closed = torch.diag(st) - torch.outer(st, st)
    assert torch.allclose(torch.tensor(jac, dtype=torch.float64), closed, atol=1e-12)
    # symmetric and singular: the all-ones vector is in its null space
    assert torch.allclose(closed, closed.T) and abs(torch.linalg.det(closed).item()) < 1e-12


def test_jacobian_mistakes_are_distinct_and_wrong():
    p = JacobianParams(exp_logits=(3, 1, 1))
    right = JAC.solve(p).jacobian
    wrong = JAC.mistakes(p)
    assert wrong["forgot_off_diagonal"][0] == (0.24, 0.0, 0.0)
    assert wrong["plus_outer_product"][0][1] == pytest.approx(0.12)
    assert all(v != right for v in wrong.values())
    assert len({str(v) for v in wrong.values()}) == len(wrong)


def test_jacobian_samples_exact_short_decimals():
    r = ClassesRanges(min_classes=3, max_classes=4)
    for seed in range(60):
        p = JAC.sample(variant_rngs(seed)[0], r)
        assert 3 <= len(p.exp_logits) <= 4 and 100 % sum(p.exp_logits) == 0
        a = JAC.solve(p)
        assert all(abs(v * 1e4 - round(v * 1e4)) < 1e-6 for row in a.jacobian for v in row)


def test_jacobian_question_shows_logs():
    v = make_variant(JAC, JacobianParams(exp_logits=(2, 1, 5)), seed=1)
    assert r"(\ln 2,\ 0,\ \ln 5)" in question_text(v)


# -- softmax.ce_gradient ---------------------------------------------------------------------


def test_ce_example_and_s_minus_y():
    p = CEGradientParams(exp_logits=(2, 1, 1), target=2)
    a = CE.solve(p)
    assert a.probs == (0.5, 0.25, 0.25) and a.onehot == (0, 1, 0)
    assert a.loss == pytest.approx(math.log(4), abs=1e-12)
    assert a.grad == (0.5, -0.75, 0.25) and a.grad_sum == 0
    assert CE.reference(p) == a
    text = normalize(latex_to_text(solution_latex(make_variant(CE, p, seed=0))))
    assert normalize("(0.5, -0.75, 0.25)") in text


def test_torch_cross_entropy_gradient_is_s_minus_y_for_any_logits():
    z = [1.7, -0.4, 0.2, 3.1]
    s, loss, grad = cross_entropy_gradient(z, 2)
    assert grad == pytest.approx([si - (i == 2) for i, si in enumerate(s)], abs=1e-12)
    assert loss == pytest.approx(-math.log(s[2]), abs=1e-9)  # s is rounded to 12 decimals


def test_ce_mistakes():
    p = CEGradientParams(exp_logits=(1, 3), target=1)
    wrong = CE.mistakes(p)
    assert wrong["y_minus_s"] == (0.75, -0.75)
    assert wrong["forgot_target"] == (0.25, 0.75)
    assert wrong["gradient_wrt_s"] == (-4.0, 0.0)
    assert wrong["target_entry_only"] == (-0.75, 0.0)


def test_ce_validation_names_the_target():
    with pytest.raises(ValidationError, match="target class 4 does not exist: there are 3 classes"):
        CEGradientParams(exp_logits=(1, 2, 3), target=4)
    with pytest.raises(ValidationError, match="min_classes 4 is larger than max_classes 3"):
        ClassesRanges(min_classes=4, max_classes=3)


def test_ce_draws_cover_every_target():
    targets = {draw(CE, seed).params.target for seed in range(40)}
    assert targets >= {1, 2, 3}


# -- softmax.temperature, ask false_statement (seed 002 MC1 itself) ---------------------------------


def test_seed_002_mc1_which_statement_is_false_has_the_seeds_four_options():
    """The seed's options: A 'for all z no finite T is uniform' (false: the key), B the T -> infinity
    limit is uniform, C for z = (4, 3, 2, 1) the T -> 0 limit is (1, 0, 0, 0), D no zero components."""
    p = TemperatureParams.model_validate(TEMP.seed_example)
    a = TEMP.solve(p)
    assert a == TEMP.reference(p)
    assert a.false_statement == "uniform_never" and dict(a.truths)["uniform_never"] is False
    v = make_variant(TEMP, p, form="mc", seed=0)
    by_name = {c.mistake: latex_to_text(c.latex) for c in v.choices}
    assert set(by_name) == {None, "doubted_hot_limit", "doubted_cold_limit", "doubted_positivity"}
    assert "no finite temperature" in by_name[None]
    assert "(1, 0, 0, 0)" in by_name["doubted_cold_limit"]
    assert "approaches the uniform distribution" in by_name["doubted_hot_limit"]
    text = normalize(latex_to_text(question_text(v)))
    assert normalize("Which of the following statements is false?") in text
    solution = normalize(latex_to_text(solution_latex(v)))
    assert normalize("for equal logits") in solution and normalize(f"option {v.correct_letter}") in solution


@pytest.mark.parametrize("z,t", [((4, 3, 2, 1), 2.0), ((5, -2, 5, 0), 0.5), ((2, 2, 2), 3.0), ((-9, 9), 20.0),
                                 ((0, 1), 0.25), ((3, 3, -1, 0, 2, 1), 4.0)])
def test_statement_truths_by_torch_agree_with_the_reasoning(z, t):
    assert temperature_statement_truths(z, t) == statement_truths(z)


def test_false_statements_vary_and_never_meet_the_true_statement_they_contradict():
    seen = set()
    for seed in range(150):
        v = draw(TEMP, seed, form="mc", overrides={"ask": "false_statement"})
        seen.add(v.answer.false_statement)
        shown = {TEMP.statement_of(c.mistake, v.answer) for c in v.choices}
        assert len(shown) == 4
        assert not ({"cold_limit_wrong", "cold_limit_argmax"} <= shown or {"hot_limit_argmax", "hot_limit_uniform"} <= shown
                    or {"zero_for_small_t", "all_positive"} <= shown
                    or {"hotter_raises_max", "hotter_lowers_max"} <= shown)
        truths = dict(v.answer.truths)
        assert [truths[n] for n in shown].count(False) == 1
    assert seen == {"uniform_never", "cold_limit_wrong", "hot_limit_argmax", "zero_for_small_t",
                    "hotter_raises_max", "doubling_invariant"}


def test_false_statement_validation_and_forms():
    with pytest.raises(ValidationError, match="'doubling_invariant' is true for the equal logits"):
        TemperatureParams(z=(2, 2, 2), temperature=1.0, ask="false_statement", statement="doubling_invariant")
    equal = TemperatureParams(z=(2, 2, 2), temperature=1.0, ask="false_statement")
    assert not statement_truths(equal.z)[equal.false_statement]
    with pytest.raises(InputError, match="ask 'false_statement' asks which of four statements is false: use form mc"):
        draw(TEMP, 0, form="tf", overrides={"ask": "false_statement"})


def test_true_false_and_choice_keys_work_through_what_was_asked_only():
    """A true/false or multiple-choice key on the values does not work through the limits, and
    one on the T -> 0+ limit does not compute the values (issue 13, item 4)."""
    values = TemperatureParams(z=(2, -1, 0, 1), temperature=2.0, ask="values")
    cold = TemperatureParams(z=(2, -1, 0, 1), temperature=2.0, ask="cold_limit")
    for form in ("tf", "mc"):
        text = latex_to_text(solution_latex(make_variant(TEMP, values, form=form, seed=1)))
        assert "(0.4551, 0.1015, 0.1674, 0.276)" in text and "T →∞" not in text and "(b)" not in text
        text = latex_to_text(solution_latex(make_variant(TEMP, cold, form=form, seed=1)))
        assert "(1, 0, 0, 0)" in text and "0.4551" not in text and "(d)" not in text
    text = latex_to_text(solution_latex(make_variant(TEMP, values, form="free", seed=1)))
    assert all(f"({part})" in text for part in "abcd")
