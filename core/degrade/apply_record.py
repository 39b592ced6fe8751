"""Apply a record to an image (pure), and the one-call ``degrade``.

Order (Real-ESRGAN ``RealESRGANModel.feed_data``): USM sharpen → blur1 → resize1 → noise1 →
clip → JPEG1 → [blur2 with p 0.8] → resize2 (relative to the output size) → noise2 → final:
either [resize to the output size + sinc] then clip → JPEG, or clip → JPEG then [resize +
sinc]; finally clip and round to 8-bit levels. Values between steps are float32 and not
clipped except where Real-ESRGAN clips (after noise, before JPEG, at the end).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np

from ..errors import InvalidImageError, InvalidParameterError, OperationCancelledError
from .filters import filter2d, usm_sharpen
from .jpeg import jpeg_compress
from .noise import add_gaussian_noise, add_poisson_noise
from .planes import Planes, merge_planes, split_image
from .record import DegradationRecord, KernelChoice, NoiseChoice, ResizeChoice, SharpenChoice
from .resize_modes import resize
from .sampling import NOISE_SEED_LIMIT, sample_degradation
from .settings import settings_from

__all__ = ["DegradeResult", "apply_degradation", "degrade", "derive_seed"]


@dataclass(frozen=True)
class DegradeResult:
    """The degraded image (the input's dtype and channel layout, output_size) and its record."""

    image: np.ndarray
    record: DegradationRecord


def _blur(x: np.ndarray, choice: KernelChoice | None) -> np.ndarray:
    # Unpadded kernel: identical to Real-ESRGAN's zero-padded 21×21 one (see kernels.pad_kernel).
    return x if choice is None else filter2d(x, choice.matrix())


def _resize_to(x: np.ndarray, choice: ResizeChoice | None) -> np.ndarray:
    return x if choice is None else resize(x, choice.height, choice.width, choice.mode)


def _noise(x: np.ndarray, choice: NoiseChoice | None) -> np.ndarray:
    if choice is None:
        return x
    rng = np.random.default_rng(choice.seed)
    if choice.kind == "gaussian":
        return add_gaussian_noise(x, choice.level, gray=choice.gray, rng=rng)
    return add_poisson_noise(x, choice.level, gray=choice.gray, rng=rng)


def _jpeg(x: np.ndarray, quality: int | None) -> np.ndarray:
    return x if quality is None else jpeg_compress(x, quality)  # clips to 0..1 first


ProgressCallback = Callable[[int, int, str], None]
CancelHook = Callable[[], bool]


def apply_degradation(
    image: np.ndarray,
    record: DegradationRecord,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelHook | None = None,
) -> np.ndarray:
    """Degrade ``image`` exactly as ``record`` says; the same inputs always give the same bytes.

    ``image`` must have the size the record was sampled for. See ``planes`` for dtypes,
    gray and alpha. ``progress(done, total, stage)`` is called after each stage; ``cancel()``
    returning True before a stage raises OperationCancelledError (nothing is returned).
    """
    if not isinstance(record, DegradationRecord):
        raise InvalidParameterError(
            f"record must be a DegradationRecord (from sample_degradation or from_dict); got {type(record).__name__}"
        )
    return _apply(split_image(image), record, progress, cancel)


def _sharpen(x: np.ndarray, choice: SharpenChoice | None) -> np.ndarray:
    if choice is None:
        return x
    return usm_sharpen(
        x,
        weight=choice.weight,
        kernel_size=choice.kernel_size,
        sigma=choice.sigma,
        threshold=choice.threshold,
    )


def _stages(record: DegradationRecord) -> list[tuple[str, Callable[[np.ndarray], np.ndarray]]]:
    """The pipeline as an ordered list of (name, function); a None choice is a no-op."""
    final = {
        "final_resize": lambda a: resize(a, record.out_height, record.out_width, record.final_resize_mode),
        "final_sinc": lambda a: _blur(a, record.final_sinc),
        "jpeg_final": lambda a: _jpeg(a, record.jpeg_final),
    }
    final_order = (
        ("final_resize", "final_sinc", "jpeg_final")
        if record.final_order == "resize_sinc_jpeg"
        else ("jpeg_final", "final_resize", "final_sinc")
    )
    return [
        ("sharpen", lambda a: _sharpen(a, record.sharpen)),
        ("blur1", lambda a: _blur(a, record.blur1)),
        ("resize1", lambda a: _resize_to(a, record.resize1)),
        ("noise1", lambda a: _noise(a, record.noise1)),
        ("jpeg1", lambda a: _jpeg(a, record.jpeg1)),
        ("blur2", lambda a: _blur(a, record.blur2)),
        ("resize2", lambda a: _resize_to(a, record.resize2)),
        ("noise2", lambda a: _noise(a, record.noise2)),
        *((name, final[name]) for name in final_order),
    ]


def _apply(
    planes: Planes, record: DegradationRecord, progress: ProgressCallback | None, cancel: CancelHook | None
) -> np.ndarray:
    h, w = planes.color.shape[:2]
    if (h, w) != (record.height, record.width):
        raise InvalidImageError(
            f"the record was sampled for a {record.width}×{record.height} image but this one is {w}×{h}; "
            f"sample a new record with sample_degradation(rng, height={h}, width={w}, ...)"
        )
    x = planes.color
    stages = _stages(record)
    for done, (name, stage) in enumerate(stages, start=1):
        if cancel is not None and cancel():
            raise OperationCancelledError(
                f"the degradation was cancelled before {name}; nothing was returned"
            )
        x = stage(x)
        if progress is not None:
            progress(done, len(stages), name)
    levels = np.clip(np.round(x * 255.0), 0, 255).astype(np.uint8)  # Real-ESRGAN's final 8-bit rounding
    return merge_planes(levels, planes)


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise InvalidParameterError(f"seed must be an integer ≥ 0; got {seed!r}")
    return int(seed)


def derive_seed(seed: int, name: str) -> int:
    """A per-file seed from a base seed and a file name: SHA-256 based, so stable everywhere.

    Result is in 0 … 2**53 − 1 (exact in JSON for every reader).
    """
    seed = _check_seed(seed)
    if not isinstance(name, str):
        raise InvalidParameterError(f"name must be a string (a file name); got {type(name).__name__}")
    digest = hashlib.sha256(f"realesrgan-kit/degrade\0{seed}\0{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % NOISE_SEED_LIMIT


def degrade(
    image: np.ndarray,
    *,
    seed: int,
    scale: float = 4,
    preset: str = "realesrgan",
    enabled: Mapping[str, bool] | None = None,
    overrides: Mapping[str, Any] | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelHook | None = None,
) -> DegradeResult:
    """Sample a degradation from ``preset`` (+ ``overrides``) with ``seed`` and apply it.

    ``preset`` may also be a DegradationSettings. ``progress``/``cancel``: see apply_degradation.
    """
    seed = _check_seed(seed)
    settings = settings_from(preset, overrides)
    planes = split_image(image)
    height, width = planes.color.shape[:2]
    record = sample_degradation(
        np.random.default_rng(seed),
        height=height,
        width=width,
        scale=scale,
        settings=settings,
        enabled=enabled,
    )
    return DegradeResult(_apply(planes, record, progress, cancel), record)
