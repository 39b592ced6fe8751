"""The temporal stabiliser's method (core/video/temporal.py) on tiny synthetic frames.

The frames stand in for a model: ``low`` is a textured scene moving by whole or sub pixels,
``upscaled`` its ×2 resize plus detail noise that changes every frame, as a GAN's invented
detail does. Nothing here runs a model.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest

from realesrgan_kit.core.errors import InvalidImageError, InvalidParameterError
from realesrgan_kit.core.video.temporal import (
    TEMPORAL_WORDS,
    TemporalSettings,
    TemporalStabilizer,
    parse_temporal,
)
from realesrgan_kit.core.video.temporal_metrics import (
    sharpness,
    temporal_error,
    temporal_error_proxy,
    temporal_profile,
    warped_error,
)

SIZE = (48, 64)  # low-res height, width
SCALE = 2


def _texture(seed: int, height: int, width: int) -> np.ndarray:
    """A smooth random texture (0-255, float32) that optical flow can follow."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (height // 4, width // 4, 3)).astype(np.float32)
    return cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)


def _scene(seed: int, frames: int, speed: float) -> Iterator[np.ndarray]:
    """Low-res frames of a texture panned by ``speed`` pixels a frame (float32, 0-255)."""
    h, w = SIZE
    big = _texture(seed, h + 40, w + 80)
    for t in range(frames):
        shift = np.array([[1, 0, -10 - speed * t], [0, 1, -10]], np.float32)
        yield cv2.warpAffine(big, shift, (w, h), flags=cv2.INTER_LINEAR)


def _fake_upscale(low: np.ndarray, t: int, noise: float = 12.0) -> np.ndarray:
    """×2 resize plus per-frame detail noise: a stand-in for frame-wise GAN output."""
    h, w = low.shape[:2]
    big = cv2.resize(low, (w * SCALE, h * SCALE), interpolation=cv2.INTER_CUBIC)
    rng = np.random.default_rng(1000 + t)
    return big + rng.normal(0, noise, big.shape).astype(np.float32)


