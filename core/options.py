"""Every setting's vocabulary, defined once: the engine checks against these lists, and the
nodes, widgets and CLI offer exactly them (no front end re-types a choice).

Plain data and one parser; importing this module costs nothing (no torch, no numpy).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from .errors import InvalidParameterError

__all__ = [
    "Tile",
    "TILE_AUTO",
    "TILE_WHOLE",
    "TILE_WORDS",
    "TILE_HELP",
    "parse_tile",
    "check_whole_number",
    "PRECISIONS",
    "TRAIN_PRECISIONS",
    "BACKENDS",
    "INT8_QUALITY",
    "ALPHA_MODES",
    "KEPT_ALPHA_MODES",
    "OUTPUT_SIZE_MODES",
    "DEGRADE_PRESETS",
    "DEGRADE_RESIZE_MODES",
    "Temporal",
    "TEMPORAL_AUTO",
    "TEMPORAL_OFF",
    "TEMPORAL_WORDS",
    "TEMPORAL_HELP",
    "DEFAULT_TEMPORAL",
    "DEFAULT_BATCH_TEMPORAL",
    "parse_temporal_choice",
    "UpscaleOptions",
    "UpscaleKeywords",
    "OPTION_NAMES",
]

# ---- tile -------------------------------------------------------------------------------
TILE_AUTO: Literal["auto"] = "auto"
"""The largest tile whose window fits the memory budget (the whole image when it fits)."""
TILE_WHOLE: Literal["whole"] = "whole"
"""One window over the whole image: no tiles, no seams, the most memory."""
TILE_WORDS: tuple[str, ...] = (TILE_AUTO, TILE_WHOLE)

Tile = Literal["auto", "whole"] | int
"""``"auto"``, ``"whole"`` or a tile size in input pixels (≥ 1): the core each window owns."""

TILE_HELP = (
    "'auto' (as large as free memory allows; the whole image when it fits), 'whole' (one window, "
    "no tiles) or a tile size in input pixels"
)


def check_whole_number(value: Any, name: str, *, minimum: int) -> int:
    """``value`` when it is an int ≥ ``minimum`` (not a bool), else an ``InvalidParameterError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidParameterError(f"{name} must be a whole number ≥ {minimum}, got {value!r}")
    return value


def parse_tile(value: object, *, name: str = "tile") -> Tile:
    """``value`` in the one tile vocabulary: ``"auto"``, ``"whole"`` or a positive int.

    Accepts the words in any case and numbers as ints or digit strings (CLI arguments, node
    text). ``0`` and ``None`` are deprecated aliases of ``"whole"`` (what they meant to the
    engine, CLI and tuner before the vocabulary had words); they warn once per call site.
    Anything else raises :class:`InvalidParameterError`.
    """
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value == 0):
        warnings.warn(
            f"{name}={value!r} is deprecated: it means the whole image, write {name}='whole'",
            DeprecationWarning,
            stacklevel=3,
        )
        return TILE_WHOLE
    if isinstance(value, str):
        text = value.strip().lower()
        if text == TILE_AUTO:
            return TILE_AUTO
        if text == TILE_WHOLE:
            return TILE_WHOLE
        if text.isdigit() and int(text) > 0:
            return int(text)
        if text.isdigit():
            return parse_tile(0, name=name)
    elif isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise InvalidParameterError(f"{name} must be {TILE_HELP}; got {value!r}")


# ---- engine settings ----------------------------------------------------------------------
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16", "int8")
"""Compute formats: ``auto`` picks the fastest the device runs well and the model supports;
``int8`` runs on the OpenVINO backend only (NNCF post-training quantisation, preview quality)."""
BACKENDS: tuple[str, ...] = ("auto", "torch", "openvino")
"""Who runs the network: ``auto`` picks per machine and model (``core.engine.backends``)."""
INT8_QUALITY = "PSNR against fp32 on our sample photos: about 39 dB with realesr-animevideov3, 34 dB with RealESRGAN_x4plus"
"""The measured quality of ``precision="int8"``, quoted by every front end's help."""
TRAIN_PRECISIONS: tuple[str, ...] = tuple(p for p in PRECISIONS if p != "int8")
"""What fine-tuning accepts: int8 is an inference-only (quantised) format."""

