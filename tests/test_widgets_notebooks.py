"""Notebooks: committed without outputs, and each one executes on small inputs.

Execution uses nbclient with the ``python3`` kernelspec (ipykernel installed in the
environment provides it). ``REALESRGAN_KIT_NOTEBOOK_SMALL=1`` makes every notebook use tiny
crops (and the compact model where the default one is not the point).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == [
        "01_quickstart.ipynb",
        "02_tile_tuning.ipynb",
        "03_degradations.ipynb",
        "04_video.ipynb",
        "05_finetune.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: a cell has outputs"
    assert notebook.metadata.kernelspec.name == "python3"


def test_nbstripout_verify_passes():
    done = subprocess.run(
        [sys.executable, "-m", "nbstripout", "--verify", *map(str, NOTEBOOKS)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.notebook
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_on_small_inputs(path, monkeypatch):
    monkeypatch.setenv("REALESRGAN_KIT_NOTEBOOK_SMALL", "1")  # the kernel inherits the environment
    monkeypatch.setenv("JUPYTER_PREFER_ENV_PATH", "1")  # this environment's kernelspec, not a user-level one
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()  # raises CellExecutionError with the failing cell and its traceback
    errors = [
        o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors
