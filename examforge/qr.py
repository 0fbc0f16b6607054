"""A small QR code encoder (byte mode, error correction level M, versions 1-10), for the code
printed on every exam page. LaTeX's qrcode package takes ~0.2 s per code, far too slow for
thousands of pages, so the modules are computed here and drawn by pdfTeX as filled rectangles.

It follows ISO/IEC 18004 as laid out in Nayuki's reference implementation: data codewords,
Reed-Solomon blocks over GF(256), function patterns, zigzag placement, and the mask with the
lowest penalty (runs, 2x2 blocks, finder-like patterns, dark balance)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# Level M, versions 1..10: error-correction codewords per block and number of blocks.
_ECC_PER_BLOCK = (None, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26)
_BLOCKS = (None, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5)
_FORMAT_M = 0  # level M's format bits
MAX_VERSION = 10


def _raw_modules(version: int) -> int:
    result = (16 * version + 128) * version + 64
    if version >= 2:
        n = version // 7 + 2
        result -= (25 * n - 10) * n - 55
        if version >= 7:
            result -= 36
    return result


def _data_capacity(version: int) -> int:
    return _raw_modules(version) // 8 - _ECC_PER_BLOCK[version] * _BLOCKS[version]


# GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1.
_EXP = [0] * 512
_LOG = [0] * 256
_x = 1
for _i in range(255):
    _EXP[_i] = _x
    _LOG[_x] = _i
    _x <<= 1
    if _x & 0x100:
        _x ^= 0x11D
for _i in range(255, 512):
    _EXP[_i] = _EXP[_i - 255]


def _mul(a: int, b: int) -> int:
    return 0 if a == 0 or b == 0 else _EXP[_LOG[a] + _LOG[b]]


@lru_cache(maxsize=None)
def _generator(degree: int) -> tuple[int, ...]:
    coeffs = [1]
    for i in range(degree):
        nxt = [0] * (len(coeffs) + 1)
        for j, c in enumerate(coeffs):
            nxt[j] ^= c
            nxt[j + 1] ^= _mul(c, _EXP[i])
        coeffs = nxt
    return tuple(coeffs[1:])


def _rs_remainder(data: list[int], degree: int) -> list[int]:
    gen = _generator(degree)
    rem = [0] * degree
    for byte in data:
        factor = byte ^ rem[0]
        rem = rem[1:] + [0]
        if factor:
            lf = _LOG[factor]
            for i, g in enumerate(gen):
                if g:
                    rem[i] ^= _EXP[lf + _LOG[g]]
    return rem


def _codewords(payload: bytes, version: int) -> list[int]:
    capacity = _data_capacity(version)
    count_bits = 8 if version < 10 else 16
    bits: list[int] = []

    def put(value: int, n: int) -> None:
        bits.extend((value >> (n - 1 - i)) & 1 for i in range(n))

    put(0b0100, 4)
    put(len(payload), count_bits)
    for byte in payload:
        put(byte, 8)
    put(0, min(4, capacity * 8 - len(bits)))
    put(0, (-len(bits)) % 8)
    data = [int("".join(map(str, bits[i : i + 8])), 2) for i in range(0, len(bits), 8)]
    pad = 0xEC
    while len(data) < capacity:
        data.append(pad)
        pad ^= 0xEC ^ 0x11
    # Split into blocks, append each block's ECC, interleave.
    n_blocks, ecc_len = _BLOCKS[version], _ECC_PER_BLOCK[version]
    raw = _raw_modules(version) // 8
    n_short = n_blocks - raw % n_blocks
    short_len = raw // n_blocks
    blocks, k = [], 0
    for i in range(n_blocks):
        length = short_len - ecc_len + (0 if i < n_short else 1)
        block = data[k : k + length]
        k += length
        blocks.append((block, _rs_remainder(block, ecc_len)))
    out = []
    for i in range(short_len - ecc_len + 1):
        for block, _ in blocks:
            if i < len(block):
                out.append(block[i])
    for i in range(ecc_len):
        for _, ecc in blocks:
            out.append(ecc[i])
    return out


def _alignment_positions(version: int, size: int) -> list[int]:
    if version == 1:
        return []
    n = version // 7 + 2
    step = (version * 8 + n * 3 + 5) // (n * 4 - 4) * 2
    return [6] + sorted(size - 7 - i * step for i in range(n - 1))


@lru_cache(maxsize=None)
def _function_patterns(version: int) -> tuple[np.ndarray, np.ndarray]:
    """Modules of the fixed patterns (format/version areas left light) and the mask of all
    function modules (True where data must not go)."""
    size = version * 4 + 17
    dark = np.zeros((size, size), dtype=bool)
    func = np.zeros((size, size), dtype=bool)

    def put(x: int, y: int, value: bool) -> None:
        dark[y, x] = value
        func[y, x] = True

    for i in range(size):
        put(6, i, i % 2 == 0)
        put(i, 6, i % 2 == 0)
    for cx, cy in ((3, 3), (size - 4, 3), (3, size - 4)):
        for dy in range(-4, 5):
            for dx in range(-4, 5):
                x, y = cx + dx, cy + dy
                if 0 <= x < size and 0 <= y < size:
                    put(x, y, max(abs(dx), abs(dy)) not in (2, 4))
    pos = _alignment_positions(version, size)
    last = len(pos) - 1
    for i, ax in enumerate(pos):
        for j, ay in enumerate(pos):
            if (i, j) in ((0, 0), (0, last), (last, 0)):
                continue
            for dy in range(-2, 3):
                for dx in range(-2, 3):
                    put(ax + dx, ay + dy, max(abs(dx), abs(dy)) != 1)
    # Reserve the format areas (filled per mask) and the dark module.
    for i in range(9):
        func[i, 8] = func[8, i] = True
    for i in range(8):
        func[8, size - 1 - i] = func[size - 1 - i, 8] = True
    put(8, size - 8, True)
    if version >= 7:
        rem = version
        for _ in range(12):
            rem = (rem << 1) ^ ((rem >> 11) * 0x1F25)
        bits = version << 12 | rem
        for i in range(18):
            bit = bool((bits >> i) & 1)
            a, b = size - 11 + i % 3, i // 3
            put(a, b, bit)
            put(b, a, bit)
    return dark, func


@lru_cache(maxsize=None)
def _placement(version: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of every data bit, in placement order (the zigzag)."""
    size = version * 4 + 17
    _, func = _function_patterns(version)
    rows, cols = [], []
    right = size - 1
    while right >= 1:
        if right == 6:
            right = 5
        upward = ((right + 1) & 2) == 0
        for vert in range(size):
            y = size - 1 - vert if upward else vert
            for x in (right, right - 1):
                if not func[y, x]:
                    rows.append(y)
                    cols.append(x)
        right -= 2
    return np.array(rows), np.array(cols)