KEPT_ALPHA_MODES: tuple[str, ...] = ("model", "resize")
"""Alpha handling that keeps the channel: through the network, or a smooth resize."""
ALPHA_MODES: tuple[str, ...] = (*KEPT_ALPHA_MODES, "drop")
"""Every alpha handling the engine knows (``drop`` removes the channel)."""

OUTPUT_SIZE_MODES: tuple[str, ...] = ("model scale", "outscale", "target size")
"""How a front end asks for the output size: the model's scale, a factor, or width/height."""

# ---- degradation settings ----------------------------------------------------------------
DEGRADE_PRESETS: tuple[str, ...] = ("realesrgan", "light", "heavy")
"""Names of the degradation presets (their ranges live in ``core.degrade.settings``)."""
DEGRADE_RESIZE_MODES: tuple[str, ...] = ("area", "bilinear", "bicubic")
"""Interpolations the degradation pipeline samples from."""


# ---- temporal stabilisation (videos) ------------------------------------------------------
TEMPORAL_AUTO: Literal["auto"] = "auto"
"""The method's measured default strength (``core.video.temporal`` resolves it)."""
TEMPORAL_OFF: Literal["off"] = "off"
"""Frame-wise output, exactly as without the temporal stage."""
TEMPORAL_WORDS: tuple[str, ...] = (TEMPORAL_AUTO, TEMPORAL_OFF)

Temporal = Literal["auto", "off"] | float
"""``"auto"``, ``"off"`` or a strength in [0, 1] (0 gives the frame-wise output bit for bit)."""

TEMPORAL_HELP = (
    "flicker reduction across frames: 'auto' (the measured default strength), 'off' (frame-wise, "
    "as an image upscale) or a strength from 0 (off) to 1"
)

DEFAULT_TEMPORAL: Temporal = TEMPORAL_OFF
"""What videos get when nothing is asked: one constant, so that turning 'auto' on for every
video front end is this one line (the lead decides it from benchmarks/bench_temporal.py)."""
DEFAULT_BATCH_TEMPORAL: Temporal = TEMPORAL_OFF
"""The image node's default: a batch of unrelated images must never be blended."""


def parse_temporal_choice(value: object, *, name: str = "temporal") -> Temporal:
    """``value`` in the one temporal vocabulary: ``"auto"``, ``"off"`` or a float in [0, 1].

    Accepts the words in any case and strengths as numbers or text (CLI arguments, node text);
    ``None`` is the default (:data:`DEFAULT_TEMPORAL`). Anything else raises
    :class:`InvalidParameterError`. ``core.video.temporal.parse_temporal`` turns the choice
    into the method's settings.
    """
    if value is None:
        return DEFAULT_TEMPORAL
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TEMPORAL_WORDS:
            return TEMPORAL_AUTO if text == TEMPORAL_AUTO else TEMPORAL_OFF
        try:
            strength = float(text)
        except ValueError:
            strength = None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        strength = float(value)
    else:
        strength = None
    if strength is None or not 0.0 <= strength <= 1.0:  # NaN fails both comparisons
        raise InvalidParameterError(f"{name} must be {TEMPORAL_HELP}; got {value!r}")
    return strength


# ---- one upscale call's options -----------------------------------------------------------
def _choice(default: str, choices: tuple[str, ...]) -> Any:
    """A field whose value is one of ``choices`` (kept in its metadata: ``UpscaleOptions.choices``)."""
    return dataclasses.field(default=default, metadata={"choices": choices})


