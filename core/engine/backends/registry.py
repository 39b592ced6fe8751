"""The backend registry: one entry per backend module, and the choice lists defined once."""

from __future__ import annotations

from ...errors import InvalidParameterError
from .base import Backend
from .openvino_backend import OpenVINOBackend
from .torch_backend import TorchBackend

__all__ = ["BACKENDS", "BACKEND_TYPES", "get_backend"]

BACKEND_TYPES: dict[str, Backend] = {
    "torch": TorchBackend(),
    "openvino": OpenVINOBackend(),
}
BACKENDS = ("auto", *BACKEND_TYPES)
"""The ``backend`` choices: ``auto`` picks per machine and model (see ``autoselect``)."""


def get_backend(name: str) -> Backend:
    try:
        return BACKEND_TYPES[name]
    except (KeyError, TypeError):
        raise InvalidParameterError(f"backend must be one of {', '.join(BACKENDS)}; got {name!r}") from None
