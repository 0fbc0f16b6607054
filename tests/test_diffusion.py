"""diffusion.ddpm_marginal (seed 003 Q29): the step-by-step moment recursion and torch.cumprod
against the closed form N(sqrt(alpha-bar) x_0, (1 - alpha-bar) I), a seeded simulation of the
chain, and the seed instance."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from examforge.bank.diffusion import ASKS, DdpmParams, DiffusionDdpmMarginal, Gaussian
from examforge.solvers.diffusion import forward_marginal
from examforge.variant import draw

from tests.newtype_helpers import assert_clean_stems, assert_solver_matches_reference, solve_file

QT = DiffusionDdpmMarginal()


def test_seed_instance_from_the_params_file():
    (record,) = solve_file("diffusion.ddpm_marginal", "ddpm_seed003.json")
    a = record["answer"]
    # alpha = (0.9, 0.8, 0.5), alpha-bar_3 = 0.36: x_3 = 0.6 (1, -2) + 0.8 (0.5, 1)
    assert [s["alpha_bar"] for s in a["steps"]] == [0.9, 0.72, 0.36]
    assert (a["mean_coefficient"], a["variance"], a["std"]) == (0.6, 0.64, 0.8)
    assert a["mean"] == [0.6, -1.2] and a["x_t"] == [1.0, -0.4]


@pytest.mark.parametrize("ask", ASKS)
def test_recursion_agrees_with_the_closed_form_for_every_pinned_ask(ask):
    assert_solver_matches_reference(QT, range(120), overrides={"ask": ask})


def test_simulating_the_chain_step_by_step_matches_the_marginal():
    gen = torch.Generator().manual_seed(7)
    betas = [0.1, 0.25, 0.05, 0.4]
    x0 = torch.tensor([1.5, -0.5], dtype=torch.float64)
    x = x0.expand(400_000, 2).clone()
    for b in betas:
        x = math.sqrt(1 - b) * x + math.sqrt(b) * torch.randn(x.shape, generator=gen, dtype=torch.float64)
    m = forward_marginal(betas, x0.tolist(), [0.0, 0.0])
    assert x.mean(dim=0).tolist() == pytest.approx(m.mean, abs=0.005)
    assert x.var(dim=0).tolist() == pytest.approx([m.variance] * 2, rel=0.01)
    assert m.alpha_bar == pytest.approx(0.9 * 0.75 * 0.95 * 0.6)


def test_mistakes_for_each_ask():
    p = DdpmParams(betas=[0.1, 0.2, 0.5], x0=[1, -2], eps=[0.5, 1], ask="alpha_bar")
    m = QT.mistakes(p)
    assert m == {"product_of_betas": 0.01, "last_alpha_only": 0.5, "one_minus_sum_of_betas": 0.2,
                 "reported_sqrt": 0.6, "one_minus": 0.64}
    g = QT.mistakes(p.model_copy(update={"ask": "marginal"}))
    assert g["no_sqrt_on_mean"] == Gaussian(0.36, 0.64) and g["variance_sum_of_betas"] == Gaussian(0.6, 0.8)
    x = QT.mistakes(p.model_copy(update={"ask": "x_t"}))
    assert x["no_square_roots"] == (0.68, -0.08) and x["forgot_noise"] == (0.6, -1.2)
    assert QT.choice_latex(Gaussian(0.6, 0.64)) == r"$\mathcal{N}(0.6\,\mathbf{x}_0,\ 0.64\,I)$"


def test_stems_are_clean_and_every_ask_is_drawn():
    assert {draw(QT, seed).params.ask for seed in range(30)} == set(ASKS)
    assert_clean_stems(QT, range(0, 60, 5))


@pytest.mark.parametrize("bad, message", [
    ({"betas": [], "x0": [1], "eps": [0]}, "give 1 to 8 betas"),
    ({"betas": [1.0], "x0": [1], "eps": [0]}, "less than 1"),
    ({"betas": [0.1], "x0": [1, 2], "eps": [0]}, "eps has 1 entries but x0 has 2"),
    ({"betas": [0.1234], "x0": [1], "eps": [0]}, "betas = 0.1234 has more than 3 decimal places"),
])
def test_params_messages(bad, message):
    with pytest.raises(ValidationError, match=message):
        DdpmParams.model_validate(bad)
