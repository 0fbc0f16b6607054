"""optim.lr_stability: seed 001's warm-up (L = w^2/2, eta < 2), the behaviour at every kind of
step factor, autograd iterates against the closed form (1 - eta a)^t w0, the named mistakes,
sampling ranges and the Params validation messages."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from examforge.bank.optim import BEHAVIOURS, LRStability, LRStabilityParams, LRStabilityRanges, classify
from examforge.figures import to_latex
from examforge.renderers.blocks import question_text, solution_latex
from examforge.text import latex_to_text, normalize
from examforge.seeding import variant_rngs
from examforge.solvers.optim import quadratic_gd
from examforge.variant import make_variant

QT = LRStability()


def params(**kw) -> LRStabilityParams:
    return LRStabilityParams.model_validate({"curvature": 1.0, "lr": 2.5, "w0": 1.0, "steps": 3,
                                             "ask": "behaviour", **kw})


def test_seed_001_warm_up_too_large_a_learning_rate_diverges():
    """L = w^2/2: w <- (1 - eta) w, stable iff eta < 2. With eta = 2.5 the iterates overshoot
    further every step (key B: divergence or oscillation)."""
    a = QT.solve(params())
    assert a.factor == -1.5 and a.max_lr == 2.0 and not a.converges
    assert a.iterates == (1.0, -1.5, 2.25, -3.375)
    assert a.grads == (1.0, -1.5, 2.25)
    assert a.behaviour == "diverge_oscillating"
    assert QT.reference(params()) == a


@pytest.mark.parametrize("lr,behaviour,converges", [
    (0.5, "monotone", True),  # c = 0.5
    (1.0, "one_step", True),  # c = 0
    (1.5, "oscillating", True),  # c = -0.5
    (2.0, "bounce", False),  # c = -1: the boundary eta = 2/a
    (3.0, "diverge_oscillating", False),  # c = -2
])
def test_every_behaviour(lr, behaviour, converges):
    a = QT.solve(params(lr=lr))
    assert (a.behaviour, a.converges) == (behaviour, converges)
    assert a.behaviour_text == BEHAVIOURS[behaviour]


def test_classify_ascent():
    assert classify(1.5) == "diverge_monotone"
    with pytest.raises(ValueError, match="never move"):
        classify(1.0)


def test_autograd_iterates_match_the_closed_form():
    run = quadratic_gd(4.0, 0.15, 2.0, 4)  # c = 1 - 0.6 = 0.4
    assert run.iterates == pytest.approx([2.0 * 0.4**t for t in range(5)], abs=1e-12)
    assert run.grads == pytest.approx([4.0 * w for w in run.iterates[:-1]], abs=1e-12)
    assert run.losses[0] == 8.0


def test_mistakes_for_each_quantity():
    it = QT.mistakes(params(curvature=4.0, lr=0.375, w0=2.0, steps=2, ask="iterate"))  # c = -0.5
    assert it["gradient_ascent"] == pytest.approx(2.0 * 2.5**2)
    assert it["ignored_curvature"] == pytest.approx(2.0 * 0.625**2)
    assert it["one_step_short"] == pytest.approx(-1.0)
    assert it["ignored_sign_flip"] == pytest.approx(0.5)
    lr = QT.mistakes(params(curvature=4.0, lr=0.375, ask="max_lr"))
    assert lr == {"one_over_a": 0.25, "two_times_a": 8.0, "a_over_two": 2.0, "ignored_curvature": 2.0}
    beh = QT.mistakes(params(curvature=4.0, lr=0.375, ask="behaviour"))  # right: oscillating
    assert beh["threshold_one_over_a"] == "diverge_oscillating"
    assert beh["gradient_ascent"] == "diverge_monotone"
    assert beh["ignored_sign_flip"] == "monotone"


def test_behaviour_options_fall_back_to_the_other_behaviours():
    p = params(lr=3.0)  # diverges; several named mistakes coincide with the answer
    v = make_variant(QT, p, form="mc", seed=5)
    latex = [c.latex for c in v.choices]
    assert len(set(latex)) == 4 and BEHAVIOURS["diverge_oscillating"] in latex


def test_templates_print_the_iterates_and_the_plot():
    v = make_variant(QT, params(curvature=2.0, lr=0.75, w0=4.0, steps=3, ask="iterate"), form="tf", seed=2)
    q = latex_to_text(question_text(v))
    assert "True or false: after 3 steps" in q
    s = solution_latex(v)
    assert normalize("(-2, 1, -0.5)") in normalize(latex_to_text(s))
    plot = QT.descent_figure(v.params, v.answer)
    assert to_latex(plot) in s and s.count(r"\circle*") == 4  # w_0 .. w_3 on the parabola
    assert plot.series[1].points == ((4, 16), (-2, 4), (1, 1), (-0.5, 0.25)) and len(plot.series[0].points) == 61


def test_validation_and_ranges():
    with pytest.raises(ValidationError, match="w0 = 0 is already the minimum"):
        params(w0=0)
    with pytest.raises(ValidationError, match="min_steps 5 is larger than max_steps 3"):
        LRStabilityRanges(min_steps=5, max_steps=3)
    r = LRStabilityRanges(min_curvature=2.0, max_curvature=4.0, min_steps=4, max_steps=4)
    for seed in range(40):
        p = QT.sample(variant_rngs(seed)[0], r)
        assert 2.0 <= p.curvature <= 4.0 and p.steps == 4 and p.lr <= 4


def test_draws_cover_every_behaviour():
    seen = {QT.solve(QT.sample(variant_rngs(seed)[0], LRStabilityRanges())).behaviour for seed in range(300)}
    assert seen == {"monotone", "one_step", "oscillating", "bounce", "diverge_oscillating"}
