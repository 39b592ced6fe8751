"""The upscale engine: any image + a loaded model → the upscaled image, in the caller's form.

Flow: normalise (``images``) → channels and premultiplied alpha (``channels``) → plan tiles
(``tiling``) → run windows in the chosen precision (``network``, ``runner``) → write into one
buffer → divide alpha back → float resize (``resize``) → back to the caller's kind and dtype.
"""

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
    estimate_tile_memory,
    plan_job,
    run_job,
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
    "plan_job",
    "run_job",
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
