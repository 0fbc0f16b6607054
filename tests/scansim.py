"""A simulated scanner: a build's print/exams.pdf rendered to grey images, bubbles filled in by
hand-like marks (filled circles, crosses, ticks, an erased grey smudge, a light stray line), pages
turned upside down or skewed by a few degrees, shuffled, with noise and JPEG compression. Used by
the scan tests and benchmarks/scan_speed.py; no scanner needed."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

MARKS = ("fill", "cross", "tick")  # count as marked
SP_PER_PT = 65536


@dataclass
class Sheet:
    student: str
    page: int  # from 1
    image: Image.Image


def render_print_file(build: Path, dpi: int) -> list[Sheet]:
    """Every page of print/exams.pdf as a grey image, with its student and page number."""
    import pypdfium2 as pdfium

    marks = json.loads((build / "gradescope" / "marks.json").read_text(encoding="utf-8"))
    n = marks["pages"]
    ids = [s["id"] for s in marks["students"]]
    pdf = pdfium.PdfDocument(str(build / "print" / "exams.pdf"))
    sheets = []
    for i in range(len(pdf)):
        bitmap = pdf[i].render(scale=dpi / 72.0, grayscale=True)
        array = bitmap.to_numpy()
        sheets.append(Sheet(ids[i // n], i % n + 1, Image.fromarray(np.array(array if array.ndim == 2 else array[..., 0]))))
    pdf.close()
    return sheets


def bubble_px(marks: dict, option: list[int], dpi: int) -> tuple[float, float, float]:
    """(x, y, radius) of a bubble in the pixels of a page rendered at `dpi`, before any turn."""
    _, x, y = option
    scale = dpi / 72.27 / SP_PER_PT
    height = marks["paper_sp"][1] * scale
    return x * scale, height - y * scale, marks["bubble_radius_sp"] * scale


def draw_mark(image: Image.Image, x: float, y: float, r: float, kind: str, rng: np.random.Generator) -> None:
    """A hand-made mark on the bubble at (x, y) of glyph half-width r (pixels)."""
    d = ImageDraw.Draw(image)
    pen = max(2, round(r * 0.25))  # a ~0.5 mm pen at 200 dpi
    jx, jy = rng.uniform(-0.15, 0.15, 2) * r
    x, y = x + jx, y + jy
    if kind == "fill":
        rr = r * rng.uniform(0.7, 0.85)
        d.ellipse([x - rr, y - rr, x + rr, y + rr], fill=int(rng.integers(20, 70)))
    elif kind == "cross":
        a = r * rng.uniform(0.8, 1.1)
        shade = int(rng.integers(10, 60))
        d.line([x - a, y - a, x + a, y + a], fill=shade, width=pen)
        d.line([x - a, y + a, x + a, y - a], fill=shade, width=pen)
    elif kind == "tick":
        shade = int(rng.integers(10, 60))
        d.line([x - 0.7 * r, y, x - 0.1 * r, y + 0.6 * r], fill=shade, width=pen)
        d.line([x - 0.1 * r, y + 0.6 * r, x + 0.9 * r, y - 0.9 * r], fill=shade, width=pen)
    elif kind == "smudge":  # an erased mark: grey, no ink left
        rr = r * 0.75
        d.ellipse([x - rr, y - rr, x + rr, y + rr], fill=int(rng.integers(170, 195)))
    elif kind == "stray":  # a light pencil line brushing past
        d.line([x - 1.6 * r, y + 0.5 * r, x + 1.6 * r, y + 0.2 * r], fill=int(rng.integers(200, 225)), width=1)
    else:
        raise ValueError(kind)


def turn(image: Image.Image, degrees: float) -> Image.Image:
    """The page as a scanner delivers it turned by `degrees` (counter-clockwise), same size."""
    if degrees == 180:
        return image.rotate(180)
    return image.rotate(degrees, resample=Image.BICUBIC, fillcolor=255)


def degrade(image: Image.Image, rng: np.random.Generator, *, noise: float = 6.0, quality: int = 75,
            bw: bool = False) -> bytes:
    """Sensor noise, then JPEG (grey) or PNG (black and white, thresholded) bytes."""
    a = np.asarray(image, dtype=np.float32) + rng.normal(0, noise, (image.height, image.width))
    a = np.clip(a, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    if bw:
        Image.fromarray(np.where(a < 150, 0, 255).astype(np.uint8)).convert("1").save(buf, "PNG")
    else:
        Image.fromarray(a).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def to_pdf(pages: list[bytes], target: Path, dpi: int) -> None:
    """Scanned pages (JPEG or PNG bytes) as one PDF, as a scanner writes it."""
    images = [Image.open(io.BytesIO(p)) for p in pages]
    images[0].save(target, "PDF", save_all=True, append_images=images[1:], resolution=dpi)
