"""OpenVINO's IR files on disk: where a converted model lives and how it is written.

Shared by the backend (``openvino_backend``) and its int8 path (``openvino_int8``), which
imports nothing from the backend module (the backend imports it), so the two do not import
each other. ``import openvino`` happens only inside these functions.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ...errors import BackendNotInstalledError
from ..modelinfo import ModelFacts
from .machine import backend_cache_dir, weights_hash

__all__ = [
    "OPENVINO_INSTALL_HINT",
    "require_openvino",
    "openvino_version",
    "ir_cache_dir",
    "converted_model_path",
    "ir_is_complete",
    "save_ir_atomic",
]

OPENVINO_INSTALL_HINT = "pip install 'realesrgan-kit[openvino]'"


def require_openvino() -> Any:
    try:
        import openvino
    except ImportError as exc:
        raise BackendNotInstalledError(
            f"backend 'openvino' needs the openvino package, which is not installed ({exc}); "
            f"install it with {OPENVINO_INSTALL_HINT}, or use backend='torch'",
            backend="openvino",
        ) from exc
    return openvino


def openvino_version() -> str:
    ov = require_openvino()
    return str(ov.get_version()).split("-")[0]


def ir_cache_dir() -> Path:
    return backend_cache_dir() / "openvino"


def converted_model_path(facts: ModelFacts, precision: str, recipe: str = "") -> Path:
    """Where the IR (``.xml`` + ``.bin``) for this model, precision and OpenVINO version lives."""
    arch = (facts.architecture or type(facts.module).__name__).replace("/", "_")
    kind = "fp32" if precision in ("fp32", "bf16") else f"{precision}{recipe}"
    return ir_cache_dir() / f"{arch}-{weights_hash(facts.module)}-ov{openvino_version()}-{kind}.xml"


def ir_is_complete(xml: Path) -> bool:
    """Both halves of a saved IR are there (``save_ir_atomic`` moves the ``.xml`` in last)."""
    return xml.is_file() and xml.with_suffix(".bin").is_file()


def save_ir_atomic(model: Any, xml: Path) -> None:
    """Write the IR into a temporary folder and move it in, ``.bin`` first: the ``.xml`` appearing
    is the sign that the pair is complete, so a killed conversion leaves nothing that looks cached."""
    ov = require_openvino()
    xml.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".converting-", dir=xml.parent))
    try:
        ov.save_model(model, str(tmp / xml.name), compress_to_fp16=False)
        os.replace(tmp / xml.with_suffix(".bin").name, xml.with_suffix(".bin"))
        os.replace(tmp / xml.name, xml)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
