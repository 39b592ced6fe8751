"""Compute backends: who runs a window (PyTorch, or OpenVINO on CPUs).

A backend only runs windows; the engine keeps tiling, padding, alpha, resizing, progress and
cancel. One module per backend (``torch_backend``, ``openvino_backend``) and one registry
entry each (``backend_registry``); ``autoselect`` picks one per machine and model for
``backend="auto"``; ``select`` is the engine's single entry point.
"""

from .autoselect import (
    MEASURE_MIN_PIXELS,
    NOT_MEASURED_YET,
    QUALITY_FLOOR_DB,
    SWITCH_MARGIN,
    BackendChoice,
    cached_choice,
    choices_path,
    choose_backend,
    measure_backends,
)
from .backend_registry import BACKEND_TYPES, BACKENDS, get_backend
from .contract import Backend, WindowRunner
from .machine import backend_cache_dir, cpu_class, weights_hash
from .select import Selection, open_runner, select_backend

__all__ = [
    "BACKENDS",
    "BACKEND_TYPES",
    "Backend",
    "WindowRunner",
    "BackendChoice",
    "Selection",
    "get_backend",
    "select_backend",
    "open_runner",
    "choose_backend",
    "measure_backends",
    "cached_choice",
    "choices_path",
    "backend_cache_dir",
    "cpu_class",
    "weights_hash",
    "QUALITY_FLOOR_DB",
    "SWITCH_MARGIN",
    "MEASURE_MIN_PIXELS",
    "NOT_MEASURED_YET",
]
