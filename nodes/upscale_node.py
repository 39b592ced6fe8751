"""Upscale node: IMAGE (+ MASK as alpha) through our engine with ComfyUI's device, memory,
progress bar and Cancel."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import torch

from ..core.errors import InvalidParameterError, OperationCancelledError
from ..core.options import (
    BACKENDS,
    DEFAULT_BATCH_TEMPORAL,
    KEPT_ALPHA_MODES,
    OUTPUT_SIZE_MODES,
    PRECISIONS,
    TEMPORAL_OFF,
    TILE_AUTO,
    TILE_WHOLE,
    Temporal,
    Tile,
    parse_temporal_choice,
    parse_tile,
)
from . import host
from .comfy_images import attach_mask_as_alpha, check_image, split_alpha
from .node_spec import NodeResult

if TYPE_CHECKING:
    from ..core.load import UpscaleModelLike

__all__ = [
    "RESIZE_MODES",
    "PRECISIONS",
    "BACKENDS",
    "ALPHA_MODES",
    "upscale_node",
    "node_tile",
    "size_arguments",
    "estimate_memory",
    "offload",
    "node_temporal",
    "stabilize_batch",
]

log = logging.getLogger(__name__)

RESIZE_MODES = OUTPUT_SIZE_MODES
ALPHA_MODES = KEPT_ALPHA_MODES  # the node outputs alpha (as a MASK): it never drops it
AUTO = 0  # the value of ``tile_pad`` that lets the engine decide
LEGACY_AUTO_TILE = 0
"""What ``tile`` held for "auto" when it was a number widget; saved workflows still carry it."""
AUTO_ESTIMATE_TILE = 512  # the tile core's "Upscale Image (using Model)" plans memory for


def node_tile(value: Any) -> Tile:
    """The node's ``tile`` text in the one tile vocabulary (``"auto"``, ``"whole"``, pixels).

    Workflows saved while ``tile`` was a number widget hold numbers (ComfyUI hands them over as
    text): 0 meant auto there, so it still does here; other numbers are tile sizes.
    """
    text = str(value).strip()
    if text in (str(LEGACY_AUTO_TILE), ""):
        return TILE_AUTO
    return parse_tile(text)


def node_temporal(value: Any) -> Temporal:
    """The node's ``temporal`` text (``auto``, ``off`` or a strength in [0, 1]); empty is off."""
    text = str(value).strip()
    return parse_temporal_choice(text or "off", name="temporal")


def stabilize_batch(source: torch.Tensor, result: torch.Tensor, temporal: Temporal) -> torch.Tensor:
    """An upscaled IMAGE batch that is a clip, stabilised frame after frame against the input
    frames (core's temporal stage; it resets itself at scene cuts). Changed in place."""
    from ..core.video import stabilize_frames

    if temporal == TEMPORAL_OFF or result.shape[0] < 2:
        return result
    inputs = (source[i].detach().cpu().numpy() for i in range(source.shape[0]))
    # copies: the stabiliser keeps earlier frame-wise outputs, which are overwritten here
    outputs = (result[i].detach().cpu().numpy().copy() for i in range(result.shape[0]))
    with torch.inference_mode():  # the engine's result is an inference tensor
        for i, frame in enumerate(stabilize_frames(inputs, outputs, temporal)):
            result[i] = torch.from_numpy(frame).to(result.device)
    return result


def _engine() -> Any:
    """The upscale engine, imported on first use (the pack loads even where it cannot)."""
    from ..core import engine

    return engine


def size_arguments(resize_mode: str, outscale: float, width: int, height: int) -> dict[str, Any]:
    """The engine's outscale / width / height arguments for the node's resize widgets."""
    if resize_mode == "model scale":
        return {}
    if resize_mode == "outscale":
        if not outscale or outscale <= 0:
            raise InvalidParameterError(
                f"outscale must be above 0, got {outscale}; or set resize_mode to 'model scale'"
            )
        return {"outscale": float(outscale)}
    if resize_mode == "target size":
        if not width and not height:
            raise InvalidParameterError(
                "resize_mode 'target size' needs a width or a height above 0 (one of them keeps the aspect ratio); "
                "both are 0"
            )
        return {"width": int(width) or None, "height": int(height) or None}
    raise InvalidParameterError(f"resize_mode must be one of {', '.join(RESIZE_MODES)}; got {resize_mode!r}")


