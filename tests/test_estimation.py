"""estimation.gaussian_mle and estimation.beta_map (seed 003 Q10 and Q11 with numbers): the
solvers maximise the likelihood / posterior rather than apply the formula, so they check it."""

from __future__ import annotations

from fractions import Fraction

import pytest
from pydantic import ValidationError

from examforge.bank.estimation import BetaMapParams, EstimationBetaMap, EstimationGaussianMle, GaussianParams
from examforge.errors import InputError
from examforge.renderers.blocks import question_text, solution_latex
from examforge.text import latex_to_text, normalize
from examforge.solvers.prob import beta_bernoulli_fit, gaussian_mle, variance_mle_bias
from examforge.variant import draw, make_variant

GAUSS, BETA = EstimationGaussianMle(), EstimationBetaMap()


def test_gaussian_example_divides_by_n():
    p = GaussianParams.model_validate(GAUSS.seed_example)  # 2, 4, 4, 4, 5, 5, 7, 9
    a = GAUSS.solve(p)
    assert (a.mean, a.var_mle, a.sum_sq, a.total) == (5.0, 4.0, 32.0, 40.0)
    assert a.var_unbiased == pytest.approx(32 / 7)
    assert [d.d for d in a.deviations] == [-3, -1, -1, -1, 0, 0, 2, 4]
    assert GAUSS.reference(p) == a
    m = GAUSS.mistakes(p)
    assert m["unbiased_divisor_n_minus_1"] == (5.0, pytest.approx(32 / 7))
    assert m["reported_std_not_variance"] == (5.0, 2.0)


def test_gaussian_solver_is_stationary_for_the_normal_likelihood():
    fit = gaussian_mle([1.5, 2.0, 4.5, 8.0])
    assert fit.grad_at_mle == (0.0, 0.0)
    assert fit.mean == 4.0 and fit.var_mle == pytest.approx(6.625)


def test_gaussian_draws_have_short_variances():
    for seed in range(60):
        a = draw(GAUSS, seed).answer
        assert round(a.var_mle, 4) == a.var_mle and a.var_mle > 0


@pytest.mark.parametrize("bad, message", [
    ({"samples": [3, 3, 3]}, "all samples equal 3"),
    ({"samples": [1]}, "samples has 1 values; give between 2 and 12"),
    ({"samples": [1, 2.123456]}, r"samples\[1\] = 2.123456 has more than 4 decimal places"),
])
def test_gaussian_params_messages(bad, message):
    with pytest.raises(ValidationError, match=message):
        GaussianParams.model_validate({**GAUSS.seed_example, **bad})


def test_beta_map_laplace_example():
    p = BetaMapParams.model_validate(BETA.seed_example)  # Beta(2, 2), 3 of 10
    a = BETA.solve(p)
    # posterior Beta(5, 9), mode (2 + 3 - 1) / (2 + 2 + 10 - 2) = 4/12 = 1/3; MLE 3/10
    assert (a.post_alpha, a.post_beta, a.map_num, a.map_den) == (5, 9, 4, 12)
    assert a.map_reduced == "1/3" and a.mle_reduced == "3/10" and a.map_reducible
    assert a.theta_map == pytest.approx(1 / 3, abs=1e-12) and a.theta_mle == pytest.approx(0.3, abs=1e-12)
    # Beta(2, 2) is add-one smoothing: (k + 1) / (n + 2)
    assert Fraction(a.map_num, a.map_den) == Fraction(3 + 1, 10 + 2)
    assert BETA.reference(p) == a
    m = BETA.mistakes(p)
    assert m["reported_mle"] == Fraction(3, 10) and m["posterior_mean"] == Fraction(5, 14)


@pytest.mark.parametrize("alpha, beta, k, n, mode", [
    (1, 1, 3, 10, Fraction(3, 10)),  # flat prior: MAP = MLE
    (1, 3, 0, 5, Fraction(0)),  # posterior Beta(1, 8): mode at the boundary 0
    (3, 1, 5, 5, Fraction(1)),  # posterior Beta(8, 1): mode at 1
    (5, 6, 1, 3, Fraction(5, 12)),
])
def test_beta_map_by_maximisation(alpha, beta, k, n, mode):
    fit = beta_bernoulli_fit(alpha, beta, k, n)
    assert fit.theta_map == pytest.approx(float(mode), abs=1e-12)
    assert fit.theta_mle == pytest.approx(k / n, abs=1e-12)


