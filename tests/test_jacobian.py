"""jacobian.matmul: seed 001 Problem 1's numbers, the block structure, autograd against the
closed form, named mistakes and validation messages."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from examforge.bank.jacobian import JacobianMatmul
from examforge.figures import to_latex
from examforge.renderers.blocks import question_text, solution_latex
from examforge.text import latex_to_text, normalize
from examforge.seeding import variant_rngs
from examforge.solvers.jacobian import matmul_jacobians
from examforge.variant import make_variant

QT = JacobianMatmul()


def params(a, b):
    return QT.Params.model_validate({"a_shape": a, "b_shape": b})


def test_seed_001_problem_1():
    # A 2x3, B 3x5: dC/dA is 10x6 = 60 entries, 10*3 = 30 nonzero; dC/dB is 10x15 = 150, 30 nonzero.
    a = QT.solve(params([2, 3], [3, 5]))
    assert (a.dC_dA_entries, a.dC_dA_zeros, a.dC_dB_entries, a.dC_dB_zeros) == (60, 30, 150, 120)
    assert a.dC_dA_shape == (10, 6) and a.dC_dB_shape == (10, 15)
    assert a.dC_dA_nonzeros == a.dC_dB_nonzeros == 30
    assert QT.reference(params([2, 3], [3, 5])) == a


def test_dC_dA_is_block_diagonal():
    # Row i*n + j (C_ij) is nonzero exactly in columns i*k .. i*k + k - 1 (row i of A).
    a = QT.solve(params([3, 2], [2, 4]))
    for r, c in a.dC_dA_cells:
        assert c // 2 == r // 4
    # dC_ij/dB_rl is nonzero only when l == j: columns r*n + j.
    for r, c in a.dC_dB_cells:
        assert c % 4 == r % 4


def test_one_row_of_a_has_no_structural_zeros():
    a = QT.solve(params([1, 3], [3, 2]))
    assert a.dC_dA_zeros == 0 and a.dC_dB_zeros == 2 * 3 * 2 - 2 * 3


def test_structural_zeros_do_not_depend_on_the_probe_values():
    # Zeros in a single probe would undercount; the solver ORs two all-nonzero probes.
    mask_a, mask_b = matmul_jacobians((2, 2), (2, 3))
    a = torch.randn(2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    b = torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    jac = torch.autograd.functional.jacobian(lambda x: x @ b, a).reshape(6, 4)
    assert ((jac != 0).to(torch.int64).tolist()) == mask_a
    jac_b = torch.autograd.functional.jacobian(lambda x: a @ x, b).reshape(6, 6)
    assert ((jac_b != 0).to(torch.int64).tolist()) == mask_b


def test_named_mistakes():
    p = params([2, 3], [3, 5])
    wrong = QT.mistakes(p)
    assert wrong["zeros_and_nonzeros_swapped"] == (60, 30, 150, 30)
    assert wrong["no_structural_zeros"] == (60, 0, 150, 0)
    assert wrong["a_and_b_patterns_swapped"] == (60, 30 * 4, 150, 30 * 1)
    v = make_variant(QT, p, form="mc", seed=2)
    assert len({c.latex for c in v.choices}) == 4


def test_sampling_honours_ranges():
    ranges = QT.Ranges(min_dim=3, max_dim=4)
    for seed in range(100):
        p = QT.sample(variant_rngs(seed)[0], ranges)
        assert all(3 <= d <= 4 for d in (*p.a_shape, *p.b_shape))
    with pytest.raises(ValidationError, match="min_dim 5 is larger than max_dim 3"):
        QT.Ranges(min_dim=5, max_dim=3)


def test_question_and_solution():
    v = make_variant(QT, params([2, 3], [3, 5]), seed=0)
    q = question_text(v)
    assert r"A \in \mathbb{R}^{2 \times 3}" in q and "60" not in q
    s = solution_latex(v)
    text = normalize(latex_to_text(s))
    assert normalize("|C| ×|A| = 10 ×6 = 60 entries") in text
    assert normalize("60 - 30 = 30 always zero") in text
    da, db = QT.pattern_figures(v.params, v.answer)
    assert (da.rows, da.cols, db.rows, db.cols) == (10, 6, 10, 15) and len(da.shaded) == len(db.shaded) == 30
    assert to_latex(da) in s and to_latex(db) in s
    assert s.count(r"\rule{") == 30 + 30  # every nonzero cell of both patterns is drawn


def test_figure_fits_the_page():
    assert params([6, 6], [6, 6]).figure_unit * (36 + 36) <= 13.0 + 1e-9


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ([2, 3], [4, 5], "a_shape[1] = 3 must equal b_shape[0] = 4"),
        ([0, 3], [3, 5], "greater than or equal to 1"),
        ([2, 7], [7, 2], "less than or equal to 6"),
    ],
)
def test_invalid_params(a, b, message):
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        params(a, b)
