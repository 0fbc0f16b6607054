"""Question options: the details of an option a spec asks for (`overrides: {ask: ...}`).

An option's details (which weight of a filter, which false statement) are Params fields whose
default None means "picked from the other params". `sample` never draws them, so a type's
default draws consume its params stream exactly as before the option existed, and overriding
the sizes of a question can never leave a drawn detail out of range. The pick comes from a
generator seeded (through numpy's SeedSequence) with a SHA-256 digest of the other params'
JSON: the same params always give the same question, different students' params different
details, and the global RNG is never touched.
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterable

import numpy as np

from examforge.question import ParamsModel


def params_rng(params: ParamsModel, *, exclude: Iterable[str] = ()) -> np.random.Generator:
    """A generator determined by `params` minus the fields in `exclude` (the option's own)."""
    data = params.model_dump(mode="json", exclude=set(exclude))
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode("utf-8")).digest()
    words = [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
    return np.random.default_rng(np.random.SeedSequence(words))
