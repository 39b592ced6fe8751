"""The torch dtype of each precision name.

A leaf module: the precision choice (``precision.py``, which may probe a network) and the
network copy (``window_network.py``) both read it, and neither has to import the other for it.
"""

from __future__ import annotations

import torch

__all__ = ["DTYPES"]

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
