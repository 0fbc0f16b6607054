"""Optimisation questions: gradient descent on a one-dimensional quadratic, where the learning
rate decides between monotone convergence, overshooting, bouncing and divergence (eta < 2/a)."""

from __future__ import annotations

from typing import Annotated, Literal, Union

import numpy as np
from pydantic import Field, model_validator

from examforge.drawing import draw_until, nice
from examforge.figures import Axes, Curve, sampled
from examforge.question import AnswerFormat, AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import fmt
from examforge.solvers import clean
from examforge.solvers.optim import quadratic_gd


Behaviour = Literal["monotone", "one_step", "oscillating", "bounce", "diverge_oscillating", "diverge_monotone"]

# What the iterates do, as a verb phrase ("the iterates ..."), plain LaTeX-safe text.
BEHAVIOURS: dict[str, str] = {
    "monotone": "converge to the minimum without overshooting it (the sign never changes)",
    "one_step": "reach the minimum $w = 0$ in one step and stay there",
    "oscillating": "converge to the minimum while overshooting it (the sign alternates)",
    "bounce": "bounce between $w_0$ and $-w_0$ forever, neither converging nor diverging",
    "diverge_oscillating": "diverge, alternating in sign with growing magnitude",
    "diverge_monotone": "diverge without changing sign, moving away from the minimum",
}


def classify(factor: float) -> str:
    """The behaviour of w_t = factor^t w_0 (w_0 != 0)."""
    c = clean(factor)
    if c > 1:
        return "diverge_monotone"
    if c == 0:
        return "one_step"
    if 0 < c < 1:
        return "monotone"
    if -1 < c < 0:
        return "oscillating"
    if c == -1:
        return "bounce"
    if c == 1:  # eta = 0: never moves; not drawn, and rejected by Params
        raise ValueError("factor 1: the iterates never move")
    return "diverge_oscillating"


class LRStabilityParams(ParamsModel):
    curvature: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]  # a in L = a/2 w^2
    lr: Annotated[float, Field(gt=0, le=10, allow_inf_nan=False)]
    w0: Annotated[float, Field(ge=-100, le=100, allow_inf_nan=False)]
    steps: Annotated[int, Field(ge=1, le=6)] = 3
    ask: Literal["iterate", "max_lr", "behaviour"] = "iterate"  # the multiple-choice / true-false quantity

    @model_validator(mode="after")
    def _moves(self):
        if self.w0 == 0:
            raise ValueError("w0 = 0 is already the minimum; choose a nonzero starting point")
        if self.lr * self.curvature < 1e-6:
            raise ValueError(
                f"eta * a = {self.lr} * {self.curvature} is too small for the iterates to move visibly"
            )
        return self


class LRStabilityRanges(RangesModel):
    min_curvature: Annotated[float, Field(gt=0, le=100)] = 0.25
    max_curvature: Annotated[float, Field(gt=0, le=100)] = 10.0
    min_steps: Annotated[int, Field(ge=1, le=6)] = 2
    max_steps: Annotated[int, Field(ge=1, le=6)] = 4


class LRStabilityAnswer(AnswerModel):
    eta_a: float  # eta * a
    factor: float  # 1 - eta * a: one step multiplies w by it
    iterates: tuple[float, ...]  # w_0 .. w_steps
    grads: tuple[float, ...]  # a w_t
    losses: tuple[float, ...]  # L(w_t)
    max_lr: float  # 2 / a
    converges: bool
    behaviour: Behaviour
    behaviour_text: str  # BEHAVIOURS[behaviour], LaTeX
    asked: Literal["iterate", "max_lr", "behaviour"]
    asked_value: Union[float, str]
    plot_extent: float  # half-width of the figure's w axis


def _lr_answer(p: LRStabilityParams, iterates, grads) -> LRStabilityAnswer:
    factor = 1 - p.lr * p.curvature
    behaviour = classify(factor)
    iterates = tuple(clean(w) for w in iterates)
    max_lr = clean(2 / p.curvature)
    asked_value = {"iterate": iterates[-1], "max_lr": max_lr, "behaviour": behaviour}[p.ask]
    return LRStabilityAnswer(
        eta_a=clean(p.lr * p.curvature),
        factor=clean(factor),
        iterates=iterates,
        grads=tuple(clean(g) for g in grads),
        losses=tuple(clean(0.5 * p.curvature * w * w) for w in iterates),
        max_lr=max_lr,
        converges=abs(clean(factor)) < 1,
        behaviour=behaviour,
        behaviour_text=BEHAVIOURS[behaviour],
        asked=p.ask,
        asked_value=asked_value,
        plot_extent=clean(1.15 * max(abs(w) for w in iterates)),
    )


# Step factors c = 1 - eta a, weighted so each behaviour is common (monotone, overshooting,
# diverging), with the boundary cases c = 0 and c = -1 now and then.
_FACTORS = (0.8, 0.6, 0.5, 0.4, 0.2, 0.0, -0.2, -0.4, -0.5, -0.6, -0.8, -1.0, -1.2, -1.5, -2.0, -3.0)
_FACTOR_WEIGHTS = np.array([5, 5, 5, 5, 4, 2, 5, 5, 5, 5, 4, 2, 5, 6, 6, 3], dtype=float)
_CURVATURES = (0.5, 1.0, 2.0, 4.0, 5.0, 10.0, 0.25, 3.0, 8.0, 20.0)
_W0 = (1.0, 2.0, 4.0, 0.5, 3.0, 10.0, -1.0, -2.0, -4.0, -0.5, -3.0, -10.0)


