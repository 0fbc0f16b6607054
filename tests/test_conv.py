"""conv.forward_values: known values from seed 001 Q3, the worked steps, sampling bounds, the
named mistakes and the Params validation messages."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from examforge.errors import GenerationError
from examforge.bank.conv import ConvForwardValues, ForwardValuesParams
from examforge.renderers.blocks import question_text, solution_latex
from examforge.text import latex_to_text, normalize
from examforge.seeding import variant_rngs
from examforge.variant import draw, make_variant

QT = ConvForwardValues()

# Seed 001, Q3: the 4x4 input I and the 2x2 filter F.
SEED_INPUT = [[1, 0, 2, 1], [2, 1, 0, 0], [1, 2, 1, 2], [0, 1, 2, 1]]
SEED_FILTER = [[1, -1], [0, 1]]


def params(**kw) -> ForwardValuesParams:
    data = {"input": SEED_INPUT, "kernel": SEED_FILTER, "stride": 1, "padding": 0, **kw}
    return ForwardValuesParams.model_validate(data)


def test_seed_001_q3_no_padding_stride_1():
    # By hand: y_ij = I[i][j] - I[i][j+1] + I[i+1][j+1] (the 0 weight drops out).
    #   y11 = 1-0+1 = 2, y12 = 0-2+0 = -2, y13 = 2-1+0 = 1
    #   y21 = 2-1+2 = 3, y22 = 1-0+1 = 2,  y23 = 0-0+2 = 2
    #   y31 = 1-2+1 = 0, y32 = 2-1+2 = 3,  y33 = 1-2+1 = 0
    a = QT.solve(params())
    assert a.output == ((2, -2, 1), (3, 2, 2), (0, 3, 0))
    assert a.output_shape == (3, 3)
    assert a.padded_input == tuple(map(tuple, SEED_INPUT))
    first = a.windows[0]
    assert (first.i, first.j) == (1, 1)
    assert first.products == ((1, 1), (0, -1), (2, 0), (1, 1))
    assert first.value == 2
    assert [w.value for w in a.windows] == [2, -2, 1, 3, 2, 2, 0, 3, 0]
    assert QT.reference(params()) == a


def test_seed_001_q3_padding_1_stride_2():
    # Padded with one ring of zeros (6x6); windows start at rows/cols 0, 2, 4 of the padded input.
    #   y11 = 0-0+1 = 1,  y12 = 0-0+2 = 2, y13 = 0-0+0 = 0
    #   y21 = 0-2+1 = -1, y22 = 1-0+1 = 2, y23 = 0-0+0 = 0
    #   y31 = 0-0+0 = 0,  y32 = 1-2+0 = -1, y33 = 1-0+0 = 1
    p = params(stride=2, padding=1)
    a = QT.solve(p)
    assert a.output == ((1, 2, 0), (-1, 2, 0), (0, -1, 1))
    assert a.spans == (4, 4)
    assert len(a.padded_input) == 6 and a.padded_input[0] == (0,) * 6
    assert a.padded_input[1] == (0, 1, 0, 2, 1, 0)
    assert QT.reference(p) == a


def test_matches_a_true_convolution_of_the_flipped_kernel():
    p = params()
    flipped = QT.mistakes(p)["flipped_kernel"]
    # Convolution (kernel flipped) with F = [[1,-1],[0,1]] is correlation with [[1,0],[-1,1]].
    by_hand = tuple(
        tuple(
            SEED_INPUT[i][j] - SEED_INPUT[i + 1][j] + SEED_INPUT[i + 1][j + 1] for j in range(3)
        )
        for i in range(3)
    )
    assert flipped == by_hand
    assert flipped != QT.solve(p).output


def test_named_mistakes():
    p = params(stride=2, padding=1)
    right = QT.solve(p).output
    wrong = QT.mistakes(p)
    assert {"flipped_kernel", "forgot_padding", "kernel_transposed", "ignored_stride", "output_transposed"} <= set(wrong)
    assert wrong["forgot_padding"] == ((2, 1), (0, 0))  # stride 2 on the unpadded 4x4: 1-2+1 = 0 twice
    assert len(wrong["ignored_stride"]) == 5  # stride 1 on the padded 6x6
    assert wrong["output_transposed"] == tuple(zip(*right))
    # No padding and stride 1: those two mistakes do not apply.
    assert not {"forgot_padding", "ignored_stride"} & set(QT.mistakes(params()))


def test_fallbacks_are_distinct_even_for_a_zero_output():
    p = params(input=[[0, 0], [0, 0]], kernel=[[1]], padding=0)
    a = QT.solve(p)
    v = make_variant(QT, p, form="mc", seed=3)
    assert a.output == ((0, 0), (0, 0))
    assert len({c.latex for c in v.choices}) == 4


def test_sampling_is_hand_computable():
    for seed in range(300):
        v = draw(QT, seed)
        p, a = v.params, v.answer
        k = len(p.kernel)
        assert k in (2, 3) and len(p.kernel[0]) == k
        assert 4 <= len(p.input) <= 6 and 4 <= len(p.input[0]) <= 6
        assert p.stride in (1, 2) and p.padding in (0, 1)
        assert all(-2 <= x <= 3 for row in p.input for x in row)
        assert all(-1 <= w <= 2 for row in p.kernel for w in row)
        assert sum(w != 0 for row in p.kernel for w in row) >= 2
        cap = 4 if k == 2 else 3
        assert 2 <= a.output_shape[0] <= cap and 2 <= a.output_shape[1] <= cap
        assert any(any(row) for row in a.output)


def test_generation_error_names_generator_and_seed():
    class ZeroKernels:
        """Wraps the real stream but draws every matrix as zeros."""

        def __init__(self, rng):
            self._rng = rng
            self.bit_generator = rng.bit_generator

        def integers(self, low, high=None, size=None):
            return np.zeros(size, dtype=np.int64) if size is not None else self._rng.integers(low, high)

        def __getattr__(self, name):
            return getattr(self._rng, name)

    rng, _ = variant_rngs(1234)
    with pytest.raises(GenerationError, match=r"conv\.forward_values seed 1234"):
        QT.sample(ZeroKernels(rng), QT.Ranges())


def test_solution_shows_padding_sums_and_output():
    v = make_variant(QT, params(stride=2, padding=1), seed=0)
    text = normalize(latex_to_text(solution_latex(v)))
    assert "pad" in text
    assert normalize("y_11 = 0·1 + 0·(-1) + 0·0 + 1·1 = 1") in text
    assert normalize("[ 1 2 0; -1 2 0; 0 -1 1 ]") in text
    no_pad = make_variant(QT, params(), seed=0)
    assert "X_pad" not in latex_to_text(solution_latex(no_pad))


def test_question_shows_matrices_and_never_the_answer():
    v = make_variant(QT, params(stride=2, padding=1), form="mc", seed=0)
    q = question_text(v)
    assert r"\begin{bmatrix} 1 & 0 & 2 & 1" in q and r"\begin{bmatrix} 1 & -1 \\ 0 & 1" in q
    assert "stride 2" in q and "zero padding of 1" in q
    assert "Solution" not in q


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"input": [[1, 2, 3], [4, 5]]}, "input is not rectangular: its rows have lengths [2, 3]"),
        ({"kernel": [[1, 0], [1]]}, "kernel is not rectangular"),
        ({"input": []}, "input must be a non-empty 2-D matrix"),
        ({"kernel": [[]]}, "kernel must be a non-empty 2-D matrix"),
        ({"input": [[1, 2], [3, 4]], "kernel": [[1, 0, 1]] * 3}, "kernel 3x3 does not fit the padded input 2x2"),
        ({"padding": 2}, "padding 2 must be smaller than the kernel (2x2)"),
        ({"input": [[1] * 9] * 9}, "input is 9x9; at most 8x8"),
        ({"kernel": [[1] * 6] * 6, "input": [[1] * 8] * 8}, "kernel is 6x6; at most 5x5"),
        ({"input": [[1] * 8] * 8, "kernel": [[1]]}, "the output would be 8x8; at most 6x6"),
        ({"stride": 0}, "greater than or equal to 1"),
        ({"input": [[1, 2], [3, 99]]}, "less than or equal to 20"),
    ],
)
def test_invalid_params_are_rejected_with_a_clear_message(change, message):
    with pytest.raises(ValidationError) as err:
        params(**change)
    assert message in str(err.value)


def test_json_round_trip_of_lists():
    p = params()
    assert ForwardValuesParams.model_validate_json(p.model_dump_json()) == p
    assert p.model_dump(mode="json")["input"] == SEED_INPUT
