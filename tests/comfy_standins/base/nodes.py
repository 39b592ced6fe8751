"""Stand-in for ComfyUI's ``nodes.py``: core node ids and the custom-node loader.

Mirrors ComfyUI 0.3.64:
- ``NODE_CLASS_MAPPINGS`` holds core nodes before custom nodes load; here, declarations of the
  core nodes our example workflows use (inputs in core's order, with core's types, defaults
  and ranges; they cannot run). Combos list what core lists: files found in ComfyUI's folders
  (input images, checkpoints, upscale models) when asked, and core's sampler and scheduler
  names.
- ``load_custom_node(module_path, ignore, module_parent)``: imports ``<dir>/__init__.py`` with
  ``spec_from_file_location`` under the *path* as module name (dots replaced by ``_x_``),
  registers it in ``sys.modules``, executes it; records ``WEB_DIRECTORY`` (relative to the
  pack folder) when that folder exists; then V1 wins: if ``NODE_CLASS_MAPPINGS`` exists its
  classes are registered (ids in ``ignore`` — core's — are silently dropped) and V3 is never
  looked at; else ``comfy_entrypoint`` is awaited if it is a coroutine function, must return a
  ``ComfyExtension``, and each node of ``await get_node_list()`` is registered by its schema's
  ``node_id``. Any exception is logged and the pack counts as "IMPORT FAILED" (returns False).
"""

from __future__ import annotations

import importlib.util
import inspect
import logging
import os
import sys
import traceback
from typing import Any

MAX_RESOLUTION = 16384

NODE_CLASS_MAPPINGS: dict[str, type] = {}
NODE_DISPLAY_NAME_MAPPINGS: dict[str, str] = {}
EXTENSION_WEB_DIRS: dict[str, str] = {}
LOADED_MODULE_DIRS: dict[str, str] = {}


def _core(node_id: str, inputs: dict[str, Any], returns: tuple[str, ...], output_node: bool = False,
          optional: dict[str, Any] | None = None) -> type:
    def resolve(items: dict[str, Any]) -> dict[str, Any]:
        # A callable first element is a combo whose choices are read when asked, as core does.
        return {name: ((kind(), opts) if callable(kind) else (kind, opts)) for name, (kind, opts) in items.items()}

    def INPUT_TYPES(cls):  # noqa: N802
        types = {"required": resolve(inputs)}
        if optional:
            types["optional"] = resolve(optional)
        return types

    def run(self, **kwargs):
        raise NotImplementedError(f"stand-in: core node {node_id} only declares its inputs")

    cls = type(node_id, (), {"INPUT_TYPES": classmethod(INPUT_TYPES), "RETURN_TYPES": returns, "FUNCTION": "run",
                             "OUTPUT_NODE": output_node, "CATEGORY": "core", "run": run})
    NODE_CLASS_MAPPINGS[node_id] = cls
    return cls


def _files(folder_name: str):
    def choices() -> list[str]:
        import folder_paths

        return folder_paths.get_filename_list(folder_name)

    return choices


def _input_images() -> list[str]:
    import folder_paths

    folder = folder_paths.get_input_directory()
    if not os.path.isdir(folder):
        return []
    return sorted(f for f in os.listdir(folder) if os.path.isfile(os.path.join(folder, f)))


SAMPLERS = ["euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp", "heun", "heunpp2", "dpm_2",
            "dpm_2_ancestral", "lms", "dpm_fast", "dpm_adaptive", "dpmpp_2s_ancestral", "dpmpp_sde", "dpmpp_2m",
            "dpmpp_2m_sde", "dpmpp_3m_sde", "ddpm", "lcm", "ipndm", "deis", "res_multistep", "ddim", "uni_pc",
            "uni_pc_bh2"]
SCHEDULERS = ["simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal", "linear_quadratic",
              "kl_optimal"]

_core("CheckpointLoaderSimple", {"ckpt_name": (_files("checkpoints"), {})}, ("MODEL", "CLIP", "VAE"))
_core("CLIPTextEncode", {"text": ("STRING", {"multiline": True, "dynamicPrompts": True}), "clip": ("CLIP", {})},
      ("CONDITIONING",))
_core("EmptyLatentImage", {"width": ("INT", {"default": 512, "min": 16, "max": MAX_RESOLUTION, "step": 8}),
                           "height": ("INT", {"default": 512, "min": 16, "max": MAX_RESOLUTION, "step": 8}),
                           "batch_size": ("INT", {"default": 1, "min": 1, "max": 4096})}, ("LATENT",))
_core("KSampler", {"model": ("MODEL", {}),
                   "seed": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF, "control_after_generate": True}),
                   "steps": ("INT", {"default": 20, "min": 1, "max": 10000}),
                   "cfg": ("FLOAT", {"default": 8.0, "min": 0.0, "max": 100.0, "step": 0.1, "round": 0.01}),
                   "sampler_name": (SAMPLERS, {}), "scheduler": (SCHEDULERS, {}),
                   "positive": ("CONDITIONING", {}), "negative": ("CONDITIONING", {}),
                   "latent_image": ("LATENT", {}),
                   "denoise": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01})}, ("LATENT",))