def estimate_memory(
    engine: Any,
    model: UpscaleModelLike,
    image: torch.Tensor,
    tile: Tile,
    *,
    tile_pad: int = AUTO,
    precision: str = "auto",
    device: Any = None,
    tta: bool = False,
) -> int:
    """Bytes to make room for on the device before a run: one tile's forward (the engine's
    ``estimate_tile_memory``, weights copy included) plus the input. With ``tile`` on auto the
    estimate is for a 512-px tile, as core's "Upscale Image (using Model)" assumes; with
    ``"whole"`` it is for one window over the longer side.
    """
    if tile == TILE_AUTO:
        tile_side = AUTO_ESTIMATE_TILE
    elif tile == TILE_WHOLE:
        tile_side = max(image.shape[-3], image.shape[-2])
    else:
        tile_side = int(tile)
    forward = engine.estimate_tile_memory(
        model,
        tile_side,
        tile_pad=None if tile_pad == AUTO else tile_pad,
        precision=precision,
        device=device,
        tta=tta,
    )
    return int(forward) + image.nelement() * image.element_size()


def offload(model: UpscaleModelLike) -> None:
    """Give the accelerator memory back after a run, as core's upscale node does."""
    mover = getattr(model, "to", None)
    if callable(mover):
        mover("cpu")
    elif isinstance(getattr(model, "model", None), torch.nn.Module):
        model.model.to("cpu")


def upscale_node(
    image: torch.Tensor,
    model: UpscaleModelLike,
    resize_mode: str = "model scale",
    outscale: float = 2.0,
    width: int = 0,
    height: int = 0,
    tile: str = TILE_AUTO,
    tile_pad: int = AUTO,
    precision: str = "auto",
    tta: bool = False,
    alpha_mode: str = "model",
    mask: torch.Tensor | None = None,
    backend: str = "auto",
    temporal: str = str(DEFAULT_BATCH_TEMPORAL),
) -> NodeResult:
    image = check_image(image)
    if model is None or not (callable(model) or isinstance(getattr(model, "model", None), torch.nn.Module)):
        raise InvalidParameterError(
            "model: expected a model from 'Load Real-ESRGAN Model' or core's 'Load Upscale Model', "
            f"got {type(model).__name__}"
        )
    if precision not in PRECISIONS:
        raise InvalidParameterError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    if backend not in BACKENDS:
        raise InvalidParameterError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if alpha_mode not in ALPHA_MODES:
        raise InvalidParameterError(f"alpha_mode must be one of {', '.join(ALPHA_MODES)}; got {alpha_mode!r}")
    tile_choice = node_tile(tile)
    temporal_choice = node_temporal(temporal)
    if tile_pad < 0:
        raise InvalidParameterError(f"tile_pad must be 0 (auto) or positive; got {tile_pad}")
    sizes = size_arguments(resize_mode, outscale, width, height)
    source, has_alpha = attach_mask_as_alpha(image, mask)

    engine = _engine()
    device = host.torch_device()
    on_accelerator = getattr(device, "type", "cpu") != "cpu"
    if on_accelerator:  # unload other models first, as core's upscale node does
        host.make_room(
            estimate_memory(
                engine,
                model,
                source,
                tile_choice,
                tile_pad=tile_pad,
                precision=precision,
                device=device,
                tta=bool(tta),
            ),
            device,
        )
    try:
        result = engine.upscale(
            model,
            source,
            **sizes,
            tile=tile_choice,
            tile_pad=None if tile_pad == AUTO else int(tile_pad),
            precision=precision,
            alpha=alpha_mode,
            tta=bool(tta),
            device=device,
            backend=backend,
            progress=host.ProgressReporter(),
            cancel=host.interrupted,
        )
    except OperationCancelledError:
        # Cancel pressed: hand ComfyUI its own exception so it reports "interrupted", not an error.
        host.raise_if_interrupted()
        raise
    finally:
        if on_accelerator:
            offload(model)
    result = stabilize_batch(source, result, temporal_choice)
    # ComfyUI IMAGEs live in 0..1: the engine already clamps its float outputs to that range.
    out_image, out_mask = split_alpha(result, has_alpha, keep_alpha_channel=image.shape[-1] == 4)
    return NodeResult((out_image, out_mask))
