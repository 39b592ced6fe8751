"""The backend registry: one entry per backend module, and the choice lists defined once."""

from __future__ import annotations

from ...errors import InvalidParameterError
from ...options import BACKENDS
from .contract import Backend
from .openvino_backend import OpenVINOBackend
from .torch_backend import TorchBackend

__all__ = ["BACKENDS", "BACKEND_TYPES", "get_backend"]

BACKEND_TYPES: dict[str, Backend] = {
    "torch": TorchBackend(),
    "openvino": OpenVINOBackend(),
}
if BACKENDS != ("auto", *BACKEND_TYPES):  # the choice list lives in core.options (torch-free)
    raise ImportError(
        f"core.options.BACKENDS {BACKENDS} does not list the registered backends {tuple(BACKEND_TYPES)}"
    )


def get_backend(name: str) -> Backend:
    try:
        return BACKEND_TYPES[name]
    except (KeyError, TypeError):
        raise InvalidParameterError(f"backend must be one of {', '.join(BACKENDS)}; got {name!r}") from None
