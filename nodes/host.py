"""What the nodes ask of ComfyUI: model folders, the device, memory, progress and Cancel.

ComfyUI's modules (``folder_paths``, ``comfy.*``) are imported inside each function, never at
module import, so the node table can be built (and tested) where ComfyUI is absent and the
pack never pulls ComfyUI into ``core``.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..core.errors import InvalidVideoError

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
    "input_videos",
    "input_file_path",
    "output_target",
    "video_stream_source",
    "spill_to_temp",
    "save_to_temp",
    "video_from_file",
    "remove_tree",
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


def input_videos() -> list[str]:
    """Video files in ComfyUI's input folder, by MIME type of their name as core's Load Video
    lists them (the content is checked when the node runs)."""
    import folder_paths

    folder = folder_paths.get_input_directory()
    if not os.path.isdir(folder):
        return []
    names = []
    for name in sorted(os.listdir(folder)):
        kind, _ = mimetypes.guess_type(name, strict=False)
        if kind is not None and kind.startswith("video/") and os.path.isfile(os.path.join(folder, name)):
            names.append(name)
    return names


def input_file_path(name: str) -> Path:
    """The path of a file named in the input folder (``name [output]`` style annotations are
    honoured where this ComfyUI has them); never outside ComfyUI's folders."""
    import folder_paths

    annotated = getattr(folder_paths, "get_annotated_filepath", None)
    if annotated is not None:
        return Path(annotated(name))
    folder = folder_paths.get_input_directory()
    return Path(folder) / os.path.relpath(os.path.join("/", name), "/")


def output_target(prefix: str, suffix: str, width: int, height: int) -> tuple[Path, str]:
    """A new file ``<prefix>_NNNNN_.<suffix>`` in ComfyUI's output folder, numbered the way
    core's savers number theirs, and its subfolder (for the preview)."""
    import folder_paths

    folder, filename, counter, subfolder, _ = folder_paths.get_save_image_path(
        prefix, folder_paths.get_output_directory(), width, height
    )
    while True:  # a name no file or unfinished job (``.parts``) uses
        target = Path(folder) / f"{filename}_{counter:05}_.{suffix}"
        if not target.exists() and not target.with_name(target.name + ".parts").exists():
            return target, subfolder
        counter += 1


def video_stream_source(video: Any) -> Any:
    """What core's VIDEO gives to read the clip without decoding it: its file path, or a
    BytesIO (``get_stream_source``; never ``get_components``, which decodes every frame)."""
    getter = getattr(video, "get_stream_source", None)
    if getter is None:
        raise InvalidVideoError(
            f"video: expected ComfyUI's VIDEO (from Load Video), got {type(video).__name__}; "
            "this ComfyUI may be too old for VIDEO: choose a file from the input folder instead"
        )
    return getter()


def spill_to_temp(stream: Any) -> Path:
    """Copy an in-memory clip to a file in ComfyUI's temp folder (core reads files)."""
    import folder_paths

    folder = folder_paths.get_temp_directory()
    os.makedirs(folder, exist_ok=True)
    if hasattr(stream, "seek"):
        stream.seek(0)
    with tempfile.NamedTemporaryFile(
        dir=folder, prefix="realesrgan-video-", suffix=".video", delete=False
    ) as out:
        shutil.copyfileobj(stream, out, 1 << 20)
    return Path(out.name)


def save_to_temp(video: Any) -> Path:
    """Have a VIDEO write itself (``save_to``, an mp4) into a new file in ComfyUI's temp folder."""
    import folder_paths

    folder = folder_paths.get_temp_directory()
    os.makedirs(folder, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=folder, prefix="realesrgan-video-", suffix=".mp4")
    os.close(handle)
    try:
        video.save_to(name)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def video_from_file(path: Path) -> Any:
    """ComfyUI's VIDEO for a written file, or None where this ComfyUI has no VIDEO type."""
    try:
        from comfy_api.input_impl import VideoFromFile
    except ImportError:
        log.debug("this ComfyUI has no VIDEO type; the video output stays empty")
        return None
    return VideoFromFile(str(path))


def remove_tree(path: Path) -> None:
    """Remove a folder this run made (cleanup after a failure: a problem is logged, the
    failure itself is what gets reported)."""
    if path.exists():
        try:
            shutil.rmtree(path)
        except OSError as exc:
            log.warning("could not remove %s: %s", path, exc)