def test_beta_flat_prior_solution_says_map_equals_mle():
    p = BetaMapParams(alpha=1, beta=1, k=3, n=10)
    text = normalize(latex_to_text(solution_latex(make_variant(BETA, p))))
    assert "MAPequalstheMLE" in text


@pytest.mark.parametrize("bad, message", [
    ({"k": 11}, "k = 11 successes is more than n = 10 trials"),
    ({"alpha": 0}, "greater than or equal to 1"),
    ({"n": 0}, "greater than or equal to 1"),
])
def test_beta_params_messages(bad, message):
    with pytest.raises(ValidationError, match=message):
        BetaMapParams.model_validate({**BETA.seed_example, **bad})


# -- the options: derivations (003 Q10, Q11), the bias and the n -> infinity limit --------------------


def test_seed_003_q10_derivation_and_numbers():
    p = GaussianParams.model_validate({**GAUSS.seed_example, "ask": "derivation"})
    a = GAUSS.solve(p)
    assert (a.mean, a.var_mle) == (5.0, 4.0) and a == GAUSS.reference(p)
    text = latex_to_text(solution_latex(make_variant(GAUSS, p, form="free", seed=0)))
    assert "(∂ℓ)/(∂σ^2) = -(n)/(2σ^2) + (1)/(2σ^4)" in text and "(b)" in text
    assert "Write the log-likelihood" in latex_to_text(question_text(make_variant(GAUSS, p, seed=0)))
    with pytest.raises(InputError, match="ask 'derivation' asks for a derivation: use form free"):
        draw(GAUSS, 0, form="mc", overrides={"ask": "derivation"})


def test_seed_003_q10_bias_of_the_variance_mle_and_its_limit():
    """The seed's note: E[sigma_hat^2] = (n - 1)/n sigma^2, biased downward; n = 8 gives 7/8."""
    p = GaussianParams.model_validate({**GAUSS.seed_example, "ask": "bias"})
    a = GAUSS.solve(p)
    assert (a.bias_num, a.bias_den, a.bias_factor, a.bias_limit) == (7, 8, 0.875, 1.0) and a == GAUSS.reference(p)
    assert [variance_mle_bias(n) for n in (2, 5, 100)] == [0.5, 0.8, 0.99]
    m = GAUSS.mistakes(p)
    assert m["thought_unbiased"] == 1 and m["inverted_factor"] == Fraction(8, 7)
    v = make_variant(GAUSS, p, form="mc", seed=0)
    assert r"$E[\hat\sigma^2] = \tfrac{7}{8}\,\sigma^2$" in [c.latex for c in v.choices]
    text = latex_to_text(solution_latex(make_variant(GAUSS, p, form="free", seed=0)))
    assert "(n - 1)/n →1" in text and "s^2 = 32/7" in text


def test_seed_003_q11_derivation_and_the_prior_washing_out():
    """Q11: MAP = (alpha + k - 1)/(alpha + beta + n - 2), which tends to k/n as n -> infinity.
    With the Laplace prior Beta(2, 2) and 3 successes in 10: 4/12, then 31/102 and 301/1002, -> 0.3."""
    p = BetaMapParams.model_validate({**BETA.seed_example, "ask": "large_n"})
    a = BETA.solve(p)
    assert a == BETA.reference(p)
    assert a.map_reduced == "1/3" and a.limit == 0.3
    assert [(s.m, s.num, s.den) for s in a.scaled] == [(10, 31, 102), (100, 301, 1002)]
    assert BETA.choice_value(a) == Fraction(3, 10)
    assert BETA.mistakes(p)["map_does_not_change"] == Fraction(1, 3)
    text = latex_to_text(solution_latex(make_variant(BETA, p, form="free", seed=0)))
    assert "prior washes out" in text and "(c)" in text
    d = BetaMapParams.model_validate({**BETA.seed_example, "ask": "derivation"})
    text = latex_to_text(solution_latex(make_variant(BETA, d, form="free", seed=0)))
    assert "(α+ k - 1)/(θ) - (β+ n - k - 1)/(1 - θ) = 0" in text and "1/3" in text
