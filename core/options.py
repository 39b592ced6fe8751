"""Every setting's vocabulary, defined once: the engine checks against these lists, and the
nodes, widgets and CLI offer exactly them (no front end re-types a choice).

Plain data and one parser; importing this module costs nothing (no torch, no numpy).
"""

from __future__ import annotations

import warnings
from typing import Literal

from .errors import InvalidParameterError

__all__ = [
    "Tile",
    "TILE_AUTO",
    "TILE_WHOLE",
    "TILE_WORDS",
    "TILE_HELP",
    "parse_tile",
    "PRECISIONS",
    "ALPHA_MODES",
    "KEPT_ALPHA_MODES",
    "OUTPUT_SIZE_MODES",
    "DEGRADE_PRESETS",
    "DEGRADE_RESIZE_MODES",
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
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
"""Compute formats: ``auto`` picks the fastest the device runs well and the model supports."""

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
