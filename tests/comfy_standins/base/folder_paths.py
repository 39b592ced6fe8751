"""Stand-in for ComfyUI's ``folder_paths``: named model folders and their file lists.

Mirrors ComfyUI 0.3.64:
- ``folder_names_and_paths[name] = ([folders...], {extensions})``; ``upscale_models`` lives at
  ``<base>/models/upscale_models`` with ``supported_pt_extensions``; ``custom_nodes`` at
  ``<base>/custom_nodes``. The base is ComfyUI's folder; here ``$COMFYUI_STANDIN_BASE`` or a
  temporary folder.
- ``add_model_folder_path(name, path, is_default=False)`` appends (or, as default, prepends)
  a folder, as extra_model_paths.yaml does.
- ``get_filename_list(name)``: sorted paths relative to their folder (``/`` separators on
  POSIX), recursively, filtered by extension (case-insensitive), ``.git`` skipped. (ComfyUI
  caches the list and invalidates it on folder mtime; this stand-in always rescans.)
- ``get_full_path(name, filename)``: first folder holding the file, else None;
  ``get_full_path_or_raise`` raises FileNotFoundError with ComfyUI's message.
- ``filter_files_content_types(files, ["video"])``: the names whose MIME type (from the name,
  non-strict) has that major type.
- ``get_annotated_filepath(name)``: ``"clip.mp4 [output]"`` (or ``[input]``, ``[temp]``) picks
  that folder, a plain name the input folder; ``exists_annotated_filepath`` tests it.
- ``get_save_image_path(prefix, output_dir, width, height)``: expands ``%width%`` / ``%height%`` /
  date variables, splits the prefix into subfolder and name, refuses a folder outside
  ``output_dir`` (``Exception``), and returns ``(folder, name, counter, subfolder, prefix)``
  where ``counter`` is one above the highest number among files called ``<name>_<number>…``
  whose prefix is followed by ``_`` (1 when none; the folder is created).
"""

from __future__ import annotations

import mimetypes
import os
import tempfile
import time
from collections.abc import Collection

supported_pt_extensions: set[str] = {".ckpt", ".pt", ".pt2", ".bin", ".pth", ".safetensors", ".pkl", ".sft"}

base_path = os.environ.get("COMFYUI_STANDIN_BASE") or tempfile.mkdtemp(prefix="comfyui-standin-")
models_dir = os.path.join(base_path, "models")

folder_names_and_paths: dict[str, tuple[list[str], set[str]]] = {
    "checkpoints": ([os.path.join(models_dir, "checkpoints")], supported_pt_extensions),
    "upscale_models": ([os.path.join(models_dir, "upscale_models")], supported_pt_extensions),
    "custom_nodes": ([os.path.join(base_path, "custom_nodes")], set()),
}

output_directory = os.path.join(base_path, "output")
input_directory = os.path.join(base_path, "input")
temp_directory = os.path.join(base_path, "temp")


def map_legacy(folder_name: str) -> str:
    return {"unet": "diffusion_models", "clip": "text_encoders"}.get(folder_name, folder_name)


def get_input_directory() -> str:
    return input_directory


def get_output_directory() -> str:
    return output_directory


def get_temp_directory() -> str:
    return temp_directory


def add_model_folder_path(folder_name: str, full_folder_path: str, is_default: bool = False) -> None:
    folder_name = map_legacy(folder_name)
    if folder_name not in folder_names_and_paths:
        folder_names_and_paths[folder_name] = ([full_folder_path], set())
        return
    paths = folder_names_and_paths[folder_name][0]
    if full_folder_path in paths:
        if is_default and paths[0] != full_folder_path:
            paths.remove(full_folder_path)
            paths.insert(0, full_folder_path)
    elif is_default:
        paths.insert(0, full_folder_path)
    else:
        paths.append(full_folder_path)


def get_folder_paths(folder_name: str) -> list[str]:
    return list(folder_names_and_paths[map_legacy(folder_name)][0])


