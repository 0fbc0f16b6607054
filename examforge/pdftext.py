"""Reading built PDFs back.

- `pdf_text`: the text of a PDF as pdftotext reads it (the reference reading), in content-stream
  order (`-raw`): a matrix reads row by row as it was typeset, where pdftotext's layout analysis
  sometimes reads the columns of a matrix with negative entries top to bottom.
- `PdfDoc`: a fast reading of pdfTeX's own output with pypdf: per page, the glyphs of every text
  operator in content order, decoded through each font's /ToUnicode map (no spaces: comparisons
  go through `normalize`, which drops whitespace), and the frames of the answer boxes (the rules
  pdfTeX draws as `1 0 0 1 x y cm ... w 0 0 m dx dy l S`). Reading a page this way costs well
  under a millisecond, against a few for pdftotext, which matters when a build re-reads a whole
  class. Where the fast reading misses an expected text, callers fall back to `pdf_text`."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

from pypdf import PdfReader
from pypdf.generic import IndirectObject

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


def page_count(path: Path) -> int:
    return len(PdfReader(str(path)).pages)


def pdf_pages_text(path: Path, *, last: int | None = None) -> list[str]:
    """The text of every page (pdftotext, one process per file)."""
    pages = pdf_text(path, last=last).split("\f")
    if pages and not pages[-1].strip():
        pages.pop()
    return pages


# -- the fast reading ------------------------------------------------------------------------------

# Font selections split a content stream into runs set in one font; strings are what TJ/Tj show.
_FONT_SWITCH = re.compile(rb"/([^\s/\[\]()<>]+)\s+[-\d.]+\s+Tf")
_STRING_BODY = re.compile(rb"\(((?:\\.|[^\\)])*)\)", re.S)
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|\r\n|[\s\S])")
_ESCAPES = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12}
# Text objects (BT ... ET): strings live only there, and no graphics state changes do.
_TEXT_OBJECT = re.compile(rb"(?<![^\s])BT\s.*?\sET(?![^\s])", re.S)
# Graphics state changes and pdfTeX's rules (matched outside text objects).
_GRAPHICS = re.compile(
    rb"\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>"
    rb"|([-\d.]+) ([-\d.]+) ([-\d.]+) ([-\d.]+) ([-\d.]+) ([-\d.]+) cm"
    rb"|\[\]\s*0 d 0 J ([\d.]+) w 0 0 m ([-\d.]+) ([-\d.]+) l S"
    rb"|(?<![\w/])([qQ])(?![\w])",
    re.S,
)
FRAME_WIDTH_BP = "0.797"  # the answer boxes' 0.8pt rules, as pdfTeX writes them


def _unescape(body: bytes) -> bytes:
    """The bytes of a PDF literal string's body (escapes resolved)."""
    if b"\\" not in body:
        return body

    def one(m: re.Match) -> bytes:
        code = m.group(1)
        if code[:1] in b"01234567":
            return bytes([int(code, 8) & 0xFF])
        if code in (b"\n", b"\r", b"\r\n"):  # a line continuation
            return b""
        return bytes([_ESCAPES.get(code[0], code[0])])

    return _ESCAPE.sub(one, body)


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


_TOUNICODE = re.compile(rb"/ToUnicode\s+(\d+)\s+0\s+R")
_TABLES: dict[bytes, dict[int, str]] = {}


def _tounicode_table(data: bytes) -> dict[int, str]:
    """A font's ToUnicode map as a str.translate table, parsed once per distinct map."""
    if data not in _TABLES:
        _TABLES[data] = _parse_tounicode(data)
    return _TABLES[data]


