"""prob.bayes, prob.hoeffding_n and prob.clt_tail: seed 003's own numbers (Q7, Q8, Q12), the
Hoeffding boundary (where float64 ceil is wrong), the named mistakes and the Params messages."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from examforge.errors import InputError
from examforge.bank.prob import (
    BayesParams, CltParams, HoeffdingParams, ProbBayes, ProbCltTail, ProbHoeffdingN, hoeffding_n_exact, phi_4,
)
from examforge.renderers.blocks import question_text, solution_latex
from examforge.text import latex_to_text, normalize
from examforge.solvers.prob import bayes_posterior, hoeffding_sample_size, sample_mean_tail
from examforge.variant import draw, make_variant, validate_ranges

BAYES, HOEFF, CLT = ProbBayes(), ProbHoeffdingN(), ProbCltTail()


# -- prob.bayes -----------------------------------------------------------------------------------


def test_seed_003_q7_bayes():
    p = BayesParams.model_validate(BAYES.seed_example)
    a = BAYES.solve(p)
    # P(T) = 0.99*0.01 + 0.05*0.99 = 0.0099 + 0.0495 = 0.0594; P(D|T) = 0.0099/0.0594 = 1/6
    assert (a.true_positive, a.false_positive, a.evidence) == (0.0099, 0.0495, 0.0594)
    assert a.false_positive_rate == 0.05 and a.prior_negative == 0.99
    assert a.posterior == pytest.approx(1 / 6, abs=1e-12)
    assert a.posterior_percent == 16.67
    assert BAYES.reference(p) == a


def test_bayes_mistakes_are_the_named_wrong_paths():
    p = BayesParams.model_validate(BAYES.seed_example)
    m = BAYES.mistakes(p)
    assert m["confused_with_sensitivity"] == 0.99
    assert m["used_specificity_as_fpr"] == pytest.approx(0.0099 / (0.0099 + 0.95 * 0.99))
    assert m["forgot_to_normalise"] == 0.0099
    assert m["forgot_false_positives"] == 1.0
    # 0.0099 / (0.0099 + 0.05) = 0.1653 is within grading tolerance of 0.1667: dropped
    assert "forgot_prior_on_false_positives" not in m


def test_bayes_solver_is_a_normalised_product():
    r = bayes_posterior([0.2, 0.3, 0.5], [0.5, 0.2, 0.1])
    assert r.evidence == pytest.approx(0.21)
    assert r.posterior == pytest.approx([0.1 / 0.21, 0.06 / 0.21, 0.05 / 0.21])


@pytest.mark.parametrize("bad, message", [
    ({"prevalence": 0}, "greater than 0"),
    ({"sensitivity": 1.0}, "less than 1"),
    ({"specificity": 0.95123}, "specificity = 0.95123 has more than 4 decimal places"),
    ({"context": "weather"}, "'disease', 'spam' or 'defect'"),
])
def test_bayes_params_messages(bad, message):
    with pytest.raises(ValidationError, match=message):
        BayesParams.model_validate({**BAYES.seed_example, **bad})


def test_bayes_ranges():
    with pytest.raises(InputError, match="min_prevalence 0.3 is larger than max_prevalence 0.2"):
        validate_ranges(BAYES, {"min_prevalence": 0.3}, where="spec")
    for seed in range(30):
        p = draw(BAYES, seed, ranges={"max_prevalence": 0.01, "min_accuracy": 0.95}).params
        assert p.prevalence <= 0.01 and min(p.sensitivity, p.specificity) >= 0.95


# -- prob.hoeffding_n ------------------------------------------------------------------------------


def test_seed_003_q8_hoeffding():
    p = HoeffdingParams.model_validate(HOEFF.seed_example)
    a = HOEFF.solve(p)
    # n >= ln(200) / (2 * 10^-4) = 5.2983 / 0.0002 = 26491.59 -> 26492 (the seed rounds to "roughly 26500")
    assert a.n == 26492
    assert a.log_term == pytest.approx(math.log(200))
    assert a.bound == pytest.approx(26491.5868, abs=1e-4)
    assert a.tail_at_n <= 0.01 < a.tail_below
    assert (a.exponent_at_n, a.exponent_below) == (5.2984, 5.2982)
    assert HOEFF.reference(p) == a


def test_hoeffding_mistakes():
    m = HOEFF.mistakes(HoeffdingParams.model_validate(HOEFF.seed_example))
    assert m["one_sided"] == math.ceil(math.log(100) / 0.0002)  # 23026
    assert m["forgot_factor_2_in_exponent"] == 52984
    assert m["forgot_ceiling"] == 26491
    assert len(set(m.values())) == len(m)


# Pairs where float64's ceil(ln(2/delta) / (2 eps^2)) is one too small: the real bound is an
# integer plus ~1e-6 or less, below float64 resolution at this size. Found by a scan of all
# six-decimal deltas; the exact answers come from 60-digit decimals and rational exp bounds.
BOUNDARY = [
    (0.00001, 0.038403, 19763834391),  # bound 19763834390.00000032
    (0.00001, 0.435741, 7619272148),  # bound 7619272147.0000010
    (0.000005, 0.152473, 51478298568),  # bound 51478298567.0000048
    (0.000002, 0.045337, 473347372925),  # bound 473347372924.0000014
]


@pytest.mark.parametrize("eps, delta, n", BOUNDARY)
def test_hoeffding_exact_at_the_float_boundary(eps, delta, n):
    naive = math.ceil(math.log(2 / delta) / (2 * eps**2))
    assert naive == n - 1, "the case no longer exercises the boundary"
    assert hoeffding_sample_size(eps, delta).n == n  # torch + exact tie-break
    assert hoeffding_n_exact(eps, delta) == n  # rational Taylor bounds
    p = HoeffdingParams(epsilon=eps, delta=delta)
    assert HOEFF.solve(p).n == HOEFF.reference(p).n == n


def test_hoeffding_smallest_n_is_tight_on_drawn_params():
    for seed in range(40):
        p = draw(HOEFF, seed).params
        n = HOEFF.solve(p).n
        assert 2 * math.exp(-2 * n * p.epsilon**2) <= p.delta < 2 * math.exp(-2 * (n - 1) * p.epsilon**2)
        frac = (math.log(2 / p.delta) / (2 * p.epsilon**2)) % 1
        assert 0.02 <= frac <= 0.98  # the sampler keeps away from the ceiling's edge


def test_hoeffding_variants_of_the_bound():
    # one-sided: exp(-2 n eps^2) <= delta; factor 1: 2 exp(-n eps^2) <= delta
    assert hoeffding_sample_size(0.1, 0.05, sides=1).n == math.ceil(math.log(20) / 0.02)
    assert hoeffding_sample_size(0.1, 0.05, factor=1).n == math.ceil(math.log(40) / 0.01)
    assert hoeffding_n_exact(0.1, 0.05, sides=1) == math.ceil(math.log(20) / 0.02)


@pytest.mark.parametrize("bad, message", [
    ({"epsilon": 0.6}, "less than or equal to 0.5"),
    ({"delta": 1.0}, "less than 1"),
    ({"epsilon": 0.0100001}, "epsilon = 0.0100001 has more than 6 decimal places"),
])
def test_hoeffding_params_messages(bad, message):
    with pytest.raises(ValidationError, match=message):
        HoeffdingParams.model_validate({**HOEFF.seed_example, **bad})


# -- prob.clt_tail -----------------------------------------------------------------------------------


def test_seed_003_q12_clt():
    p = CltParams.model_validate(CLT.seed_example)
    a = CLT.solve(p)
    # se = sqrt(0.25 / 10000) = 0.005, z = 0.005 / 0.005 = 1, P(Z > 1) = 0.1587
    assert (a.std, a.se, a.z, a.abs_z) == (0.5, 0.005, 1.0, 1.0)
    assert a.phi_table == 0.8413 and a.probability_table == 0.1587
    assert round(a.probability, 4) == 0.1587 and not a.table_rounding_differs
    assert a.complement
    assert CLT.reference(p) == a


def test_clt_tails_and_table():
    lower = sample_mean_tail(10, 4, 100, 9.6, "lower")  # z = -2
    assert lower.probability == pytest.approx(1 - phi_4(2), abs=1e-4)
    two = sample_mean_tail(10, 4, 100, 10.3, "two_sided")  # z = 1.5
    assert two.probability == pytest.approx(2 * (1 - 0.5 * (1 + math.erf(1.5 / math.sqrt(2)))))
    # the other side of the mean: P(mean > 9.8) with z = -1 is Phi(1), no complement
    p = CltParams(mean=10, variance=4, n=100, threshold=9.8, tail="upper", context="reward")
    a = CLT.solve(p)
    assert not a.complement and a.probability_table == 0.8413
    # a two-sided answer whose table arithmetic and exact value differ in the 4th decimal
    p2 = CltParams(mean=0.5, variance=0.25, n=10000, threshold=0.505, tail="two_sided")
    a2 = CLT.solve(p2)
    assert a2.probability_table == 0.3174 and round(a2.probability, 4) == 0.3173 and a2.table_rounding_differs
    text = normalize(latex_to_text(solution_latex(make_variant(CLT, p2))))
    assert "0.3174" in text and "0.3173" in text


def test_clt_mistakes_for_the_seed():
    m = CLT.mistakes(CltParams.model_validate(CLT.seed_example))
    assert round(m["used_variance_as_std"], 4) == 0.0228  # se = 0.25/100 -> z = 2
    assert round(m["wrong_tail"], 4) == 0.8413
    assert round(m["doubled_one_tail"], 4) == 0.3173


def test_clt_question_prints_the_table_and_draws_stay_on_it():
    v = make_variant(CLT, CltParams.model_validate(CLT.seed_example))
    text = normalize(latex_to_text(question_text(v)))
    assert "0.8413" in text and "0.9970" in text and "exceeds0.505" in text
    for seed in range(60):
        a = draw(CLT, seed).answer
        assert a.abs_z in [k / 4 for k in range(1, 13)]


@pytest.mark.parametrize("bad, message", [
    ({"threshold": 0.5}, "threshold 0.5 equals the mean"),
    ({"variance": 0}, "greater than 0"),
    ({"n": 1}, "greater than or equal to 2"),
    ({"tail": "both"}, "'upper', 'lower' or 'two_sided'"),
])
def test_clt_params_messages(bad, message):
    with pytest.raises(ValidationError, match=message):
        CltParams.model_validate({**CLT.seed_example, **bad})


def test_clt_ranges():
    with pytest.raises(InputError, match="no sample size in"):
        validate_ranges(CLT, {"min_n": 17, "max_n": 20}, where="spec")
    for seed in range(20):
        v = draw(CLT, seed, ranges={"min_z": 2, "max_z": 2})
        assert v.answer.abs_z == 2