@register
class LRStability(QuestionType):
    id = "optim.lr_stability"
    summary = "Gradient descent on L = a/2 w^2: the first iterates, the stability bound eta < 2/a and the behaviour."
    mirrors = "001 warm-up MC1 (batch GD with a too-large learning rate: divergence or oscillation; L = w^2/2, eta < 2)"
    Params = LRStabilityParams
    Answer = LRStabilityAnswer
    answer_format = AnswerFormat("number")  # see variant_format
    Ranges = LRStabilityRanges
    forms = ("free", "mc", "tf")
    # The seed's parabola L = w^2/2 (a = 1, stable iff eta < 2); eta = 2.5 and w0 = 1 are ours.
    # Its key (B: divergence or oscillation) is right: here w = 1, -1.5, 2.25, -3.375.
    seed_example = {"curvature": 1.0, "lr": 2.5, "w0": 1.0, "steps": 3, "ask": "behaviour"}
    box_height = "5cm"

    def sample(self, rng: np.random.Generator, ranges: LRStabilityRanges) -> LRStabilityParams:
        r = ranges
        curvatures = [a for a in _CURVATURES if r.min_curvature <= a <= r.max_curvature]
        u = rng.random()
        ask = "iterate" if u < 0.45 else ("behaviour" if u < 0.8 else "max_lr")
        probs = _FACTOR_WEIGHTS / _FACTOR_WEIGHTS.sum()
        def draw(rng):
            a = float(rng.choice(curvatures)) if curvatures else float(r.min_curvature)
            c = float(_FACTORS[int(rng.choice(len(_FACTORS), p=probs))])
            lr = round((1 - c) / a, 6)
            if not nice(lr) or lr > 4:
                return None
            w0 = float(rng.choice(_W0))
            steps = int(rng.integers(r.min_steps, r.max_steps + 1))
            ws = [w0 * c**t for t in range(steps + 1)]
            if not all(nice(w) for w in ws) or max(abs(w) for w in ws) > 1000:
                return None
            if ask == "iterate" and abs(ws[-1]) < 1e-12:  # c = 0: ask about the behaviour instead
                return None
            return LRStabilityParams(curvature=a, lr=lr, w0=w0, steps=steps, ask=ask)

        return draw_until(rng, draw, tries=300, type_id=self.id, what="hand-computable draw", ranges=r)

    def solve(self, p: LRStabilityParams) -> LRStabilityAnswer:
        run = quadratic_gd(p.curvature, p.lr, p.w0, p.steps)
        return _lr_answer(p, run.iterates, run.grads)

    def reference(self, p: LRStabilityParams) -> LRStabilityAnswer:
        c = 1 - p.lr * p.curvature
        ws = [p.w0 * c**t for t in range(p.steps + 1)]  # closed form w_t = (1 - eta a)^t w_0
        return _lr_answer(p, ws, [p.curvature * w for w in ws[:-1]])

    def descent_figure(self, p: LRStabilityParams, a: LRStabilityAnswer) -> Axes:
        """The parabola L(w) with the iterates on it."""
        e = a.plot_extent
        return Axes(
            width_cm=6.5, height_cm=4, lines="middle", xlabel="$w$", ylabel="$L$", ymin=0, tick_font="\\scriptsize",
            series=(Curve(points=sampled(lambda w: 0.5 * p.curvature * w**2, -e, e, 61), colour="gray", width_pt=0.8),
                    Curve(points=tuple(zip(a.iterates, a.losses)), colour="blue", width_pt=0.8, marks=True,
                          mark_radius_pt=1.5)),
        )

    def answer_latex(self, a: LRStabilityAnswer) -> str:
        k = len(a.iterates) - 1
        return (
            rf"$(w_1, \dots, w_{{{k}}}) = {fmt(a.iterates[1:])}$; converges iff $\eta < 2/a = {fmt(a.max_lr)}$; "
            rf"the iterates {BEHAVIOURS[a.behaviour]}"
        )

    def key_texts(self, a: LRStabilityAnswer) -> list[str]:
        return [str(fmt(a.iterates[1:])), f"2/a = {fmt(a.max_lr)}"]

    def variant_format(self, p: LRStabilityParams) -> AnswerFormat:
        # the behaviour is one of four sentences: picked among the options
        return AnswerFormat("choice") if p.ask == "behaviour" else AnswerFormat("number")

    def choice_value(self, a: LRStabilityAnswer):
        return a.asked_value

    def choice_latex(self, value) -> str:
        if isinstance(value, str):
            return BEHAVIOURS[value]
        return f"${fmt(value)}$"

    def mistakes(self, p: LRStabilityParams) -> dict:
        a, lr, w0, k = p.curvature, p.lr, p.w0, p.steps
        c = 1 - lr * a
        if p.ask == "behaviour":
            wrong = {
                "threshold_one_over_a": classify(c) if lr * a <= 1 else "diverge_oscillating",
                "ignored_curvature": classify(1 - lr),
                "gradient_ascent": "diverge_monotone",
                "ignored_sign_flip": classify(abs(c)) if abs(c) != 1 else "bounce",
            }
            return wrong
        if p.ask == "max_lr":
            return {"one_over_a": 1 / a, "two_times_a": 2 * a, "a_over_two": a / 2, "ignored_curvature": 2.0}
        return {
            "gradient_ascent": w0 * (1 + lr * a) ** k,
            "ignored_curvature": w0 * (1 - lr) ** k,
            "one_step_short": w0 * c ** (k - 1),
            "ignored_sign_flip": w0 * abs(c) ** k,
            "forgot_lr": w0 * (1 - a) ** k,
            "one_step_too_many": w0 * c ** (k + 1),
        }

    def fallback_mistakes(self, p: LRStabilityParams, a: LRStabilityAnswer) -> dict:
        if p.ask == "behaviour":
            return {f"other_{key}": key for key in BEHAVIOURS if key != a.behaviour}
        return super().fallback_mistakes(p, a)
