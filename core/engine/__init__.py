"""The upscale engine: any image + a loaded model → the upscaled image, in the caller's form.

Flow: normalise (``image_tensors``) → channels and premultiplied alpha (``channels``) → plan
tiles (``tiling``) → run windows in the chosen precision (``window_network``, ``runner``) → write
into one buffer → divide alpha back → float resize (``output_resize``) → back to the caller's
kind and dtype.
"""

from typing import Any

from ..options import UpscaleOptions
from .api import (
    DEFAULT_BLEND,
    DEFAULT_BORDER,
    CheckedOptions,
    UpscaleJob,
    UpscaleReport,
    UpscaleResult,
    check_options,
    choose_tile,
    default_tile_pad,
    deprecated_name,
    estimate_tile_memory,
    plan_upscale,
    run_planned_upscale,
    run_upscale,
    upscale,
)
from .channels import ALPHA_MODES
from .precision import PRECISIONS, cpu_has_fast_bf16, resolve_precision
from .stream import FrameUpscaler, prepare_frame_upscaler

__all__ = [
    "upscale",
    "run_upscale",
    "UpscaleOptions",
    "check_options",
    "plan_upscale",
    "run_planned_upscale",
    "CheckedOptions",
    "UpscaleJob",
    "prepare_frame_upscaler",
    "FrameUpscaler",
    "UpscaleReport",
    "UpscaleResult",
    "choose_tile",
    "estimate_tile_memory",
    "resolve_precision",
    "default_tile_pad",
    "cpu_has_fast_bf16",
    "PRECISIONS",
    "ALPHA_MODES",
    "DEFAULT_BORDER",
    "DEFAULT_BLEND",
]


def __getattr__(name: str) -> Any:  # PEP 562: plan_job / run_job still work, with a warning
    return deprecated_name(__name__, name)
