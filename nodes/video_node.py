"""Upscale Video node: a video file (ComfyUI's VIDEO, or a file from the input folder) → a video
file in the output folder, streamed through core's video pipeline (flat memory for any clip
length), with a preview and the result as VIDEO where this ComfyUI has that type."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import InvalidParameterError, InvalidVideoError, OperationCancelledError
from ..core.options import DEFAULT_TEMPORAL, TILE_AUTO, TILE_WHOLE, Tile
from . import host
from .node_spec import NodeResult
from .upscale_node import (
    AUTO,
    AUTO_ESTIMATE_TILE,
    PRECISIONS,
    node_temporal,
    node_tile,
    offload,
    size_arguments,
)

if TYPE_CHECKING:
    from ..core.load import UpscaleModelLike

__all__ = [
    "NO_FILE",
    "CONTAINERS",
    "AUTO_CODEC",
    "AUTO_CRF",
    "DEFAULT_PREFIX",
    "video_file_choices",
    "codec_choices",
    "upscale_video_node",
]

log = logging.getLogger(__name__)

NO_FILE = "none"  # the file widget's value when the VIDEO socket brings the clip
AUTO_CODEC = "auto"
AUTO_CRF = -1  # the codec's own near-transparent default
DEFAULT_PREFIX = "video/RealESRGAN"


CONTAINERS: tuple[str, ...] = ("mp4", "mkv", "webm", "mov")
"""Output containers offered (each has codec preferences in core's video encoder)."""


def video_file_choices() -> list[str]:
    """``none`` (use the VIDEO socket), then the videos in ComfyUI's input folder."""
    return [NO_FILE, *host.input_videos()]


def codec_choices() -> list[str]:
    """``auto``, then every encoder core prefers for some container that this PyAV can use."""
    from ..core.video import CODEC_PREFERENCES, available_encoders

    try:
        encoders = available_encoders()
    except Exception as exc:  # an unusable PyAV must not stop the node pack from loading
        log.warning("cannot list PyAV's encoders (%s); offering 'auto' only", exc)
        return [AUTO_CODEC]
    ordered: list[str] = []
    for names in CODEC_PREFERENCES.values():
        ordered += [n for n in names if n in encoders and n not in ordered]
    return [AUTO_CODEC, *ordered]


def _source(video: Any, file: str) -> tuple[Path, Path | None]:
    """The clip to read and, when it had to be copied out of memory, the temporary copy."""
    if video is not None:
        try:
            source = host.video_stream_source(video)
        except InvalidVideoError:
            raise
        except Exception as exc:
            # A VIDEO made from frames (core's Create Video) has no file: its default stream
            # source encodes into memory, which some ComfyUI versions cannot do. Let it write
            # itself to a file instead.
            log.info(
                "the VIDEO gives no stream (%s: %s); writing it to a temporary file", type(exc).__name__, exc
            )
            copy = host.save_to_temp(video)
            return copy, copy
        if isinstance(source, (str, os.PathLike)):
            return Path(source), None
        copy = host.spill_to_temp(source)
        return copy, copy
    if not file or file == NO_FILE:
        raise InvalidParameterError(
            "Upscale Video: no clip; connect a VIDEO (e.g. from Load Video) or choose a file from the input folder"
        )
    path = host.input_file_path(file)
    if not path.is_file():
        raise InvalidVideoError(f"{file}: no such file in ComfyUI's input folder ({path.parent})")
    return path, None


def _frame_memory(
    model: UpscaleModelLike,
    width: int,
    height: int,
    tile: Tile,
    tile_pad: int,
    precision: str,
    device: Any,
    tta: bool,
) -> int:
    """Bytes to make room for on the device: one tile's forward (sized as the image node sizes
    it: 512 px for auto, the longer side for whole) plus one decoded frame."""
    from ..core import engine

    if tile == TILE_AUTO:
        side = AUTO_ESTIMATE_TILE
    elif tile == TILE_WHOLE:
        side = max(width, height)
    else:
        side = int(tile)
    forward = engine.estimate_tile_memory(
        model,
        side,
        tile_pad=None if tile_pad == AUTO else tile_pad,
        precision=precision,
        device=device,
        tta=bool(tta),
    )
    return int(forward) + width * height * 3 * 4


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise InvalidParameterError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _check_model_and_choices(model: UpscaleModelLike | None, precision: str, container: str) -> None:
    """A model is connected; precision and container are among the node's choices."""
    if model is None:
        raise InvalidParameterError(
            "model: expected a model from 'Load Real-ESRGAN Model' or core's 'Load Upscale Model', got nothing"
        )
    _check_choice("precision", precision, PRECISIONS)
    _check_choice("container", container, CONTAINERS)


def _summary(report: Any) -> str:
    """The node's text output: sizes, encoder, speed, the temporal setting and the streams kept."""
    return (
        f"{report.frames} frames {report.input_size[0]}×{report.input_size[1]} → "
        f"{report.output_size[0]}×{report.output_size[1]}, {report.codec} {report.pix_fmt}"
        f"{'' if report.crf is None else f' crf {report.crf}'}, {report.fps:.2f} frames/s; "
        + (
            "temporal off; "
            if report.temporal is None
            else f"temporal strength {report.temporal['strength']:g} (window {report.temporal['window']}); "
        )
        + f"kept: {', '.join(report.copied_streams) or 'no other streams'}"
        + (f"; dropped: {', '.join(report.dropped_streams)}" if report.dropped_streams else "")
    )


def upscale_video_node(
    model: UpscaleModelLike,
    file: str = NO_FILE,
    resize_mode: str = "model scale",
    outscale: float = 2.0,
    width: int = 0,
    height: int = 0,
    tile: str = TILE_AUTO,
    tile_pad: int = AUTO,
    precision: str = "auto",
    tta: bool = False,
    container: str = "mp4",
    codec: str = AUTO_CODEC,
    crf: int = AUTO_CRF,
    filename_prefix: str = DEFAULT_PREFIX,
    video: Any = None,
    temporal: str = str(DEFAULT_TEMPORAL),
) -> NodeResult:
    from ..core.video import parts_dir_for, probe_video, upscale_video

    _check_model_and_choices(model, precision, container)
    tile_choice = node_tile(tile)
    temporal_choice = node_temporal(temporal)
    if tile_pad < 0:
        raise InvalidParameterError(f"tile_pad must be 0 (auto) or positive; got {tile_pad}")
    if crf < AUTO_CRF:
        raise InvalidParameterError(f"crf must be {AUTO_CRF} (the codec's default) or 0 and above; got {crf}")
    sizes = size_arguments(resize_mode, outscale, width, height)
    source, spilled = _source(video, file)
    try:
        info = probe_video(source)
        target, subfolder = host.output_target(filename_prefix, container, info.width, info.height)
        tracker = host.ProgressReporter()
        device = host.torch_device()
        on_accelerator = getattr(device, "type", "cpu") != "cpu"
        if on_accelerator:  # unload other models first, as the image node does
            host.make_room(
                _frame_memory(model, info.width, info.height, tile_choice, tile_pad, precision, device, tta),
                device,
            )
        try:
            report = upscale_video(
                model,
                source,
                target,
                **sizes,
                tile=tile_choice,
                tile_pad=None if tile_pad == AUTO else int(tile_pad),
                precision=precision,
                tta=bool(tta),
                device=device,
                codec=None if codec == AUTO_CODEC else codec,
                crf=None if crf == AUTO_CRF else int(crf),
                temporal=temporal_choice,
                progress=lambda p: tracker(p.frames_done, p.frames_total or p.frames_done),
                cancel=host.interrupted,
            )
        except BaseException as exc:
            # A re-queued prompt writes under a new name, so finished chunks would never be resumed.
            host.remove_tree(parts_dir_for(target))
            if isinstance(exc, OperationCancelledError):
                host.raise_if_interrupted()  # ComfyUI reports its own exception as "interrupted"
            raise
        finally:
            if on_accelerator:
                offload(model)
    finally:
        if spilled is not None:
            spilled.unlink(missing_ok=True)
    summary = _summary(report)
    log.info("%s: %s", target, summary)
    preview = {"filename": target.name, "subfolder": subfolder, "type": "output"}
    return NodeResult(
        (host.video_from_file(target), str(target), summary),
        ui={"images": [preview], "animated": (True,)},
    )
