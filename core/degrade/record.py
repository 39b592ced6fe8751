"""The record of one sampled degradation: every random choice, enough to replay it exactly.

A step that was switched off, or not chosen by its probability (the second blur at 20 %, the
final sinc at 20 %), is ``None``; ``disabled`` lists the steps the caller switched off.
Records are validated on construction, so a hand-edited JSON fails with a clear message.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from ..errors import InvalidParameterError
from . import kernels
from .jpeg import check_quality
from .resize_modes import RESIZE_MODES

__all__ = [
    "RECORD_FORMAT",
    "STEPS",
    "FINAL_ORDERS",
    "SharpenChoice",
    "KernelChoice",
    "ResizeChoice",
    "NoiseChoice",
    "DegradationRecord",
]

RECORD_FORMAT = 1
#: Every switchable step, in pipeline order. The final resize to the exact output size is not
#: switchable (it defines the output).
STEPS: tuple[str, ...] = (
    "sharpen",
    "blur1",
    "resize1",
    "noise1",
    "jpeg1",
    "blur2",
    "resize2",
    "noise2",
    "final_sinc",
    "jpeg_final",
)
#: "resize_sinc_jpeg": [resize to output + sinc] then JPEG; "jpeg_resize_sinc": the reverse.
FINAL_ORDERS: tuple[str, ...] = ("resize_sinc_jpeg", "jpeg_resize_sinc")
NOISE_KINDS: tuple[str, ...] = ("gaussian", "poisson")
RESIZE_DIRECTIONS: tuple[str, ...] = ("up", "down", "keep")


def _bad(what: str, value: object, expected: str) -> InvalidParameterError:
    return InvalidParameterError(f"degradation record: {what} must be {expected}; got {value!r}")


def _int(what: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise _bad(what, value, f"an integer ≥ {minimum}")
    return int(value)


def _float(what: str, value: object, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise _bad(what, value, "a finite number")
    if positive and value <= 0:
        raise _bad(what, value, "a finite number > 0")
    return float(value)


def _choice(what: str, value: object, options: tuple[str, ...]) -> str:
    if value not in options:
        raise _bad(what, value, f"one of {', '.join(options)}")
    return str(value)


@dataclass(frozen=True)
class SharpenChoice:
    """USM sharpening of the input (deterministic: no random choice)."""

    weight: float = 0.5
    kernel_size: int = 51
    sigma: float = 8.0
    threshold: float = 10.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "kernel_size", _int("sharpen.kernel_size", self.kernel_size, 1))
        if self.kernel_size % 2 == 0:
            raise _bad("sharpen.kernel_size", self.kernel_size, "odd")
        object.__setattr__(self, "sigma", _float("sharpen.sigma", self.sigma, positive=True))
        for name in ("weight", "threshold"):
            v = _float(f"sharpen.{name}", getattr(self, name))
            if v < 0:
                raise _bad(f"sharpen.{name}", v, "≥ 0")
            object.__setattr__(self, name, v)


def _checked(value: float | None, name: str) -> float:
    """A field that ``__post_init__`` requires for this kind (so never None here)."""
    if value is None:
        raise AssertionError(f"{name} is required for this kind and was checked on construction")
    return value


@dataclass(frozen=True)
class KernelChoice:
    """A blur or sinc kernel. Isotropic kinds have sigma_y = sigma_x and theta = 0."""

    kind: str
    size: int
    sigma_x: float | None = None
    sigma_y: float | None = None
    theta: float | None = None
    beta: float | None = None
    omega: float | None = None

    def __post_init__(self) -> None:
        _choice("kernel kind", self.kind, kernels.KERNEL_TYPES)
        size = _int("kernel size", self.size)
        if size % 2 == 0:
            raise _bad("kernel size", size, "odd")
        object.__setattr__(self, "size", size)
        if self.kind == "sinc":
            omega = _float("sinc omega", self.omega, positive=True)
            object.__setattr__(self, "omega", omega)
            if omega > math.pi + 1e-9:
                raise _bad("sinc omega", omega, "at most π")
            return
        for name in ("sigma_x", "sigma_y"):
            object.__setattr__(self, name, _float(f"kernel {name}", getattr(self, name), positive=True))
        object.__setattr__(self, "theta", _float("kernel theta", self.theta))
        if self.kind.startswith(("generalized", "plateau")):
            object.__setattr__(self, "beta", _float("kernel beta", self.beta, positive=True))

    def matrix(self, pad_to: int | None = None) -> np.ndarray:
        """The kernel (float64, sum 1); ``pad_to=21`` zero-pads it as Real-ESRGAN does."""
        if self.kind == "sinc":
            k = kernels.sinc_kernel(self.size, _checked(self.omega, "omega"))
        else:
            iso = self.kind.endswith("iso") and not self.kind.endswith("aniso")
            sx = _checked(self.sigma_x, "sigma_x")
            sy, theta = (None, 0.0) if iso else (self.sigma_y, _checked(self.theta, "theta"))
            if self.kind.startswith("generalized"):
                k = kernels.generalized_gaussian_kernel(
                    self.size, sx, sy, theta, beta=_checked(self.beta, "beta")
                )
            elif self.kind.startswith("plateau"):
                k = kernels.plateau_kernel(self.size, sx, sy, theta, beta=_checked(self.beta, "beta"))
            else:
                k = kernels.gaussian_kernel(self.size, sx, sy, theta)
        return kernels.pad_kernel(k, pad_to) if pad_to else k

    def describe(self) -> str:
        if self.kind == "sinc":
            return f"sinc {self.size}px ω={self.omega:.3f}"
        text = f"{self.kind} {self.size}px σ={self.sigma_x:.2f}"
        if "aniso" in self.kind:
            text += f"/{self.sigma_y:.2f} θ={math.degrees(_checked(self.theta, 'theta')):.0f}°"
        if self.beta is not None:
            text += f" β={self.beta:.2f}"
        return text


@dataclass(frozen=True)
class ResizeChoice:
    """A resize: direction and factor as drawn, the mode, and the exact target size."""

    direction: str
    factor: float
    mode: str
    height: int
    width: int

    def __post_init__(self) -> None:
        _choice("resize direction", self.direction, RESIZE_DIRECTIONS)
        object.__setattr__(self, "factor", _float("resize factor", self.factor, positive=True))
        _choice("resize mode", self.mode, RESIZE_MODES)
        object.__setattr__(self, "height", _int("resize height", self.height))
        object.__setattr__(self, "width", _int("resize width", self.width))

    def describe(self) -> str:
        return f"{self.direction} ×{self.factor:.3f} {self.mode} → {self.width}×{self.height}"


@dataclass(frozen=True)
class NoiseChoice:
    """Gaussian (sigma in 8-bit levels) or Poisson (scale) noise; ``seed`` drives the field."""

    kind: str
    gray: bool
    seed: int
    sigma: float | None = None
    scale: float | None = None

    def __post_init__(self) -> None:
        _choice("noise kind", self.kind, NOISE_KINDS)
        if not isinstance(self.gray, (bool, np.bool_)):
            raise _bad("noise gray", self.gray, "true or false")
        object.__setattr__(self, "gray", bool(self.gray))
        object.__setattr__(self, "seed", _int("noise seed", self.seed, 0))
        level_name = "sigma" if self.kind == "gaussian" else "scale"
        level = _float(f"noise {level_name}", getattr(self, level_name))
        if level < 0:
            raise _bad(f"noise {level_name}", level, "≥ 0")
        object.__setattr__(self, level_name, level)

    @property
    def level(self) -> float:
        """The noise strength this kind uses: ``sigma`` for Gaussian, ``scale`` for Poisson."""
        return _checked(self.sigma if self.kind == "gaussian" else self.scale, "noise level")

    def describe(self) -> str:
        level = f"σ={self.sigma:.1f}" if self.kind == "gaussian" else f"scale={self.scale:.2f}"
        return f"{self.kind} {level} {'gray' if self.gray else 'colour'}"


_NESTED = {
    "sharpen": SharpenChoice,
    "blur1": KernelChoice,
    "resize1": ResizeChoice,
    "noise1": NoiseChoice,
    "blur2": KernelChoice,
    "resize2": ResizeChoice,
    "noise2": NoiseChoice,
    "final_sinc": KernelChoice,
}


@dataclass(frozen=True)
class DegradationRecord:
    """Everything sampled for one image of ``height``×``width`` at ``scale``.

    ``out_height``×``out_width`` is the exact output size (see ``output_size``); the stage-2
    resize size is relative to it, as in Real-ESRGAN.
    """

    height: int
    width: int
    scale: float
    out_height: int
    out_width: int
    sharpen: SharpenChoice | None
    blur1: KernelChoice | None
    resize1: ResizeChoice | None
    noise1: NoiseChoice | None
    jpeg1: int | None
    blur2: KernelChoice | None
    resize2: ResizeChoice | None
    noise2: NoiseChoice | None
    final_order: str
    final_resize_mode: str
    final_sinc: KernelChoice | None
    jpeg_final: int | None
    disabled: tuple[str, ...] = ()
    format: int = RECORD_FORMAT

    def __post_init__(self) -> None:
        for name in ("height", "width", "out_height", "out_width"):
            object.__setattr__(self, name, _int(name, getattr(self, name)))
        object.__setattr__(self, "scale", _float("scale", self.scale, positive=True))
        for name, kind in _NESTED.items():
            value = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                raise _bad(name, value, f"a {kind.__name__} or None")
        for name in ("jpeg1", "jpeg_final"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_quality(getattr(self, name)))
        _choice("final_order", self.final_order, FINAL_ORDERS)
        _choice("final_resize_mode", self.final_resize_mode, RESIZE_MODES)
        disabled = tuple(self.disabled)
        for step in disabled:
            _choice("disabled step", step, STEPS)
        object.__setattr__(self, "disabled", disabled)
        if self.format != RECORD_FORMAT:
            raise _bad(
                "format", self.format, f"{RECORD_FORMAT} (records of another version cannot be replayed)"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (plain dicts, lists, numbers, strings, None)."""
        d = dataclasses.asdict(self)
        d["disabled"] = list(self.disabled)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DegradationRecord:
        """Rebuild (and validate) a record from ``to_dict`` output, e.g. a JSON sidecar."""
        if not isinstance(data, Mapping):
            raise _bad("record", type(data).__name__, "a mapping (the JSON object of to_dict)")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown, missing = (
            set(data) - names,
            {n for n in names - set(data) if n not in ("disabled", "format")},
        )
        if unknown or missing:
            raise InvalidParameterError(
                f"degradation record: unexpected keys {sorted(unknown)} / missing keys {sorted(missing)}; "
                "pass the object written by DegradationRecord.to_dict()"
            )
        values = dict(data)
        for name, kind in _NESTED.items():
            nested = values[name]
            if nested is not None:
                if not isinstance(nested, Mapping):
                    raise _bad(name, nested, "an object or null")
                try:
                    values[name] = kind(**nested)
                except TypeError as exc:
                    raise InvalidParameterError(
                        f"degradation record: {name} has the wrong keys ({exc})"
                    ) from None
        return cls(**values)

    def summary(self) -> str:
        """One line per applied step, for previews and logs."""
        parts = []
        if self.sharpen:
            parts.append(f"sharpen USM w={self.sharpen.weight:g}")
        for label, value in (("blur1", self.blur1), ("resize1", self.resize1), ("noise1", self.noise1)):
            if value is not None:
                parts.append(f"{label} {value.describe()}")
        if self.jpeg1 is not None:
            parts.append(f"jpeg1 q={self.jpeg1}")
        for label, value in (("blur2", self.blur2), ("resize2", self.resize2), ("noise2", self.noise2)):
            if value is not None:
                parts.append(f"{label} {value.describe()}")
        final = [f"resize {self.final_resize_mode} → {self.out_width}×{self.out_height}"]
        final.append(self.final_sinc.describe() if self.final_sinc else "no sinc")
        jpeg = [f"jpeg q={self.jpeg_final}"] if self.jpeg_final is not None else []
        final = final + jpeg if self.final_order == "resize_sinc_jpeg" else jpeg + final
        parts.append("final " + " + ".join(final))
        return "\n".join(parts)
