"""backprop.linear_residual (seed 000 MC2.1, 003 Q3 and Q6): autograd against the closed forms
g (I + W^T), g x^T, W^T g and V diag(1 - h^2) W, the seed's answer C, pinning the kind."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from examforge.bank.backprop_linear_residual import KINDS, BackpropLinearResidual, LinearResidualParams
from examforge.renderers.blocks import question_text
from examforge.solvers.linear_backward import linear_backward, residual_row_backward, tanh_layer_jacobian
from examforge.variant import draw

from tests.newtype_helpers import assert_clean_stems, assert_solver_matches_reference, solve_file

QT = BackpropLinearResidual()


def test_seed_000_mc21_answer_c_and_not_the_other_options():
    p = LinearResidualParams.model_validate(QT.seed_example)  # W = [[2, -1], [1, 3]], v = (1, 2), g = (1, -1)
    a = QT.solve(p)
    # C: g (I + W^T) = g + g W^T = (1, -1) + (3, -2)
    assert a.grad_v == (4.0, -3.0) and a.weight_path == (3.0, -2.0) and a.skip_path == (1.0, -1.0)
    m = QT.mistakes(p)
    assert m["forgot_skip_path"] == (3.0, -2.0)  # option A: dL/dy W^T
    assert m["identity_added_as_ones"] == (4.0, -1.0)  # option B read with I as ones
    assert a.grad_W == ((1.0, -1.0), (2.0, -2.0))  # v^T g


def test_the_params_file_reproduces_003_q3_and_q6():
    records = {r["params"]["kind"]: r["answer"] for r in solve_file("backprop.linear_residual", "linear_residual_seed.json")}
    assert records["residual"]["grad_v"] == [4.0, -3.0]
    # 003 Q3 with W 2 x 3, x = (2, 1, -1), g = (0.5, -1): dL/dW = g x^T, dL/dx = W^T g, dL/db = g
    assert records["linear"]["grad_W"] == [[1.0, 0.5, -0.5], [-2.0, -1.0, 1.0]]
    assert records["linear"]["grad_x"] == [-2.5, -2.0, 1.0] and records["linear"]["grad_b"] == [0.5, -1.0]
    # 003 Q6: V diag(1 - h^2) W with 1 - h^2 = (0.64, 0.36)
    assert records["tanh_jacobian"]["local"] == [0.64, 0.36]
    assert records["tanh_jacobian"]["jacobian"] == [[1.0, 0.92]]


@pytest.mark.parametrize("kind", KINDS)
def test_autograd_agrees_with_the_closed_forms_for_every_pinned_kind(kind):
    assert_solver_matches_reference(QT, range(150), overrides={"kind": kind})


def test_solvers_against_torch_functional_jacobians():
    from torch.autograd.functional import jacobian

    w = torch.tensor([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]], dtype=torch.float64)
    x = torch.tensor([2.0, 1.0, -1.0], dtype=torch.float64)
    g = torch.tensor([0.5, -1.0], dtype=torch.float64)
    r = linear_backward(w.tolist(), x.tolist(), g.tolist())
    assert r.grad_x == pytest.approx((g @ jacobian(lambda v: w @ v, x)).tolist())
    assert r.grad_w == torch.outer(g, x).tolist()
    sq = torch.tensor([[1.0, 2.0], [-1.0, 0.5]], dtype=torch.float64)
    res = residual_row_backward(sq.tolist(), [1.0, -2.0], [0.5, 2.0])
    full = jacobian(lambda v: v @ sq + v, torch.tensor([1.0, -2.0], dtype=torch.float64))  # dy_j/dv_i
    assert res.grad_v == pytest.approx((torch.tensor([0.5, 2.0], dtype=torch.float64) @ full).tolist())
    t = tanh_layer_jacobian([[1.0, 2.0], [-1.0, 1.0], [0.0, 3.0]], [[1.0, -1.0, 2.0]], [0.6, -0.8, 0.0])
    assert t.local == pytest.approx([0.64, 0.36, 1.0])
    assert t.jacobian[0] == pytest.approx([0.64 + 0.36 + 0.0, 1.28 - 0.36 + 6.0])


def test_pinned_kind_is_valid_for_every_students_draw():
    for seed in range(60):
        for kind in KINDS:
            v = draw(QT, seed, overrides={"kind": kind})
            assert v.params.kind == kind
            text = question_text(v)
            assert ("residual" in text) == (kind == "residual")
            assert ("tanh" in text) == (kind == "tanh_jacobian")


def test_transposes_matter_in_every_draw():
    for seed in range(200):
        p = draw(QT, seed).params
        w = p.W
        assert any(w[i][j] != w[j][i] for i in range(p.d) for j in range(p.d))
        assert any(p.x[i] * p.g[j] != p.x[j] * p.g[i] for i in range(p.d) for j in range(p.d))


def test_stems_are_clean_per_form():
    assert_clean_stems(QT, range(0, 60, 5))
    v = draw(QT, 0, form="tf", overrides={"kind": "linear"})
    assert "True or false:" in question_text(v)


@pytest.mark.parametrize("bad, message", [
    ({"kind": "residual", "W": [[1, 2, 3], [4, 5, 6]], "x": [1, 2], "g": [1, 1]}, "needs a square W, got 2 x 3"),
    ({"kind": "linear", "W": [[1, 2], [3, 4]], "x": [1, 2, 3], "g": [1, 1]}, "x has 3 entries; W has 2 columns"),
    ({"kind": "tanh_jacobian", "W": [[1, 2], [3, 4]], "h": [0.5, 0.5]}, "a tanh_jacobian question needs V"),
    ({"kind": "tanh_jacobian", "W": [[1, 2], [3, 4]], "h": [1.0, 0.5], "V": [[1, 1]]}, "less than 1"),
    ({"kind": "linear", "W": [[1, 2], [3]], "x": [1, 2], "g": [1, 1]}, "rectangular"),
    ({"kind": "linear", "W": [[1.234, 2], [3, 4]], "x": [1, 2], "g": [1, 1]}, "W = 1.234 has more than 2 decimal"),
])
def test_params_messages(bad, message):
    with pytest.raises(ValidationError, match=message):
        LinearResidualParams.model_validate(bad)
