"""Draw every random choice of one degradation into a record (no image work here).

Every step draws a fixed number of uniforms in a fixed order whatever is chosen or switched
off, and maps them through the distributions. So, for one seed:

- switching a step off leaves every other step's choices unchanged;
- changing a range moves the value continuously (a σ range widened from (1, 30) to (1, 40)
  moves σ in proportion), which keeps previews stable while a slider moves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from numbers import Real

import numpy as np

from ..errors import InvalidImageError, InvalidParameterError
from .kernels import MIXED_KERNEL_TYPES
from .record import (
    FINAL_ORDERS,
    RESIZE_DIRECTIONS,
    STEPS,
    DegradationRecord,
    KernelChoice,
    NoiseChoice,
    ResizeChoice,
    SharpenChoice,
)
from .resize_modes import RESIZE_MODES
from .settings import PRESETS, DegradationSettings, settings_from

__all__ = ["sample_degradation", "output_size", "check_scale", "NOISE_SEED_LIMIT"]

#: Noise seeds are below 2**53 so that JSON readers using doubles (JavaScript) keep them exact.
NOISE_SEED_LIMIT = 2**53
_MIN_SCALE, _MAX_SCALE = 1.0, 4.0
# Absorbs float error in h/scale (e.g. 11 / 2.2 = 4.999999…) before flooring.
_SIZE_EPS = 1e-9


def check_scale(scale: object) -> float:
    number = float(scale) if isinstance(scale, Real) and not isinstance(scale, bool) else math.nan
    if not math.isfinite(number):
        raise InvalidParameterError(f"scale must be a number from 1 to 4; got {scale!r}")
    if not _MIN_SCALE <= number <= _MAX_SCALE:
        raise InvalidParameterError(
            f"scale must be from 1 to 4 (the output is the input size ÷ scale); got {scale!r}"
        )
    return number


def _floor_size(value: float) -> int:
    return max(1, math.floor(value + _SIZE_EPS))


def output_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """The exact output size: floor(H / scale) × floor(W / scale).

    Floor, as Real-ESRGAN's ``ori_h // scale``: the output grid then covers the top-left
    (out·scale) pixels of the input exactly, so an integer-scale pair aligns pixel for pixel.
    """
    scale = check_scale(scale)
    for name, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InvalidImageError(f"image {name} must be a positive integer; got {value!r}")
    out_h, out_w = math.floor(height / scale + _SIZE_EPS), math.floor(width / scale + _SIZE_EPS)
    if out_h < 1 or out_w < 1:
        raise InvalidImageError(
            f"a {width}×{height} image is smaller than the scale {scale:g}: the output would be empty"
        )
    return out_h, out_w


def _categorical(u: float, probs: Sequence[float]) -> int:
    cumulative = 0.0
    for i, p in enumerate(probs):
        cumulative += p
        if u < cumulative:
            return i
    return max(i for i, p in enumerate(probs) if p > 0)  # u beyond a sum rounded below 1


def _uniform(u: float, bounds: tuple[float, float]) -> float:
    lo, hi = bounds
    return lo + (hi - lo) * u


def _pick(u: float, options: Sequence):
    return options[min(int(u * len(options)), len(options) - 1)]


def _split_range(u_branch: float, u_value: float, bounds: tuple[float, float]) -> float:
    # BasicSR: U(low, 1) or U(1, high) with ½ each (so betap (1, 2) gives β = 1 half the time).
    lo, hi = bounds
    return _uniform(u_value, (lo, 1.0) if u_branch < 0.5 else (1.0, hi))


def _kernel(u: np.ndarray, s: DegradationSettings, stage: str) -> KernelChoice:
    sfx = "" if stage == "1" else "2"
    size = _pick(u[0], s.kernel_range)
    if u[1] < getattr(s, f"sinc_prob{sfx}"):
        omega_range = s.sinc_omega_small if size < 13 else s.sinc_omega_large
        return KernelChoice("sinc", size, omega=_uniform(u[2], omega_range))
    kind = MIXED_KERNEL_TYPES[_categorical(u[3], getattr(s, f"kernel_prob{sfx}"))]
    sigma_range = getattr(s, f"blur_sigma{sfx}")
    sigma_x = _uniform(u[4], sigma_range)
    if "aniso" in kind:
        sigma_y, theta = _uniform(u[5], sigma_range), _uniform(u[6], (-math.pi, math.pi))
    else:
        sigma_y, theta = sigma_x, 0.0
    beta = None
    if kind.startswith("generalized"):
        beta = _split_range(u[7], u[8], getattr(s, f"betag_range{sfx}"))
    elif kind.startswith("plateau"):
        beta = _split_range(u[7], u[8], getattr(s, f"betap_range{sfx}"))
    return KernelChoice(kind, size, sigma_x=sigma_x, sigma_y=sigma_y, theta=theta, beta=beta)


def _resize(u: np.ndarray, probs, bounds, s: DegradationSettings, base: tuple[float, float]) -> ResizeChoice:
    direction = RESIZE_DIRECTIONS[_categorical(u[0], probs)]
    lo, hi = bounds
    factor = {"up": _uniform(u[1], (1.0, hi)), "down": _uniform(u[1], (lo, 1.0)), "keep": 1.0}[direction]
    mode = RESIZE_MODES[_categorical(u[2], s.resize_mode_prob)]
    return ResizeChoice(direction, factor, mode, _floor_size(base[0] * factor), _floor_size(base[1] * factor))


def _noise(u: np.ndarray, seed: int, s: DegradationSettings, sfx: str) -> NoiseChoice:
    gray = bool(u[2] < getattr(s, f"gray_noise_prob{sfx}"))
    if u[0] < getattr(s, f"gaussian_noise_prob{sfx}"):
        return NoiseChoice("gaussian", gray, seed, sigma=_uniform(u[1], getattr(s, f"noise_range{sfx}")))
    return NoiseChoice("poisson", gray, seed, scale=_uniform(u[1], getattr(s, f"poisson_scale_range{sfx}")))


def _quality(u: float, bounds: tuple[int, int]) -> int:
    # Uniform over the integers low..high: the real codec takes integer qualities.
    lo, hi = bounds
    return lo + min(int(u * (hi - lo + 1)), hi - lo)


def _resolve_enabled(enabled: Mapping[str, bool] | None) -> dict[str, bool]:
    on = dict.fromkeys(STEPS, True)
    for step, value in dict(enabled or {}).items():
        if step not in on:
            raise InvalidParameterError(
                f"unknown degradation step {step!r}; the steps are {', '.join(STEPS)}"
            )
        if not isinstance(value, (bool, np.bool_)):
            raise InvalidParameterError(f"step {step!r} must be switched with true or false; got {value!r}")
        on[step] = bool(value)
    return on


def sample_degradation(
    rng: np.random.Generator,
    *,
    height: int,
    width: int,
    scale: float = 4,
    settings: DegradationSettings | str = PRESETS["realesrgan"],
    enabled: Mapping[str, bool] | None = None,
) -> DegradationRecord:
    """Draw one degradation for a ``height``×``width`` input, reduced by ``scale`` (1–4).

    All randomness comes from ``rng`` (a ``numpy.random.Generator``); the noise fields get
    their own seeds, drawn here and stored in the record.
    """
    if not isinstance(rng, np.random.Generator):
        raise InvalidParameterError(
            f"rng must be a numpy.random.Generator (np.random.default_rng(seed)); got {type(rng).__name__}"
        )
    s = settings if isinstance(settings, DegradationSettings) else settings_from(settings)
    on = _resolve_enabled(enabled)
    scale = check_scale(scale)
    out_h, out_w = output_size(height, width, scale)

    # Fixed draw order and counts (see the module docstring).
    blur1 = _kernel(rng.random(9), s, "1")
    resize1 = _resize(rng.random(3), s.resize_prob, s.resize_range, s, (height, width))
    noise1 = _noise(rng.random(3), int(rng.integers(NOISE_SEED_LIMIT)), s, "")
    jpeg1 = _quality(rng.random(), s.jpeg_range)
    blur2_chosen = rng.random() < s.second_blur_prob
    blur2 = _kernel(rng.random(9), s, "2")
    resize2 = _resize(rng.random(3), s.resize_prob2, s.resize_range2, s, (height / scale, width / scale))
    noise2 = _noise(rng.random(3), int(rng.integers(NOISE_SEED_LIMIT)), s, "2")
    u_order, u_mode, u_sinc, u_size, u_omega, u_jpeg = rng.random(6)
    final_sinc = KernelChoice(
        "sinc", _pick(u_size, s.kernel_range), omega=_uniform(u_omega, s.final_sinc_omega)
    )

    def keep(step: str, value, chosen: bool = True):
        return value if on[step] and chosen else None

    return DegradationRecord(
        height=height,
        width=width,
        scale=scale,
        out_height=out_h,
        out_width=out_w,
        sharpen=keep("sharpen", SharpenChoice(s.usm_weight, s.usm_kernel_size, s.usm_sigma, s.usm_threshold)),
        blur1=keep("blur1", blur1),
        resize1=keep("resize1", resize1),
        noise1=keep("noise1", noise1),
        jpeg1=keep("jpeg1", jpeg1),
        blur2=keep("blur2", blur2, blur2_chosen),
        resize2=keep("resize2", resize2),
        noise2=keep("noise2", noise2),
        final_order=FINAL_ORDERS[0] if u_order < s.final_resize_first_prob else FINAL_ORDERS[1],
        final_resize_mode=RESIZE_MODES[_categorical(u_mode, s.resize_mode_prob)],
        final_sinc=keep("final_sinc", final_sinc, u_sinc < s.final_sinc_prob),
        jpeg_final=keep("jpeg_final", _quality(u_jpeg, s.jpeg_range2)),
        disabled=tuple(step for step in STEPS if not on[step]),
    )
