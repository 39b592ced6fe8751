"""Temporal stabilisation of frame-wise upscaled video (issue 21).

A frame-wise GAN upscaler invents slightly different detail in every frame: static areas
shimmer and textures crawl. :class:`TemporalStabilizer` replaces each upscaled frame by a
motion-compensated, confidence-weighted average of it and the upscaled frames just before it:

- optical flow (OpenCV's DIS) is computed on the **low-res** model inputs, between consecutive
  frames only, and chained to reach back up to ``window`` frames; it is scaled to the output
  size and the earlier upscaled frames are warped into the current one (``cv2.remap``);
- each warped frame gets a per-pixel confidence from how well the warped low-res frame matches
  the current low-res frame (occlusions, fast or wrong motion → 0), so those areas keep the
  frame-wise output;
- the weighted mean (current frame weight 1, earlier ones their confidence) is clamped to the
  current frame's 3×3 range: flicker lies within it and is averaged, a ghost from a wrong warp
  does not;
- a scene cut (detected on the low-res frames) empties the history: the first frame after a
  cut is the frame-wise output exactly.

The output at frame ``t`` depends only on the frames pushed since the last reset among
``t - window .. t``: the state is a ring of at most ``window`` earlier frames and the flows
between them, each derived from those frames alone. A stabiliser reset and fed frames
``s - window .. s - 1`` therefore produces byte-identical output from frame ``s`` on to one fed
from frame 0, which makes chunked, resumed and distributed runs bit-identical.

Every OpenCV call used here computes each output pixel independently of the thread split (DIS
included; tests check it), so the output does not depend on ``cv2.setNumThreads``.

The method, its parameters and its measurements: ``docs/temporal.md``;
``benchmarks/bench_temporal.py`` makes the figures.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, replace

import cv2
import numpy as np

from ..errors import InvalidImageError, InvalidParameterError
from ..options import TEMPORAL_WORDS  # the words ``--temporal`` accepts besides a strength in [0, 1]

__all__ = ["TEMPORAL_WORDS", "TemporalSettings", "parse_temporal", "TemporalStabilizer", "AUTO_SETTINGS"]

log = logging.getLogger(__name__)

MIN_FLOW_SIZE = 12
"""Input frames narrower or lower than this (pixels) pass through frame-wise: DIS needs 12."""


@dataclass(frozen=True)
class TemporalSettings:
    """How strongly and how far back the stabiliser averages; the defaults are ``auto``."""

    strength: float = 1.0
    """Weight of the history against the current frame, in [0, 1]; 0 is the frame-wise output."""
    window: int = 2
    """Earlier frames averaged in. The output at frame t depends only on frames t-window .. t.
    In the parameter study 2 removes as much flicker as 3 (E_t ÷ frame-wise 0.89 / 0.77 on
    anime / photo clips against 0.90 / 0.75), stays sharper (worst 94.0 % against 93.0 %) and
    costs one output-size warp less; 1 keeps less than half the gain. It is also the chunk
    warm-up."""
    flow_preset: int = 1
    """DIS preset on the low-res frames: 0 ultrafast, 1 fast, 2 medium. The benchmark's
    figures barely differ between them, but ultrafast's coarser flow at motion boundaries
    leaves a visible trail beside a moving sprite (the sprite test's 99.5th percentile error
    15 against 7); fast costs ~13 ms at 854×480 input."""
    match_tolerance: float = 16.0
    """Low-res colour error (0-255 scale, largest channel) at which a warped frame's confidence
    has fallen to zero. The main trade-off: 3 removes almost no flicker, 24 removes a little
    more than 16 but softens moving edges (the sprite test's 99.5th percentile error 21
    against 7); compression noise stays well below 16, occlusions and failed flow above it."""
    cut_threshold: float = 30.0
    """Mean low-res colour difference (0-255) after motion compensation above which two frames
    are taken for a scene cut and the history is dropped: unrelated shots score far above it,
    the benchmark's pans, zooms, noise and JPEG below 10."""
    confidence_erode: int = 1
    """Low-res pixels by which the confident area shrinks: keeps trust from leaking over the
    edge of an occlusion when the confidence is upsampled."""
    interpolation: int = cv2.INTER_LINEAR
    """How earlier outputs are resampled when warped (cv2.INTER_LINEAR or INTER_CUBIC). Cubic
    keeps 1-3 % more sharpness but costs ~35 ms more a frame at 480p → ×2."""
    clamp_radius: int = 1
    """Radius (output pixels) of the neighbourhood of the current frame whose range bounds the
    result; it stops ghosts while flicker, which stays within that range, is still averaged."""

    def __post_init__(self) -> None:
        if not (0.0 <= self.strength <= 1.0) or math.isnan(self.strength):
            raise InvalidParameterError(f"temporal strength must be in [0, 1], got {self.strength!r}.")
        if self.window < 1:
            raise InvalidParameterError(f"temporal window must be at least 1 frame, got {self.window!r}.")
        if self.flow_preset not in (0, 1, 2) or self.interpolation not in (cv2.INTER_LINEAR, cv2.INTER_CUBIC):
            raise InvalidParameterError(
                f"temporal flow_preset must be 0, 1 or 2 and interpolation cv2.INTER_LINEAR or INTER_CUBIC; "
                f"got {self.flow_preset!r} and {self.interpolation!r}."
            )
        if not (self.match_tolerance > 0 and self.cut_threshold > 0 and self.confidence_erode >= 0):
            raise InvalidParameterError(
                "temporal match_tolerance and cut_threshold must be > 0 and confidence_erode >= 0; got "
                f"{self.match_tolerance!r}, {self.cut_threshold!r}, {self.confidence_erode!r}."
            )