@lru_cache(maxsize=None)
def _masks(version: int) -> list[np.ndarray]:
    size = version * 4 + 17
    y, x = np.mgrid[0:size, 0:size]
    patterns = [
        (x + y) % 2 == 0,
        y % 2 == 0,
        x % 3 == 0,
        (x + y) % 3 == 0,
        (x // 3 + y // 2) % 2 == 0,
        x * y % 2 + x * y % 3 == 0,
        (x * y % 2 + x * y % 3) % 2 == 0,
        ((x + y) % 2 + x * y % 3) % 2 == 0,
    ]
    _, func = _function_patterns(version)
    return [p & ~func for p in patterns]


def _format_bits(mask: int) -> int:
    data = _FORMAT_M << 3 | mask
    rem = data
    for _ in range(10):
        rem = (rem << 1) ^ ((rem >> 9) * 0x537)
    return (data << 10 | rem) ^ 0x5412


def _draw_format(m: np.ndarray, mask: int) -> None:
    size = m.shape[0]
    bits = _format_bits(mask)
    bit = [bool((bits >> i) & 1) for i in range(15)]
    for i in range(6):
        m[i, 8] = bit[i]
    m[7, 8] = bit[6]
    m[8, 8] = bit[7]
    m[8, 7] = bit[8]
    for i in range(9, 15):
        m[8, 14 - i] = bit[i]
    for i in range(8):
        m[8, size - 1 - i] = bit[i]
    for i in range(8, 15):
        m[size - 15 + i, 8] = bit[i]
    m[size - 8, 8] = True


_FINDER_LIKE = (bytes([1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0]), bytes([0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1]))


def _penalty(m: np.ndarray) -> int:
    score = 0
    for grid in (m, m.T):
        # Rows laid end to end, separated by a value no module has, so runs stop at row ends.
        buf = np.full((grid.shape[0], grid.shape[1] + 1), 2, dtype=np.int8)
        buf[:, :-1] = grid
        flat = buf.ravel()
        # Runs of five or more modules of one colour: 3 + (length - 5) each.
        edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
        runs = np.diff(edges, prepend=0, append=flat.size)
        long = runs[runs >= 5]
        score += int((long - 2).sum())
        # Finder-like 1:1:3:1:1 patterns with four light modules on one side: 40 each.
        b = flat.astype(np.uint8).tobytes()
        score += 40 * sum(b.count(p) for p in _FINDER_LIKE)
    # 2x2 blocks of one colour: 3 each.
    same = (m[:-1, :-1] == m[1:, :-1]) & (m[:-1, :-1] == m[:-1, 1:]) & (m[:-1, :-1] == m[1:, 1:])
    score += 3 * int(same.sum())
    total = m.size
    dark = int(m.sum())
    k = (abs(dark * 20 - total * 10) + total - 1) // total - 1
    return score + 10 * k


def qr_matrix(text: str, *, mask: int | None = None) -> np.ndarray:
    """The QR code of `text` (UTF-8, byte mode, level M) as a square bool array, True = dark.
    `mask` (0-7) skips the penalty search: any mask decodes; the search only avoids patterns
    that confuse some readers, so codes of near-identical texts may share the mask of the first."""
    return _encode(text, mask)[0]


def best_mask(text: str) -> int:
    """The mask the penalty search picks for `text`."""
    return _encode(text, None)[1]


def _encode(text: str, mask: int | None) -> tuple[np.ndarray, int]:
    payload = text.encode("utf-8")
    for version in range(1, MAX_VERSION + 1):
        count_bits = 8 if version < 10 else 16
        if 4 + count_bits + 8 * len(payload) <= _data_capacity(version) * 8:
            break
    else:
        raise ValueError(f"QR payload of {len(payload)} bytes is too long (at most version {MAX_VERSION})")
    words = _codewords(payload, version)
    bits = np.unpackbits(np.array(words, dtype=np.uint8)).astype(bool)
    rows, cols = _placement(version)
    base, _ = _function_patterns(version)
    data = base.copy()
    n = min(len(rows), len(bits))
    data[rows[:n], cols[:n]] = bits[:n]
    best, best_mask_, best_score = None, 0, None
    for m, pattern in enumerate(_masks(version)):
        if mask is not None and m != mask:
            continue
        candidate = data ^ pattern
        _draw_format(candidate, m)
        score = _penalty(candidate) if mask is None else 0
        if best_score is None or score < best_score:
            best, best_mask_, best_score = candidate, m, score
    return best, best_mask_


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
