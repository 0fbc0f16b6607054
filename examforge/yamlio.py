"""Reading YAML written by people: one place, with errors that name the file and the line, and
the limits of examforge.safeinput (size, aliases, nesting, digits, duplicate keys)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from examforge.safeinput import decode_text, parse_yaml, read_input

MAX_YAML_BYTES = 1_000_000


def load_yaml(path: Path) -> Any:
    text = decode_text(read_input(path, what="YAML", limit=MAX_YAML_BYTES), path, what="YAML file")
    return parse_yaml(text, path)
