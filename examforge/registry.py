"""The registry of question types, filled by one mechanism from every source.

A *question folder* holds question types in one layout, wherever it lives:

- `<folder>/<module>.py`: Python types, each a `QuestionType` subclass decorated with
  `@register`; the module is named after its types' topic (`conv.py`, or `conv_im2col.py`
  for `conv.im2col`). Modules whose name starts with `_` are helpers or drafts, not loaded.
- `<folder>/<type id>/question.tex.j2` and `solution.tex.j2`: a Python type's two templates.
- `<folder>/**/*.yaml`: authored questions (examforge.authored), no Python needed.

The built-in bank is the folder `examforge/bank/`; an instructor's folder is named by a spec
(`question_dirs`) or on the command line (`--questions DIR`); an installed package offers one
through the entry point group `examforge.questions` (a package, whose folder is loaded, or a
module, which is imported). An id defined twice is an error naming both files.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.metadata
import os
import re
import sys
import traceback
import types
from pathlib import Path

from examforge.errors import InputError
from examforge.question import AnswerModel, ParamsModel, QuestionType, RangesModel

_TYPES: dict[str, QuestionType] = {}
_ORIGIN: dict[str, Path] = {}  # id -> the file that defined it
_FOLDERS: dict[Path, str] = {}  # loaded question folders -> their package name
_ID_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_BANK = Path(__file__).resolve().parent / "bank"
BANK = _BANK
_loaded = False
_loading_user = False  # user types need no `mirrors` or `seed_example`
ENTRY_POINT_GROUP = "examforge.questions"
TEMPLATE_FILES = ("question.tex.j2", "solution.tex.j2")


def template_names(type_id: str) -> tuple[str, str]:
    """The Jinja names of a type's question and solution templates."""
    return _TYPES[type_id].template_names() if type_id in _TYPES else _default_names(type_id)


def _default_names(type_id: str) -> tuple[str, str]:
    return f"questions/{type_id}/{TEMPLATE_FILES[0]}", f"questions/{type_id}/{TEMPLATE_FILES[1]}"


def template_path(type_id: str, name: str) -> Path | None:
    """The file behind `questions/<id>/<name>`: `<the type's folder>/<id>/<name>`."""
    qtype = _TYPES.get(type_id)
    folder = getattr(qtype, "template_folder", None)
    return folder / type_id / name if folder is not None else None


def _defining_file(cls: type) -> Path:
    module = sys.modules.get(cls.__module__)
    return Path(getattr(module, "__file__", None) or f"<{cls.__module__}>").resolve()


def register(cls: type[QuestionType]) -> type[QuestionType]:
    """Check a Python question type and add it under its id (a class decorator)."""
    return add(cls(), origin=_defining_file(cls), template_folder=_defining_file(cls).parent)


def add(qtype: QuestionType, *, origin: Path, template_folder: Path | None) -> type[QuestionType]:
    """Check one question type and add it; `template_folder/<id>/` holds its templates
    (None for types whose templates are the package's own, such as authored questions)."""
    cls = type(qtype)
    type_id = getattr(qtype, "id", None)
    if not isinstance(type_id, str) or not _ID_RE.match(type_id):
        raise TypeError(f"{origin}: {cls.__name__}: id must be a dotted lowercase id such as "
                        f"'conv.output_shape', got {type_id!r}")
    if type_id in _TYPES:
        raise InputError(
            f"question type id {type_id!r} is defined twice: in {_ORIGIN[type_id]} and in {origin}; "
            "ids must be unique across the bank and every question folder"
        )
    required = ("summary",) if _loading_user or origin.parent != _BANK else ("summary", "mirrors")
    for attr in required:
        if not getattr(qtype, attr, "").strip():
            raise TypeError(f"{origin}: {type_id}: missing {attr}")
    if not (isinstance(qtype.Params, type) and issubclass(qtype.Params, ParamsModel)):
        raise TypeError(f"{origin}: {type_id}: Params must subclass ParamsModel")
    if not (isinstance(qtype.Answer, type) and issubclass(qtype.Answer, AnswerModel)):
        raise TypeError(f"{origin}: {type_id}: Answer must subclass AnswerModel")
    if not (isinstance(qtype.Ranges, type) and issubclass(qtype.Ranges, RangesModel)):
        raise TypeError(f"{origin}: {type_id}: Ranges must subclass RangesModel")
    if template_folder is not None:
        for name in TEMPLATE_FILES:
            if not (template_folder / type_id / name).is_file():
                raise TypeError(f"{origin}: {type_id}: template {template_folder / type_id / name} is missing")
        qtype.template_folder = template_folder
    if origin.suffix == ".py" and origin.parent == _BANK:
        topic = type_id.split(".", 1)[0]
        if not (origin.stem == topic or origin.stem.startswith(topic + "_")):
            raise TypeError(f"{origin}: {type_id}: a bank module is named after its types' topic "
                            f"({topic}.py or {topic}_<name>.py)")
    if qtype.part_labels and type(qtype).part_answers is QuestionType.part_answers:
        raise TypeError(f"{origin}: {type_id}: part_labels {qtype.part_labels} needs a part_answers() "
                        "giving one answer per part")
    cls.Ranges()  # defaults must be valid
    if qtype.seed_example is not None:
        qtype.Params.model_validate(qtype.seed_example)
    _TYPES[type_id] = qtype
    _ORIGIN[type_id] = origin
    return cls


