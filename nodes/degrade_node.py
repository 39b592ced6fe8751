"""Degrade-for-preview node: Real-ESRGAN's training degradation on an IMAGE, with the sampled
parameters as JSON."""

from __future__ import annotations

import json
from typing import Any

import cv2
import torch

from ..core.errors import InvalidParameterError, OperationCancelledError
from ..core.options import DEGRADE_PRESETS
from . import host
from .comfy_images import check_image, from_numpy, to_numpy
from .node_spec import NodeResult

__all__ = ["STEPS", "PRESETS", "RESIZE_BACK", "SEED_MAX", "degrade_node"]

# Fixed here rather than read from core.degrade: saved workflows store widget values by
# position, so the node's list of toggles must not change when the pipeline grows. A test
# checks these against core.degrade.STEPS.
STEPS = (
    "sharpen",
    "blur1",
    "resize1",
    "noise1",
    "jpeg1",
    "blur2",
    "resize2",
    "noise2",
    "final_sinc",
    "jpeg_final",
)
PRESETS = DEGRADE_PRESETS
RESIZE_BACK = ("off", "nearest", "bicubic")
SEED_MAX = 2**64 - 1
_INTERPOLATION = {"nearest": cv2.INTER_NEAREST, "bicubic": cv2.INTER_CUBIC}


def _degrade_module() -> Any:
    from ..core import degrade

    return degrade


def degrade_node(
    image: torch.Tensor,
    seed: int = 0,
    scale: float = 4.0,
    preset: str = "realesrgan",
    resize_to_input: str = "off",
    **steps: bool,
) -> NodeResult:
    image = check_image(image)
    if preset not in PRESETS:
        raise InvalidParameterError(f"preset must be one of {', '.join(PRESETS)}; got {preset!r}")
    if resize_to_input not in RESIZE_BACK:
        raise InvalidParameterError(
            f"resize_to_input must be one of {', '.join(RESIZE_BACK)}; got {resize_to_input!r}"
        )
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        raise InvalidParameterError(f"unknown degradation steps {unknown}; known: {', '.join(STEPS)}")
    enabled = {name: bool(steps.get(name, True)) for name in STEPS}
    degrade = _degrade_module()

    batch, height, width = image.shape[0], image.shape[1], image.shape[2]
    progress = host.ProgressReporter()
    outputs, records = [], []
    # Cancel is checked between frames and, through the pipeline's hook, between its stages.
    for index in range(batch):
        host.raise_if_interrupted()
        try:
            # Frame i of a batch uses seed + i, as core's samplers do for batch noise.
            result = degrade.degrade(
                to_numpy(image, index),
                seed=(int(seed) + index) % (SEED_MAX + 1),
                scale=float(scale),
                preset=preset,
                enabled=enabled,
                cancel=host.interrupted,
            )
        except OperationCancelledError:
            host.raise_if_interrupted()  # ComfyUI's own exception: reported as "interrupted"
            raise
        degraded = result.image
        if resize_to_input != "off" and degraded.shape[:2] != (height, width):
            degraded = cv2.resize(degraded, (width, height), interpolation=_INTERPOLATION[resize_to_input])
        if degraded.ndim == 2:
            degraded = degraded[..., None].repeat(3, axis=2)
        outputs.append(degraded)
        records.append(result.record.to_dict())
        progress(index + 1, batch)
    parameters = json.dumps(records[0] if batch == 1 else records, indent=2, default=str)
    return NodeResult((from_numpy(outputs).clamp_(0.0, 1.0), parameters))
