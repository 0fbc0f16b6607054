"""The terminal drill's memory: one SQLite table of attempts under the user's data directory
($XDG_DATA_HOME/examforge/drill.sqlite3, usually ~/.local/share/examforge/), used to bring
missed types back more often.

A type's weight is 1 + 3 × (its miss rate over its last 10 attempts); a type never tried
weighs 2. So a type missed every time comes up four times as often as one always answered
right, and new types are tried early.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import platformdirs

RECENT = 10
NEW_TYPE_WEIGHT = 2.0
MISS_WEIGHT = 3.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    type TEXT NOT NULL,
    seed INTEGER NOT NULL,
    difficulty TEXT NOT NULL,
    form TEXT NOT NULL,
    correct INTEGER NOT NULL,
    answer TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_type ON attempts (type, id);
"""


def default_path() -> Path:
    """platformdirs follows XDG_DATA_HOME on Linux (and the usual places elsewhere)."""
    return platformdirs.user_data_path("examforge", appauthor=False) / "drill.sqlite3"


class History:
    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.executescript(_SCHEMA)

    def record(self, type_id: str, seed: int, difficulty: str, form: str, correct: bool, answer: str) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO attempts (at, type, seed, difficulty, form, correct, answer) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (time.time(), type_id, seed, difficulty, form, int(correct), answer[:1000]),
            )

    def recent(self, type_id: str, n: int = RECENT) -> list[bool]:
        rows = self.db.execute(
            "SELECT correct FROM attempts WHERE type = ? ORDER BY id DESC LIMIT ?", (type_id, n)
        ).fetchall()
        return [bool(r[0]) for r in rows]

    def weight(self, type_id: str) -> float:
        results = self.recent(type_id)
        if not results:
            return NEW_TYPE_WEIGHT
        misses = results.count(False) / len(results)
        return 1.0 + MISS_WEIGHT * misses

    def weights(self, type_ids: list[str]) -> list[float]:
        return [self.weight(t) for t in type_ids]

    def totals(self) -> dict[str, tuple[int, int]]:
        """Per type: (right, wrong) over all attempts."""
        rows = self.db.execute(
            "SELECT type, SUM(correct), SUM(1 - correct) FROM attempts GROUP BY type ORDER BY type"
        ).fetchall()
        return {t: (int(r), int(w)) for t, r, w in rows}

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