AUTO_SETTINGS = TemporalSettings()
"""What ``auto`` means."""


def parse_temporal(value: object) -> TemporalSettings | None:
    """Turn ``'auto'``, ``'off'`` or a strength ``S`` in [0, 1] (a number or a numeric string)
    into settings; ``None`` for ``off`` and for strength 0 (the frame-wise output).

    Raises :class:`~core.errors.InvalidParameterError` for anything else."""
    if value is None:
        return None
    if isinstance(value, str):
        word = value.strip().lower()
        if word == "auto":
            return AUTO_SETTINGS
        if word == "off":
            return None
        try:
            strength = float(word)
        except ValueError:
            strength = math.nan
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        strength = math.nan
    else:
        strength = float(value)
    if not (0.0 <= strength <= 1.0):
        raise InvalidParameterError(
            f"temporal must be 'auto', 'off' or a strength between 0 and 1, got {value!r}; "
            "use 'auto' for the default stabilisation or 'off' for frame-wise output."
        )
    if strength == 0.0:
        return None
    return replace(AUTO_SETTINGS, strength=strength)


def _colour_channels(frame: np.ndarray) -> int:
    """Channels that carry colour: grey+alpha → 1, RGBA → 3, otherwise all."""
    if frame.ndim == 2:
        return 1
    channels = int(frame.shape[2])
    return {2: 1, 4: 3}.get(channels, channels)


def _full_scale(dtype: np.dtype) -> float:
    if dtype == np.uint8:
        return 255.0
    if dtype == np.uint16:
        return 65535.0
    return 1.0


def _colour(frame: np.ndarray, channels: int, scale: float = 1.0) -> np.ndarray:
    """The colour channels as float32 times ``scale``: H×W for one channel (OpenCV drops a
    single channel axis anyway), H×W×c otherwise."""
    data = frame if frame.ndim == 3 else frame[:, :, None]
    colour = data[:, :, 0] if channels == 1 else data[:, :, :channels]
    out = colour.astype(np.float32)
    return out * np.float32(scale) if scale != 1.0 else out


def _grey(low: np.ndarray) -> np.ndarray:
    """A 0-255 colour frame as 8-bit grey for DIS (the mean of the colour channels)."""
    grey = (
        low if low.ndim == 2 else cv2.transform(low, np.full((1, low.shape[2]), 1 / low.shape[2], np.float32))
    )
    return np.clip(grey + 0.5, 0, 255).astype(np.uint8)


@dataclass
class _Entry:
    """One earlier frame: its low-res colour, its upscaled output, and the flow that maps
    a pixel of the *current* frame to where it was in this frame (low-res, H×W×2)."""

    low: np.ndarray
    high: np.ndarray
    flow: np.ndarray


