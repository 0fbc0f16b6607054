"""Reading what LaTeX recorded in a batch's side file, and cutting the batch PDF into one file
per student and document.

The side file (`<job>.efl`) holds one line per fact, written by the exam template:
  W|textwidth|textheight|paperwidth|paperheight     the geometry, in sp
  G|entry|kind|page|abspage                         one per shipped page, in order
  P|entry|kind|label|page|x|y                       a recorded point (pdfsavepos), in sp from bottom-left
  O|entry|kind|what|needed|available                content taller than its box, in sp
  M|slot|what|height                                a calibration measurement

Splitting goes through pikepdf (qpdf): each output file gets the pages it needs and the objects
they use, streams copied as they are, about 4 ms per 12-page file."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf


@dataclass
class SideFile:
    geometry: tuple[int, int, int, int] | None = None
    pages: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(list))  # 0-based
    points: dict[tuple[str, str], dict[str, tuple[int, int, int]]] = field(default_factory=lambda: defaultdict(dict))
    overflows: list[tuple[str, str, str, int, int]] = field(default_factory=list)


def parse_side(text: str) -> SideFile:
    side = SideFile()
    for line in text.splitlines():
        kind, _, rest = line.partition("|")
        fields = rest.split("|")
        if kind == "W":
            side.geometry = tuple(int(f.removesuffix("sp")) for f in fields)  # type: ignore[assignment]
        elif kind == "G":
            entry, doc, _page, absolute = fields
            side.pages[entry, doc].append(int(absolute) - 1)
        elif kind == "P":
            entry, doc, label, page, x, y = fields
            side.points[entry, doc][label] = (int(page), int(x.removesuffix("sp")), int(y.removesuffix("sp")))
        elif kind == "O":
            entry, doc, what, need, have = fields
            side.overflows.append((entry, doc, what, int(need), int(have)))
    return side


class BatchPdf:
    """A compiled batch (many students in one pdflatex run), open for copying pages out of it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.pdf = pikepdf.open(self.path)

    def __len__(self) -> int:
        return len(self.pdf.pages)

    def close(self) -> None:
        self.pdf.close()


class PageSink:
    """A new PDF being filled with pages from batches, in order, through qpdf: the objects the
    pages use are copied once per source (about 1 ms per page), streams as they are."""

    def __init__(self) -> None:
        self.pdf = pikepdf.new()

    def add(self, source: BatchPdf, indices: list[int]) -> None:
        pages = source.pdf.pages
        self.pdf.pages.extend([pages[i] for i in indices])

    def save(self, target: Path) -> int:
        """Written under a temporary name first; no re-compression, no object streams, a fixed
        /ID and no dates, so the file is a function of its pages only. Returns the page count."""
        tmp = target.with_name(f".{target.name}.tmp")
        self.pdf.save(tmp, static_id=True, compress_streams=False, stream_decode_level=pikepdf.StreamDecodeLevel.none,
                      object_stream_mode=pikepdf.ObjectStreamMode.disable, recompress_flate=False)
        count = len(self.pdf.pages)
        self.pdf.close()
        tmp.replace(target)
        return count


def write_pages(parts: list[tuple[BatchPdf, list[int]]], target: Path) -> int:
    """Pages (0-based indices) from one or several batches, in order, into one new file.
    Returns the page count."""
    sink = PageSink()
    merged: list[tuple[BatchPdf, list[int]]] = []
    for source, indices in parts:  # one copy per run of parts from the same batch
        if merged and merged[-1][0] is source:
            merged[-1][1].extend(indices)
        else:
            merged.append((source, list(indices)))
    for source, indices in merged:
        sink.add(source, indices)
    return sink.save(target)