def recursive_search(directory: str, excluded_dir_names: list[str] | None = None) -> tuple[list[str], dict[str, float]]:
    if not os.path.isdir(directory):
        return [], {}
    excluded = set(excluded_dir_names or [])
    files: list[str] = []
    dirs = {directory: os.path.getmtime(directory)}
    for dirpath, subdirs, filenames in os.walk(directory, followlinks=True, topdown=True):
        subdirs[:] = [d for d in subdirs if d not in excluded]
        files.extend(os.path.relpath(os.path.join(dirpath, name), directory) for name in filenames)
        for d in subdirs:
            dirs[os.path.join(dirpath, d)] = os.path.getmtime(os.path.join(dirpath, d))
    return files, dirs


def filter_files_extensions(files: Collection[str], extensions: Collection[str]) -> list[str]:
    return sorted(f for f in files if os.path.splitext(f)[-1].lower() in extensions or len(extensions) == 0)


def get_filename_list(folder_name: str) -> list[str]:
    folders, extensions = folder_names_and_paths[map_legacy(folder_name)]
    names: set[str] = set()
    for folder in folders:
        files, _ = recursive_search(folder, excluded_dir_names=[".git"])
        names.update(filter_files_extensions(files, extensions))
    return sorted(names)


def get_full_path(folder_name: str, filename: str) -> str | None:
    folder_name = map_legacy(folder_name)
    if folder_name not in folder_names_and_paths:
        return None
    filename = os.path.relpath(os.path.join("/", filename), "/")  # no escaping the folder
    for folder in folder_names_and_paths[folder_name][0]:
        full_path = os.path.join(folder, filename)
        if os.path.isfile(full_path):
            return full_path
    return None


def get_full_path_or_raise(folder_name: str, filename: str) -> str:
    full_path = get_full_path(folder_name, filename)
    if full_path is None:
        raise FileNotFoundError(f"Model in folder '{folder_name}' with filename '{filename}' not found.")
    return full_path


def filter_files_content_types(files: list[str], content_types: list[str]) -> list[str]:
    result = []
    for name in files:
        mime, _ = mimetypes.guess_type(name, strict=False)
        if mime and mime.split("/")[0] in content_types:
            result.append(name)
    return result


def annotated_filepath(name: str) -> tuple[str, str | None]:
    for tag, folder in (("[output]", get_output_directory), ("[input]", get_input_directory),
                        ("[temp]", get_temp_directory)):
        if name.endswith(tag):
            return name[: -len(tag) - 1], folder()
    return name, None


def get_annotated_filepath(name: str, default_dir: str | None = None) -> str:
    name, base_dir = annotated_filepath(name)
    return os.path.join(base_dir or default_dir or get_input_directory(), name)


def exists_annotated_filepath(name: str) -> bool:
    name, base_dir = annotated_filepath(name)
    return os.path.exists(os.path.join(base_dir or get_input_directory(), name))


def get_save_image_path(filename_prefix: str, output_dir: str, image_width: int = 0,
                        image_height: int = 0) -> tuple[str, str, int, str, str]:
    if "%" in filename_prefix:
        now = time.localtime()
        for key, value in (("%width%", image_width), ("%height%", image_height), ("%year%", now.tm_year),
                           ("%month%", f"{now.tm_mon:02}"), ("%day%", f"{now.tm_mday:02}"),
                           ("%hour%", f"{now.tm_hour:02}"), ("%minute%", f"{now.tm_min:02}"),
                           ("%second%", f"{now.tm_sec:02}")):
            filename_prefix = filename_prefix.replace(key, str(value))
    subfolder = os.path.dirname(os.path.normpath(filename_prefix))
    filename = os.path.basename(os.path.normpath(filename_prefix))
    full_output_folder = os.path.join(output_dir, subfolder)
    if os.path.commonpath((output_dir, os.path.abspath(full_output_folder))) != output_dir:
        raise Exception("**** ERROR: Saving image outside the output folder is not allowed.")

    def number(name: str) -> tuple[int, str]:
        size = len(os.path.basename(filename_prefix))
        try:
            digits = int(name[size + 1:].split("_")[0])
        except ValueError:
            digits = 0
        return digits, name[: size + 1]

    try:
        numbered = [number(n) for n in os.listdir(full_output_folder)]
        matching = [d for d, prefix in numbered
                    if os.path.normcase(prefix[:-1]) == os.path.normcase(filename) and prefix[-1:] == "_"]
        counter = max(matching) + 1 if matching else 1
    except FileNotFoundError:
        os.makedirs(full_output_folder, exist_ok=True)
        counter = 1
    return full_output_folder, filename, counter, subfolder, filename_prefix
