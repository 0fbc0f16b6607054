"""Which member of each pool every student gets.

A pool slot draws one question from several (ids or globs). Across the class every member is
used equally often, within one; within one student's exam no question appears twice, even when
pools overlap or a pool holds a question that another slot asks outright. The assignment is a
class-level design, like a seating plan: students are taken in roster order and each pool slot
gives the least-used member this student does not have yet, ties broken first against what the
previous student on the roster got (neighbours get different members), then by an order drawn
from (exam seed, slot) and rotated by the student's position. Adding a student at the end of the roster changes nobody else's questions.
The numbers inside a member still come from (exam seed, student id, slot), as for every draw.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from examforge.errors import InputError

_POOL_TAG = 0x706F6F6C  # "pool": keeps these streams apart from the question seeds


def member_order(exam_seed: int, slot: int, members: list[str]) -> list[str]:
    rng = np.random.default_rng(np.random.SeedSequence([exam_seed, slot, _POOL_TAG]))
    return [members[i] for i in rng.permutation(len(members))]


def assign(spec, student_ids: list[str], *, spec_path: str = "spec") -> list[dict[int, str]]:
    """For each student (roster order), slot index -> the question id that slot asks them."""
    slots = spec.slots()
    fixed = {slot: q.generator for slot, _, q in slots if q.generator is not None}
    pool_slots = sorted(
        ((slot, member_order(spec.seed, slot, q.members)) for slot, _, q in slots if q.pool is not None),
        key=lambda item: (len(item[1]), item[0]),
    )
    counts = {slot: Counter() for slot, _ in pool_slots}
    previous: dict[int, str] = {}  # what the student before got in each slot
    out = []
    for rank, student_id in enumerate(student_ids):
        chosen = dict(fixed)
        used = set(fixed.values())
        for slot, order in pool_slots:
            free = [m for m in order if m not in used]
            if not free:
                q = slots[slot][2]
                raise InputError(
                    f"{spec_path}: question {slot + 1} ({q.label}): every member of the pool is already "
                    f"asked elsewhere on the same exam; add members or remove the overlap"
                )
            n = len(order)
            pick = min(free, key=lambda m: (counts[slot][m], m == previous.get(slot), (order.index(m) - rank) % n))
            counts[slot][pick] += 1
            previous[slot] = pick
            chosen[slot] = pick
            used.add(pick)
        out.append(chosen)
    return out
