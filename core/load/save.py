"""Write a descriptor's weights as .safetensors with the metadata to rebuild it."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from safetensors.torch import save
from torch import nn

from ..fileio import atomic_output
from .descriptor import ModelDescriptor

__all__ = ["save_safetensors", "FORMAT_TAG"]

FORMAT_TAG = "realesrgan-kit"


def save_safetensors(
    descriptor: ModelDescriptor[nn.Module],
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    extra_metadata: Mapping[str, str] | None = None,
) -> Path:
    """Save fp32 weights plus ``architecture``/``hyperparameters`` metadata, atomically."""
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in descriptor.module.state_dict().items()}
    metadata = {
        "format": FORMAT_TAG,
        "architecture": descriptor.architecture,
        "hyperparameters": json.dumps(dict(descriptor.hyperparameters), sort_keys=True),
        "scale": str(descriptor.scale),
        "name": descriptor.name or "",
        "source": descriptor.source,
        **(
            {"output_rescale": repr(descriptor.default_outscale / descriptor.scale)}
            if descriptor.default_outscale
            else {}
        ),
        **dict(extra_metadata or {}),
    }
    final = Path(path)
    # Serialised in memory and written into our temporary file: safetensors' own save_file
    # replaces the target with a 0600 file, while every other output here follows the umask.
    data = save(tensors, metadata=metadata)
    with atomic_output(final, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return final
