"""Wall time of a full build (draw, render, compile, verify) of the example midterm."""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

from examforge.build import build
from examforge.pdftext import page_count

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--spec", default=str(ROOT / "examples" / "midterm.yaml"))
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    for n in args.students:
        with tempfile.TemporaryDirectory() as tmp:
            roster = Path(tmp) / "roster.csv"
            with roster.open("w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["id", "name", "email"])
                for i in range(n):
                    writer.writerow([f"s{i:04d}", f"Student {i}", f"s{i}@example.edu"])
            start = time.perf_counter()
            manifest = build(args.spec, roster, Path(tmp) / "out", jobs=args.jobs)
            elapsed = time.perf_counter() - start
            pages = sum(page_count(Path(tmp) / "out" / s[k]) for s in manifest["students"] for k in ("exam_pdf", "key_pdf"))
            print(f"{n:>4} students: {elapsed:6.1f} s wall, {pages} pages, {pages / elapsed:5.1f} pages/s, "
                  f"{elapsed / n:5.2f} s/student (exam + key), jobs={args.jobs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
