"""Backpropagation questions: forward pass, chain rule and one SGD step on tiny networks."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from examforge.drawing import draw_until, nice
from examforge.question import RangesModel, AnswerModel, ParamsModel, QuestionType
from examforge.registry import register
from examforge.formatting import fmt
from examforge.solvers import clean
from examforge.solvers.mlp import two_neuron_step

Scalar = Annotated[float, Field(ge=-10, le=10, allow_inf_nan=False)]

_X = (-2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0)
_W_MAG = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
_Y = tuple(v / 2 for v in range(-6, 7))  # -3, -2.5, ..., 3
_LR = (0.1, 0.05, 0.2, 0.01)


class TwoNeuronParams(ParamsModel):
    x: Scalar
    y: Scalar
    w1: Scalar
    w2: Scalar
    w3: Scalar
    lr: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
    activation: Literal["relu", "identity"] = "relu"
    # "w1"/"w2": the weight whose updated value the multiple-choice form asks for; "identity"
    # (seed 001 Q2(d), never drawn: a spec asks for it): swap the activation (ReLU for the
    # identity, or back) and ask how the gradient of one weight changes
    ask: Literal["w1", "w2", "identity"] = "w1"

    @model_validator(mode="after")
    def _off_the_kink(self):
        if self.activation == "relu" or self.ask == "identity":
            for i, w in ((1, self.w1), (2, self.w2)):
                if w * self.x == 0:
                    raise ValueError(
                        f"z{i} = w{i}*x = {fmt(w)}*{fmt(self.x)} = 0 sits on the ReLU kink, "
                        f"where the derivative is undefined; choose nonzero w{i} and x"
                    )
        return self

    # -- ask "identity" ----------------------------------------------------------------------
    @property
    def other_activation(self) -> str:
        return "identity" if self.activation == "relu" else "relu"

    @property
    def swapped(self) -> "TwoNeuronParams":
        """The same network with the other activation."""
        return TwoNeuronParams.model_validate({**self.model_dump(), "activation": self.other_activation, "ask": "w1"})

    @property
    def compared(self) -> int:
        """The unit whose weight the comparison asks about: the one a ReLU leaves dead (z < 0)
        when exactly one is, as in the seed; unit 2 otherwise."""
        dead = [i for i, w in ((1, self.w1), (2, self.w2)) if w * self.x < 0]
        return dead[0] if len(dead) == 1 else 2


class UnitTrace(BaseModel):
    """One hidden unit's numbers, so the worked solution can loop over the two units."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int
    w: float
    z: float
    a: float
    local: float  # act'(z): 1 or 0
    dL_dz: float
    grad: float
    new_w: float
    dead: bool


class TwoNeuronAnswer(AnswerModel):
    # forward pass
    z1: float
    a1: float
    z2: float
    a2: float
    h: float  # a1 + a2
    y_hat: float
    loss: float
    # backward pass
    dL_dyhat: float  # y_hat - y
    dL_da: float  # dL/da1 = dL/da2 = dL_dyhat * w3
    act_grad1: float  # local derivative act'(z1): 1 or 0
    act_grad2: float
    dL_dz1: float
    dL_dz2: float
    grad_w1: float
    grad_w2: float
    grad_w3: float
    # one SGD step
    new_w1: float
    new_w2: float
    new_w3: float
    grads: tuple[float, float, float]
    new_weights: tuple[float, float, float]
    dead: tuple[str, ...]  # e.g. ("neuron 2",) for a ReLU unit with z < 0
    units: tuple[UnitTrace, UnitTrace]
    asked: Literal["w1", "w2", "identity"]
    asked_new_w: float  # the multiple-choice quantity
    # ask identity: the whole pass again with the other activation, the unit compared, and its
    # gradient before and after the swap (the multiple-choice quantity)
    swapped: "TwoNeuronAnswer | None" = None
    other_activation: Literal["relu", "identity", ""] = ""
    compared: int = 0
    compared_before: float = 0.0
    compared_after: float = 0.0


_ACT_NAME = {"relu": "ReLU", "identity": "the identity"}


