"""How the engine runs one architecture: facts that belong to the network, not to the engine.

Each architecture spec gives its models an :class:`EnginePolicy` (the role spandrel's
``ModelTiling`` plays there, plus the memory model and fast paths), so adding a network
touches its own modules and the registry, never the engine. Models that come from elsewhere
(a spandrel descriptor from ComfyUI) get :func:`default_policy`: the engine then measures
what it needs on a zero-weight copy of the network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
from torch import nn

if TYPE_CHECKING:  # annotations only: core.load (the registry) imports the archs, which import this
    from ..load.modellike import UpscaleModelLike

__all__ = ["EnginePolicy", "Tiling", "default_policy", "GENERIC_MAX_TILE_PAD", "UNKNOWN_RECEPTIVE_FIELD_PAD"]

Tiling = Literal["supported", "discouraged", "internal"]
"""Whether tiles give the whole-image result ("supported"), change it ("discouraged": global
operations such as attention over the image), or the network tiles on its own ("internal")."""

GENERIC_MAX_TILE_PAD = 64
"""Largest default pad derived from a receptive field (input pixels): wider fields cost more
than the seams they avoid."""
UNKNOWN_RECEPTIVE_FIELD_PAD = 32
"""Tile pad for networks whose receptive field is unknown (ComfyUI core uses 32 overlap)."""

Forward = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class EnginePolicy:
    """What the engine needs to know to run one architecture well.

    - ``tile_pad``: default context per tile in input pixels (before rounding up to the size
      multiple); ``None``: the receptive field up to ``GENERIC_MAX_TILE_PAD``, or
      ``UNKNOWN_RECEPTIVE_FIELD_PAD`` when that is unknown too.
    - ``activation_elements_per_pixel``: live activation elements per input pixel of a window
      at the forward's peak (the per-pixel memory model); ``None``: measured by probing.
    - ``fixed_activation_bytes``: activation bytes a forward needs whatever the window size.
    - ``channels_last``: the network runs faster in channels-last layout (where supported).
    - ``tiling``: see :data:`Tiling`.
    - ``fast_forward``: given the engine's private, converted copy of the module, a forward
      with the same results that is faster or leaner than ``module(x)``; ``None``: ``module``.
    - ``quantization_form``: given the module, a float32 copy with the same results arranged
      for int8 quantisation (what the quantiser should see); ``None``: the module as it is.
    - ``probe_precision``: whether ``precision="auto"`` must first check, on a small window,
      that the network works in reduced precision (``engine.precision_probe``). Our own
      architectures have measured policies and say ``False``; models from elsewhere say ``True``.
    """

    tile_pad: int | None = None
    activation_elements_per_pixel: float | None = None
    fixed_activation_bytes: int = 0
    channels_last: bool = True
    tiling: Tiling = "supported"
    fast_forward: Callable[[nn.Module], Forward] | None = None
    quantization_form: Callable[[nn.Module], nn.Module] | None = None
    probe_precision: bool = False


def default_policy(model: UpscaleModelLike | None = None) -> EnginePolicy:
    """The policy of a model that carries none: everything measured, plus what it tells.

    A spandrel descriptor's ``tiling`` (``ModelTiling.SUPPORTED / DISCOURAGED / INTERNAL``)
    is kept, so the engine can say when it tiles a network that discourages it. Its call
    function is kept too: spandrel runs some networks through one (FBCNN and MMRealSR return
    a tuple, DRUNet takes a noise-level plane, MixDehazeNet's and IPT's outputs are rescaled),
    and core's upscale node runs them that way. Whether reduced precision works is probed.
    """
    tiling = getattr(getattr(model, "tiling", None), "name", None)
    known: dict[str, Tiling] = {
        "SUPPORTED": "supported",
        "DISCOURAGED": "discouraged",
        "INTERNAL": "internal",
    }
    return EnginePolicy(
        tiling=known.get(str(tiling).upper(), "supported"),
        fast_forward=_descriptor_call(model),
        probe_precision=True,
    )


def _descriptor_call(model: UpscaleModelLike | None) -> Callable[[nn.Module], Forward] | None:
    """The forward a spandrel descriptor uses (its ``_call_fn(module, image)``), if it has one."""
    call: Callable[[nn.Module, torch.Tensor], torch.Tensor] | None = getattr(model, "_call_fn", None)
    if not callable(call):
        return None

    def bind(module: nn.Module) -> Forward:
        return lambda x: call(module, x)

    return bind
