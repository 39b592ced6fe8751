"""realesrgan-kit: Real-ESRGAN super-resolution for ComfyUI, Jupyter and the command line.

The repository root is both the Python package ``realesrgan_kit`` and a ComfyUI custom node
pack. Importing it does no network and no heavy work: the library API below is imported on
first use, and the ComfyUI registration is only exported when ComfyUI is the importer.

Library use::

    from realesrgan_kit import load_model, upscale
    model = load_model("RealESRGAN_x4plus")          # offline: embedded weights
    big = upscale(model, image)                       # numpy, PIL or torch in, same kind out
"""

from __future__ import annotations

# Where each lazily imported public name lives (relative to this package).
_LAZY = {
    "load_model": ".core.load",
    "ModelDescriptor": ".core.load",
    "interpolate_models": ".core.load",
    "save_safetensors": ".core.load",
    "ZOO": ".core.zoo",
    "DEFAULT_MODEL": ".core.zoo",
    "download": ".core.zoo",
    "upscale": ".core.engine",
    "run_upscale": ".core.engine",
}

# pytest (rootdir at the repo root) or a plain script may import this file bare, where relative
# imports fail; ComfyUI always imports it as a package.
if __package__:
    # defined in core, which never imports this root (the root imports the front ends)
    from .core.version import __version__ as __version__
    from .nodes.registration import comfy_exports as _comfy_exports

    # Exactly one registration style, and only when ComfyUI is importing the pack.
    globals().update(_comfy_exports())


def __getattr__(name: str):  # PEP 562: import the library on first use
    if name in _LAZY and __package__:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __package__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