def _chain(p: TwoNeuronParams, *, relu_masks: bool = True, half: bool = True) -> dict[str, float]:
    """The hand chain rule in pure Python. `relu_masks=False` treats every ReLU as active
    (forward and backward), `half=False` differentiates (y_hat - y)^2 instead of half of it."""
    relu = p.activation == "relu" and relu_masks
    z = {1: p.w1 * p.x, 2: p.w2 * p.x}
    act = {i: (max(0.0, z[i]) if relu else z[i]) for i in z}
    local = {i: (1.0 if (not relu or z[i] > 0) else 0.0) for i in z}
    h = act[1] + act[2]
    y_hat = p.w3 * h
    d_yhat = (y_hat - p.y) * (1.0 if half else 2.0)
    d_a = d_yhat * p.w3
    d_z = {i: d_a * local[i] for i in z}
    return {
        "z1": z[1], "a1": act[1], "z2": z[2], "a2": act[2], "h": h, "y_hat": y_hat,
        "loss": 0.5 * (y_hat - p.y) ** 2, "dL_dyhat": d_yhat, "dL_da": d_a,
        "act_grad1": local[1], "act_grad2": local[2], "dL_dz1": d_z[1], "dL_dz2": d_z[2],
        "grad_w1": d_z[1] * p.x, "grad_w2": d_z[2] * p.x, "grad_w3": d_yhat * h,
    }


def _answer(p: TwoNeuronParams, v: dict[str, float], swapped: "TwoNeuronAnswer | None" = None) -> TwoNeuronAnswer:
    v = {k: clean(x) for k, x in v.items()}
    new = {i: v[f"new_w{i}"] for i in (1, 2, 3)}
    grads = (v["grad_w1"], v["grad_w2"], v["grad_w3"])
    dead = tuple(
        f"neuron {i}" for i in (1, 2) if p.activation == "relu" and v[f"z{i}"] < 0
    )
    units = tuple(
        UnitTrace(
            index=i, w=w, z=v[f"z{i}"], a=v[f"a{i}"], local=v[f"act_grad{i}"], dL_dz=v[f"dL_dz{i}"],
            grad=v[f"grad_w{i}"], new_w=v[f"new_w{i}"], dead=f"neuron {i}" in dead,
        )
        for i, w in ((1, p.w1), (2, p.w2))
    )
    swap = {}
    if swapped is not None:
        i = p.compared
        swap = dict(swapped=swapped, other_activation=p.other_activation, compared=i, compared_before=v[f"grad_w{i}"],
                    compared_after=swapped.grads[i - 1])
    return TwoNeuronAnswer(
        **v,
        units=units,
        grads=grads,
        new_weights=(new[1], new[2], new[3]),
        dead=dead,
        asked=p.ask,
        asked_new_w=new[int(p.ask[1])] if p.ask != "identity" else new[p.compared],
        **swap,
    )


class TwoNeuronRanges(RangesModel):
    """Magnitudes of the weights and of x (on the half grid of _W_MAG and _X), the learning
    rate (one of _LR) and how many of the two ReLU units are dead (never both)."""

    min_weight: Annotated[float, Field(ge=0.5, le=3.0)] = 0.5
    max_weight: Annotated[float, Field(ge=0.5, le=3.0)] = 3.0
    min_input: Annotated[float, Field(ge=0.5, le=2.0)] = 0.5
    max_input: Annotated[float, Field(ge=0.5, le=2.0)] = 2.0
    min_lr: Annotated[float, Field(ge=0.01, le=0.2)] = 0.01
    max_lr: Annotated[float, Field(ge=0.01, le=0.2)] = 0.2
    min_dead: Annotated[int, Field(ge=0, le=1)] = 0
    max_dead: Annotated[int, Field(ge=0, le=1)] = 1

    @model_validator(mode="after")
    def _drawable(self):
        for name, values in (("weight", _W_MAG), ("input", tuple(abs(v) for v in _X)), ("lr", _LR)):
            lo, hi = getattr(self, f"min_{name}"), getattr(self, f"max_{name}")
            if not any(lo <= v <= hi for v in values):
                raise ValueError(
                    f"no {name} between min_{name} {lo} and max_{name} {hi}; choose from {sorted(set(values))}"
                )
        return self

    def inputs(self) -> list[float]:
        return [v for v in _X if self.min_input <= abs(v) <= self.max_input]

    def weights(self) -> list[float]:
        return [v for v in _W_MAG if self.min_weight <= v <= self.max_weight]

    def rates(self) -> list[float]:
        return [v for v in _LR if self.min_lr <= v <= self.max_lr]


