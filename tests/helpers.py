"""Small shared helpers for the tests."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


SMALL_SPEC = """
title: "Test Exam"
course: "DL 101"
date: "2026-11-21"
seed: 42
instructions:
  - "Show your work & box answers: 100% of {points}."
sections:
  - title: "Convolutions"
    questions:
      - {generator: conv.output_shape, form: mc, points: 4}
      - {generator: conv.output_shape, form: free, points: 6}
"""

ROSTER_3 = """
id,name,email
s1,Ada Lovelace,ada@example.edu
s2,Zoë O'Brien & {Co}_#1 \\input{/etc/passwd},zoe@example.edu
s3,José Núñez,jose@example.edu
"""
