"""The registry of question types. Types are discovered by importing examforge.generators;
each registers itself once with `@register`, which checks its id, its models and templates."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
import re
from importlib import resources

from examforge.errors import InputError
from examforge.question import AnswerModel, ParamsModel, QuestionType, RangesModel

_TYPES: dict[str, QuestionType] = {}
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_loaded = False


def template_names(type_id: str) -> tuple[str, str]:
    return f"questions/{type_id}/question.tex.j2", f"questions/{type_id}/solution.tex.j2"


def register(cls: type[QuestionType]) -> type[QuestionType]:
    type_id = getattr(cls, "id", None)
    if not isinstance(type_id, str) or not _ID_RE.match(type_id):
        raise TypeError(f"{cls.__name__}: id must be a dotted lowercase id, got {type_id!r}")
    if type_id in _TYPES:
        raise TypeError(f"{cls.__name__}: id {type_id!r} is already registered by {type(_TYPES[type_id]).__name__}")
    for attr in ("summary", "mirrors"):
        if not getattr(cls, attr, "").strip():
            raise TypeError(f"{type_id}: missing {attr}")
    if not (isinstance(cls.Params, type) and issubclass(cls.Params, ParamsModel)):
        raise TypeError(f"{type_id}: Params must subclass ParamsModel")
    if not (isinstance(cls.Answer, type) and issubclass(cls.Answer, AnswerModel)):
        raise TypeError(f"{type_id}: Answer must subclass AnswerModel")
    root = resources.files("examforge") / "templates"
    for name in template_names(type_id):
        if not (root / name).is_file():
            raise TypeError(f"{type_id}: template {name} is missing")
    if not (isinstance(cls.Ranges, type) and issubclass(cls.Ranges, RangesModel)):
        raise TypeError(f"{type_id}: Ranges must subclass RangesModel")
    cls.Ranges()  # defaults must be valid
    if cls.seed_example is not None:
        cls.Params.model_validate(cls.seed_example)
    _TYPES[type_id] = cls()
    return cls


def load_all() -> None:
    global _loaded
    if _loaded:
        return
    import examforge.generators as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):  # drafts in progress are not part of the bank
            continue
        importlib.import_module(f"{pkg.__name__}.{info.name}")
    _loaded = True


def all_types() -> list[QuestionType]:
    load_all()
    return [_TYPES[k] for k in sorted(_TYPES)]


def get(type_id: str) -> QuestionType:
    load_all()
    try:
        return _TYPES[type_id]
    except KeyError:
        raise InputError(unknown_id_message(type_id)) from None


def unknown_id_message(type_id: str) -> str:
    load_all()
    close = difflib.get_close_matches(type_id, list(_TYPES), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; run 'examforge list' to see the ids"
    return f"unknown question type {type_id!r}{hint}"


def known_ids() -> list[str]:
    load_all()
    return sorted(_TYPES)
