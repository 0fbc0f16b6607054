"""Ground truth from small torch models, organised by computation, not by question.

Everything runs on the CPU in float64; shapes and parameter counts are read off modules
built on the `meta` device (no weights allocated, no global RNG touched)."""

import torch

DTYPE = torch.float64

# Our tensors have a handful of entries: intra-op threads only add synchronisation cost
# (measured 15-100x slower per solve on a loaded 2-core machine with the default 2 threads).
torch.set_num_threads(1)