class TemporalStabilizer:
    """Streams frames through the temporal filter; see the module docstring for the method."""

    def __init__(self, settings: TemporalSettings) -> None:
        self.settings = settings
        self._dis = cv2.DISOpticalFlow.create(settings.flow_preset)
        self._history: deque[_Entry] = deque(maxlen=settings.window)
        self._previous_grey: np.ndarray | None = None
        self._previous_low: np.ndarray | None = None
        self._previous_high: np.ndarray | None = None
        self._shape: tuple[tuple[int, ...], tuple[int, ...], np.dtype] | None = None
        self._grids: dict[tuple[int, int], np.ndarray] = {}

    @property
    def warmup_frames(self) -> int:
        """Frames to push (and discard) before a chunk's first frame for bit-identical output."""
        return self.settings.window

    def reset(self) -> None:
        """Forget every earlier frame (a new clip, a new chunk, or a scene cut)."""
        self._history.clear()
        self._previous_grey = None
        self._previous_low = None
        self._previous_high = None
        self._shape = None

    def push(self, low_res: np.ndarray, upscaled: np.ndarray) -> np.ndarray:
        """Take the next frame's model input and frame-wise output; return the stabilised
        output, of ``upscaled``'s shape and dtype."""
        if self.settings.strength == 0.0:
            return upscaled
        self._check_shapes(low_res, upscaled)
        if min(low_res.shape[:2]) < MIN_FLOW_SIZE:
            return upscaled  # too small for the flow's pyramid: frame-wise output
        channels = _colour_channels(upscaled)
        low = _colour(low_res, channels, 255.0 / _full_scale(low_res.dtype))
        grey = _grey(low)
        step_error = None
        if self._previous_grey is not None and self._previous_low is not None:
            step = self._dis.calc(grey, self._previous_grey, np.empty(0, np.float32))  # current → previous
            step_error = cv2.absdiff(self._warp_low(self._previous_low, step), low)
            if float(np.mean(cv2.mean(step_error)[: _planes(step_error)])) > self.settings.cut_threshold:
                log.debug("temporal: scene cut, history dropped")
                self._history.clear()
            else:
                self._extend_history(step)
        current = _colour(upscaled, channels)
        result = self._blend(low, current, upscaled, step_error) if self._history else upscaled
        self._previous_grey, self._previous_low, self._previous_high = grey, low, current
        return result

    def _check_shapes(self, low_res: np.ndarray, upscaled: np.ndarray) -> None:
        shape = (low_res.shape, upscaled.shape, upscaled.dtype)
        if low_res.ndim != upscaled.ndim or (low_res.ndim == 3 and low_res.shape[2] != upscaled.shape[2]):
            raise InvalidImageError(
                f"temporal: the input frame {low_res.shape} and the upscaled frame {upscaled.shape} "
                "must have the same channels; pass the model's input and its output."
            )
        if self._shape is not None and shape != self._shape:
            log.debug("temporal: frame size or type changed, history dropped")
            self.reset()
        self._shape = shape

    def _extend_history(self, step: np.ndarray) -> None:
        """Add the previous frame to the history and re-aim every older flow at the current
        frame: flow(t→t-k)(x) = step(x) + flow(t-1→t-k)(x + step(x))."""
        assert self._previous_low is not None and self._previous_high is not None
        chained = [_Entry(e.low, e.high, cv2.add(step, self._warp_low(e.flow, step))) for e in self._history]
        self._history.clear()
        self._history.append(_Entry(self._previous_low, self._previous_high, step))
        self._history.extend(chained[: self.settings.window - 1])

    def _blend(
        self, low: np.ndarray, current: np.ndarray, upscaled: np.ndarray, step_error: np.ndarray | None
    ) -> np.ndarray:
        """The confidence-weighted mean of the current output and the earlier ones warped
        into it, then bounded by the current frame's local range. ``step_error`` is the
        previous frame's warped low-res error, already computed for the cut check."""
        s = self.settings
        out_h, out_w = current.shape[:2]
        low_h, low_w = low.shape[:2]
        scale = np.array([out_w / low_w, out_h / low_h], np.float32)
        grid = _grid(self._grids, out_h, out_w)
        mean = current
        total = np.ones((out_h, out_w), np.float32)
        for index, entry in enumerate(self._history):
            error = step_error if index == 0 and step_error is not None else self._low_error(entry, low)
            weight = cv2.resize(self._confidence(error), (out_w, out_h), interpolation=cv2.INTER_LINEAR)
            vectors = cv2.resize(entry.flow * scale, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
            warped = cv2.remap(
                entry.high, cv2.add(vectors, grid), None, s.interpolation, borderMode=cv2.BORDER_REPLICATE
            )
            mean = cv2.blendLinear(mean, warped, total, weight)
            total = cv2.add(total, weight)
        return _to_output(mean, upscaled, s.clamp_radius)

    def _low_error(self, entry: _Entry, low: np.ndarray) -> np.ndarray:
        """|earlier low-res frame warped into the current one − the current one| (0-255)."""
        return cv2.absdiff(self._warp_low(entry.low, entry.flow), low)

    def _confidence(self, error: np.ndarray) -> np.ndarray:
        """Per low-res pixel, how far the warped earlier frame can be trusted, from its error:
        1 where it matches the current low-res frame, falling to 0 at ``match_tolerance`` (the
        largest channel error, 0-255); then shrunk by ``confidence_erode`` pixels so that the
        bilinear upsampling does not leak trust across the edge of an occlusion. Times the
        strength."""
        s = self.settings
        if error.ndim == 3:
            planes = cv2.split(error)
            error = planes[0]
            for plane in planes[1:]:
                error = cv2.max(error, plane)
        confidence = cv2.max(1.0 - error * np.float32(1.0 / s.match_tolerance), 0.0) * np.float32(s.strength)
        if s.confidence_erode > 0:
            size = 2 * s.confidence_erode + 1
            confidence = cv2.erode(
                confidence, np.ones((size, size), np.uint8), borderType=cv2.BORDER_REPLICATE
            )
        return confidence

    def _warp_low(self, image: np.ndarray, flow: np.ndarray) -> np.ndarray:
        """Sample a low-res ``image`` at x + flow(x) (bilinear, edges replicated)."""
        coordinates = cv2.add(flow, _grid(self._grids, flow.shape[0], flow.shape[1]))
        return cv2.remap(image, coordinates, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _planes(image: np.ndarray) -> int:
    return 1 if image.ndim == 2 else image.shape[2]


def _grid(cache: dict[tuple[int, int], np.ndarray], height: int, width: int) -> np.ndarray:
    """Pixel coordinates (x, y), H×W×2 float32, made once per size."""
    grid = cache.get((height, width))
    if grid is None:
        ys, xs = np.indices((height, width), dtype=np.float32)
        grid = cache[(height, width)] = np.dstack([xs, ys])
    return grid


def _to_output(mean: np.ndarray, upscaled: np.ndarray, clamp_radius: int) -> np.ndarray:
    """``mean`` (float32, ``upscaled``'s scale) back to ``upscaled``'s dtype, bounded by the
    range of ``upscaled`` within ``clamp_radius`` pixels (none if negative): flicker stays
    within that range and is still averaged, a ghost from a wrong warp does not. Channels
    beyond the colour ones (alpha) are the current frame's, unchanged."""
    channels = 1 if mean.ndim == 2 else mean.shape[2]
    data = upscaled if upscaled.ndim == 3 else upscaled[:, :, None]
    colour = data[:, :, 0] if channels == 1 else data[:, :, :channels]
    if upscaled.dtype == np.uint8:
        values = cv2.convertScaleAbs(mean)  # rounds and saturates in one pass
    elif upscaled.dtype == np.uint16:
        values = np.clip(np.rint(mean), 0, 65535).astype(np.uint16)
    else:
        values = mean.astype(upscaled.dtype, copy=False)
    if clamp_radius >= 0:
        kernel = np.ones((2 * clamp_radius + 1, 2 * clamp_radius + 1), np.uint8)
        values = cv2.min(cv2.max(values, cv2.erode(colour, kernel)), cv2.dilate(colour, kernel))
    if upscaled.ndim == 2 or (upscaled.ndim == 3 and upscaled.shape[2] == channels):
        return values.reshape(upscaled.shape)
    result = upscaled.copy()
    result[:, :, :channels] = values.reshape(result.shape[:2] + (channels,))
    return result
