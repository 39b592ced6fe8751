"""Every probability and range of the degradation, the presets, and overrides.

Field names are those of Real-ESRGAN's ``train_realesrgan_x4plus.yml`` (``noise_range``,
``resize_prob2``, ``second_blur_prob`` ...) so a training config maps onto them one to one;
fields that Real-ESRGAN hard-codes (sinc cut-off ranges, kernel sizes, USM, the 50 % final
order) are named here and overridable too. Suffix ``2`` = the second stage.

The ``realesrgan`` preset is the training distribution of RealESRGAN_x4plus exactly
(the ``degradation`` block of Real-ESRGAN's ``options/train_realesrgan_x4plus.yml``, plus the
training code ``realesrgan/models/realesrgan_model.py`` where the config is silent). ``light`` and ``heavy`` are ours.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
from collections.abc import Iterable, Mapping, Sized
from dataclasses import dataclass
from numbers import Integral, Real
from types import MappingProxyType
from typing import Any

from ..errors import InvalidParameterError
from ..options import DEGRADE_PRESETS
from .kernels import MIXED_KERNEL_TYPES
from .resize_modes import RESIZE_MODES

__all__ = ["DegradationSettings", "PRESETS", "settings_from", "parse_setting"]

_PI = math.pi
_KERNEL_PROB = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)


@dataclass(frozen=True)
class DegradationSettings:
    """The sampling distribution. Ranges are (low, high) and drawn uniformly.

    Kernel probabilities follow the order of ``kernels.MIXED_KERNEL_TYPES``; resize
    probabilities are (up, down, keep); ``resize_mode_prob`` is (area, bilinear, bicubic).
    """

    # -- kernels shared by both stages
    kernel_range: tuple[int, ...] = (7, 9, 11, 13, 15, 17, 19, 21)
    sinc_omega_small: tuple[float, float] = (_PI / 3, _PI)  # stage sinc, kernel size < 13
    sinc_omega_large: tuple[float, float] = (_PI / 5, _PI)  # stage sinc, kernel size ≥ 13
    resize_mode_prob: tuple[float, ...] = (1 / 3, 1 / 3, 1 / 3)
    # -- USM sharpening of the input (Real-ESRGAN: radius 50 → 51 taps, σ from OpenCV's rule)
    usm_weight: float = 0.5
    usm_kernel_size: int = 51
    usm_sigma: float = 8.0
    usm_threshold: float = 10.0  # 8-bit levels
    # -- stage 1
    kernel_prob: tuple[float, ...] = _KERNEL_PROB
    sinc_prob: float = 0.1
    blur_sigma: tuple[float, float] = (0.2, 3.0)
    betag_range: tuple[float, float] = (0.5, 4.0)
    betap_range: tuple[float, float] = (1.0, 2.0)
    resize_prob: tuple[float, ...] = (0.2, 0.7, 0.1)
    resize_range: tuple[float, float] = (0.15, 1.5)
    gaussian_noise_prob: float = 0.5
    noise_range: tuple[float, float] = (1.0, 30.0)  # σ in 8-bit levels
    poisson_scale_range: tuple[float, float] = (0.05, 3.0)
    gray_noise_prob: float = 0.4
    jpeg_range: tuple[int, int] = (30, 95)
    # -- stage 2
    second_blur_prob: float = 0.8
    kernel_prob2: tuple[float, ...] = _KERNEL_PROB
    sinc_prob2: float = 0.1
    blur_sigma2: tuple[float, float] = (0.2, 1.5)
    betag_range2: tuple[float, float] = (0.5, 4.0)
    betap_range2: tuple[float, float] = (1.0, 2.0)
    resize_prob2: tuple[float, ...] = (0.3, 0.4, 0.3)
    resize_range2: tuple[float, float] = (0.3, 1.2)  # relative to the final LR size
    gaussian_noise_prob2: float = 0.5
    noise_range2: tuple[float, float] = (1.0, 25.0)
    poisson_scale_range2: tuple[float, float] = (0.05, 2.5)
    gray_noise_prob2: float = 0.4
    jpeg_range2: tuple[int, int] = (30, 95)  # the final JPEG
    # -- final step
    final_sinc_prob: float = 0.8
    final_sinc_omega: tuple[float, float] = (_PI / 3, _PI)
    final_resize_first_prob: float = 0.5  # [resize + sinc] then JPEG; else JPEG first

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _FIELD_CHECKS[f.name](f.name, getattr(self, f.name)))

    def replace(self, **overrides: Any) -> DegradationSettings:
        """A copy with some fields changed (validated; strings are parsed as on the CLI)."""
        known = {f.name for f in dataclasses.fields(self)}
        for key in overrides:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=3)
                hint = (
                    f"; did you mean {', '.join(close)}?"
                    if close
                    else f"; known settings: {', '.join(sorted(known))}"
                )
                raise InvalidParameterError(f"unknown degradation setting {key!r}{hint}")
        parsed = {k: parse_setting(k, v) if isinstance(v, str) else v for k, v in overrides.items()}
        return dataclasses.replace(self, **parsed)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tuples become lists."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v
            for f in dataclasses.fields(self)
        }


# ----------------------------------------------------------------------------- validation


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise InvalidParameterError(f"setting {name} must be a finite number; got {value!r}")
    return float(value)


def _pair(name: str, value: object) -> tuple[float, float]:
    if (
        isinstance(value, (str, bytes))
        or not isinstance(value, Sized)
        or not isinstance(value, Iterable)
        or len(value) != 2
    ):
        raise InvalidParameterError(f"setting {name} must be a (low, high) pair; got {value!r}")
    lo, hi = (_number(name, v) for v in value)
    if lo > hi:
        raise InvalidParameterError(f"setting {name} must have low ≤ high; got ({lo:g}, {hi:g})")
    return lo, hi


def _probability(name: str, value: object) -> float:
    p = _number(name, value)
    if not 0 <= p <= 1:
        raise InvalidParameterError(f"setting {name} is a probability and must be in 0..1; got {p:g}")
    return p


def _distribution(length: int, labels: tuple[str, ...]):
    def check(name: str, value: object) -> tuple[float, ...]:
        if (
            isinstance(value, (str, bytes))
            or not isinstance(value, Sized)
            or not isinstance(value, Iterable)
            or len(value) != length
        ):
            raise InvalidParameterError(
                f"setting {name} must list {length} probabilities ({', '.join(labels)}); got {value!r}"
            )
        probs = tuple(_number(name, v) for v in value)
        if any(p < 0 for p in probs) or not math.isclose(sum(probs), 1.0, abs_tol=1e-6):
            raise InvalidParameterError(
                f"setting {name} must be {length} probabilities ≥ 0 summing to 1 ({', '.join(labels)}); got {probs} (sum {sum(probs):g})"
            )
        return probs

    return check


def _positive_range(name: str, value: object) -> tuple[float, float]:
    lo, hi = _pair(name, value)
    if lo <= 0:
        raise InvalidParameterError(f"setting {name} must be > 0 (a blur σ in pixels); got ({lo:g}, {hi:g})")
    return lo, hi


def _around_one(upper_limit: float, what: str):
    # Real-ESRGAN draws U(low, 1) or U(1, high), so 1 must lie inside the range.
    def check(name: str, value: object) -> tuple[float, float]:
        lo, hi = _pair(name, value)
        if not 0 < lo <= 1 <= hi <= upper_limit:
            raise InvalidParameterError(
                f"setting {name} ({what}) needs 0 < low ≤ 1 ≤ high ≤ {upper_limit:g}, because values are drawn "
                f"from U(low, 1) or U(1, high); got ({lo:g}, {hi:g})"
            )
        return lo, hi

    return check


def _nonnegative_range(upper_limit: float, what: str):
    def check(name: str, value: object) -> tuple[float, float]:
        lo, hi = _pair(name, value)
        if not 0 <= lo <= hi <= upper_limit:
            raise InvalidParameterError(
                f"setting {name} ({what}) needs 0 ≤ low ≤ high ≤ {upper_limit:g}; got ({lo:g}, {hi:g})"
            )
        return lo, hi

    return check


def _omega_range(name: str, value: object) -> tuple[float, float]:
    lo, hi = _pair(name, value)
    if not 0 < lo <= hi <= _PI + 1e-9:
        raise InvalidParameterError(
            f"setting {name} (sinc cut-off in radians) needs 0 < low ≤ high ≤ π; got ({lo:g}, {hi:g})"
        )
    return lo, min(hi, _PI)


def _jpeg_range(name: str, value: object) -> tuple[int, int]:
    lo, hi = _pair(name, value)
    if lo != int(lo) or hi != int(hi) or not 0 <= lo <= hi <= 100:
        raise InvalidParameterError(
            f"setting {name} (JPEG quality) needs integers 0 ≤ low ≤ high ≤ 100; got ({lo:g}, {hi:g})"
        )
    return int(lo), int(hi)


def _kernel_sizes(name: str, value: object) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidParameterError(
            f"setting {name} must list odd kernel sizes such as 7,9,...,21; got {value!r}"
        )
    sizes = tuple(value)
    if not sizes or any(
        isinstance(s, bool) or not isinstance(s, Integral) or not 1 <= int(s) <= 41 or int(s) % 2 == 0
        for s in sizes
    ):
        raise InvalidParameterError(f"setting {name} must list odd kernel sizes from 1 to 41; got {value!r}")
    return tuple(int(s) for s in sizes)


def _odd_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 3 or value % 2 == 0:
        raise InvalidParameterError(
            f"setting {name} must be an odd integer ≥ 3 (51 in Real-ESRGAN); got {value!r}"
        )
    return int(value)


def _nonnegative(name: str, value: object) -> float:
    v = _number(name, value)
    if v < 0:
        raise InvalidParameterError(f"setting {name} must be ≥ 0; got {v:g}")
    return v


def _positive(name: str, value: object) -> float:
    v = _number(name, value)
    if v <= 0:
        raise InvalidParameterError(f"setting {name} must be > 0; got {v:g}")
    return v


_kernel_dist = _distribution(6, MIXED_KERNEL_TYPES)
_resize_dist = _distribution(3, ("up", "down", "keep"))
_FIELD_CHECKS = {
    "kernel_range": _kernel_sizes,
    "sinc_omega_small": _omega_range,
    "sinc_omega_large": _omega_range,
    "resize_mode_prob": _distribution(3, RESIZE_MODES),
    "usm_weight": _nonnegative,
    "usm_kernel_size": _odd_size,
    "usm_sigma": _positive,
    "usm_threshold": _nonnegative,
    "final_sinc_prob": _probability,
    "final_sinc_omega": _omega_range,
    "final_resize_first_prob": _probability,
    "second_blur_prob": _probability,
}
for _suffix in ("", "2"):
    _FIELD_CHECKS.update(
        {
            f"kernel_prob{_suffix}": _kernel_dist,
            f"sinc_prob{_suffix}": _probability,
            f"blur_sigma{_suffix}": _positive_range,
            f"betag_range{_suffix}": _around_one(16, "generalized-Gaussian β"),
            f"betap_range{_suffix}": _around_one(16, "plateau β"),
            f"resize_prob{_suffix}": _resize_dist,
            f"resize_range{_suffix}": _around_one(4, "resize factor"),
            f"gaussian_noise_prob{_suffix}": _probability,
            f"noise_range{_suffix}": _nonnegative_range(255, "Gaussian σ in 8-bit levels"),
            f"poisson_scale_range{_suffix}": _nonnegative_range(100, "Poisson scale"),
            f"gray_noise_prob{_suffix}": _probability,
            f"jpeg_range{_suffix}": _jpeg_range,
        }
    )


# ------------------------------------------------------------------------------ overrides


def parse_setting(key: str, text: str) -> Any:
    """Parse a CLI/text value: ``0.3``, ``1,10``, ``[1, 10]`` or ``7,9,11`` (JSON also works)."""
    text = text.strip()
    try:
        value = json.loads(text if text.startswith("[") else f"[{text}]")
    except json.JSONDecodeError:
        raise InvalidParameterError(
            f"cannot read the value of {key}: {text!r}; write a number (0.3) or a list (1,10)"
        ) from None
    if not isinstance(value, list) or not value:
        raise InvalidParameterError(
            f"cannot read the value of {key}: {text!r}; write a number (0.3) or a list (1,10)"
        )
    if text.startswith("[") or len(value) > 1:
        return tuple(value)
    return value[0]


def settings_from(
    preset: str | DegradationSettings = "realesrgan", overrides: Mapping[str, Any] | None = None
) -> DegradationSettings:
    """A preset by name (or settings object) with ``overrides`` applied and validated."""
    if isinstance(preset, DegradationSettings):
        base = preset
    elif isinstance(preset, str) and preset in PRESETS:
        base = PRESETS[preset]
    else:
        raise InvalidParameterError(
            f"unknown degradation preset {preset!r}; choose one of {', '.join(PRESETS)}"
        )
    if not overrides:  # frozen and validated already: no copy to make (once per training sample)
        return base
    return base.replace(**dict(overrides))


_REALESRGAN = DegradationSettings()
_REALESRGAN_NAME, _LIGHT_NAME, _HEAVY_NAME = DEGRADE_PRESETS

PRESETS: Mapping[str, DegradationSettings] = MappingProxyType(
    {
        _REALESRGAN_NAME: _REALESRGAN,
        # Mild: phone photo shared once. Less blur, mostly shrinking, little noise, good JPEG.
        _LIGHT_NAME: _REALESRGAN.replace(
            sinc_prob=0.05,
            blur_sigma=(0.2, 1.5),
            resize_prob=(0.1, 0.6, 0.3),
            resize_range=(0.5, 1.2),
            noise_range=(1.0, 10.0),
            poisson_scale_range=(0.05, 1.0),
            jpeg_range=(60, 95),
            second_blur_prob=0.5,
            sinc_prob2=0.05,
            blur_sigma2=(0.2, 1.0),
            resize_prob2=(0.2, 0.3, 0.5),
            resize_range2=(0.7, 1.1),
            noise_range2=(1.0, 5.0),
            poisson_scale_range2=(0.05, 0.5),
            jpeg_range2=(70, 95),
            final_sinc_prob=0.5,
        ),
        # Harsh: re-shared, re-compressed web images. Wider blur, more noise, low JPEG quality.
        _HEAVY_NAME: _REALESRGAN.replace(
            sinc_prob=0.2,
            blur_sigma=(0.5, 4.0),
            resize_prob=(0.1, 0.8, 0.1),
            resize_range=(0.1, 1.5),
            noise_range=(5.0, 40.0),
            poisson_scale_range=(0.5, 4.0),
            jpeg_range=(15, 70),
            second_blur_prob=1.0,
            sinc_prob2=0.2,
            blur_sigma2=(0.5, 2.5),
            resize_prob2=(0.2, 0.6, 0.2),
            resize_range2=(0.2, 1.2),
            noise_range2=(5.0, 30.0),
            poisson_scale_range2=(0.5, 3.0),
            jpeg_range2=(15, 70),
            final_sinc_prob=0.9,
        ),
    }
)
