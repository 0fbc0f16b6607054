"""CPU and wall time to make every page's QR code for a class (examforge.qr.page_codes, then the
PDF drawing), as the exam renderer does: 500 students x 14 pages by default.

Reference (2-core machine, 2026-12-02, CPU seconds, best of 3): the hand-written encoder it
replaced took 1.47-1.52 s for 500 x 14; segno with the page codes combined by XOR takes 1.54-1.63 s,
about 2% of the build's CPU time for 500 students (75-101 s)."""

from __future__ import annotations

import argparse
import time

from examforge.qr import page_codes, pdf_drawing
from examforge.renderers.exam import QR_SIZE_CM


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--pages", type=int, default=14)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    size_bp = QR_SIZE_CM * 72 / 2.54
    for run in range(1, args.repeat + 1):
        wall, cpu = time.perf_counter(), time.process_time()
        n = 0
        for s in range(args.students):
            for code in page_codes("3f9a2c1d", f"s{s:04d}", args.pages):
                pdf_drawing(code, size_bp)
                n += 1
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"run {run}: {n} codes ({args.students} students x {args.pages} pages): "
              f"{cpu:.2f} s CPU, {wall:.2f} s wall, {1000 * cpu / n:.3f} ms CPU per code")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
