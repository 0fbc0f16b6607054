"""The shared helpers of the question types: ordered min/max pairs (RangesModel), the capped
rejection loop (draw_until), pick, and the rounding (clean)."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pytest
from pydantic import Field, ValidationError, model_validator

from examforge import registry
from examforge.drawing import draw_until, matrix_dims, pick
from examforge.errors import GenerationError
from examforge.question import RangesModel, range_pairs
from examforge.seeding import variant_rngs
from examforge.solvers import clean


class PairRanges(RangesModel):
    min_n: Annotated[int, Field(ge=1, le=10)] = 2
    max_n: Annotated[int, Field(ge=1, le=10)] = 5
    max_weight: int = 3  # no min_weight: not a pair
    min_rate: float = 0.1
    max_rate: float = 0.5

    @model_validator(mode="after")
    def _own(self):  # runs after the pairs are checked, so it may assume them ordered
        assert self.min_n <= self.max_n
        return self


def test_every_min_max_pair_is_ordered_with_a_message_naming_both_values():
    assert range_pairs(PairRanges) == (("min_n", "max_n"), ("min_rate", "max_rate"))
    assert PairRanges(min_n=4, max_n=4).min_n == 4
    with pytest.raises(ValidationError, match="min_n 5 is larger than max_n 3"):
        PairRanges(min_n=5, max_n=3)
    with pytest.raises(ValidationError, match="min_rate 0.6 is larger than max_rate 0.5"):
        PairRanges(min_rate=0.6)


def test_the_bank_ranges_have_their_pairs_checked():
    """Every pair of every type: swapped defaults (each valid alone) name both values."""
    checked = 0
    for qtype in registry.all_types():
        defaults = qtype.Ranges()
        for low, high in range_pairs(qtype.Ranges):
            lo, hi = getattr(defaults, low), getattr(defaults, high)
            if lo >= hi:
                continue
            try:
                qtype.Ranges.model_validate({low: hi, high: lo})
            except ValidationError as err:
                errors = err.errors()
                if errors[0]["type"] != "value_error":
                    continue  # a swapped default outside the other field's bounds
                assert f"{low} {hi} is larger than {high} {lo}" in errors[0]["msg"], (qtype.id, errors)
                checked += 1
            else:
                pytest.fail(f"{qtype.id}: {low} {hi} > {high} {lo} accepted")
    assert checked >= 60


def test_draw_until_returns_the_first_draw_and_names_type_seed_and_constraint():
    rng, _ = variant_rngs(77)
    again, _ = variant_rngs(77)
    got = draw_until(rng, lambda g: v if (v := int(g.integers(10))) >= 8 else None, tries=100,
                     type_id="t.x", what="digit of 8 or 9")
    expected = next(v for v in (int(again.integers(10)) for _ in range(100)) if v >= 8)
    assert got == expected and rng.integers(1 << 30) == again.integers(1 << 30)  # the same stream

    calls = []
    with pytest.raises(GenerationError, match=r"^t\.x seed 77: no odd zero in 25 draws \(ranges \{'min_n': 2"):
        draw_until(rng, lambda g: calls.append(g.random()), tries=25, type_id="t.x", what="odd zero",
                   ranges=PairRanges())
    assert len(calls) == 25


def test_pick_names_type_and_seed_when_the_ranges_leave_nothing():
    rng, _ = variant_rngs(5)
    assert pick(rng, (3,), "n", "t.x") == 3
    with pytest.raises(GenerationError, match=r"t\.x seed 5: no sample size inside the given ranges"):
        pick(rng, [], "sample size", "t.x")


def test_matrix_dims_and_clean():
    assert matrix_dims([[1, 2, 3], [4, 5, 6]], "W") == (2, 3)
    with pytest.raises(ValueError, match=r"W is not rectangular: its rows have lengths \[1, 2\]"):
        matrix_dims([[1, 2], [3]], "W")
    with pytest.raises(ValueError, match="X must be a non-empty 2-D matrix"):
        matrix_dims([], "X")
    assert clean(0.1 + 0.2) == 0.3 and str(clean(-1e-17)) == "0.0"
    assert clean([[0.1 + 0.2, np.float64(-0.0)]]) == [[0.3, 0.0]] and clean(2 / 3, 3) == 0.667
