"""Reading the user's files within bounds: the spec's YAML and the roster's bytes.

- `read_input`: a regular file (or a pipe, as `--roster <(...)` gives) of at most `limit` bytes;
  a missing path, a directory, a device, a socket, a binary or an oversized file is an InputError
  naming the file. Nothing is read from a device, and nothing past the limit.
- `parse_yaml`: PyYAML's safe loader (no tags that build Python objects), with limits that keep it
  bounded in time and memory whatever the text: aliases may not expand the document beyond
  MAX_NODES nodes (a "billion laughs" alias bomb is refused after a few hundred nodes, in
  milliseconds), no alias may refer to the collection that contains it, nesting is at most
  MAX_DEPTH deep (PyYAML composes recursively), a number has at most MAX_DIGITS digits, and a
  key may appear only once in a mapping (PyYAML silently keeps the last one).
Every error names the file, the line and the value, cut to a readable length. examforge.yamlio
reads the instructor's question files with the same limits."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError

from examforge.errors import InputError, short

MAX_NODES = 50_000  # nodes of the document with every alias expanded (a 40-question spec has ~2,000)
MAX_DEPTH = 64
MAX_DIGITS = 50


def read_input(path: str | Path, *, what: str, limit: int) -> bytes:
    """The bytes of the user's file `path` (a `what`: "spec", "roster"), at most `limit` of them."""
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{path}: {what} file not found") from None
    except NotADirectoryError:
        raise InputError(f"{path}: {what} file not found (a parent of it is a file, not a directory)") from None
    except OSError as err:
        raise InputError(f"{path}: cannot read the {what}: {err.strerror}") from None
    _check_kind(path, info.st_mode, what)
    try:
        with open(path, "rb") as f:
            _check_kind(path, os.fstat(f.fileno()).st_mode, what)  # what was opened, not what was named
            data = f.read(limit + 1)
    except OSError as err:
        raise InputError(f"{path}: cannot read the {what}: {err.strerror or err}") from None
    if len(data) > limit:
        raise InputError(f"{path}: the {what} is larger than {limit // 1_000_000} MB; "
                         f"that is not a {what} examforge can use")
    if b"\0" in data:
        raise InputError(f"{path}: the {what} is a binary file (it holds NUL bytes), not text")
    return data


def _check_kind(path: Path, mode: int, what: str) -> None:
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a directory, not a {what} file")
    if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
        raise InputError(f"{path}: is a device or a socket, not a {what} file")


def decode_text(data: bytes, path: str | Path, *, what: str) -> str:
    """UTF-8 text (a leading byte-order mark is dropped)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: the {what} must be UTF-8 text ({err.reason} at byte {err.start})") from None


class _BoundedLoader(yaml.SafeLoader):
    """yaml.SafeLoader with the limits above; see the module docstring."""

    def __init__(self, stream):
        super().__init__(stream)
        self._nodes = 0  # nodes so far, every alias counted as the nodes it stands for
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(anchored node) -> its expanded size, once complete

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            size = self._sizes.get(id(node))
            if size is None:
                raise ComposerError(None, None, f"the alias *{short(event.anchor, 40, quote=False)} refers to a "
                                    "collection that contains it (a recursive document)", event.start_mark)
            self._count(size, event.start_mark, alias=event.anchor)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        self._count(1, event.start_mark)
        before = self._nodes
        node = super().compose_node(parent, index)
        self._depth -= 1
        if event.anchor is not None:
            self._sizes[id(node)] = self._nodes - before + 1
        return node

    def _count(self, n: int, mark, alias: str | None = None) -> None:
        self._nodes += n
        if self._nodes > MAX_NODES:
            why = f"the alias *{short(alias, 40, quote=False)} makes" if alias else "it has"
            raise ComposerError(None, None, f"{why} the document larger than {MAX_NODES} nodes "
                                "(aliases are counted as what they expand to)", mark)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], int] = {}
            for key, _ in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                    continue
                line = key.start_mark.line + 1
                if (key.tag, key.value) in seen:
                    raise ConstructorError(None, None, f"duplicate key {short(key.value)} (first at line "
                                           f"{seen[key.tag, key.value]}); give each key once", key.start_mark)
                seen[key.tag, key.value] = line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        self._check_digits(node, "integer")
        return super().construct_yaml_int(node)

    def construct_yaml_float(self, node):
        self._check_digits(node, "number")
        return super().construct_yaml_float(node)

    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):  # "2026-13-45": not a date, so the text as written
            return node.value

    @staticmethod
    def _check_digits(node, kind: str) -> None:
        digits = sum(ch.isalnum() for ch in node.value)
        if digits > MAX_DIGITS:
            raise ConstructorError(None, None, f"an {kind} of {digits} digits ({short(node.value)}); "
                                   f"at most {MAX_DIGITS} are accepted", node.start_mark)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)
_BoundedLoader.add_constructor("tag:yaml.org,2002:float", _BoundedLoader.construct_yaml_float)
_BoundedLoader.add_constructor("tag:yaml.org,2002:timestamp", _BoundedLoader.construct_yaml_timestamp)


def parse_yaml(text: str, path: str | Path):
    """The one document in `text`, within the limits; an InputError naming `path` and the line."""
    try:
        return yaml.load(text, Loader=_BoundedLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err)
        raise InputError(f"{path}: invalid YAML{where}: {problem}") from None
    except (ValueError, OverflowError) as err:  # a scalar the constructor could not convert
        raise InputError(f"{path}: invalid YAML value: {short(str(err), quote=False)}") from None
