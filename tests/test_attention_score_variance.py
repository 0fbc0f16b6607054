"""attention.score_variance (seed 003 Q24): the moments of q . k from the coordinate
distributions against d_k s_q^2 s_k^2, a seeded Monte Carlo check, and the seed's d_k = 64."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from examforge.bank.attention_score_variance import ASKS, AttentionScoreVariance, ScoreVarianceParams
from examforge.solvers.attention import dot_product_score_moments
from examforge.variant import draw

from tests.newtype_helpers import assert_clean_stems, assert_solver_matches_reference, solve_file

QT = AttentionScoreVariance()


def test_seed_003_q24_var_is_d_k_and_the_divisor_is_8():
    (record,) = solve_file("attention.score_variance", "score_variance_seed003.json")
    a = record["answer"]
    assert (a["variance"], a["scaled_variance"], a["scale"], a["std"]) == (64.0, 1.0, 8.0, 8.0)


@pytest.mark.parametrize("ask", ASKS)
def test_solver_agrees_with_the_closed_form_for_every_pinned_ask(ask):
    assert_solver_matches_reference(QT, range(120), overrides={"ask": ask})


def test_moments_against_a_seeded_monte_carlo_estimate():
    gen = torch.Generator().manual_seed(20240601)
    d, sq, sk = 64, 1.5, 0.5
    q = torch.randn(50_000, d, generator=gen, dtype=torch.float64) * sq
    k = torch.randn(50_000, d, generator=gen, dtype=torch.float64) * sk
    estimate = float((q * k).sum(dim=1).var())
    m = dot_product_score_moments(d, sq, sk)
    assert m.variance == d * sq**2 * sk**2 == 36.0
    assert estimate == pytest.approx(m.variance, rel=0.02)  # sd of the estimate is about 0.7%; the seed fixes it
    assert m.mean == 0.0 and m.term_variance == 0.5625


def test_mistakes_for_each_ask():
    p = ScoreVarianceParams(d_k=64, q_std=2, k_std=0.5, ask="variance")
    # d_k s_q s_k = 64 is the answer too here, so "used_stds" is left out
    assert QT.mistakes(p) == {"forgot_d_k": 1.0, "std_not_variance": 8.0, "added_variances": 272.0,
                              "squared_d_k": 4096.0}
    scale = QT.mistakes(p.model_copy(update={"ask": "scale"}))
    # sigma_q sigma_k = 1 here, so sqrt(d_k) alone (and sqrt(d_k) sigma_q^2 sigma_k^2) is the right divisor: no distractor
    assert QT.solve(p.model_copy(update={"ask": "scale"})).scale == 8.0 and "sqrt_d_k_only" not in scale
    assert scale == {"variance_not_std": 64.0, "d_k_not_sqrt": 64.0, "forgot_d_k": 1.0}


def test_unit_product_keeps_the_standard_scaling_and_stems_are_clean():
    for seed in range(100):
        a = draw(QT, seed).answer
        assert a.scale == pytest.approx(math.sqrt(a.variance))
        assert (a.scaled_variance == 1.0) == (a.std_product == 1.0)
    assert_clean_stems(QT, range(0, 60, 5))


@pytest.mark.parametrize("bad, message", [
    ({"d_k": 0, "q_std": 1, "k_std": 1}, "greater than or equal to 1"),
    ({"d_k": 64, "q_std": 0, "k_std": 1}, "greater than 0"),
    ({"d_k": 64, "q_std": 0.1234, "k_std": 1}, "q_std = 0.1234 has more than 3 decimal places"),
])
def test_params_messages(bad, message):
    with pytest.raises(ValidationError, match=message):
        ScoreVarianceParams.model_validate(bad)
