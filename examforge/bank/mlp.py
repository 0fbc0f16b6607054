"""A general tiny MLP: forward values, backpropagated gradients and one SGD step on a 2- or
3-layer fully connected network with ReLU, LeakyReLU, sigmoid or tanh hidden units and a
linear output, with dead ReLU units called out."""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from examforge.drawing import draw_until, nice
from examforge.question import AnswerModel, ParamsModel, QuestionType, RangesModel
from examforge.registry import register
from examforge.formatting import fmt
from examforge.solvers import clean
from examforge.solvers.mlp import ACTIVATIONS, dense_mlp_step_custom, leaky_relu

MAX_WIDTH = 3

Num = Annotated[float, Field(ge=-10, le=10, allow_inf_nan=False)]
Vector = Annotated[tuple[Num, ...], Field(min_length=1, max_length=MAX_WIDTH)]
Matrix = Annotated[tuple[Vector, ...], Field(min_length=1, max_length=MAX_WIDTH)]
Activation = Literal["relu", "leaky_relu", "sigmoid", "tanh"]


def _act(name: str, slope: float):
    """(g, g') in plain Python; g' takes z and the activation value h = g(z)."""
    if name == "relu":
        return (lambda z: max(0.0, z)), (lambda z, h: 1.0 if z > 0 else 0.0)
    if name == "leaky_relu":
        return (lambda z: z if z > 0 else slope * z), (lambda z, h: 1.0 if z > 0 else slope)
    if name == "sigmoid":
        return (lambda z: 1.0 / (1.0 + math.exp(-z))), (lambda z, h: h * (1.0 - h))
    return math.tanh, (lambda z, h: 1.0 - h * h)


class TinyMLPParams(ParamsModel):
    x: Vector
    y: Num
    weights: Annotated[tuple[Matrix, ...], Field(min_length=2, max_length=3)]  # W^(k), shape (out, in)
    biases: Annotated[tuple[Vector, ...], Field(min_length=2, max_length=3)]
    activation: Activation = "relu"  # hidden layers; the output layer is linear
    negative_slope: Annotated[float, Field(gt=0, lt=1)] = 0.1  # LeakyReLU only
    lr: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
    ask: tuple[Annotated[int, Field(ge=1, le=MAX_WIDTH)], Annotated[int, Field(ge=1, le=MAX_WIDTH)]] = (1, 1)

    @model_validator(mode="after")
    def _consistent(self):
        if len(self.weights) != len(self.biases):
            raise ValueError(f"{len(self.weights)} weight matrices but {len(self.biases)} bias vectors")
        width = len(self.x)
        for k, (w, b) in enumerate(zip(self.weights, self.biases), start=1):
            cols = sorted({len(row) for row in w})
            if cols != [width]:
                raise ValueError(f"W{k} must have {width} columns (the size of its input), got rows of lengths {cols}")
            if len(b) != len(w):
                raise ValueError(f"b{k} has {len(b)} entries but W{k} has {len(w)} rows")
            width = len(w)
        if width != 1:
            raise ValueError(f"the output layer W{len(self.weights)} must have one row (a scalar output), got {width}")
        i, j = self.ask
        if i > len(self.weights[0]) or j > len(self.x):
            raise ValueError(f"ask {list(self.ask)} is not an entry of W1, which is {len(self.weights[0])}x{len(self.x)}")
        if self.activation in ("relu", "leaky_relu"):
            for k, unit, z in _pre_activations(self):
                if abs(z) < 1e-12:
                    raise ValueError(
                        f"hidden unit {unit} of layer {k} has z = 0, on the {self.activation} kink where "
                        "the derivative is undefined"
                    )
        return self


def _pre_activations(p: TinyMLPParams):
    """(layer, unit, z) of every hidden unit, 1-based."""
    g, _ = _act(p.activation, p.negative_slope)
    h = list(p.x)
    for k, (w, b) in enumerate(zip(p.weights[:-1], p.biases[:-1]), start=1):
        z = [sum(wij * hj for wij, hj in zip(row, h)) + bi for row, bi in zip(w, b)]
        for i, zi in enumerate(z, start=1):
            yield k, i, zi
        h = [g(v) for v in z]


