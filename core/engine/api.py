"""The public engine API: upscale an image with a loaded model.

Stateless and thread-safe: every call builds its own converted copy of the weights and keeps
nothing on the model or on module globals. ``threads`` sets PyTorch's process-wide thread
count for the call; calls that set it are serialised and the count is restored (``threads.py``).

The steps live in ``run.py`` (shared with the frame upscaler) and the tile sizing in
``sizing.py``; this module is the keyword front door and re-exports them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..load.modellike import UpscaleModelLike
from ..options import UpscaleKeywords, UpscaleOptions
from .precision import resolve_precision
from .run import (
    CheckedOptions,
    UpscaleJob,
    UpscaleReport,
    UpscaleResult,
    caller_threads,
    check_options,
    plan_upscale,
    run_planned_upscale,
)
from .sizing import DEFAULT_BLEND, DEFAULT_BORDER, choose_tile, default_tile_pad, estimate_tile_memory

if TYPE_CHECKING:  # typing.Unpack is 3.11+; only the type checker reads it (annotations are strings)
    from typing_extensions import Unpack

__all__ = [
    "upscale",
    "run_upscale",
    "check_options",
    "plan_upscale",
    "run_planned_upscale",
    "CheckedOptions",
    "UpscaleJob",
    "UpscaleReport",
    "UpscaleResult",
    "choose_tile",
    "estimate_tile_memory",
    "resolve_precision",
    "default_tile_pad",
    "DEFAULT_BORDER",
    "DEFAULT_BLEND",
]

DEPRECATED_NAMES = {"plan_job": "plan_upscale", "run_job": "run_planned_upscale"}
"""Old engine names → their new ones. ``core.jobs`` has a ``run_job`` of its own (a batch of
files through an executor); these two were renamed so that the names do not collide."""


def deprecated_name(module: str, name: str) -> Any:
    """The object an old engine name now has, with a ``DeprecationWarning`` (for PEP 562 hooks)."""
    if name not in DEPRECATED_NAMES:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    new = DEPRECATED_NAMES[name]
    warnings.warn(
        f"{module}.{name} is deprecated; use {new} (the same function)", DeprecationWarning, stacklevel=3
    )
    return {"plan_upscale": plan_upscale, "run_planned_upscale": run_planned_upscale}[new]


def __getattr__(name: str) -> Any:  # PEP 562: the old names still work, with a warning
    return deprecated_name(__name__, name)


def run_upscale(
    model: UpscaleModelLike,
    image: Any,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    options: UpscaleOptions | None = None,
    **keywords: Unpack[UpscaleKeywords],
) -> UpscaleResult:
    """Upscale ``image`` with ``model``; returns the image (same kind as given) and a report.

    The keyword arguments are the fields of :class:`~realesrgan_kit.core.options.UpscaleOptions`
    (documented there; typed by ``UpscaleKeywords``); pass them one by one or as ``options=``
    (not both). ``progress(done, total)`` is called after every tile; ``cancel()`` is polled
    between tiles and True raises ``OperationCancelledError`` (nothing is returned). Steps:
    :func:`check_options` → :func:`plan_upscale` → :func:`run_planned_upscale`.
    """
    options = UpscaleOptions.merge(options, keywords)
    with caller_threads(options):  # planning may run probe forwards: they get the call's count too
        job = plan_upscale(check_options(model, options), image)
        return run_planned_upscale(job, progress=progress, cancel=cancel)


def upscale(
    model: UpscaleModelLike,
    image: Any,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    options: UpscaleOptions | None = None,
    **keywords: Unpack[UpscaleKeywords],
) -> Any:
    """Upscale ``image`` with a loaded ``model`` and return it in the kind it came in.

    ``image``: numpy H×W(×C) uint8/uint16/float (C = 1, 3, 4; RGB unless ``bgr=True``), a PIL
    image, or a torch float [B, H, W, C] batch (returned as float32 [B, H', W', C] on the CPU).
    ``model``: a loaded ``ModelDescriptor`` or a spandrel-like descriptor. The options are
    those of :func:`run_upscale` (documented on ``UpscaleOptions``); this returns only the
    image, :func:`run_upscale` the image and its report.
    """
    return run_upscale(model, image, progress=progress, cancel=cancel, options=options, **keywords).image
