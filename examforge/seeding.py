"""Seeds for every random draw, derived with numpy's SeedSequence. No global RNG state.

A question's seed is a function of (exam seed, student id, slot index) only, so a slot's
numbers do not change when another slot or another student is added. The derived seed is a
plain integer below 2**53 (safe in JSON and JavaScript), and `examforge sample ID --seed S`
reproduces the exact variant.
"""

from __future__ import annotations

import hashlib

import numpy as np

SEED_BITS = 53


def _student_words(student_id: str) -> list[int]:
    digest = hashlib.sha256(student_id.encode("utf-8")).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def question_seed(exam_seed: int, student_id: str, slot: int) -> int:
    """The seed of one question slot for one student."""
    if exam_seed < 0 or slot < 0:
        raise ValueError(f"exam seed and slot must be non-negative, got {exam_seed}, {slot}")
    seq = np.random.SeedSequence([exam_seed, slot, *_student_words(student_id)])
    hi, lo = (int(x) for x in seq.generate_state(2, np.uint32))
    return ((hi << 32) | lo) & ((1 << SEED_BITS) - 1)


def variant_rngs(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Two independent streams for one variant: one for params, one for choice layout.

    Params draw from the first only, so the numbers of a free-response and a
    multiple-choice version of the same seed are identical.
    """
    params_seq, layout_seq = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(params_seq), np.random.default_rng(layout_seq)