_core("VAEDecode", {"samples": ("LATENT", {}), "vae": ("VAE", {})}, ("IMAGE",))
_core("SaveImage", {"images": ("IMAGE", {}), "filename_prefix": ("STRING", {"default": "ComfyUI"})}, (), output_node=True)
_core("PreviewImage", {"images": ("IMAGE", {})}, (), output_node=True)
# The frontend adds an "upload" widget after the file combo; its value is saved too.
_core("LoadImage", {"image": (_input_images, {"image_upload": True})}, ("IMAGE", "MASK"))
_core("UpscaleModelLoader", {"model_name": (_files("upscale_models"), {})}, ("UPSCALE_MODEL",))
_core("ImageUpscaleWithModel", {"upscale_model": ("UPSCALE_MODEL", {}), "image": ("IMAGE", {})}, ("IMAGE",))
_core("ImageScaleBy", {"image": ("IMAGE", {}),
                       "upscale_method": (["nearest-exact", "bilinear", "area", "bicubic", "lanczos"], {}),
                       "scale_by": ("FLOAT", {"default": 1.0, "min": 0.01, "max": 8.0, "step": 0.01})}, ("IMAGE",))
_core("PreviewAny", {"source": ("*", {})}, (), output_node=True)


def _input_videos() -> list[str]:
    import folder_paths

    return folder_paths.filter_files_content_types(_input_images(), ["video"])


# Core's video nodes (comfy_extras/nodes_video.py, V3): Load Video lists the input folder's
# videos (with an upload button, whose value the frontend saves after the file's); Save Video
# writes a VIDEO under a prefix.
_core("LoadVideo", {"file": (_input_videos, {"video_upload": True})}, ("VIDEO",))
_core("SaveVideo", {"video": ("VIDEO", {}),
                    "filename_prefix": ("STRING", {"default": "video/ComfyUI"}),
                    "format": (["auto", "mp4"], {"default": "auto"}),
                    "codec": (["auto", "h264"], {"default": "auto"})}, (), output_node=True)
CORE_NODE_IDS = frozenset(NODE_CLASS_MAPPINGS)


def get_module_name(module_path: str) -> str:
    base = os.path.basename(module_path)
    if os.path.isfile(module_path):
        base = os.path.splitext(base)[0]
    return base


async def load_custom_node(module_path: str, ignore: set[str] | frozenset[str] = frozenset(),
                           module_parent: str = "custom_nodes") -> bool:
    from comfy_api_shim import comfy_extension_class  # V3 base class, when this ComfyUI has it

    module_name = get_module_name(module_path)
    if os.path.isfile(module_path):
        sys_module_name = os.path.splitext(module_path)[0]
        init_file, module_dir = module_path, os.path.dirname(module_path)
    else:
        sys_module_name = module_path.replace(".", "_x_")
        init_file, module_dir = os.path.join(module_path, "__init__.py"), module_path
    try:
        spec = importlib.util.spec_from_file_location(sys_module_name, init_file)
        module = importlib.util.module_from_spec(spec)
        sys.modules[sys_module_name] = module
        spec.loader.exec_module(module)
        LOADED_MODULE_DIRS[module_name] = os.path.abspath(module_dir)

        web = getattr(module, "WEB_DIRECTORY", None)
        if web is not None:
            web_dir = os.path.abspath(os.path.join(module_dir, web))
            if os.path.isdir(web_dir):
                EXTENSION_WEB_DIRS[module_name] = web_dir

        if getattr(module, "NODE_CLASS_MAPPINGS", None) is not None:
            for name, node_cls in module.NODE_CLASS_MAPPINGS.items():
                if name not in ignore:
                    NODE_CLASS_MAPPINGS[name] = node_cls
                    node_cls.RELATIVE_PYTHON_MODULE = f"{module_parent}.{module_name}"
            if getattr(module, "NODE_DISPLAY_NAME_MAPPINGS", None) is not None:
                NODE_DISPLAY_NAME_MAPPINGS.update(module.NODE_DISPLAY_NAME_MAPPINGS)
            return True
        if hasattr(module, "comfy_entrypoint"):
            entrypoint = module.comfy_entrypoint
            if not callable(entrypoint):
                logging.warning("comfy_entrypoint in %s is not callable, skipping.", module_path)
                return False
            extension = await entrypoint() if inspect.iscoroutinefunction(entrypoint) else entrypoint()
            base = comfy_extension_class()
            if base is None or not isinstance(extension, base):
                logging.warning("comfy_entrypoint in %s did not return a ComfyExtension, skipping.", module_path)
                return False
            node_list = await extension.get_node_list()
            if not isinstance(node_list, list):
                logging.warning("comfy_entrypoint in %s did not return a list of nodes, skipping.", module_path)
                return False
            for node_cls in node_list:
                schema = node_cls.GET_SCHEMA()
                if schema.node_id not in ignore:
                    NODE_CLASS_MAPPINGS[schema.node_id] = node_cls
                    node_cls.RELATIVE_PYTHON_MODULE = f"{module_parent}.{module_name}"
                if schema.display_name is not None:
                    NODE_DISPLAY_NAME_MAPPINGS[schema.node_id] = schema.display_name
            return True
        logging.warning("Skip %s module for custom nodes due to the lack of NODE_CLASS_MAPPINGS or NODES_LIST (need one).",
                        module_path)
        return False
    except Exception as exc:
        logging.warning(traceback.format_exc())
        logging.warning("Cannot import %s module for custom nodes: %s", module_path, exc)
        return False
