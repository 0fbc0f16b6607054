"""pool.values and pool.max_backward: seed 001 Q3(c), ties routed as torch does (first maximum
in row-major order), overlapping windows adding up, named mistakes, ranges and validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from examforge.bank.pool import PoolMaxBackward, PoolValues
from examforge.renderers.blocks import question_text, solution_latex
from examforge.text import latex_to_text, normalize
from examforge.seeding import variant_rngs
from examforge.solvers.pool import max_pool_backward
from examforge.variant import make_variant

PV = PoolValues()
MB = PoolMaxBackward()
SEED_I = [[1, 0, 2, 1], [2, 1, 0, 0], [1, 2, 1, 2], [0, 1, 2, 1]]


def pv(**kw):
    return PV.Params.model_validate({"input": SEED_I, "kernel": 2, "stride": 2, **kw})


def mb(**kw):
    return MB.Params.model_validate({"input": SEED_I, "kernel": 2, "stride": 2, "upstream": [[1, 2], [3, 4]], **kw})


def test_seed_001_q3c_every_maximum_is_2():
    a = PV.solve(pv())
    assert a.max_output == ((2, 2), (2, 2))
    # means: (1+0+2+1)/4, (2+1+0+0)/4, (1+2+0+1)/4, (1+2+2+1)/4
    assert a.avg_output == ((1.0, 0.75), (1.0, 1.5))
    assert [w.argmax for w in a.windows] == [(2, 1), (1, 3), (3, 2), (3, 4)]
    assert a.windows[3].ties == 2  # [[1, 2], [2, 1]]: the first 2 in row-major order wins
    assert PV.reference(pv()) == a


def test_backward_routes_to_the_first_maximum_of_a_tie():
    a = MB.solve(mb())
    assert a.grad_input == ((0, 0, 2, 0), (1, 0, 0, 0), (0, 3, 0, 4), (0, 0, 0, 0))
    assert a.tied_windows == ((2, 2),)
    assert MB.mistakes(mb())["last_max_on_ties"] == ((0, 0, 2, 0), (1, 0, 0, 0), (0, 3, 0, 0), (0, 0, 4, 0))
    assert MB.reference(mb()) == a


def test_overlapping_windows_add_their_gradients():
    # 3x3 input, 2x2 windows, stride 1: the centre 9 is the max of all four windows.
    p = MB.Params.model_validate(
        {"input": [[1, 2, 1], [3, 9, 0], [1, 2, 4]], "kernel": 2, "stride": 1, "upstream": [[1, 2], [3, -1]]}
    )
    a = MB.solve(p)
    assert a.grad_input == ((0, 0, 0), (0, 5, 0), (0, 0, 0))
    assert a.shared_cells == ((2, 2),)
    assert MB.mistakes(p)["overwritten_not_added"][1][1] == -1
    assert max_pool_backward(p.input, p.upstream, kernel=2, stride=1)[1][1] == 5.0


def test_value_mistakes():
    wrong = PV.mistakes(pv())
    assert wrong["min_pooling"] == ((0, 0), (0, 1))
    assert wrong["average_pooling"] == ((1, 0.75), (1, 1.5))
    assert len(wrong["ignored_stride"]) == 3  # stride 1 gives 3x3


def test_sampling_honours_ranges_and_tiles_the_input():
    ranges = PV.Ranges(min_kernel=3, max_kernel=3, max_stride=3, min_entry=-5, max_entry=5)
    for seed in range(150):
        p = PV.sample(variant_rngs(seed)[0], ranges)
        assert p.kernel == 3 and p.stride <= 3
        assert all(-5 <= x <= 5 for row in p.input for x in row)
        assert all((n - p.kernel) % p.stride == 0 for n in p.shape)
        assert all(2 <= n <= 3 for n in p.output_shape)
    mranges = MB.Ranges(min_grad=1, max_grad=2)
    for seed in range(50):
        p = MB.sample(variant_rngs(seed)[0], mranges)
        assert all(g in (1, 2) for row in p.upstream for g in row)


def test_question_states_the_tie_rule_and_hides_the_answer():
    q = question_text(make_variant(MB, mb(), form="mc", seed=0))
    assert "first" in q and "row-major" in q and "add up" not in q
    overlap = MB.Params.model_validate(
        {"input": [[1, 2, 1], [3, 9, 0], [1, 2, 4]], "kernel": 2, "stride": 1, "upstream": [[1, 2], [3, -1]]}
    )
    assert "add up" in question_text(make_variant(MB, overlap, seed=0))
    text = normalize(latex_to_text(solution_latex(make_variant(MB, mb(), seed=0))))
    assert normalize("y_22 = 2 at x_34 (first of 2)") in text


def test_solution_lists_windows_and_means():
    text = normalize(latex_to_text(solution_latex(make_variant(PV, pv(), seed=0))))
    assert normalize("(2, 2): {1, 2, 2, 1}") in text
    assert normalize("mean = 6/4 = 3/2") in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stride": 3}, "stride 3 is larger than the window 2"),
        ({"input": [[1, 2, 3]] * 5, "kernel": 2, "stride": 2}, "input height 5: the windows do not tile it"),
        ({"input": [[1, 2], [3]]}, "input is not rectangular"),
        ({"input": [[1] * 9] * 9}, "input is 9x9; at most 8x8"),
        ({"input": [[1]]}, "the 2x2 window does not fit the 1x1 input"),
        ({"input": [[1] * 6] * 6, "stride": 1}, "the output would be 5x5; at most 4x4"),
    ],
)
def test_invalid_pool_params(change, message):
    with pytest.raises(ValidationError, match=message):
        pv(**change)


def test_invalid_upstream_and_ranges():
    with pytest.raises(ValidationError, match="upstream is 1x2 but the pooled output is 2x2"):
        mb(upstream=[[1, 2]])
    with pytest.raises(ValidationError, match="min_kernel 3 is larger than max_kernel 2"):
        PV.Ranges(min_kernel=3, max_kernel=2)
    with pytest.raises(ValidationError, match="need at least 4 different values"):
        PV.Ranges(min_entry=1, max_entry=2)
    with pytest.raises(ValidationError, match="need at least 2 nonzero values"):
        MB.Ranges(min_grad=0, max_grad=1)