@dataclass(frozen=True)
class UpscaleOptions:
    """The options of one upscale call, documented once (``upscale`` and ``run_upscale`` take
    the same names as keyword arguments).

    - ``outscale``, or ``width`` / ``height``: the final size (default: the model's scale;
      one of width/height keeps the aspect ratio).
    - ``tile``: see :data:`Tile` (:func:`parse_tile` reads it); ``tile_pad``: context pixels
      per tile (default: the architecture's policy, from its receptive field).
    - ``precision``: one of :data:`PRECISIONS`; ``alpha``: one of :data:`ALPHA_MODES`.
    - ``backend``: one of :data:`BACKENDS` (``auto``: the fastest that keeps quality on this
      machine and model, measured once and stored; see ``core.engine.backends``).
    - ``tta``: average the 8 flips/rotations (8× slower).
    - ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or a ``torch.device``
      (default: the model's accelerator, else the best available).
    - ``threads``: PyTorch CPU threads for this call (restored afterwards; calls that set it are
      serialised, since the setting is process-wide: ``core/engine/threads.py``).
    - ``bgr``: numpy input and output are BGR(A) (OpenCV order) instead of RGB(A).
    - ``memory_budget``: bytes the tile computation may use (default: half the free RAM, or
      80 % of free VRAM).
    - ``blend``: seam cross-fade half-width in input pixels (default 0: crop the pad, the
      measured best); ``border``: reflected border added around the image (default 0).
    """

    outscale: float | None = None
    width: int | None = None
    height: int | None = None
    tile: Tile | None = TILE_AUTO
    tile_pad: int | None = None
    precision: str = _choice("auto", PRECISIONS)
    alpha: str = _choice("model", ALPHA_MODES)
    tta: bool = False
    device: Any = None
    threads: int | None = None
    bgr: bool = False
    memory_budget: int | None = None
    blend: int | None = None
    border: int | None = None
    backend: str = _choice("auto", BACKENDS)

    @classmethod
    def choices(cls, name: str) -> tuple[str, ...] | None:
        """The values option ``name`` takes when it is a choice (front ends offer exactly these)."""
        return {f.name: f.metadata.get("choices") for f in dataclasses.fields(cls)}[name]

    def replace(self, **changes: Any) -> UpscaleOptions:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Every option by name (a ``torch.device`` as its text), for crossing a process or a
        JSON file; :meth:`from_dict` reads it back."""
        return {
            name: (str(value) if name == "device" and value is not None else value)
            for name, value in ((f.name, getattr(self, f.name)) for f in dataclasses.fields(self))
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> UpscaleOptions:
        """The options named in ``values`` (the others at their defaults); an unknown name is an
        :class:`InvalidParameterError` that lists the known ones."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise InvalidParameterError(
                f"unknown upscale option(s) {', '.join(unknown)}; the options are {', '.join(names)}"
            )
        return cls(**values)

    @classmethod
    def merge(cls, options: UpscaleOptions | None, keywords: Mapping[str, Any]) -> UpscaleOptions:
        """``options`` or the ``keywords`` (``UpscaleKeywords``), not both: the one rule of every
        function that takes ``options=`` beside ``**options``."""
        given = cls.from_dict(keywords)
        if options is None:
            return given
        if given != cls():
            raise InvalidParameterError(
                "pass the upscale options either as options=UpscaleOptions(...) or as keyword arguments, not both"
            )
        return options


OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(UpscaleOptions))
"""The engine options' names, in definition order: every carrier derives its list from this."""


class UpscaleKeywords(TypedDict, total=False):
    """:class:`UpscaleOptions` as keyword arguments (PEP 692 ``**options: Unpack[UpscaleKeywords]``):
    the same names and types, so that ``upscale``, ``run_upscale`` and ``upscale_video`` take
    typed, documented keywords without re-listing them (``tests/test_options.py`` keeps the two
    equal: adding an option adds one line here beside its field)."""

    outscale: float | None
    width: int | None
    height: int | None
    tile: Tile | None
    tile_pad: int | None
    precision: str
    alpha: str
    tta: bool
    device: Any
    threads: int | None
    bgr: bool
    memory_budget: int | None
    blend: int | None
    border: int | None
    backend: str
