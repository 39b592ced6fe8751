"""Every setting's vocabulary, defined once: the engine checks against these lists, and the
nodes, widgets and CLI offer exactly them (no front end re-types a choice). The engine
options (``UpscaleOptions``) carry their help, choices and checks in their fields.

Plain data and one parser; importing this module costs nothing (no torch, no numpy).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping
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
    "OptionCheck",
    "option_field",
    "whole_number_check",
    "choice_check",
    "check_bytes",
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
OptionCheck = Callable[[Any, str], Any]
"""An option's check: its value and name in, the value the engine uses out (``None`` passes when
the option means "the default"); a bad value raises :class:`InvalidParameterError` that says
what was expected and what came. ``core.engine.run.check_options`` runs every field's."""


def whole_number_check(minimum: int) -> OptionCheck:
    """An optional whole number ≥ ``minimum`` (``check_whole_number``'s message)."""

    def check(value: Any, name: str) -> Any:
        return None if value is None else check_whole_number(value, name, minimum=minimum)

    return check


def choice_check(choices: tuple[str, ...]) -> OptionCheck:
    """One of ``choices`` (what a choice field gets when it names no other check)."""

    def check(value: Any, name: str) -> Any:
        if value not in choices:
            raise InvalidParameterError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
        return value

    return check


def _positive_factor(value: Any, name: str) -> Any:
    if value is not None and (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidParameterError(f"{name} must be a number > 0, got {value!r}")
    return value


def _pixels(value: Any, name: str) -> Any:
    if value is not None and (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value != int(value)
        or int(value) <= 0
    ):
        raise InvalidParameterError(f"{name} must be a positive whole number of pixels, got {value!r}")
    return value


def check_bytes(value: Any, name: str) -> int | None:
    """A positive, finite number of bytes as an int (``None``: the default budget)."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or value <= 0
        or not math.isfinite(value)
    ):
        raise InvalidParameterError(f"{name} must be a positive number of bytes, got {value!r}")
    return int(value)


def _tile(value: Any, name: str) -> Tile:
    return parse_tile(value, name=name)


def option_field(
    default: Any,
    *,
    help: str,
    choices: tuple[str, ...] | None = None,
    check: OptionCheck | None = None,
    short: str | None = None,
    metavar: str | None = None,
) -> Any:
    """A field of :class:`UpscaleOptions` and everything front ends and the engine read from it:
    ``help`` (the CLI's text, verbatim), ``choices`` (:meth:`UpscaleOptions.choices`), ``check``
    (:meth:`UpscaleOptions.checked`; a choice field checks its choices unless given one), and
    the CLI's ``short`` flag and ``metavar`` where it has them (``cli/option_arguments.py``)."""
    metadata: dict[str, Any] = {"help": help}
    extras = {"choices": choices, "check": check, "short": short, "metavar": metavar}
    metadata.update({key: value for key, value in extras.items() if value is not None})
    return dataclasses.field(default=default, metadata=metadata)


_PRECISION_HELP = (
    "number format (default auto: the fastest that keeps quality); int8 runs on OpenVINO and is "
    f"a preview-quality mode ({INT8_QUALITY})"
)
_BACKEND_HELP = (
    "who runs the network: torch, openvino (pip install 'realesrgan-kit[openvino]'), or auto "
    "(the fastest that keeps quality on this machine and model, measured once and stored in the "
    "user model folder under backends/choices.json)"
)


@dataclass(frozen=True)
class UpscaleOptions:
    """The options of one upscale call, documented once (``upscale`` and ``run_upscale`` take
    the same names as keyword arguments). Each field also holds its help text (the CLI's),
    choices and check (:func:`option_field`): the CLI builds its flags from them and
    ``check_options`` runs the checks (:meth:`checked`).

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

    outscale: float | None = option_field(
        None, help="final scale factor, any value > 0", check=_positive_factor, short="-s"
    )
    width: int | None = option_field(None, help="final width (height follows unless given)", check=_pixels)
    height: int | None = option_field(None, help="final height (width follows unless given)", check=_pixels)
    # option_field returns dataclasses.field(...): ruff cannot see that through an alias type
    tile: Tile | None = option_field(  # noqa: RUF009
        TILE_AUTO, help=f"{TILE_HELP} (default: auto)", check=_tile, short="-t", metavar="auto|whole|N"
    )
    tile_pad: int | None = option_field(
        None, help="context pixels around each tile (default: per model)", check=whole_number_check(0)
    )
    precision: str = option_field("auto", help=_PRECISION_HELP, choices=PRECISIONS)
    alpha: str = option_field(
        "model", help="alpha channel: through the network, resized, or dropped", choices=ALPHA_MODES
    )
    tta: bool = option_field(False, help="average the 8 flips and rotations (8× slower)")
    device: Any = option_field(None, help="cpu, cuda, cuda:N or mps (default: the best available)")  # noqa: RUF009
    threads: int | None = option_field(None, help="CPU threads", check=whole_number_check(1))
    bgr: bool = option_field(False, help="numpy input and output are BGR(A) (OpenCV order) instead of RGB(A)")
    memory_budget: int | None = option_field(
        None,
        help="bytes the tile computation may use (default: half the free RAM, or 80 % of free VRAM)",
        check=check_bytes,
    )
    blend: int | None = option_field(
        None, help="seam cross-fade half-width in input pixels (default 0)", check=whole_number_check(0)
    )
    border: int | None = option_field(
        None, help="reflected border added around the image (default 0)", check=whole_number_check(0)
    )
    backend: str = option_field("auto", help=_BACKEND_HELP, choices=BACKENDS)

    @classmethod
    def choices(cls, name: str) -> tuple[str, ...] | None:
        """The values option ``name`` takes when it is a choice (front ends offer exactly these)."""
        return {f.name: f.metadata.get("choices") for f in dataclasses.fields(cls)}[name]

    def checked(self) -> dict[str, Any]:
        """Every option by name after its field's check (in definition order): the value the
        engine uses. The first bad value raises its :class:`InvalidParameterError`."""
        return {f.name: _check_of(f)(getattr(self, f.name), f.name) for f in dataclasses.fields(self)}

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


def _check_of(field: dataclasses.Field[Any]) -> OptionCheck:
    """The field's check: the one it names, else its choices', else none (the value as given)."""
    if "check" in field.metadata:
        return field.metadata["check"]
    if "choices" in field.metadata:
        return choice_check(field.metadata["choices"])
    return lambda value, _name: value


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
