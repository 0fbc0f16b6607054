"""Ground truth from small torch models, organised by computation, not by question.

Everything runs on the CPU in float64; shapes and parameter counts are read off modules
built on the `meta` device (no weights allocated, no global RNG touched). Results leave as
Python floats rounded by `clean`."""

import torch

DTYPE = torch.float64

# Our tensors have a handful of entries: intra-op threads only add synchronisation cost
# (measured 15-100x slower per solve on a loaded 2-core machine with the default 2 threads).
# The one place the thread count is set: every solve, in any process, imports this package.
torch.set_num_threads(1)

DIGITS = 12  # decimals kept by `clean`: drops float noise, never a real digit at our sizes


def clean(x, digits: int = DIGITS):
    """`x` as a Python float rounded to `digits` decimals, without float noise (1e-17,
    0.30000000000000004) and never -0.0; a list (nested or not) element by element."""
    if isinstance(x, list):
        return [clean(v, digits) for v in x]
    return round(float(x), digits) + 0.0
