"""State-dict plumbing shared by every format: unwrap containers, strip prefixes, describe.

Real files wrap the tensors (``params_ema``, ``params``, ``state_dict``, ``model``, ``net``)
and prefix the keys (``module.`` from DataParallel, ``netG.`` from training scripts). This
module turns any of those into one flat ``{key: tensor}`` mapping; the per-architecture key
layouts (old ESRGAN, BSRGAN) are translated by the architecture specs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..errors import UnsupportedModelError
from ..netspec.base import StateDict

__all__ = ["StateDict", "unwrap_state_dict", "describe_keys", "WRAPPER_KEYS"]

# Preference order: the EMA weights are the ones the authors publish results with.
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model_state_dict", "model", "net", "netG", "generator")
# Removed wherever every key carries them.
ALWAYS_STRIPPED_PREFIXES = ("module.", "netG.", "net_g.", "_orig_mod.")
# Removed only when what follows is not a digit: old ESRGAN keys are themselves ``model.0.weight``.
NAMED_PREFIXES = ("model.", "generator.", "net.")


def _is_tensor_mapping(obj: Mapping[str, Any]) -> bool:
    return bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _strip_prefixes(sd: StateDict) -> StateDict:
    changed = True
    while changed and sd:
        changed = False
        for prefix in ALWAYS_STRIPPED_PREFIXES:
            if all(k.startswith(prefix) for k in sd):
                sd = {k[len(prefix) :]: v for k, v in sd.items()}
                changed = True
        for prefix in NAMED_PREFIXES:
            if all(k.startswith(prefix) and not k[len(prefix) : len(prefix) + 1].isdigit() for k in sd):
                sd = {k[len(prefix) :]: v for k, v in sd.items()}
                changed = True
    return sd


def unwrap_state_dict(obj: Any, *, source: str = "the weights") -> StateDict:
    """Return the flat tensor mapping inside ``obj`` (a checkpoint dict or a state dict)."""
    seen = 0
    while isinstance(obj, Mapping) and not _is_tensor_mapping(obj) and seen < 8:
        seen += 1
        inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), Mapping) and obj[k]), None)
        if inner is None:
            break
        obj = inner
    if not isinstance(obj, Mapping):
        raise UnsupportedModelError(
            f"{source} holds a {type(obj).__name__}, not a state dict: expected a mapping of "
            "parameter names to tensors (optionally wrapped in one of "
            f"{', '.join(WRAPPER_KEYS)})."
        )
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        shown = ", ".join(f"{k!r}: {type(v).__name__}" for k, v in list(obj.items())[:8]) or "nothing"
        raise UnsupportedModelError(
            f"{source} contains no tensors (saw {shown}). Expected a state dict of a "
            f"Real-ESRGAN network, optionally wrapped in one of {', '.join(WRAPPER_KEYS)}."
        )
    return _strip_prefixes(tensors)


def describe_keys(sd: Mapping[str, torch.Tensor], limit: int = 8) -> str:
    """``'conv_first.weight (64, 3, 3, 3), ...'``: a short view of what a state dict holds."""
    items = list(sd.items())
    shown = ", ".join(f"{k} {tuple(v.shape)}" for k, v in items[:limit])
    more = f", ... ({len(items)} tensors in all)" if len(items) > limit else ""
    return shown + more
