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


def conv2d_as_matrix(
    input_chw: Sequence[int], out_channels: int, kernel: int, stride: int
) -> dict[str, tuple[int, ...] | int]:
    """Conv2d (no padding, no bias) as a linear layer y = A x on the flattened input.

    A's columns are the layer's outputs for every unit input image (one 1, all else 0). The
    weights are 1, 2, ..., P, all different and nonzero, so an entry of A is nonzero exactly
    when the kernel can reach it, and each distinct nonzero value is one free parameter.
    Also checks the im2col view: filters as a c_out x (k*k*c_in) matrix times F.unfold's
    patch matrix reproduces conv2d. Returns shapes and counts."""
    c, h, w = (int(d) for d in input_chw)
    n_weights = out_channels * c * kernel * kernel
    weight = torch.arange(1, n_weights + 1, dtype=DTYPE).reshape(out_channels, c, kernel, kernel)
    with torch.no_grad():
        basis = torch.eye(c * h * w, dtype=DTYPE).reshape(-1, c, h, w)
        a = F.conv2d(basis, weight, stride=stride).reshape(c * h * w, -1).T  # (d_out, d_in)
        probe = torch.arange(c * h * w, dtype=DTYPE).reshape(1, c, h, w)
        patches = F.unfold(probe, kernel_size=kernel, stride=stride)[0]  # (k*k*c, h'*w')
        kernel_matrix = weight.reshape(out_channels, -1)
        direct = F.conv2d(probe, weight, stride=stride)[0]
        if not torch.equal(kernel_matrix @ patches, direct.reshape(out_channels, -1)):
            raise ArithmeticError("conv2d_as_matrix: the im2col product disagrees with conv2d")
        if not torch.equal(a @ probe.flatten(), direct.flatten()):
            raise ArithmeticError("conv2d_as_matrix: A x disagrees with conv2d")
        nonzero = a[a != 0]
    return {
        "out_hw": (int(direct.shape[-2]), int(direct.shape[-1])),
        "a_shape": (int(a.shape[0]), int(a.shape[1])),
        "nonzero_entries": int(nonzero.numel()),
        "free_params": int(torch.unique(nonzero).numel()),
        "im2col_shape": (int(patches.shape[0]), int(patches.shape[1])),
        "kernel_matrix_shape": (int(kernel_matrix.shape[0]), int(kernel_matrix.shape[1])),
    }


def weight_in_matrix(
    input_chw: Sequence[int], out_channels: int, kernel: int, stride: int, weight: Sequence[int],
    position: Sequence[int],
) -> dict[str, int]:
    """Where the convolution weight W[o, c, u, v] sits in A (y = A x, both flattened in torch's
    (channel, row, column) order, 0-based): A is built as in `conv2d_as_matrix` from weights
    1, 2, ..., P, all different, so W[o, c, u, v] is the value that weight has, found in A by
    torch. Returns the row of A that computes output[o, i, j] for `position` (i, j), the column
    where that row holds the weight, and how many entries of A hold it."""
    c, h, w = (int(d) for d in input_chw)
    o, ci, u, v = (int(i) for i in weight)
    i, j = (int(d) for d in position)
    values = torch.arange(1, out_channels * c * kernel * kernel + 1, dtype=DTYPE)
    kernels = values.reshape(out_channels, c, kernel, kernel)
    with torch.no_grad():
        basis = torch.eye(c * h * w, dtype=DTYPE).reshape(-1, c, h, w)
        out = F.conv2d(basis, kernels, stride=stride)  # (d_in, c_out, h', w')
        a = out.reshape(c * h * w, -1).T  # (d_out, d_in)
        rows = torch.arange(a.shape[0]).reshape(out.shape[1:])  # output[o, i, j] is row rows[o, i, j]
        row = int(rows[o, i, j])
        hits = (a[row] == kernels[o, ci, u, v]).nonzero().flatten()
        if len(hits) != 1:
            raise ArithmeticError(f"weight_in_matrix: W[{o}, {ci}, {u}, {v}] is in {len(hits)} columns of row {row}")
        count = int((a == kernels[o, ci, u, v]).sum())
    return {"row": row, "column": int(hits[0]), "count": count}
