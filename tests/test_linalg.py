"""linalg.rank_one_eigenvalues: eigvalsh against 1 + n alpha (once) and 1 (n - 1 times)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from examforge.bank.linalg import LinalgRankOneEigenvalues, RankOneParams
from examforge.solvers.linalg import identity_plus_ones, symmetric_spectrum
from examforge.variant import draw

QT = LinalgRankOneEigenvalues()


def test_example():
    a = QT.solve(RankOneParams.model_validate(QT.seed_example))  # n = 4, alpha = 0.5
    assert a.eigenvalues == (3.0, 1.0, 1.0, 1.0)
    assert a.spectrum == ((3.0, 1), (1.0, 3))
    assert (a.constant_eigenvalue, a.determinant, a.trace) == (3.0, 3.0, 6.0)
    assert not a.singular


def test_singular_and_negative_alpha():
    a = QT.solve(RankOneParams(n=4, alpha=-0.25))
    assert a.singular and a.spectrum == ((1.0, 3), (0.0, 1))
    b = QT.solve(RankOneParams(n=7, alpha=-1.5))
    assert b.spectrum == ((1.0, 6), (-9.5, 1)) and b.determinant == -9.5


def test_solver_spectrum_of_a_general_symmetric_matrix():
    s = symmetric_spectrum(identity_plus_ones(3, 1.0) * 2)
    assert s.distinct == [(8.0, 1), (2.0, 2)] and s.determinant == 32.0


def test_mistakes_are_distinct_spectra():
    m = QT.mistakes(RankOneParams(n=5, alpha=0.5))
    assert m["alpha_not_times_n"] == ((1.5, 1), (1.0, 4))
    assert m["forgot_identity"] == ((2.5, 1), (0.0, 4))
    assert m["multiplicities_swapped"] == ((3.5, 4), (1.0, 1))
    assert m["all_equal_one_plus_alpha"] == ((1.5, 5),)
    assert QT.choice_latex(((3.5, 1), (1.0, 4))) == "$3.5$ once, $1$ with multiplicity 4"


def test_draws_agree_with_the_closed_form():
    for seed in range(50):
        p = draw(QT, seed).params
        a = QT.solve(p)
        assert a.constant_eigenvalue == pytest.approx(1 + p.n * p.alpha)
        assert sum(m for _, m in a.spectrum) == p.n


@pytest.mark.parametrize("bad, message", [
    ({"alpha": 0}, "alpha = 0 makes A the identity"),
    ({"n": 1}, "greater than or equal to 2"),
    ({"alpha": 0.12345}, "alpha = 0.12345 has more than 3 decimal places"),
])
def test_params_messages(bad, message):
    with pytest.raises(ValidationError, match=message):
        RankOneParams.model_validate({**QT.seed_example, **bad})
