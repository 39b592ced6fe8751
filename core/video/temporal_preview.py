"""A look at flicker on a stretch of a clip: temporal profiles of the frame-wise and the
stabilised upscale side by side, with their no-reference E_t figures.

The widget and the notebook show it; it decodes and upscales ``count`` frames once (the
stabilised frames are made from the same frame-wise results), so a preview costs one model
pass over a short stretch, never the clip.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidParameterError
from ..options import TEMPORAL_AUTO, TEMPORAL_OFF, Temporal, parse_temporal_choice

if TYPE_CHECKING:
    from ..load.modellike import UpscaleModelLike

__all__ = ["TemporalPreview", "temporal_preview", "PREVIEW_FRAMES"]

PREVIEW_FRAMES = 24
"""Frames a preview covers by default: one second at 24 fps, enough for flicker to show."""


@dataclass(frozen=True)
class TemporalPreview:
    """Profiles (time runs downwards, one image row per frame) of one output row, and E_t
    against the bicubic upscale of the input (0-255 scale; bicubic itself scores 0)."""

    frame_wise: np.ndarray
    stabilised: np.ndarray
    error_frame_wise: float
    error_stabilised: float
    row: int
    """The output row the profiles show."""
    frames: tuple[int, int]
    """The stretch of the clip: frames start ≤ i < stop."""
    temporal: Temporal


def temporal_preview(
    model: UpscaleModelLike,
    src: str | os.PathLike[str],
    *,
    start: int = 0,
    count: int = PREVIEW_FRAMES,
    row: int | None = None,
    temporal: Temporal | str = TEMPORAL_AUTO,
    **engine_options: Any,
) -> TemporalPreview:
    """Upscale frames ``start`` .. ``start + count - 1`` of ``src`` frame by frame and with
    ``temporal`` (``off`` shows ``auto``: a comparison with itself says nothing), and profile
    output row ``row`` (default: the middle). ``engine_options`` as for ``iter_upscaled_frames``."""
    from .frames import iter_video_frames
    from .pipeline import iter_upscaled_frames, stabilize_frames
    from .temporal_metrics import temporal_error_proxy, temporal_profile

    choice = parse_temporal_choice(temporal)
    if choice == TEMPORAL_OFF:
        choice = TEMPORAL_AUTO
    if isinstance(count, bool) or not isinstance(count, int) or count < 2:
        raise InvalidParameterError(f"a temporal preview needs count ≥ 2 frames, got {count!r}")
    inputs = [f.image for f in iter_video_frames(src, start=start, stop=start + count)]
    if len(inputs) < 2:
        raise InvalidParameterError(
            f"{src}: frames from {start} on give {len(inputs)} frame(s); a preview needs 2 or more"
        )
    plain = list(iter_upscaled_frames(model, inputs, temporal=TEMPORAL_OFF, **engine_options))
    stable = list(stabilize_frames(inputs, plain, choice))
    line = plain[0].shape[0] // 2 if row is None else row
    return TemporalPreview(
        frame_wise=temporal_profile(plain, row=line),
        stabilised=temporal_profile(stable, row=line),
        error_frame_wise=temporal_error_proxy(plain, inputs),
        error_stabilised=temporal_error_proxy(stable, inputs),
        row=line,
        frames=(start, start + len(inputs)),
        temporal=choice,
    )
