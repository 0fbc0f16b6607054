"""The QR code on every exam page, `EF|<exam code>|<student id>|<page>/<n>`: encoded by segno
(ISO/IEC 18004, byte mode, error correction level M) and drawn by pdfTeX as filled rectangles
(LaTeX's qrcode package takes ~0.2 s per code, far too slow for thousands of pages).

A class of 500 with 14 pages needs 7000 codes, and segno takes ~1 ms for a code with a given
mask (~5 ms when it picks the mask). So segno makes two codes per student, and the other pages
are combined from codes it made, exactly: with the version, the mask and the payload's length
fixed, a QR code is an affine function of the payload's bits over GF(2). The data codewords are
the payload's bytes between a fixed header and fixed padding, the Reed-Solomon codewords are
linear in them, and placement, masking, format and version information are fixed. Hence the
code of a payload is the XOR of the codes of three payloads of its length whose bytes XOR to it:
page k of a student is their page 1 XOR page k of a placeholder student with an id of the same
length XOR that placeholder's page 1, and the placeholder's codes are shared by the whole class.
tests/test_layout.py checks the result against segno's code of every page."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import segno

ERROR_LEVEL = "m"


def qr_payload(exam_code: str, student_id: str, page: int, n_pages: int) -> str:
    """What a page's code says (read back by examforge.scan.parse_payload)."""
    return f"EF|{exam_code}|{student_id}|{page}/{n_pages}"


def _segno(payload: bytes, mask: int | None) -> segno.QRCode:
    return segno.make(payload, error=ERROR_LEVEL, mode="byte", micro=False, boost_error=False, mask=mask)


def _matrix(code: segno.QRCode) -> np.ndarray:
    size = len(code.matrix)
    return np.frombuffer(b"".join(code.matrix), dtype=np.uint8).reshape(size, size).astype(bool)


def qr_matrix(text: str, *, mask: int | None = None) -> np.ndarray:
    """segno's QR code of `text` (UTF-8, byte mode, level M) as a square bool array, True =
    dark. `mask` (0-7) fixes the data mask; by default segno picks the one with the lowest
    penalty (any mask decodes: the choice only avoids patterns that confuse some readers)."""
    return _matrix(_segno(text.encode("utf-8"), mask))


@lru_cache(maxsize=1024)
def _shared(payload: bytes, mask: int) -> np.ndarray:
    """A placeholder's code, the same for every student whose id has its length."""
    matrix = _matrix(_segno(payload, mask))
    matrix.flags.writeable = False
    return matrix


def page_codes(exam_code: str, student_id: str, n_pages: int) -> list[np.ndarray]:
    """The codes of a student's pages 1..n_pages, each equal to `qr_matrix(text, mask=m)`, where
    m is the mask segno picks for page 1 (one student's codes differ in the page number only)."""
    texts = [qr_payload(exam_code, student_id, page, n_pages).encode("utf-8") for page in range(1, n_pages + 1)]
    first = _segno(texts[0], None)
    mask = first.mask
    placeholder = "-" * len(student_id.encode("utf-8"))
    own: dict[int, tuple[int, np.ndarray]] = {}  # payload length -> (page, this student's code)
    codes = []
    for page, text in enumerate(texts, start=1):
        if len(text) not in own:  # the first page whose number has this many digits
            code = _matrix(first) if page == 1 else _matrix(_segno(text, mask))
            own[len(text)] = (page, code)
            codes.append(code)
            continue
        base_page, base = own[len(text)]
        codes.append(base
                     ^ _shared(qr_payload(exam_code, placeholder, page, n_pages).encode("utf-8"), mask)
                     ^ _shared(qr_payload(exam_code, placeholder, base_page, n_pages).encode("utf-8"), mask))
    return codes


def pdf_drawing(matrix: np.ndarray, size_bp: float) -> str:
    """PDF operators drawing `matrix` as a `size_bp` square whose bottom-left corner is the
    current point (for pdfTeX's \\pdfliteral), one rectangle per horizontal run of dark modules."""
    n = matrix.shape[0]
    scale = size_bp / n
    padded = np.zeros((n, n + 2), dtype=np.int8)
    padded[:, 1:-1] = matrix
    steps = np.diff(padded, axis=1)
    rows, starts = np.nonzero(steps == 1)
    _, stops = np.nonzero(steps == -1)  # row-major order: runs pair up row by row
    rects = " ".join(f"{x} {n - 1 - y} {e - x} 1 re" for y, x, e in zip(rows.tolist(), starts.tolist(), stops.tolist()))
    return f"q 0 g {scale:.5f} 0 0 {scale:.5f} 0 0 cm {rects} f Q"
