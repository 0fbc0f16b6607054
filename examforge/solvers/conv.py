"""Convolution and pooling, computed by torch."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from examforge.solvers import DTYPE


def conv2d_output_hw(
    input_hw: Sequence[int],
    kernel: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    *,
    in_channels: int = 1,
    out_channels: int = 1,
) -> tuple[int, int]:
    """Spatial output size of nn.Conv2d, read off a meta-device forward pass."""
    x = torch.empty(1, in_channels, *input_hw, device="meta", dtype=DTYPE)
    w = torch.empty(out_channels, in_channels, *kernel, device="meta", dtype=DTYPE)
    y = F.conv2d(x, w, stride=tuple(stride), padding=tuple(padding))
    return int(y.shape[-2]), int(y.shape[-1])


def conv2d_values(
    image: Sequence[Sequence[float]], kernel: Sequence[Sequence[float]], *, stride: int, padding: int
) -> list[list[float]]:
    """Single-channel cross-correlation exactly as torch's conv2d computes it (no bias)."""
    with torch.no_grad():
        x = torch.tensor(image, dtype=DTYPE)[None, None]
        w = torch.tensor(kernel, dtype=DTYPE)[None, None]
        y = F.conv2d(x, w, stride=stride, padding=padding)[0, 0]
    return y.tolist()


def pool2d_values(
    image: Sequence[Sequence[float]], *, kernel: int, stride: int, mode: str
) -> list[list[float]]:
    with torch.no_grad():
        x = torch.tensor(image, dtype=DTYPE)[None, None]
        pool = F.max_pool2d if mode == "max" else F.avg_pool2d
        return pool(x, kernel_size=kernel, stride=stride)[0, 0].tolist()


def conv2d_windows(
    image: Sequence[Sequence[float]], kernel: Sequence[Sequence[float]], *, stride: int, padding: int
) -> tuple[list[list[float]], list[list[list[float]]]]:
    """The zero-padded input and, per output position (row-major), the input window the kernel
    is laid over, flattened row-major: F.pad then F.unfold, the im2col view of conv2d."""
    with torch.no_grad():
        x = torch.tensor(image, dtype=DTYPE)[None, None]
        kh, kw = len(kernel), len(kernel[0])
        padded = F.pad(x, (padding, padding, padding, padding))
        cols = F.unfold(padded, kernel_size=(kh, kw), stride=stride)[0]  # (kh*kw, L)
        windows = cols.T.tolist()  # L windows, each kh*kw values
        out_h = (padded.shape[-2] - kh) // stride + 1
        out_w = (padded.shape[-1] - kw) // stride + 1
    grid = [windows[r * out_w : (r + 1) * out_w] for r in range(out_h)]
    return padded[0, 0].tolist(), grid