def load_folder(folder: str | Path, *, package: str | None = None) -> list[str]:
    """Load a question folder (Python types, their templates, authored YAML); returns the ids
    it added. Loading the same folder again does nothing."""
    global _loading_user
    if package is None:
        load_all()  # the bank first: an instructor's id that clashes with it is the error
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise InputError(f"{folder}: question folder not found (or not a directory)")
    path = path.resolve()
    if path in _FOLDERS or any(loaded in path.parents for loaded in _FOLDERS):
        return []  # loaded already (its YAML files are searched with the folder it is in)
    before = set(_TYPES)
    user = package is None
    if package is None:
        package = "examforge_questions_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
        module = types.ModuleType(package)
        module.__path__ = [str(path)]  # so a folder's modules can import their siblings
        module.__file__ = None
        sys.modules.setdefault(package, module)
    _FOLDERS[path] = package
    _loading_user = user
    ok = False
    try:
        for file in sorted(path.glob("*.py")):
            if file.name.startswith("_"):
                continue
            _import(f"{package}.{file.stem}", file, user=user)
        yaml_files = [f for f in sorted([*path.rglob("*.yaml"), *path.rglob("*.yml")])
                      if not any(part.startswith(".") for part in f.relative_to(path).parts)]
        for file in yaml_files:
            from examforge import authored

            for qtype in authored.load_file(file):
                add(qtype, origin=file, template_folder=None)
        ok = True
    finally:
        _loading_user = False
        if not ok:  # a folder with an error adds nothing: the next attempt starts clean
            for type_id in set(_TYPES) - before:
                del _TYPES[type_id], _ORIGIN[type_id]
            del _FOLDERS[path]
    return sorted(set(_TYPES) - before)


def _import(name: str, file: Path, *, user: bool) -> None:
    if not user:
        importlib.import_module(name)
        return
    try:
        importlib.import_module(name)
    except (InputError, TypeError) as err:
        raise InputError(f"{file}: {err}") from None
    except Exception as err:  # an instructor's module: say where it failed, not a traceback
        frames = [f for f in traceback.extract_tb(err.__traceback__) if f.filename == str(file)]
        line = f" (line {frames[-1].lineno})" if frames else ""
        raise InputError(f"{file}{line}: cannot load this question module: {type(err).__name__}: {err}") from None


def load_entry_points() -> None:
    """Question folders or modules offered by installed packages (`examforge.questions`)."""
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            target = ep.load()
        except Exception as err:
            raise InputError(f"entry point {ep.name!r} ({ep.value}) of group {ENTRY_POINT_GROUP}: "
                             f"cannot load: {type(err).__name__}: {err}") from None
        paths = getattr(target, "__path__", None)
        if isinstance(target, types.ModuleType) and paths:
            load_folder(Path(list(paths)[0]), package=target.__name__)


ENV_FOLDERS = "EXAMFORGE_QUESTIONS"  # folders to load in every process (os.pathsep-separated)


def load_all() -> None:
    """The bank, the packages' entry points, then the folders in $EXAMFORGE_QUESTIONS
    (which `--questions` sets, so the drill server's worker processes load them too)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    load_folder(_BANK, package="examforge.bank")
    load_entry_points()
    for folder in filter(None, os.environ.get(ENV_FOLDERS, "").split(os.pathsep)):
        load_folder(folder)


def load_folders(folders) -> list[str]:
    """Load instructors' folders (after the bank); returns the ids they added."""
    load_all()
    added = []
    for folder in folders or ():
        added += load_folder(folder)
    return added


def user_folders(extra=()) -> list[Path]:
    """The instructors' folders loaded so far, and `extra` ones, resolved, without repeats."""
    out = [p for p, package in _FOLDERS.items() if not package.startswith("examforge.")]
    for folder in extra:
        path = Path(folder).resolve()
        if path.is_dir() and path not in out:
            out.append(path)
    return sorted(out)


def folder_digest(folder: Path) -> str:
    """The content of a question folder: what a build made from it depends on."""
    h = hashlib.sha256(str(folder).encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def all_types() -> list[QuestionType]:
    load_all()
    return [_TYPES[k] for k in sorted(_TYPES)]


def get(type_id: str) -> QuestionType:
    load_all()
    try:
        return _TYPES[type_id]
    except KeyError:
        raise InputError(unknown_id_message(type_id)) from None


def origin(type_id: str) -> Path:
    load_all()
    return _ORIGIN[type_id]


def in_bank(type_id: str) -> bool:
    """Whether a type is one of examforge's own Python types (held to the seed-example check)."""
    path = origin(type_id)
    return path.suffix == ".py" and path.parent == _BANK


def unknown_id_message(type_id: str) -> str:
    load_all()
    close = difflib.get_close_matches(type_id, list(_TYPES), n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; run 'examforge list' to see the ids"
    return f"unknown question type {type_id!r}{hint}"


def known_ids() -> list[str]:
    load_all()
    return sorted(_TYPES)


def matching(pattern: str) -> list[str]:
    """Ids matching a glob such as `concepts.memory.*` (fnmatch rules), sorted."""
    import fnmatch

    load_all()
    return sorted(i for i in _TYPES if fnmatch.fnmatchcase(i, pattern))
