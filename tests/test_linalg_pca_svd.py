"""linalg.pca_svd (seed 003 Q4): torch.cov / eigvalsh / truncated SVD on a centred matrix built
with the given singular values, against sigma^2/(n-1), variance fractions and Eckart-Young."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

from examforge.bank.linalg_pca_svd import ASKS, LinalgPcaSvd, PcaParams
from examforge.solvers.linalg import centred_data, pca_of_centred_data
from examforge.variant import draw

from tests.newtype_helpers import assert_clean_stems, assert_solver_matches_reference, solve_file

QT = LinalgPcaSvd()


def test_seed_instance_from_the_params_file():
    (record,) = solve_file("linalg.pca_svd", "pca_seed003.json")
    a = record["answer"]
    assert a["eigenvalues"] == [10.0, 3.6, 0.9, 0.1]  # (100, 36, 9, 1) / 10
    assert a["explained"] == pytest.approx(136 / 146, abs=1e-9)  # 0.9315
    assert a["error"] == pytest.approx(math.sqrt(10), abs=1e-9)  # sqrt(3^2 + 1^2)


@pytest.mark.parametrize("ask", ASKS)
def test_torch_agrees_with_the_closed_forms_for_every_pinned_ask(ask):
    assert_solver_matches_reference(QT, range(120), overrides={"ask": ask})


def test_the_built_matrix_is_centred_and_has_the_singular_values():
    for n, s in ((5, [7.0, 5.0, 2.0, 1.0]), (101, [12.0, 11.0, 3.0, 2.0, 1.0]), (3, [2.0, 1.0])):
        x = centred_data(n, s)
        assert torch.linalg.svdvals(x).tolist() == pytest.approx(s, rel=1e-12)
        assert x.mean(dim=0).abs().max() < 1e-13
        r = pca_of_centred_data(x, 1)
        assert r.column_means == [0.0] * len(s)
        assert r.covariance_eigenvalues == pytest.approx([v * v / (n - 1) for v in s], rel=1e-10)
        assert r.rank_k_error == pytest.approx(math.sqrt(sum(v * v for v in s[1:])), rel=1e-10)


def test_explained_fraction_ignores_n_and_errors_are_distinct_mistakes():
    p = PcaParams(n=11, singular_values=[10, 6, 3, 1], k=2, ask="error")
    m = QT.mistakes(p)
    assert m["forgot_sqrt"] == 10.0 and m["largest_dropped_only"] == 3.0 and m["sum_not_root_sum_of_squares"] == 4.0
    assert m["included_kth_component"] == pytest.approx(math.sqrt(46))
    e = QT.mistakes(p.model_copy(update={"ask": "explained"}))
    assert e["singular_values_not_squared"] == pytest.approx(16 / 20) and e["dropped_fraction"] == pytest.approx(10 / 146)
    assert QT.mistakes(p.model_copy(update={"ask": "eigenvalues"}))["divided_by_n"] == pytest.approx(
        (100 / 11, 36 / 11, 9 / 11, 1 / 11))


def test_eigenvalues_are_short_decimals_and_stems_are_clean():
    for seed in range(100):
        a = draw(QT, seed).answer
        assert all(round(v, 6) == v for v in a.eigenvalues), a.eigenvalues
    assert_clean_stems(QT, range(0, 60, 5))


@pytest.mark.parametrize("bad, message", [
    ({"n": 11, "singular_values": [3, 6, 1], "k": 1}, "strictly decreasing"),
    ({"n": 3, "singular_values": [6, 3, 1], "k": 1}, "rank at most n - 1 = 2"),
    ({"n": 11, "singular_values": [6, 3], "k": 2}, "k = 2 keeps every component"),
    ({"n": 11, "singular_values": [6, 3], "k": 1, "ask": "loadings"}, "'eigenvalues', 'explained' or 'error'"),
])
def test_params_messages(bad, message):
    with pytest.raises(ValidationError, match=message):
        PcaParams.model_validate(bad)
