"""What the nodes ask of ComfyUI: model folders, the device, memory, progress and Cancel.

ComfyUI's modules (``folder_paths``, ``comfy.*``) are imported inside each function, never at
module import, so the node table can be built (and tested) where ComfyUI is absent and the
pack never pulls ComfyUI into ``core``.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

__all__ = [
    "UPSCALE_MODELS",
    "model_folders",
    "model_files",
    "model_file_path",
    "torch_device",
    "make_room",
    "interrupted",
    "raise_if_interrupted",
    "ProgressReporter",
]

log = logging.getLogger(__name__)

UPSCALE_MODELS = "upscale_models"
# ComfyUI lists files by its own extension set; ncnn models are a .param beside a .bin, which
# it does not list, so we add those ourselves.
_EXTRA_SUFFIXES = (".param",)


def model_folders() -> list[str]:
    """Every folder ComfyUI searches for upscale models (extra_model_paths.yaml included)."""
    import folder_paths

    try:
        return list(folder_paths.get_folder_paths(UPSCALE_MODELS))
    except KeyError:  # a ComfyUI without that category: nothing to search
        return []


def model_files() -> list[str]:
    """File names (relative to their folder, as ComfyUI shows them) of upscale models."""
    import folder_paths

    try:
        names = set(folder_paths.get_filename_list(UPSCALE_MODELS))
    except KeyError:
        names = set()
    for folder in model_folders():
        root = Path(folder)
        if not root.is_dir():
            continue
        for suffix in _EXTRA_SUFFIXES:
            for path in root.rglob(f"*{suffix}"):
                if path.with_suffix(".bin").is_file():
                    names.add(path.relative_to(root).as_posix())
                    # ComfyUI lists the .bin half of an ncnn pair as a model of its own.
                    names.discard(path.with_suffix(".bin").relative_to(root).as_posix())
    return sorted(names)


def model_file_path(name: str) -> str | None:
    """The full path of a listed model file, or None when no upscale_models folder has it."""
    import folder_paths

    path = folder_paths.get_full_path(UPSCALE_MODELS, name)
    if path is not None:
        return path
    for folder in model_folders():
        candidate = os.path.join(folder, os.path.normpath(name))
        if os.path.isfile(candidate):
            return candidate
    return None


def torch_device() -> Any:
    """The device ComfyUI runs models on (``--cpu`` makes it the CPU)."""
    from comfy import model_management

    return model_management.get_torch_device()


def make_room(required_bytes: int, device: Any) -> None:
    """Ask ComfyUI to unload other models until ``required_bytes`` are free on ``device``.

    Only for accelerators: on the CPU ComfyUI's own upscale node does the same call, but it
    would only evict models that the next diffusion step loads again.
    """
    if getattr(device, "type", "cpu") == "cpu":
        return
    from comfy import model_management

    log.debug("asking ComfyUI to free %.1f MiB on %s", required_bytes / 2**20, device)
    model_management.free_memory(int(required_bytes), device)


def interrupted() -> bool:
    """Whether the user pressed Cancel (ComfyUI's interrupt flag; reading it does not reset it)."""
    from comfy import model_management

    return bool(model_management.processing_interrupted())


def raise_if_interrupted() -> None:
    """Raise ComfyUI's own InterruptProcessingException if Cancel was pressed.

    ComfyUI reports that exception as "interrupted" instead of showing an error dialog.
    """
    from comfy import model_management

    model_management.throw_exception_if_processing_interrupted()


class ProgressReporter:
    """A ``progress(done, total)`` callback feeding ComfyUI's progress bar.

    The bar is created on the first report, when the total is known. ComfyUI's progress hook
    raises on Cancel, so a report is also a cancellation point.
    """

    def __init__(self) -> None:
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        import comfy.utils

        if self._bar is None:
            self._bar = comfy.utils.ProgressBar(total)
        self._bar.update_absolute(done, total)
