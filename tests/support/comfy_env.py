"""Put the ComfyUI stand-ins (tests/comfy_standins) on sys.path for one test, then remove them.

``comfy_env(v3=True)`` stands in for a ComfyUI with ``comfy_api.latest`` (V3), ``v3=False``
for an older one (V1 only). Modules imported from the stand-ins are dropped afterwards, so no
state (interrupt flag, progress hook, model folders) leaks between tests.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

STANDINS = Path(__file__).resolve().parents[1] / "comfy_standins"
BASE = STANDINS / "base"
V3API = STANDINS / "v3api"
STANDIN_MODULES = ("comfy", "comfy_api", "folder_paths", "nodes", "standin_execution", "comfy_api_shim")


def _drop_standin_modules() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in STANDIN_MODULES:
            del sys.modules[name]


@contextlib.contextmanager
def comfy_env(base_dir: Path, *, v3: bool = True) -> Iterator[SimpleNamespace]:
    import os

    paths = [str(BASE)] + ([str(V3API)] if v3 else [])
    _drop_standin_modules()
    old_base = os.environ.get("COMFYUI_STANDIN_BASE")
    os.environ["COMFYUI_STANDIN_BASE"] = str(base_dir)
    sys.path[:0] = paths
    try:
        import comfy.model_management as model_management
        import comfy.utils as utils
        import folder_paths
        import standin_execution

        upscale_dir = Path(folder_paths.get_folder_paths("upscale_models")[0])
        upscale_dir.mkdir(parents=True, exist_ok=True)
        env = SimpleNamespace(
            folder_paths=folder_paths,
            model_management=model_management,
            utils=utils,
            execution=standin_execution,
            upscale_dir=upscale_dir,
            v3=v3,
        )
        if v3:
            from comfy_api.latest import io

            env.io = io
        yield env
    finally:
        for path in paths:
            sys.path.remove(path)
        if old_base is None:
            os.environ.pop("COMFYUI_STANDIN_BASE", None)
        else:
            os.environ["COMFYUI_STANDIN_BASE"] = old_base
        _drop_standin_modules()
