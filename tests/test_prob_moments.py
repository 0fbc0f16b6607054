"""prob.moments (seed 003 Q9): the five distributions' moments from their densities against
torch.distributions and the textbook formulas, the seed's five parts, pinning the distribution."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from examforge.bank.prob_moments import _PROBS, _RATES, DISTRIBUTIONS, MomentsParams, ProbMoments
from examforge.errors import InputError
from examforge.renderers.blocks import question_text
from examforge.solvers.expectation import distribution_moments
from examforge.variant import draw, validate_ranges

from tests.newtype_helpers import assert_clean_stems, assert_solver_matches_reference, solve_file

MOMENTS = ProbMoments()


def test_seed_003_q9_all_five_parts_from_the_params_file():
    records = solve_file("prob.moments", "moments_seed003.json")
    got = {r["params"]["distribution"]: (r["answer"]["mean"], r["answer"]["variance"]) for r in records}
    assert got == {
        "bernoulli": (0.3, 0.21),  # p, p(1 - p)
        "binomial": (3.0, 2.1),  # np, np(1 - p) with n = 10, p = 0.3
        "poisson": (2.5, 2.5),  # lambda, lambda
        "uniform": (1.0, 3.0),  # (a + b)/2, (b - a)^2/12 on [-2, 4]
        "exponential": (4.0, 16.0),  # 1/lambda, 1/lambda^2 at rate 0.25
    }


def test_seed_example_is_part_b_binomial():
    a = MOMENTS.solve(MomentsParams.model_validate(MOMENTS.seed_example))
    assert (a.mean, a.variance, a.second_moment, a.q) == (3.0, 2.1, 11.1, 0.7)


@pytest.mark.parametrize("kind", DISTRIBUTIONS)
def test_solver_agrees_with_the_closed_form_for_every_pinned_distribution(kind):
    assert_solver_matches_reference(MOMENTS, range(150), overrides={"distribution": kind})


def _density_moments(kind, **kw):
    """E[X] and Var(X) summed over the density the solver checks torch's moments against."""
    from examforge.solvers.expectation import _distribution, _support_and_weights

    xs, w = _support_and_weights(kind, _distribution(kind, **kw), **{k: v for k, v in kw.items() if k != "p"})
    mean = float((w * xs).sum())
    return mean, float((w * xs * xs).sum()) - mean**2


def test_density_sums_agree_with_the_textbook_formulas_on_every_listed_value():
    for p in _PROBS:
        assert _density_moments("bernoulli", p=p) == pytest.approx((p, p * (1 - p)), rel=1e-12)
        for n in (1, 7, 50, 100):
            assert _density_moments("binomial", n=n, p=p) == pytest.approx((n * p, n * p * (1 - p)), rel=1e-9)
    for rate in (*_RATES, 20.0):
        assert _density_moments("poisson", rate=rate) == pytest.approx((rate, rate), rel=1e-9)
        assert _density_moments("exponential", rate=rate) == pytest.approx((1 / rate, 1 / rate**2), rel=1e-12)
    assert _density_moments("uniform", low=-7.5, high=13) == pytest.approx((2.75, 20.5**2 / 12), rel=1e-12)


def test_solver_reports_torch_distributions_moments():
    import torch
    from torch.distributions import Binomial

    m = distribution_moments("binomial", n=1000, p=0.37)
    d = Binomial(total_count=torch.tensor(1000.0, dtype=torch.float64), probs=torch.tensor(0.37, dtype=torch.float64))
    assert (m.mean, m.variance) == (round(float(d.mean), 12), round(float(d.variance), 12)) == (370.0, 233.1)


def test_pinned_distribution_keeps_each_students_numbers_and_shows_only_its_parameters():
    for seed in range(40):
        free = draw(MOMENTS, seed)
        pinned = draw(MOMENTS, seed, overrides={"distribution": "exponential"})
        assert pinned.params.rate == free.params.rate  # the same draw, only the kind is pinned
        text = question_text(pinned)
        assert "Exponential" in text and not any(k in text for k in ("Bernoulli", "Binomial", "Poisson", "Uniform"))
        assert pinned.answer.mean == pytest.approx(1 / pinned.params.rate)


def test_every_distribution_is_drawn_and_stems_are_clean():
    kinds = {draw(MOMENTS, seed).params.distribution for seed in range(60)}
    assert kinds == set(DISTRIBUTIONS)
    assert_clean_stems(MOMENTS, range(0, 60, 7))


def test_mistakes_are_the_named_wrong_formulas():
    m = MOMENTS.mistakes(MomentsParams(distribution="binomial", n=10, p=0.3))
    assert m["forgot_n_in_variance"] == (3.0, 0.21)
    assert m["poisson_variance"] == (3.0, 3.0)
    assert m["n_squared_in_variance"] == (3.0, 21.0)
    assert m["second_moment_as_variance"] == (3.0, 11.1)
    u = MOMENTS.mistakes(MomentsParams(distribution="uniform", low=-2, high=4))
    assert u["width_not_squared"] == (1.0, 0.5) and u["divided_by_4"] == (1.0, 9.0) and u["half_width_as_mean"] == (3.0, 3.0)


@pytest.mark.parametrize("bad, message", [
    ({"distribution": "poisson"}, "a poisson question needs rate"),
    ({"distribution": "binomial", "p": 0.5}, "a binomial question needs n"),
    ({"distribution": "uniform", "low": 3, "high": 1}, "low 3.0 must be smaller than high 1.0"),
    ({"distribution": "bernoulli", "p": 0.12345}, "p = 0.12345 has more than 4 decimal places"),
    ({"distribution": "gamma", "rate": 1}, "'bernoulli', 'binomial', 'poisson', 'uniform' or 'exponential'"),
])
def test_params_messages(bad, message):
    with pytest.raises(ValidationError, match=message):
        MomentsParams.model_validate(bad)


def test_ranges():
    with pytest.raises(InputError, match="min_trials 40 is larger than max_trials 10"):
        validate_ranges(MOMENTS, {"min_trials": 40, "max_trials": 10}, where="spec")
    with pytest.raises(InputError, match="no uniform width in"):
        validate_ranges(MOMENTS, {"min_width": 4, "max_width": 5}, where="spec")
    for seed in range(30):
        p = draw(MOMENTS, seed, ranges={"max_trials": 8, "max_width": 6}).params
        assert p.n <= 8 and p.high - p.low <= 6
