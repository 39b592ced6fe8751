"""Our own sample windows for measuring backends and calibrating int8 (never the user's images).

``samples.npz`` holds eight 96×96 RGB crops of the project's test photos (Real-ESRGAN's demo
images, BSD-3-Clause, see tests/data/README.md): fur, a comic, faces, gray text, a tree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

__all__ = ["sample_windows", "SAMPLES_FILE"]

SAMPLES_FILE = Path(__file__).with_name("samples.npz")


def sample_windows(
    channels: int, side: int, count: int | None = None, *, multiple: int = 1
) -> list[torch.Tensor]:
    """Float32 [1, channels, side', side'] windows (side rounded up to ``multiple``, crops
    mirrored up when larger than 96): gray for one channel, an opaque alpha for a fourth."""
    with np.load(SAMPLES_FILE, allow_pickle=False) as data:
        crops = data["crops"]
    side = -(-side // multiple) * multiple
    out = []
    for crop in crops[:count]:
        x = torch.from_numpy(crop.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        while x.shape[-1] < side:
            x = torch.cat((x, x.flip(-1)), -1)
            x = torch.cat((x, x.flip(-2)), -2)
        x = x[..., :side, :side]
        if channels == 1:
            x = x.mean(1, keepdim=True)
        elif channels == 4:
            x = torch.cat((x, torch.ones_like(x[:, :1])), 1)
        elif channels != 3:
            x = x.mean(1, keepdim=True).expand(-1, channels, -1, -1)
        out.append(x.contiguous())
    return out
