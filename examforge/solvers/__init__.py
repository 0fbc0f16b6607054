"""Ground truth from small torch models, organised by computation, not by question.

Everything runs on the CPU in float64; shapes and parameter counts are read off modules
built on the `meta` device (no weights allocated, no global RNG touched)."""

import torch

DTYPE = torch.float64