def _clip(frames: int = 12, speed: float = 0.5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    pairs = []
    for t, low in enumerate(_scene(seed, frames, speed)):
        high = _fake_upscale(low, t)
        pairs.append(
            (np.clip(low + 0.5, 0, 255).astype(np.uint8), np.clip(high + 0.5, 0, 255).astype(np.uint8))
        )
    return pairs


def _run(settings: TemporalSettings, pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    stabilizer = TemporalStabilizer(settings)
    return [stabilizer.push(low, high) for low, high in pairs]


def test_parse_temporal_vocabulary() -> None:
    assert TEMPORAL_WORDS == ("auto", "off")
    auto = parse_temporal("auto")
    assert auto is not None and auto.strength > 0 and auto.window >= 1
    assert parse_temporal(" AUTO ") == auto
    assert parse_temporal("off") is None
    assert parse_temporal(None) is None
    assert parse_temporal(0) is None and parse_temporal("0") is None and parse_temporal(0.0) is None
    half = parse_temporal("0.5")
    assert half is not None and half.strength == 0.5 and half.window == auto.window
    one = parse_temporal(1)
    assert one is not None and one.strength == 1.0


@pytest.mark.parametrize("bad", ["on", "1.5", "-0.1", "nan", "", 2, -1, True, [0.5], float("nan")])
def test_parse_temporal_rejects_with_the_vocabulary(bad: object) -> None:
    with pytest.raises(InvalidParameterError, match="'auto', 'off' or a strength between 0 and 1"):
        parse_temporal(bad)


def test_settings_reject_out_of_range() -> None:
    with pytest.raises(InvalidParameterError):
        TemporalSettings(strength=1.2)
    with pytest.raises(InvalidParameterError):
        TemporalSettings(window=0)
    with pytest.raises(InvalidParameterError):
        TemporalSettings(flow_preset=5)
    with pytest.raises(InvalidParameterError):
        TemporalSettings(match_tolerance=0.0)


def test_warmup_equals_window() -> None:
    assert TemporalStabilizer(TemporalSettings(window=5)).warmup_frames == 5


@pytest.mark.parametrize("window", [1, 2, 3])
@pytest.mark.parametrize("start", [1, 3, 4, 9])
def test_warm_started_chunk_is_byte_identical_to_a_continuous_run(window: int, start: int) -> None:
    settings = TemporalSettings(window=window)
    pairs = _clip(frames=12)
    continuous = _run(settings, pairs)
    chunk = TemporalStabilizer(settings)
    for low, high in pairs[max(0, start - chunk.warmup_frames) : start]:
        chunk.push(low, high)
    resumed = [chunk.push(low, high) for low, high in pairs[start:]]
    for a, b in zip(continuous[start:], resumed, strict=True):
        assert a.tobytes() == b.tobytes()


def test_history_is_actually_used() -> None:
    """The window property above would hold trivially for a filter that changes nothing, and
    a warm-up one frame short must differ (else the test could not see a longer memory)."""
    pairs = _clip(frames=6)
    out = _run(TemporalSettings(), pairs)
    assert out[0].tobytes() == pairs[0][1].tobytes()  # nothing to average with yet
    assert not np.array_equal(out[3], pairs[3][1])
    short = TemporalStabilizer(TemporalSettings())
    for low, high in pairs[5 - short.warmup_frames + 1 : 5]:
        short.push(low, high)
    assert short.push(*pairs[5]).tobytes() != out[5].tobytes()


def test_strength_zero_returns_the_frame_wise_output() -> None:
    stabilizer = TemporalStabilizer(TemporalSettings(strength=0.0))
    for low, high in _clip(frames=4):
        out = stabilizer.push(low, high)
        assert out is high or out.tobytes() == high.tobytes()


def test_scene_cut_resets_to_the_frame_wise_output() -> None:
    first = _clip(frames=6, seed=1)
    second = _clip(frames=4, seed=2)
    out = _run(TemporalSettings(), first + second)
    assert out[6].tobytes() == second[0][1].tobytes()
    assert not np.array_equal(out[7], second[1][1])  # and the history restarts after it


@pytest.mark.parametrize("speed", [0.0, 0.5, 1.5])
def test_flicker_is_reduced(speed: float) -> None:
    lows = list(_scene(3, 10, speed))
    truth = [
        np.clip(cv2.resize(low, (low.shape[1] * SCALE, low.shape[0] * SCALE)), 0, 255).astype(np.uint8)
        for low in lows
    ]
    pairs = _clip(frames=10, speed=speed, seed=3)
    frame_wise = [high for _, high in pairs]
    stabilised = _run(TemporalSettings(), pairs)
    before = temporal_error(frame_wise, truth)
    after = temporal_error(stabilised, truth)
    assert after < 0.75 * before


def _sprite_clip(frames: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[np.ndarray]]:
    """A flat bright square moving 3 px a frame over a static texture; noise-free upscale."""
    h, w = SIZE
    background = _texture(4, h, w)
    pairs, masks = [], []
    for t in range(frames):
        low = background.copy()
        x = 5 + 3 * t
        low[16:32, x : x + 12] = 250.0
        high = cv2.resize(low, (w * SCALE, h * SCALE), interpolation=cv2.INTER_NEAREST)
        mask = np.zeros((h * SCALE, w * SCALE), bool)
        mask[:, max(0, x - 8) * SCALE : (x + 20) * SCALE] = True  # a band around the sprite's path
        pairs.append((low.astype(np.uint8), high.astype(np.uint8)))
        masks.append(mask)
    return pairs, masks


def test_moving_sprite_is_not_smeared() -> None:
    """Around the sprite the output stays the frame-wise one (here noise-free, so also the
    truth); without the confidence erosion and the clamp the mean error is ~1.3 and the
    99.5th percentile ~46: a visible trail."""
    pairs, masks = _sprite_clip(10)
    out = _run(TemporalSettings(), pairs)
    for (_, high), result, mask in zip(pairs, out, masks, strict=True):
        error = np.abs(result.astype(np.int16) - high.astype(np.int16))[mask]
        assert error.mean() < 0.5 and np.percentile(error, 99.5) <= 12


@pytest.mark.parametrize(
    ("dtype", "channels", "scale"),
    [
        (np.uint8, 3, 255),
        (np.uint16, 3, 65535),
        (np.float32, 3, 1.0),
        (np.uint8, 4, 255),
        (np.float32, 4, 1.0),
        (np.uint8, 1, 255),
        (np.uint16, 2, 65535),
    ],
)
def test_dtype_shape_and_alpha_are_kept(dtype: type, channels: int, scale: float) -> None:
    pairs = _clip(frames=5)
    stabilizer = TemporalStabilizer(TemporalSettings())
    for t, (low8, high8) in enumerate(pairs):
        low = _as(low8, dtype, channels, scale, alpha=100 + t)
        high = _as(high8, dtype, channels, scale, alpha=200 - t)
        out = stabilizer.push(low, high)
        assert out.dtype == high.dtype and out.shape == high.shape
        if channels in (2, 4):
            assert np.array_equal(out[:, :, -1], high[:, :, -1])
        if t > 1:
            assert not np.array_equal(out, high)
            assert np.abs(out.astype(np.float64) - high.astype(np.float64)).max() <= 0.25 * scale


def _as(frame8: np.ndarray, dtype: type, channels: int, scale: float, alpha: int) -> np.ndarray:
    values = frame8.astype(np.float64) * (scale / 255.0)
    if channels == 1:
        values = values.mean(axis=2)
    elif channels == 2:
        values = np.dstack([values.mean(axis=2), np.full(values.shape[:2], alpha * scale / 255.0)])
    elif channels == 4:
        values = np.dstack([values, np.full(values.shape[:2], alpha * scale / 255.0)])
    if dtype is np.float32:
        return values.astype(np.float32)
    return np.rint(values).astype(dtype)


def test_every_dtype_gets_the_same_result_on_its_scale() -> None:
    pairs = _clip(frames=5)
    results = {}
    for dtype, scale in ((np.uint8, 255), (np.uint16, 65535), (np.float32, 1.0)):
        converted = [(_as(low, dtype, 3, scale, 0), _as(high, dtype, 3, scale, 0)) for low, high in pairs]
        results[dtype] = [
            out.astype(np.float64) * (255.0 / scale) for out in _run(TemporalSettings(), converted)
        ]
    for t in range(len(pairs)):
        assert np.abs(results[np.uint16][t] - results[np.float32][t]).max() < 0.01
        assert np.abs(results[np.uint8][t] - results[np.float32][t]).max() <= 0.51


def test_output_does_not_depend_on_opencv_threads() -> None:
    pairs = _clip(frames=6, speed=0.7)
    threads = cv2.getNumThreads()
    try:
        default = _run(TemporalSettings(), pairs)
        cv2.setNumThreads(1)
        single = _run(TemporalSettings(), pairs)
        cv2.setNumThreads(3)
        three = _run(TemporalSettings(), pairs)
    finally:
        cv2.setNumThreads(threads)
    for a, b, c in zip(default, single, three, strict=True):
        assert a.tobytes() == b.tobytes() == c.tobytes()


@pytest.mark.parametrize("start", [5, 6, 7, 8])
def test_warm_start_across_a_cut_is_byte_identical(start: int) -> None:
    """Start points around a cut at frame 6: the warm-up may span the cut or begin after it."""
    pairs = _clip(frames=6, seed=1) + _clip(frames=6, seed=2)
    rgba16 = [(_as(low, np.uint16, 4, 65535, 90), _as(high, np.uint16, 4, 65535, 40)) for low, high in pairs]
    settings = TemporalSettings()
    continuous = _run(settings, rgba16)
    chunk = TemporalStabilizer(settings)
    for low, high in rgba16[start - chunk.warmup_frames : start]:
        chunk.push(low, high)
    for t in range(start, len(rgba16)):
        assert chunk.push(*rgba16[t]).tobytes() == continuous[t].tobytes()


def test_metrics_measure_what_they_say() -> None:
    lows = list(_scene(5, 6, 0.5))
    truth = [np.clip(low + 0.5, 0, 255).astype(np.uint8) for low in lows]
    noisy = [
        np.clip(f.astype(np.float32) + np.random.default_rng(t).normal(0, 6, f.shape), 0, 255).astype(
            np.uint8
        )
        for t, f in enumerate(truth)
    ]
    assert temporal_error(truth, truth) == 0.0
    assert temporal_error(noisy, truth) > 3.0
    assert warped_error(noisy) > warped_error(truth)
    blurred = [cv2.GaussianBlur(f, (5, 5), 1.5) for f in truth]
    assert sharpness(blurred) < 0.9 * sharpness(truth)
    small = [cv2.resize(f, (f.shape[1] // 2, f.shape[0] // 2), interpolation=cv2.INTER_AREA) for f in truth]
    assert temporal_error_proxy(noisy, small) > temporal_error_proxy(truth, small)
    profile = temporal_profile(truth, row=10)
    assert profile.shape == (6, truth[0].shape[1], 3) and np.array_equal(profile[2], truth[2][10])
    column = temporal_profile(truth, column=-1)
    assert column.shape == (truth[0].shape[0], 6, 3) and np.array_equal(column[:, 3], truth[3][:, -1])
    with pytest.raises(InvalidImageError):
        temporal_profile(truth, row=1000)
    with pytest.raises(InvalidImageError):
        temporal_error(truth[:1], truth[:1])
