"""Helpers for a question type's params, shared by the bank and instructors' own types: drawing
them (`pick`, `draw_until`) and checking what was drawn or given (`nice`, `short_decimal`,
`matrix_dims`). Floats are rounded with `examforge.solvers.clean`."""

from __future__ import annotations

from typing import Callable, TypeVar

import numpy as np

from examforge.errors import GenerationError

T = TypeVar("T")


def seed_of(rng: np.random.Generator):
    """The seed `rng` was made from (`examforge sample ID --seed S` reproduces that variant)."""
    return getattr(getattr(rng.bit_generator, "seed_seq", None), "entropy", "?")


def pick(rng: np.random.Generator, values, what: str, type_id: str):
    """One of `values` (non-empty after the ranges filtered them), as a Python scalar."""
    values = list(values)
    if not values:
        raise GenerationError(f"{type_id} seed {seed_of(rng)}: no {what} inside the given ranges")
    return values[int(rng.integers(len(values)))]


def draw_until(rng: np.random.Generator, draw: Callable[[np.random.Generator], T | None], *, tries: int,
               type_id: str, what: str, ranges=None) -> T:
    """The first draw that is not None, calling `draw(rng)` at most `tries` times (a rejection
    loop, capped so that ranges too narrow to draw from fail instead of hanging). The error
    names the type, the seed and what no draw satisfied (`what`), with the ranges when given:
    "conv.im2col seed 7: no input size that fits the ranges in 100 draws"."""
    for _ in range(tries):
        found = draw(rng)
        if found is not None:
            return found
    where = f" (ranges {ranges.model_dump()})" if ranges is not None else ""
    raise GenerationError(f"{type_id} seed {seed_of(rng)}: no {what} in {tries} draws{where}")


def nice(v: float, places: int = 4) -> bool:
    """True when v prints exactly with at most `places` decimals (up to float noise): a drawn
    value a student can compute and write down."""
    return abs(v * 10**places - round(v * 10**places)) < 1e-6


def short_decimal(value: float, field: str, places: int) -> float:
    """Reject values that do not print exactly with `places` decimals (what the student sees
    must be what is solved)."""
    if round(value, places) != value:
        raise ValueError(f"{field} = {value!r} has more than {places} decimal places; "
                         f"give it with at most {places} so it prints exactly")
    return value


def matrix_dims(m, name: str) -> tuple[int, int]:
    """Rows and columns of a non-empty rectangular matrix, or a ValueError naming it."""
    if not m or not m[0]:
        raise ValueError(f"{name} must be a non-empty 2-D matrix (a list of rows)")
    widths = sorted({len(row) for row in m})
    if len(widths) > 1:
        raise ValueError(f"{name} is not rectangular: its rows have lengths {widths}")
    return len(m), len(m[0])
