"""Drill sets: named lists of question types with a difficulty and a form, read from a YAML file
(`examforge serve --sets FILE`, `examforge drill --set NAME --sets FILE`).

    week5:
      title: "Week 5: convolutions and pooling"
      questions: ["conv.*", "pool.*", cnn, concepts.cnn.why_conv_for_images]
      difficulty: hard        # easy, medium (the default) or hard
      form: mc                # optional: free, mc, tf or multi; a type without it uses its default

Each entry of `questions` is a type id, a topic (`cnn`: every type whose topic is cnn or whose id
starts with `cnn.`) or a glob over type ids (`conv.*`, `concepts.*.why_*`); authored questions
of folders loaded with `--questions DIR` count like the bank's. An entry that matches no type
is an error naming the file, the set, the entry and the value. The file is read with
examforge.yamlio.load_yaml and checked with pydantic; the types are resolved once, when the file
is loaded. `serve` passes the file's path to its worker processes in $EXAMFORGE_DRILL_SETS.

A set's variant is as stateless as any other: `pick_type(set, seed)` chooses the type from the
seed (numpy SeedSequence), so (set, seed) always gives the same type and variant.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from examforge import registry
from examforge.drill.exercise import DIFFICULTIES, FORM_NAMES, drill_forms
from examforge.errors import InputError, describe_validation_error
from examforge.yamlio import load_yaml

ENV_SETS = "EXAMFORGE_DRILL_SETS"  # the sets file, for `serve`'s worker processes
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")  # a set's name goes into URLs (/?set=NAME)
MAX_SETS = 200
MAX_ENTRIES = 500
_PICK_TAG = 0x5E7  # the SeedSequence word that separates a set's type pick from the variant's draws

Entry = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class SetSpec(BaseModel):
    """One set as written in the file."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = None
    questions: list[Entry] = Field(min_length=1, max_length=MAX_ENTRIES)
    difficulty: Literal[DIFFICULTIES] = "medium"  # type: ignore[valid-type]
    form: Literal[tuple(FORM_NAMES)] | None = None  # type: ignore[valid-type]


@dataclass(frozen=True)
class DrillSet:
    """A set with its entries resolved to the drillable type ids they match, in order."""

    name: str
    title: str
    type_ids: tuple[str, ...]
    difficulty: str
    form: str | None

    @property
    def url(self) -> str:
        return f"/?set={self.name}"

    def public(self) -> dict:
        return {"name": self.name, "title": self.title, "difficulty": self.difficulty, "form": self.form,
                "types": list(self.type_ids), "url": self.url}


def pick_type(drill_set: DrillSet, seed: int) -> str:
    """The set's type for this seed: uniform over the set, fixed by (set, seed)."""
    if len(drill_set.type_ids) == 1:
        return drill_set.type_ids[0]
    rng = np.random.default_rng(np.random.SeedSequence([seed, _PICK_TAG]))
    return drill_set.type_ids[int(rng.integers(len(drill_set.type_ids)))]


def _matches(entry: str, types) -> list[str]:
    ids = [t.id for t in types]
    if entry in ids:
        return [entry]
    if any(c in entry for c in "*?["):
        return [i for i in ids if fnmatchcase(i, entry)]
    topic = entry.rstrip(".")
    return [t.id for t in types if t.topic == topic or t.id.startswith(topic + ".")]


def _no_match(entry: str, types) -> str:
    words = sorted({t.id for t in types} | {t.topic for t in types})
    close = difflib.get_close_matches(entry, words, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else \
        "; give a type id, a topic or a glob such as 'conv.*' ('examforge list' shows the ids)"
    return f"value {entry!r}: matches no question type that can be drilled{hint}"


def resolve(name: str, spec: SetSpec, *, where: str) -> DrillSet:
    """The set's type ids (drillable types only, first match first, no repeats)."""
    types = [t for t in registry.all_types() if drill_forms(t)]
    found: dict[str, None] = {}
    for k, entry in enumerate(spec.questions):
        matched = _matches(entry, types)
        if not matched:
            raise InputError(f"{where}: set {name!r}: field 'questions[{k}]': {_no_match(entry, types)}")
        found.update(dict.fromkeys(matched))
    if spec.form is not None and not any(spec.form in drill_forms(registry.get(i)) for i in found):
        raise InputError(f"{where}: set {name!r}: field 'form': value {spec.form!r}: no question of the set "
                         f"can be drilled in this form")
    return DrillSet(name=name, title=spec.title or name, type_ids=tuple(found), difficulty=spec.difficulty,
                    form=spec.form)


def load_sets(path: str | os.PathLike) -> dict[str, DrillSet]:
    """Read, check and resolve a sets file; InputError naming the file, the set and the field."""
    path = Path(path)
    data = load_yaml(path)
    if not isinstance(data, dict) or not data:
        raise InputError(f"{path}: a drill sets file is a mapping of set names to sets, e.g.\n"
                         f"  week5: {{title: \"Week 5\", questions: [\"conv.*\"], difficulty: hard}}")
    if len(data) > MAX_SETS:
        raise InputError(f"{path}: {len(data)} sets; at most {MAX_SETS}")
    out: dict[str, DrillSet] = {}
    for name, raw in data.items():
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise InputError(f"{path}: set name {str(name)[:70]!r} is not valid: use lowercase letters, digits, "
                             f"'-' and '_' (at most 64 characters, starting with a letter or digit)")
        if not isinstance(raw, dict):
            raise InputError(f"{path}: set {name!r}: expected a mapping with questions (and title, difficulty, "
                             f"form), got {type(raw).__name__}")
        try:
            spec = SetSpec.model_validate(raw)
        except ValidationError as err:
            raise InputError(describe_validation_error(err, where=f"{path}: set {name!r}")) from None
        out[name] = resolve(name, spec, where=str(path))
    return out


def sets_from_environment() -> dict[str, DrillSet]:
    """The sets named by $EXAMFORGE_DRILL_SETS (set by `examforge serve --sets`), else none."""
    path = os.environ.get(ENV_SETS, "")
    return load_sets(path) if path else {}


def use_in_workers(path: str | os.PathLike) -> dict[str, DrillSet]:
    """Load the file here (errors appear before any server starts) and name it in
    $EXAMFORGE_DRILL_SETS for the worker processes."""
    sets = load_sets(path)
    os.environ[ENV_SETS] = str(Path(path).resolve())
    return sets

