"""Reading built PDFs back.

- `pdf_text`: the text of a PDF as pdftotext reads it (the reference reading), in content-stream
  order (`-raw`): a matrix reads row by row as it was typeset, where pdftotext's layout analysis
  sometimes reads the columns of a matrix with negative entries top to bottom.
- `PdfDoc`: a fast reading of pdfTeX's own output with pikepdf (qpdf) for the objects and
  regular expressions for the content streams: per page, the glyphs of every text operator in
  content order, decoded through each font's /ToUnicode map (no spaces: comparisons go through
  `normalize`, which drops whitespace), and the frames of the answer boxes (the rules pdfTeX draws
  as `1 0 0 1 x y cm ... w 0 0 m dx dy l S`). Reading a page this way costs a fraction of a
  millisecond, against a few for pdftotext, which matters when a build re-reads a whole class.
  Where the fast reading misses an expected text, callers fall back to `pdf_text`."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pikepdf

from examforge.errors import ExamforgeError


def pdf_text(path: Path, *, first: int | None = None, last: int | None = None) -> str:
    if shutil.which("pdftotext") is None:
        raise ExamforgeError("pdftotext is not installed (Debian: poppler-utils)")
    cmd = ["pdftotext", "-raw", "-enc", "UTF-8"]
    if first:
        cmd += ["-f", str(first)]
    if last:
        cmd += ["-l", str(last)]
    cmd += [str(path), "-"]
    return subprocess.run(cmd, check=True, capture_output=True).stdout.decode("utf-8")


# -- the fast reading ------------------------------------------------------------------------------

# Font selections split a content stream into runs set in one font; strings are what TJ/Tj show.
_FONT_SWITCH = re.compile(rb"/([^\s/\[\]()<>]+)\s+[-\d.]+\s+Tf")
# A literal string's body; escapes (`\)`, `\\`, `\ddd`, ...) stay inside it.
_STRING_BODY = re.compile(rb"\(([^\\)]*(?:\\.[^\\)]*)*)\)", re.S)
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|\r\n|[\s\S])")
_ESCAPED = {bytes([c]): bytes([c]) for c in range(256)}  # an unknown escape is the character itself
_ESCAPED.update({b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f",
                 b"\n": b"", b"\r": b"", b"\r\n": b""})  # a backslash at a line end continues the line
_ESCAPED.update({format(v, "o").zfill(n).encode(): bytes([v & 0xFF]) for n in (1, 2, 3) for v in range(8 ** n)})
# pdfTeX writes every byte it escapes, parentheses and backslashes included, as `\ddd`. A stream
# with no other escape has no parenthesis inside a string, so a whole page can be read in a few
# passes of the regex engine (see `PdfDoc._decode`); anything else is read run by run.
_OTHER_ESCAPE = re.compile(rb"\\(?![0-3][0-7][0-7])")
_PLAIN_BODY = re.compile(rb"\(([^)]*)\)")
_RUN_END = "\u0100"  # no `\ddd` decodes to it
_RUN_SEPARATOR = b"(\\u0100)"  # a string that reads as _RUN_END
# What the frames depend on: q/Q (save/restore the graphics state), `cm` (its six operands are read
# back from the bytes before it) and pdfTeX's rules, whole (`q 1 0 0 1 x y cm <rule> Q`, one
# match instead of four) or bare. Text objects (BT ... ET, which cannot hold any of these) are
# matched and passed over, up to an `ET` that stands alone (a string holding " ET " would end one
# early, as it did when they were cut out with `BT\s.*?\sET`). Every branch starts with a literal,
# so the regex engine jumps from candidate to candidate instead of trying each branch at each byte.
_NUMBER = rb"(-?(?:\d+\.?\d*|\.\d+))"
_RULE = rb"\[\]\s*0 d 0 J ([\d.]+) w 0 0 m " + _NUMBER + b" " + _NUMBER + rb" l S"
_GRAPHICS = re.compile(
    rb"BT(?<!\SBT)\s[^E]*(?:(?:E(?!T(?!\S))|(?<=[^\s)\]>])E)[^E]*)*ET(?!\S)"
    rb"|q(?<![\w/]q)\s+1 0 0 1 " + _NUMBER + b" " + _NUMBER + rb" cm\s*" + _RULE + rb"\s+Q(?!\w)"
    rb"|q(?<![\w/]q)(?!\w)"
    rb"|Q(?<![\w/]Q)(?!\w)"
    rb"|" + _RULE
    + rb"|cm(?<!\Scm)(?!\S)",
    re.S,
)
_B, _Q_SAVE, _Q_RESTORE, _BRACKET = b"BqQ["
FRAME_WIDTH_BP = b"0.797"  # the answer boxes' 0.8pt rules, as pdfTeX writes them
_IDENTITY = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _unescape_one(m: re.Match) -> bytes:
    return _ESCAPED[m[1]]


def _unescape(bodies: list[bytes]) -> bytes:
    """The bytes of literal strings' bodies, escapes resolved. The bodies are joined with a line
    continuation (which reads as nothing), so an escape cannot run on into the next body."""
    return _ESCAPE.sub(_unescape_one, b"\\\n".join(bodies))


def _parse_tounicode(data: bytes) -> dict[int, str]:
    table: dict[int, str] = {}

    def text(hexstr: bytes) -> str:
        return bytes.fromhex(hexstr.decode("ascii")).decode("utf-16-be", errors="replace")

    for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]*)>", block):
            table[int(src, 16)] = text(dst)
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
        for lo, hi, rest in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(\[[^\]]*\]|<[0-9A-Fa-f]*>)", block):
            lo_i, hi_i = int(lo, 16), int(hi, 16)
            if rest.startswith(b"["):
                for k, dst in enumerate(re.findall(rb"<([0-9A-Fa-f]*)>", rest)):
                    table[lo_i + k] = text(dst)
            else:
                start = bytes.fromhex(rest[1:-1].decode("ascii")).decode("utf-16-be", errors="replace")
                for k in range(hi_i - lo_i + 1):
                    table[lo_i + k] = start[:-1] + chr(ord(start[-1]) + k) if start else ""
    return table


_TABLES: dict[bytes, dict[int, str]] = {}
_FONT_REF = re.compile(rb"/([^\s/\[\]()<>{}%#]+)\s+(\d+)\s+(\d+)\s+R")
_NO_MAP: dict[int, str] = {}


def _tounicode_table(stream: pikepdf.Stream) -> dict[int, str]:
    """A font's ToUnicode map as a str.translate table, parsed once per distinct map (the files of
    a class share their fonts, so a process parses each map once). Maps are told apart by their
    stored bytes and filters, which costs no decompression."""
    key = stream.stream_dict.unparse() + b"\n" + stream.read_raw_bytes()
    table = _TABLES.get(key)
    if table is None:
        if len(_TABLES) > 4096:
            _TABLES.clear()
        table = _TABLES[key] = _parse_tounicode(stream.read_bytes())
    return table


class PdfDoc:
    """One PDF made by pdfTeX, read with pikepdf (qpdf): page count, glyph text, and answer-box
    frames. Use it as a context manager, or call `close`: pikepdf keeps the file open."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.pdf = pikepdf.open(self.path)
        self._objs: list | None = None
        self._fonts: dict[tuple[int, int], dict[int, str]] = {}
        self._font_dicts: dict[bytes, dict[bytes, dict[int, str]]] = {}
        self._contents: dict[int, bytes] = {}

    def __len__(self) -> int:
        return len(self.pdf.pages)

    def __enter__(self) -> "PdfDoc":
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def close(self) -> None:
        self.pdf.close()

    def _page(self, index: int):
        if self._objs is None:  # one walk over the page tree: pdf.pages[i] walks it for each i
            self._objs = [page.obj for page in self.pdf.pages]
        return self._objs[index]

    def _streams(self, index: int) -> list:
        contents = self._page(index).get("/Contents")
        parts = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
        return [part for part in parts if isinstance(part, pikepdf.Stream)]

    def content(self, index: int) -> bytes:
        """The page's content stream, decoded (the parts of an array joined by newlines)."""
        data = self._contents.get(index)
        if data is None:
            data = self._contents[index] = b"\n".join([part.read_bytes() for part in self._streams(index)])
        return data

    def encoded_digest(self, index: int) -> str:
        """A digest of the page's content streams as stored (filters and compressed bytes), which
        costs no decompression: equal digests mean equal content; unequal ones say nothing."""
        digest = hashlib.sha1()
        for part in self._streams(index):
            digest.update(part.stream_dict.unparse())
            digest.update(part.read_raw_bytes())
        return digest.hexdigest()

    def _resources(self, index: int):
        """The page's /Resources, inherited from the page tree where the page has none."""
        node = self._page(index)
        for _ in range(64):
            resources = node.get("/Resources")
            if resources is not None or node.get("/Parent") is None:
                return resources
            node = node.Parent
        return None

    def _font_map(self, font) -> dict[int, str]:
        """A font's str.translate table (byte value -> text), from its /ToUnicode map."""
        key = font.objgen
        table = self._fonts.get(key) if key != (0, 0) else None
        if table is None:
            unicode = font.get("/ToUnicode") if isinstance(font, pikepdf.Dictionary) else None
            table = _tounicode_table(unicode) if isinstance(unicode, pikepdf.Stream) else _NO_MAP
            if key != (0, 0):
                self._fonts[key] = table
        return table

    def _tables(self, names, resources) -> dict[bytes, dict[int, str]]:
        """Font name (as in `/F35 9.96 Tf`) -> translate table, for the names a stream uses."""
        fonts = resources.get("/Font") if isinstance(resources, pikepdf.Dictionary) else None
        if not isinstance(fonts, pikepdf.Dictionary):
            return {name: _NO_MAP for name in names}
        # pdfTeX's font dictionaries are `<< /F35 7 0 R ... >>`, the same on many pages: read as
        # text (one call into qpdf instead of one per font) and remembered as such.
        listed = fonts.unparse()
        tables = self._font_dicts.get(listed)
        if tables is None:
            tables = {}
            if listed.count(b"<<") == 1:
                for name, num, gen in _FONT_REF.findall(listed):
                    key = (int(num), int(gen))
                    table = self._fonts.get(key)
                    if table is None:
                        table = self._fonts[key] = self._font_map(self.pdf.get_object(key))
                    tables[name] = table
            self._font_dicts[listed] = tables
        missing = [name for name in set(names) if name not in tables]
        if missing:  # a font given in place, or a name written differently: ask pikepdf
            tables = dict(tables)
            for name in missing:
                font = fonts.get("/" + name.decode("latin-1"))
                tables[name] = self._font_map(font) if font is not None else _NO_MAP
        return tables

    def _decode(self, data: bytes, resources) -> str:
        """The glyphs a content stream shows, in order, through each font's ToUnicode map."""
        runs = _FONT_SWITCH.split(data)  # text before any font, then (font name, run) pairs
        names = runs[1::2]
        tables = self._tables(names, resources)
        if _OTHER_ESCAPE.search(data) is None:
            # One string per run: all the bodies of the page at once, `\ddd` resolved by the codec.
            shown = b"".join(_PLAIN_BODY.findall(_RUN_SEPARATOR.join(runs[0::2])))
            texts = shown.decode("unicode_escape").split(_RUN_END)
            return texts[0] + "".join([text.translate(tables[name]) for name, text in zip(names, texts[1:])])
        out = []
        table = _NO_MAP
        for k in range(0, len(runs), 2):
            if k:
                table = tables[runs[k - 1]]
            bodies = _STRING_BODY.findall(runs[k])
            if bodies:
                raw = b"".join(bodies)
                if b"\\" in raw:
                    raw = _unescape(bodies)
                out.append(raw.decode("latin-1").translate(table))
        return "".join(out)

    def text(self, index: int) -> str:
        """The page's glyphs in content order, XObject text last; spacing is not kept."""
        resources = self._resources(index)
        text = self._decode(self.content(index), resources)
        xobjects = resources.get("/XObject") if isinstance(resources, pikepdf.Dictionary) else None
        if isinstance(xobjects, pikepdf.Dictionary):
            for name in sorted(xobjects.keys()):
                xobj = xobjects[name]
                if isinstance(xobj, pikepdf.Stream) and xobj.get("/Subtype") == "/Form":
                    inner = xobj.get("/Resources")
                    text += self._decode(xobj.read_bytes(), inner if inner is not None else resources)
        return text

    def frames(self, index: int) -> list[tuple[float, float, float, float]]:
        """The answer-box frame rules on a page: (x, y, dx, dy) in bp, in page coordinates (the
        transformation matrix is followed, since a figure before a box may leave one in place)."""
        data = self.content(index)
        if FRAME_WIDTH_BP + b" w" not in data:
            return []
        ctm = _IDENTITY
        stack = []
        out = []
        for m in _GRAPHICS.finditer(data):
            start = m.start()
            op = data[start]
            if op == _B:  # a text object
                continue
            if op == _Q_SAVE:
                x, y, width, dx, dy = m.group(1, 2, 3, 4, 5)
                if x is None:
                    stack.append(ctm)
                elif width == FRAME_WIDTH_BP:  # q 1 0 0 1 x y cm <rule> Q: the matrix is back after
                    if ctm is _IDENTITY:  # the numbers as written: nothing to round
                        out.append((float(x), float(y), float(dx), float(dy)))
                        continue
                    A, B, C, D, E, F = ctm
                    x, y, dx, dy = float(x), float(y), float(dx), float(dy)
                    out.append((round(x * A + y * C + E, 3), round(x * B + y * D + F, 3),
                                round(A * dx + C * dy, 3), round(B * dx + D * dy, 3)))
            elif op == _Q_RESTORE:
                if stack:
                    ctm = stack.pop()
            elif op == _BRACKET:
                width, dx, dy = m.group(6, 7, 8)
                if width == FRAME_WIDTH_BP:
                    A, B, C, D, E, F = ctm
                    dx, dy = float(dx), float(dy)
                    out.append((round(E, 3), round(F, 3), round(A * dx + C * dy, 3), round(B * dx + D * dy, 3)))
            else:  # a b c d e f cm: new = given x current
                operands = data[max(0, start - 160):start].split()[-6:]
                try:
                    a, b, c, d, e, f = (float(v) for v in operands)
                except ValueError:
                    continue  # not six numbers: not a matrix
                A, B, C, D, E, F = ctm
                ctm = (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D,
                       e * A + f * C + E, e * B + f * D + F)
        return sorted(out)


def same_frames(a, b, *, tol: float = 0.01) -> bool:
    """Two pages' frames agree to within `tol` bp (pdfTeX rounds each to 0.001 bp)."""
    if len(a) != len(b):
        return False
    if list(a) == list(b):  # the usual case: pdfTeX wrote the same numbers
        return True
    rest = list(b)
    for frame in a:
        for i, other in enumerate(rest):
            if all(abs(u - v) <= tol for u, v in zip(frame, other)):
                del rest[i]
                break
        else:
            return False
    return True


def frame_rules(path: Path) -> tuple:
    """Every page's answer-box frames."""
    with PdfDoc(path) as doc:
        return tuple(tuple(doc.frames(i)) for i in range(len(doc)))