class PdfDoc:
    """One PDF made by pdfTeX, read with pypdf: page count, glyph text, and answer-box frames."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.data = self.path.read_bytes()
        self.reader = PdfReader(io.BytesIO(self.data))
        self.pages = self.reader.pages
        self._fonts: dict[int, dict[int, str]] = {}
        self._contents: dict[int, bytes] = {}

    def __len__(self) -> int:
        return len(self.pages)

    def content(self, index: int) -> bytes:
        if index not in self._contents:
            contents = self.pages[index].get_contents()
            self._contents[index] = contents.get_data() if contents is not None else b""
        return self._contents[index]

    def _xobjects(self, resources) -> list:
        out = []
        xobjects = resources.get("/XObject") if resources else None
        if xobjects:
            for _, ref in sorted(xobjects.get_object().items()):
                obj = ref.get_object()
                if obj.get("/Subtype") == "/Form":
                    out.append(obj)
        return out

    def _font_map(self, ref) -> dict[int, str]:
        key = ref.idnum if isinstance(ref, IndirectObject) else id(ref)
        if key not in self._fonts:
            table: dict[int, str] = {}
            unicode_ref = self._raw_tounicode(ref) if isinstance(ref, IndirectObject) else None
            if unicode_ref is not None:  # only the map is read, not the font (its widths are long)
                table = _tounicode_table(self.reader.get_object(unicode_ref).get_data())
            else:
                font = ref.get_object()
                if "/ToUnicode" in font:
                    table = _tounicode_table(font["/ToUnicode"].get_object().get_data())
            self._fonts[key] = table
        return self._fonts[key]  # a str.translate table: byte value -> text

    def _decode(self, data: bytes, resources) -> list[str]:
        fonts = resources.get("/Font", {}) if resources else {}
        fonts = fonts.get_object() if hasattr(fonts, "get_object") else fonts
        runs = _FONT_SWITCH.split(data)  # text before any font, then (font name, run) pairs
        out: list[str] = []
        table: dict[int, str] = {}
        tables: dict[bytes, dict[int, str]] = {}
        for i, run in enumerate(runs):
            if i % 2:
                if run not in tables:
                    name = "/" + run.decode("latin-1")
                    ref = fonts.raw_get(name) if fonts and name in fonts else None
                    tables[run] = self._font_map(ref) if ref is not None else {}
                table = tables[run]
                continue
            bodies = _STRING_BODY.findall(run)
            if bodies:
                out.append(_unescape(b"".join(bodies)).decode("latin-1").translate(table))
        return out

    def _raw_tounicode(self, ref: IndirectObject) -> int | None:
        """The object number of a font's /ToUnicode, read from the font object's bytes."""
        offset = self.reader.xref.get(ref.generation, {}).get(ref.idnum)
        if offset is None:
            return None
        end = self.data.find(b"endobj", offset)
        m = _TOUNICODE.search(self.data, offset, end)
        return int(m.group(1)) if m else None

    def text(self, index: int) -> str:
        """The page's glyphs in content order, XObject text last; spacing is not kept."""
        page = self.pages[index]
        resources = page.get("/Resources")
        resources = resources.get_object() if resources is not None else None
        parts = self._decode(self.content(index), resources)
        for xobj in self._xobjects(resources):
            inner = xobj.get("/Resources")
            parts += self._decode(xobj.get_data(), inner.get_object() if inner is not None else resources)
        return "".join(parts)

    def frames(self, index: int) -> list[tuple[float, float, float, float]]:
        """The answer-box frame rules on a page: (x, y, dx, dy) in bp, in page coordinates (the
        transformation matrix is followed, since a figure before a box may leave one in place)."""
        ctm = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
        stack = []
        out = []
        for m in _GRAPHICS.finditer(_TEXT_OBJECT.sub(b" ", self.content(index))):
            g = m.groups()
            if g[0] is not None:  # a b c d e f cm: new = given x current
                a, b, c, d, e, f = (float(v) for v in g[:6])
                A, B, C, D, E, F = ctm
                ctm = (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D,
                       e * A + f * C + E, e * B + f * D + F)
            elif g[6] is not None:
                if g[6].decode() == FRAME_WIDTH_BP:
                    A, B, C, D, E, F = ctm
                    dx, dy = float(g[7]), float(g[8])
                    out.append((round(E, 3), round(F, 3), round(A * dx + C * dy, 3), round(B * dx + D * dy, 3)))
            elif g[9] == b"q":
                stack.append(ctm)
            elif g[9] == b"Q" and stack:
                ctm = stack.pop()
        return sorted(out)


def same_frames(a, b, *, tol: float = 0.01) -> bool:
    """Two pages' frames agree to within `tol` bp (pdfTeX rounds each to 0.001 bp)."""
    if len(a) != len(b):
        return False
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
    doc = PdfDoc(path)
    return tuple(tuple(doc.frames(i)) for i in range(len(doc)))