@register
class BackpropTwoNeuron(QuestionType):
    id = "backprop.two_neuron"
    summary = "Forward pass, chain-rule gradients and one SGD step on a 2-neuron scalar network with a shared output weight."
    mirrors = "001 Problem 2 (backprop + one SGD step, x=1.5, y=2, w=(1, -0.5, 3), lr=0.1, a dead ReLU)"
    seed_example = {"x": 1.5, "y": 2, "w1": 1.0, "w2": -0.5, "w3": 3.0, "lr": 0.1, "activation": "relu", "ask": "w1"}
    options = {"ask: identity": "swap ReLU and the identity in both neurons: the dead unit's gradient before and after "
                                "(001 Q2(d))"}
    seed_note = (
        "The seed's key for part (d) is wrong: with the identity activation a2 = z2 = -0.75, so "
        "y_hat = 2.25 and dL/dw2 = (y_hat - y) * w3 * x = 0.25 * 3 * 1.5 = 1.125, not 11.25 "
        "(11.25 keeps the ReLU forward pass and only swaps the local derivative)."
    )
    Params = TwoNeuronParams
    Answer = TwoNeuronAnswer
    Ranges = TwoNeuronRanges
    box_height = "7cm"

    # -- drawing -----------------------------------------------------------------
    def sample(self, rng: np.random.Generator, ranges: TwoNeuronRanges) -> TwoNeuronParams:
        # With the default ranges acceptance is far above 1%, so failing is a bug or ranges too
        # narrow for hand-computable numbers.
        return draw_until(rng, lambda g: self._draw(g, ranges), tries=500, type_id=self.id,
                          what="hand-computable draw", ranges=ranges)

    def _draw(self, rng: np.random.Generator, r: TwoNeuronRanges) -> TwoNeuronParams | None:
        # The default ranges keep the original lists and the same sequence of draws.
        activation = "relu" if rng.random() < 0.75 else "identity"
        if r.min_dead >= 1:
            activation = "relu"  # only a ReLU unit can be dead
        x = float(rng.choice(r.inputs()))
        mags = [float(rng.choice(r.weights())) for _ in range(3)]
        if activation == "relu":
            # both active half the time, otherwise exactly one dead unit (never both)
            if r.max_dead == 0:
                pattern = ("alive", "alive")
            elif r.min_dead == 1:
                pattern = ("dead", "alive") if rng.random() < 0.5 else ("alive", "dead")
            else:
                pattern = ("alive", "alive") if rng.random() < 0.5 else (
                    ("dead", "alive") if rng.random() < 0.5 else ("alive", "dead")
                )
            sign_x = 1.0 if x > 0 else -1.0
            w1, w2 = (m * sign_x * (1.0 if s == "alive" else -1.0) for m, s in zip(mags, pattern))
        else:
            w1, w2 = (m * float(rng.choice((-1.0, 1.0))) for m in mags[:2])
        w3 = mags[2] * float(rng.choice((-1.0, 1.0)))
        y = float(rng.choice(_Y))
        lr = float(rng.choice(r.rates()))
        alive = [f"w{i}" for i, w in ((1, w1), (2, w2)) if activation == "identity" or w * x > 0]
        ask = str(rng.choice(alive))
        p = TwoNeuronParams(x=x, y=y, w1=w1, w2=w2, w3=w3, lr=lr, activation=activation, ask=ask)
        a = self.reference(p)
        values = [a.z1, a.a1, a.z2, a.a2, a.y_hat, a.loss, *a.grads, *a.new_weights]
        if a.dL_dyhat == 0 or abs(a.dL_dyhat) > 8 or max(abs(g) for g in a.grads) > 40:
            return None
        if not all(nice(v) for v in values):
            return None
        return p

    # -- solving -------------------------------------------------------------------
    def solve(self, p: TwoNeuronParams) -> TwoNeuronAnswer:
        return self._solve(p, self._solve(p.swapped) if p.ask == "identity" else None)

    def _solve(self, p: TwoNeuronParams, swapped: TwoNeuronAnswer | None = None) -> TwoNeuronAnswer:
        r = two_neuron_step(p.x, p.y, p.w1, p.w2, p.w3, act=p.activation, lr=p.lr)
        v, g = r.values, r.value_grads
        # local derivatives of the activation, read off autograd: da/dz = (dL/dz) / (dL/da)
        # is undefined when dL/da = 0, so take them from the sign of z (the ReLU mask).
        local = {
            i: 1.0 if p.activation == "identity" or v[f"z{i}"] > 0 else 0.0 for i in (1, 2)
        }
        return _answer(p, {
            "z1": v["z1"], "a1": v["a1"], "z2": v["z2"], "a2": v["a2"],
            "h": v["h"], "y_hat": v["y_hat"], "loss": r.loss,
            "dL_dyhat": g["y_hat"],
            "dL_da": g["a1"],  # = dL/da2: both units feed y_hat through the same w3
            "act_grad1": local[1], "act_grad2": local[2],
            "dL_dz1": g["z1"], "dL_dz2": g["z2"],
            "grad_w1": r.grads["w1"], "grad_w2": r.grads["w2"], "grad_w3": r.grads["w3"],
            "new_w1": r.new_params["w1"], "new_w2": r.new_params["w2"], "new_w3": r.new_params["w3"],
        }, swapped)

    def reference(self, p: TwoNeuronParams) -> TwoNeuronAnswer:
        swapped = self.reference(p.swapped) if p.ask == "identity" else None
        v = _chain(p)
        for i, w in ((1, p.w1), (2, p.w2), (3, p.w3)):
            v[f"new_w{i}"] = w - p.lr * v[f"grad_w{i}"]
        return _answer(p, v, swapped)

    # -- presentation ------------------------------------------------------------------
    def answer_latex(self, a: TwoNeuronAnswer) -> str:
        # Kept to one line: after "Answer: B" the shared box has few spaces to stretch, so a
        # break inside this line would run into the margin. y_hat and L are in the solution.
        if a.asked == "identity":
            return rf"gradients ${fmt(a.grads)}$; with {_ACT_NAME[a.other_activation]}: ${fmt(a.swapped.grads)}$"
        return rf"gradients ${fmt(a.grads)}$; new weights ${fmt(a.new_weights)}$"

    def key_texts(self, a: TwoNeuronAnswer) -> list[str]:
        # The two tuples read the same in latex_to_text and in pdftotext (no subscripts);
        # the worked solution ends with them too.
        if a.asked == "identity":
            return [str(fmt(a.swapped.grads))]
        return [str(fmt(a.grads)), str(fmt(a.new_weights))]

    # -- multiple choice ---------------------------------------------------------------
    def choice_value(self, a: TwoNeuronAnswer) -> float:
        return a.compared_after if a.asked == "identity" else a.asked_new_w

    def mistakes(self, p: TwoNeuronParams) -> dict[str, float]:
        if p.ask == "identity":
            return self._swap_mistakes(p)
        i = int(p.ask[1])
        w = p.w1 if i == 1 else p.w2
        right = _chain(p)
        g = right[f"grad_w{i}"]
        d_z = right[f"dL_dz{i}"]
        no_mask = _chain(p, relu_masks=False)
        no_half = _chain(p, half=False)
        return {
            "ignored_relu_mask": w - p.lr * no_mask[f"grad_w{i}"],
            "ascent_step": w + p.lr * g,
            "forgot_w3_in_chain": w - p.lr * right["dL_dyhat"] * right[f"act_grad{i}"] * p.x,
            "forgot_x_in_chain": w - p.lr * d_z,
            "forgot_lr": w - g,
            "no_half_in_loss": w - p.lr * no_half[f"grad_w{i}"],
            "activation_for_input": w - p.lr * d_z * right[f"a{i}"],
        }

    def _swap_mistakes(self, p: TwoNeuronParams) -> dict[str, float]:
        """Wrong values of dL/dw_i after swapping the activation (i = p.compared)."""
        i = p.compared
        before, after = _chain(p), _chain(p.swapped)
        return {
            # the seed's key: the old pass's upstream gradient times the new local derivative
            "kept_old_forward_pass": before["dL_da"] * after[f"act_grad{i}"] * p.x,
            "unchanged": before[f"grad_w{i}"],
            "forgot_w3_in_chain": after["dL_dyhat"] * after[f"act_grad{i}"] * p.x,
            "forgot_x_in_chain": after[f"dL_dz{i}"],
            "no_half_in_loss": 2 * after[f"grad_w{i}"],
            "activation_for_input": after[f"dL_dz{i}"] * after[f"a{i}"],
        }
