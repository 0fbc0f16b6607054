"""prob.optimal_prediction (seed 004 Problem 2(a)): the minimiser of the expected L1/L2 loss found
with autograd against the median/mean and (b - a)/4, (b - a)^2/12, which positions can copy, the
seed's 0.5, and pinning the loss."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from examforge.bank.prob_optimal_prediction import LOSSES, OptimalPredictionParams, ProbOptimalPrediction
from examforge.renderers.blocks import question_text
from examforge.solvers.expectation import expected_uniform_loss, uniform_optimal_prediction
from examforge.variant import draw

from tests.newtype_helpers import assert_clean_stems, assert_solver_matches_reference, solve_file

QT = ProbOptimalPrediction()


def test_seed_004_p2a_optimal_expected_loss_is_one_half():
    (record,) = solve_file("prob.optimal_prediction", "optimal_prediction_seed004.json")
    a = record["answer"]
    assert a["total"] == 0.5 and a["prediction"] == 0.5 and a["unseen_loss"] == 0.25
    # positions 1 and 2 guess 0.5; 3 copies x_2 = u1, 4 copies x_3 = u2
    assert [p["seen_at"] for p in a["positions"]] == [None, None, 2, 3]
    assert [p["expected_loss"] for p in a["positions"]] == [0.25, 0.25, 0.0, 0.0]


@pytest.mark.parametrize("loss", LOSSES)
def test_solver_agrees_with_the_closed_form_for_each_pinned_loss(loss):
    assert_solver_matches_reference(QT, range(150), overrides={"loss": loss})


@pytest.mark.parametrize("low, high", [(0, 1), (-3, 3), (2, 5), (0.25, 0.75), (-10, 4)])
def test_minimiser_and_minimum_of_the_expected_loss(low, high):
    w = high - low
    l1, l2 = uniform_optimal_prediction(low, high, "l1"), uniform_optimal_prediction(low, high, "l2")
    assert l1.prediction == pytest.approx((low + high) / 2) and l1.expected_loss == pytest.approx(w / 4)
    assert l2.prediction == pytest.approx((low + high) / 2) and l2.expected_loss == pytest.approx(w * w / 12)
    # the expected loss against a Riemann sum, at the minimiser and off it
    u = torch.linspace(low, high, 200_001, dtype=torch.float64)
    for o in (l1.prediction, low + w / 5):
        t = torch.tensor(o, dtype=torch.float64)
        assert float(expected_uniform_loss(t, low, high, "l1")) == pytest.approx(float((o - u).abs().mean()), rel=1e-4)
        assert float(expected_uniform_loss(t, low, high, "l2")) == pytest.approx(float(((o - u) ** 2).mean()), rel=1e-4)


def test_an_immediate_repeat_is_copied_from_the_current_input():
    p = OptimalPredictionParams(loss="l2", low=0, high=6, pattern=[1, 1, 2, 1])
    a = QT.solve(p)  # x = (0, u1, u1, u2): y_2 = u1 = x_2 is visible at position 2
    assert [s.seen_at for s in a.positions] == [None, 2, None, 2]
    assert a.total == 6.0  # two unseen values, 36/12 each
    assert QT.mistakes(p)["ignored_the_current_input"] == 9.0  # y_2 treated as unseen too


def test_pinned_loss_keeps_the_pattern_and_interval():
    for seed in range(40):
        free, pinned = draw(QT, seed), draw(QT, seed, overrides={"loss": "l2"})
        assert (pinned.params.pattern, pinned.params.low) == (free.params.pattern, free.params.low)
        assert "squared error" in question_text(pinned)
        assert pinned.answer.n_unseen == max(pinned.params.pattern)  # each distinct value is guessed once


def test_stems_are_clean():
    assert_clean_stems(QT, range(0, 60, 5))


@pytest.mark.parametrize("bad, message", [
    ({"loss": "l1", "low": 0, "high": 1, "pattern": [1, 3, 2]}, "position 2 uses u_3 before u_2"),
    ({"loss": "l1", "low": 1, "high": 1, "pattern": [1, 1]}, "low 1.0 must be smaller than high 1.0"),
    ({"loss": "huber", "low": 0, "high": 1, "pattern": [1, 1]}, "'l1' or 'l2'"),
    ({"loss": "l1", "low": 0, "high": 1, "pattern": [1]}, "2 to 10 positions"),
])
def test_params_messages(bad, message):
    with pytest.raises(ValidationError, match=message):
        OptimalPredictionParams.model_validate(bad)


def test_ranges():
    from examforge.errors import InputError
    from examforge.variant import validate_ranges

    with pytest.raises(InputError, match="no interval width in \\[7, 7\\]"):
        validate_ranges(QT, {"min_width": 7, "max_width": 7}, where="spec")
    with pytest.raises(InputError, match="min_values 6 leaves no repeat"):
        validate_ranges(QT, {"min_values": 6, "max_values": 6, "max_length": 6}, where="spec")
    for seed in range(40):
        p = draw(QT, seed, ranges={"max_width": 3, "min_length": 6, "max_length": 6, "min_values": 3}).params
        assert p.high - p.low <= 3 and len(p.pattern) == 6 and max(p.pattern) >= 3
