"""Reading what LaTeX recorded in a batch's side file, and cutting the batch PDF into one file
per student and document.

The side file (`<job>.efl`) holds one line per fact, written by the exam template:
  W|textwidth|textheight|paperwidth|paperheight     the geometry, in sp
  G|entry|kind|page|abspage                         one per shipped page, in order
  P|entry|kind|label|page|x|y                       a recorded point (pdfsavepos), in sp from bottom-left
  O|entry|kind|what|needed|available                content taller than its box, in sp
  M|slot|what|height                                a calibration measurement

Splitting: pypdf reads the batch (its page list and cross-reference table); each output file gets
the objects its pages need copied byte for byte (pdfTeX writes them without object streams),
renumbered, under a new page tree. That is ~20x faster than re-serialising every object through
pypdf's writer, which matters when one run holds hundreds of students."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pypdf import PdfReader


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


_OBJ_HEADER = re.compile(rb"(\d+) (\d+) obj\s*")
_REF = re.compile(rb"(\d+) 0 R\b")
_PARENT = re.compile(rb"/Parent\s+\d+\s+0\s+R")
_LENGTH = re.compile(rb"/Length\s+(\d+)(?!\s+\d+\s+R)")


class BatchPdf:
    """A PDF written by pdfTeX with \\pdfobjcompresslevel=0, whose objects can be copied as they are."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.data = self.path.read_bytes()
        reader = PdfReader(str(path))
        self.page_ids = [page.indirect_reference.idnum for page in reader.pages]
        self.offsets: dict[int, int] = dict(reader.xref.get(0, {}))
        if reader.xref_objStm:
            raise ValueError(f"{path}: has object streams; compile with \\pdfobjcompresslevel=0")
        self._objects: dict[int, tuple[bytes, bytes]] = {}
        self._refs: dict[int, tuple[int, ...]] = {}

    def object(self, idnum: int) -> tuple[bytes, bytes]:
        """(dictionary or value, stream part `stream ... endstream` or b"") of object `idnum`."""
        if idnum not in self._objects:
            data = self.data
            m = _OBJ_HEADER.match(data, self.offsets[idnum])
            if not m or int(m.group(1)) != idnum:
                raise ValueError(f"{self.path}: object {idnum} is not at its xref offset")
            start = m.end()
            end = data.find(b"endobj", start)
            stream = data.find(b"stream", start, end)
            if stream == -1:
                self._objects[idnum] = (data[start:end].rstrip(), b"")
            else:
                head = data[start:stream].rstrip()
                length = int(_LENGTH.search(head).group(1))
                body = stream + len(b"stream")
                body += 2 if data[body : body + 2] == b"\r\n" else 1
                self._objects[idnum] = (head, b"stream\n" + data[body : body + length] + b"\nendstream")
        return self._objects[idnum]

    def refs(self, idnum: int) -> tuple[int, ...]:
        """The objects `idnum` refers to (a page's /Parent excluded: the tree is rebuilt)."""
        if idnum not in self._refs:
            head, _ = self.object(idnum)
            self._refs[idnum] = tuple(int(r) for r in _REF.findall(_PARENT.sub(b"", head)))
        return self._refs[idnum]


def _closure(pdf: BatchPdf, roots: list[int]) -> list[int]:
    seen: dict[int, None] = {}
    stack = list(reversed(roots))
    while stack:
        idnum = stack.pop()
        if idnum in seen:
            continue
        seen[idnum] = None
        stack.extend(reversed([r for r in pdf.refs(idnum) if r not in seen]))
    return list(seen)


def write_pages(parts: list[tuple[BatchPdf, list[int]]], target: Path) -> int:
    """Pages (0-based indices) from one or several batch PDFs, in order, into one new file.
    Returns the page count. The output is a function of the inputs only (no dates, no ids)."""
    out = bytearray(b"%PDF-1.5\n%\xd0\xd4\xc5\xd8\n")
    offsets: list[int] = []
    new_ids: dict[tuple[int, int], int] = {}
    kids: list[int] = []
    objects: list[tuple[BatchPdf, int]] = []
    for source, indices in parts:
        pages = [source.page_ids[i] for i in indices]
        for idnum in _closure(source, pages):
            if (id(source), idnum) not in new_ids:  # objects shared across parts go in once
                new_ids[id(source), idnum] = len(new_ids) + 1
                objects.append((source, idnum))
        kids += [new_ids[id(source), p] for p in pages]
    tree = len(new_ids) + 1
    catalog = tree + 1

    for source, idnum in objects:
        head, stream = source.object(idnum)
        key = id(source)
        head = _REF.sub(lambda m: b"%d 0 R" % new_ids[key, int(m.group(1))], _PARENT.sub(b"/Parent TREE", head))
        head = head.replace(b"/Parent TREE", b"/Parent %d 0 R" % tree)
        offsets.append(len(out))
        out += b"%d 0 obj\n" % new_ids[key, idnum] + head + b"\n" + (stream + b"\n" if stream else b"") + b"endobj\n"
    offsets.append(len(out))
    out += b"%d 0 obj\n<< /Type /Pages /Count %d /Kids [%s] >>\nendobj\n" % (
        tree, len(kids), b" ".join(b"%d 0 R" % k for k in kids))
    offsets.append(len(out))
    out += b"%d 0 obj\n<< /Type /Catalog /Pages %d 0 R >>\nendobj\n" % (catalog, tree)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (catalog + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (catalog + 1, catalog, xref)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(bytes(out))
    tmp.replace(target)
    return len(kids)