class TinyMLPRanges(RangesModel):
    min_layers: Annotated[int, Field(ge=2, le=3)] = 2
    max_layers: Annotated[int, Field(ge=2, le=3)] = 3
    min_width: Annotated[int, Field(ge=1, le=MAX_WIDTH)] = 2  # hidden units per layer
    max_width: Annotated[int, Field(ge=1, le=MAX_WIDTH)] = 2
    min_inputs: Annotated[int, Field(ge=1, le=MAX_WIDTH)] = 2
    max_inputs: Annotated[int, Field(ge=1, le=MAX_WIDTH)] = 2


class LayerTrace(BaseModel):
    """One layer's numbers, forward and backward, so the worked solution can loop over layers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: int  # k, 1-based
    hidden: bool  # False for the linear output layer
    weights: tuple[tuple[float, ...], ...]
    bias: tuple[float, ...]
    inputs: tuple[float, ...]  # h^(k-1) (x for k = 1)
    z: tuple[float, ...]
    h: tuple[float, ...]  # g(z) (z itself for the output layer)
    local: tuple[float, ...]  # g'(z)
    upstream: tuple[float, ...]  # dL/dh^(k)
    delta: tuple[float, ...]  # dL/dz^(k)
    grad_W: tuple[tuple[float, ...], ...]
    grad_b: tuple[float, ...]
    new_W: tuple[tuple[float, ...], ...]
    new_b: tuple[float, ...]
    dead: tuple[int, ...]  # 1-based ReLU units with z < 0
    leaky: tuple[int, ...]  # 1-based LeakyReLU units with z < 0 (slope alpha, not dead)


class TinyMLPAnswer(AnswerModel):
    layers: tuple[LayerTrace, ...]
    y_hat: float
    loss: float
    dL_dyhat: float
    dead_units: tuple[str, ...]  # e.g. "layer 1 unit 2"
    asked: tuple[int, int]
    asked_weight: float
    asked_grad: float
    asked_new_w: float
    tolerance: float  # absolute grading tolerance: 0 when every value is exact


def _rt(values) -> tuple:
    return tuple(_rt(v) if isinstance(v, (list, tuple)) else clean(v) for v in values)


def _by_hand(p: TinyMLPParams, *, local_mode: str = "right", half: bool = True,
             untransposed: bool = False) -> dict:
    """Forward and backward pass in plain Python. The keyword switches make the deliberately
    wrong versions used as distractors: local_mode "one" drops g', "value" uses g(z) for g'(z),
    "relu" treats LeakyReLU as ReLU backwards; half=False differentiates (y_hat - y)^2;
    untransposed backpropagates through W instead of W^T (square matrices only)."""
    g, dg = _act(p.activation, p.negative_slope)
    n = len(p.weights)
    inputs, zs, hs, locals_ = [], [], [], []
    h = list(p.x)
    for k, (w, b) in enumerate(zip(p.weights, p.biases), start=1):
        inputs.append(h)
        z = [sum(wij * hj for wij, hj in zip(row, h)) + bi for row, bi in zip(w, b)]
        if k < n:
            a = [g(v) for v in z]
            if local_mode == "one":
                loc = [1.0] * len(z)
            elif local_mode == "value":
                loc = list(a)
            elif local_mode == "relu":
                loc = [1.0 if v > 0 else 0.0 for v in z]
            else:
                loc = [dg(v, av) for v, av in zip(z, a)]
        else:
            a, loc = list(z), [1.0]
        zs.append(z)
        hs.append(a)
        locals_.append(loc)
        h = a
    err = hs[-1][0] - p.y
    upstream = [None] * n
    deltas = [None] * n
    upstream[-1] = [err * (1.0 if half else 2.0)]
    for k in reversed(range(n)):
        deltas[k] = [u * l for u, l in zip(upstream[k], locals_[k])]
        if k:
            w = p.weights[k]
            if untransposed and len(w) == len(w[0]):
                upstream[k - 1] = [sum(w[j][i] * deltas[k][i] for i in range(len(w))) for j in range(len(w[0]))]
            else:
                upstream[k - 1] = [sum(w[i][j] * deltas[k][i] for i in range(len(w))) for j in range(len(w[0]))]
    grads_W = [[[d * hj for hj in inputs[k]] for d in deltas[k]] for k in range(n)]
    return {
        "inputs": inputs, "z": zs, "h": hs, "local": locals_, "upstream": upstream, "delta": deltas,
        "grad_W": grads_W, "grad_b": deltas, "err": err,
    }


def _answer(p: TinyMLPParams, v: dict) -> TinyMLPAnswer:
    n = len(p.weights)
    layers = []
    dead_units = []
    for k in range(n):
        hidden = k < n - 1
        dead = tuple(i + 1 for i, z in enumerate(v["z"][k]) if hidden and p.activation == "relu" and z < 0)
        leaky = tuple(i + 1 for i, z in enumerate(v["z"][k]) if hidden and p.activation == "leaky_relu" and z < 0)
        dead_units += [f"layer {k + 1} unit {i}" for i in dead]
        new_W = [[w - p.lr * gw for w, gw in zip(wr, gr)] for wr, gr in zip(p.weights[k], v["grad_W"][k])]
        new_b = [b - p.lr * gb for b, gb in zip(p.biases[k], v["grad_b"][k])]
        layers.append(LayerTrace(
            index=k + 1, hidden=hidden, weights=p.weights[k], bias=p.biases[k],
            inputs=_rt(v["inputs"][k]), z=_rt(v["z"][k]), h=_rt(v["h"][k]), local=_rt(v["local"][k]),
            upstream=_rt(v["upstream"][k]), delta=_rt(v["delta"][k]),
            grad_W=_rt(v["grad_W"][k]), grad_b=_rt(v["grad_b"][k]), new_W=_rt(new_W), new_b=_rt(new_b),
            dead=dead, leaky=leaky,
        ))
    i, j = p.ask[0] - 1, p.ask[1] - 1
    first = layers[0]
    return TinyMLPAnswer(
        layers=tuple(layers),
        y_hat=clean(v["h"][-1][0]),
        loss=clean(0.5 * v["err"] ** 2),
        dL_dyhat=clean(v["err"]),
        dead_units=tuple(dead_units),
        asked=p.ask,
        asked_weight=p.weights[0][i][j],
        asked_grad=first.grad_W[i][j],
        asked_new_w=first.new_W[i][j],
        tolerance=0.005 if p.activation in ("sigmoid", "tanh") else 0.0,
    )


_X = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0)
_W_PIECEWISE = (-2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)
_B_PIECEWISE = (-1.0, -0.5, 0.0, 0.5, 1.0)
_W_SMOOTH = (-1.0, -0.5, 0.0, 0.5, 1.0)
_B_SMOOTH = (-0.5, 0.0, 0.5)
_Y = tuple(v / 2 for v in range(-6, 7))
_LR_PIECEWISE = (0.1, 0.05, 0.2)
_LR_SMOOTH = (0.1, 0.5, 1.0)


@register
class TinyMLP(QuestionType):
    id = "mlp.tiny_sgd"
    summary = "Forward pass, backprop and one SGD step on a tiny 2- or 3-layer MLP (ReLU, LeakyReLU, sigmoid or tanh), dead units called out."
    mirrors = "001 Problem 2 (backprop + one SGD step on a tiny ReLU network, with a dead unit), generalised to dense layers"
    Params = TinyMLPParams
    Answer = TinyMLPAnswer
    Ranges = TinyMLPRanges
    # 001 Problem 2's numbers as a dense 1-2-1 network: W1 = (w1, w2)^T, W2 = (w3, w3), no biases.
    seed_example = {
        "x": [1.5], "y": 2.0, "weights": [[[1.0], [-0.5]], [[3.0, 3.0]]], "biases": [[0.0, 0.0], [0.0]],
        "activation": "relu", "lr": 0.1, "ask": [1, 1],
    }
    seed_note = (
        "001 Problem 2's key for part (d) is wrong (identity activation: dL/dw2 = 1.125, not 11.25; "
        "see backprop.two_neuron); parts (a)-(c) are right. As a dense 1-2-1 ReLU network "
        "(W1 = (1, -0.5)^T, W2 = (3, 3), zero biases, x = 1.5, y = 2, lr = 0.1): z = (1.5, -0.75), unit 2 "
        "is dead, y_hat = 4.5, L = 3.125, dL/dW1 = (11.25, 0)^T, new W1 = (-0.125, -0.5)^T. The seed's "
        "shared w3 is two weights here: dL/dW2 = (3.75, 0), which sums to the seed's 3.75."
    )
    box_height = "8cm"

    def sample(self, rng: np.random.Generator, ranges: TinyMLPRanges) -> TinyMLPParams:
        u = rng.random()  # drawn once, so slow-to-accept activations keep their share
        act = "relu" if u < 0.35 else ("leaky_relu" if u < 0.55 else ("sigmoid" if u < 0.8 else "tanh"))
        return draw_until(rng, lambda g: self._draw(g, ranges, act), tries=2000, type_id=self.id,
                          what="hand-computable network", ranges=ranges)

    def _draw(self, rng: np.random.Generator, r: TinyMLPRanges, act: str) -> TinyMLPParams | None:
        smooth = act in ("sigmoid", "tanh")
        n_layers = r.max_layers if (r.min_layers < r.max_layers and rng.random() < 0.4) else r.min_layers
        n_in = int(rng.integers(r.min_inputs, r.max_inputs + 1))
        widths = [n_in] + [int(rng.integers(r.min_width, r.max_width + 1)) for _ in range(n_layers - 1)] + [1]
        w_set, b_set = (_W_SMOOTH, _B_SMOOTH) if smooth else (_W_PIECEWISE, _B_PIECEWISE)
        weights = tuple(
            tuple(tuple(float(rng.choice(w_set)) for _ in range(widths[k])) for _ in range(widths[k + 1]))
            for k in range(n_layers)
        )
        biases = tuple(tuple(float(rng.choice(b_set)) for _ in range(widths[k + 1])) for k in range(n_layers))
        if rng.random() < 0.3:  # some networks without biases, like the seed's
            biases = tuple(tuple(0.0 for _ in b) for b in biases)
        if any(not any(row) for w in weights for row in w):
            return None  # a unit with all-zero weights is degenerate
        x = tuple(float(rng.choice(_X)) for _ in range(n_in))
        y = float(rng.choice(_Y))
        lr = float(rng.choice(_LR_SMOOTH if smooth else _LR_PIECEWISE))
        try:
            p = TinyMLPParams(x=x, y=y, weights=weights, biases=biases, activation=act, lr=lr)
        except ValueError:
            return None  # a ReLU kink
        v = _by_hand(p)
        err = v["err"]
        if abs(err) < 0.05 or abs(err) > 8:
            return None
        g1 = v["grad_W"][0]
        if max(abs(g) for gk in v["grad_W"] for row in gk for g in row) > 40:
            return None
        if max(abs(z) for zk in v["z"] for z in zk) > (3 if smooth else 20):
            return None
        if act == "relu" and any(all(z < 0 for z in zk) for zk in v["z"][:-1]):
            return None  # a whole hidden layer dead: no gradient reaches the first layer
        # With rounded (sigmoid/tanh) values the step must stand well clear of the tolerance.
        candidates = [(i, j) for i, row in enumerate(g1) for j, g in enumerate(row)
                      if abs(lr * g) >= (0.02 if smooth else 1e-9)]
        if not candidates:
            return None
        i, j = candidates[int(rng.integers(len(candidates)))]
        p = p.model_copy(update={"ask": (i + 1, j + 1)})
        if not smooth:
            a = _answer(p, v)
            values = [a.y_hat, a.loss]
            for layer in a.layers:
                values += list(layer.z) + list(layer.h) + list(layer.delta) + list(layer.upstream)
                values += [g for row in layer.grad_W for g in row] + [w for row in layer.new_W for w in row]
                values += list(layer.new_b)
            if not all(nice(val) for val in values):
                return None
        return p

    def solve(self, p: TinyMLPParams) -> TinyMLPAnswer:
        n = len(p.weights)
        hidden = leaky_relu(p.negative_slope) if p.activation == "leaky_relu" else ACTIVATIONS[p.activation]
        acts = [hidden] * (n - 1) + [ACTIVATIONS["identity"]]
        r = dense_mlp_step_custom(p.x, [p.y], p.weights, acts, lr=p.lr, biases=p.biases)
        _, dg = _act(p.activation, p.negative_slope)
        zs = [r.values[f"z{k}"] for k in range(1, n + 1)]
        hs = [r.values[f"a{k}"] for k in range(1, n + 1)]
        # g'(z) from its definition at the recorded z and h: autograd's (dL/dz) / (dL/dh) is
        # undefined where dL/dh = 0.
        locals_ = [[dg(z, h) for z, h in zip(zs[k], hs[k])] for k in range(n - 1)] + [[1.0]]
        v = {
            "inputs": [list(p.x)] + hs[:-1], "z": zs, "h": hs, "local": locals_,
            "upstream": [r.value_grads[f"a{k}"] for k in range(1, n + 1)],
            "delta": [r.value_grads[f"z{k}"] for k in range(1, n + 1)],
            "grad_W": [r.grads[f"W{k}"] for k in range(1, n + 1)],
            "grad_b": [r.grads[f"b{k}"] for k in range(1, n + 1)],
            "err": r.value_grads["y_hat"][0],
        }
        a = _answer(p, v)
        for k, layer in enumerate(a.layers, start=1):  # the SGD step itself, as torch took it
            if not np.allclose(layer.new_W, r.new_params[f"W{k}"], atol=1e-9):
                raise ArithmeticError(f"{self.id}: SGD step for W{k} disagrees with torch")
        return a

    def reference(self, p: TinyMLPParams) -> TinyMLPAnswer:
        return _answer(p, _by_hand(p))

    def answer_latex(self, a: TinyMLPAnswer) -> str:
        # The updated first layer only (every gradient is in the worked solution), one row per
        # line: pdftotext reads the rows of a tall matrix interleaved with the text beside it,
        # and rows set inline cannot be broken without running into the margin.
        first = a.layers[0]
        rows = ",\\newline ".join(f"${fmt(row)}$" for row in first.new_W)
        return rf"new $W^{{(1)}}$ has rows\newline {rows};\newline new $\mathbf{{b}}^{{(1)}} = {fmt(first.new_b)}$"

    def key_texts(self, a: TinyMLPAnswer) -> list[str]:
        first = a.layers[0]
        return [str(fmt(row)) for row in first.new_W] + [str(fmt(first.new_b))]

    def choice_value(self, a: TinyMLPAnswer) -> float:
        return a.asked_new_w

    def mistakes(self, p: TinyMLPParams) -> dict[str, float]:
        i, j = p.ask[0] - 1, p.ask[1] - 1
        w = p.weights[0][i][j]
        right = _by_hand(p)
        g = right["grad_W"][0][i][j]

        def step(variant: dict) -> float:
            return w - p.lr * variant["grad_W"][0][i][j]

        wrong = {"forgot_activation_derivative": step(_by_hand(p, local_mode="one"))}
        if p.activation in ("sigmoid", "tanh"):
            wrong["activation_value_as_derivative"] = step(_by_hand(p, local_mode="value"))
        if p.activation == "leaky_relu":
            wrong["leaky_as_relu"] = step(_by_hand(p, local_mode="relu"))
        wrong["forgot_input_in_chain"] = w - p.lr * right["delta"][0][i]
        wrong["no_half_in_loss"] = step(_by_hand(p, half=False))
        wrong["ascent_step"] = w + p.lr * g
        if len(p.weights) == 3 and len(p.weights[1]) == len(p.weights[1][0]):
            wrong["untransposed_weights"] = step(_by_hand(p, untransposed=True))
        if len(p.x) == len(p.weights[0]):
            wrong["outer_product_swapped"] = w - p.lr * right["delta"][0][j] * p.x[i]
        wrong["forgot_lr"] = w - g
        return _clear_of(wrong, w - p.lr * g, p)

    def fallback_mistakes(self, p: TinyMLPParams, a: TinyMLPAnswer) -> dict[str, float]:
        return _clear_of(super().fallback_mistakes(p, a), a.asked_new_w, p)


def _clear_of(wrong: dict[str, float], right: float, p: TinyMLPParams) -> dict[str, float]:
    """Drop distractors a student could not tell from the answer: with 4-decimal (sigmoid,
    tanh) values, anything within 0.01 of the right value."""
    if p.activation not in ("sigmoid", "tanh"):
        return wrong
    return {name: v for name, v in wrong.items() if abs(v - right) >= 0.01}
