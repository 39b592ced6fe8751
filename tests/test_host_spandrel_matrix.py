"""Any model ComfyUI loads runs through our Upscale node, and matches core's node.

``tests/host/spandrel_matrix.py`` runs with ComfyUI's own python (spandrel is ComfyUI's
dependency, not ours): every architecture of spandrel's main registry that core's "Upscale
Image (using Model)" can run is built small with random weights, loaded by spandrel's
``ModelLoader`` and run through core's node and ours by ComfyUI's executor under
``torch.inference_mode()``. Floors: ≥ 60 dB against core's output in fp32; at precision
``auto`` ≥ 40 dB, or a fall-back to fp32 with exactly one warning; no architecture where core's
node succeeds and ours errors.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "host" / "spandrel_matrix.py"
FP32_FLOOR_DB = 60.0
AUTO_FLOOR_DB = 40.0
STOCHASTIC_MARGIN_DB = 3.0
"""A network that draws noise in its forward (AuraSR) differs from itself between two core
runs; ours must then match core as closely as core matches itself, within this margin."""


@pytest.fixture(scope="module")
def matrix(comfyui_install, tmp_path_factory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("matrix") / "matrix.json"
    command = [
        str(comfyui_install.python),
        str(SCRIPT),
        "--comfyui",
        str(comfyui_install.root),
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=ROOT)
    assert done.returncode == 0, f"the matrix script failed:\n{done.stderr[-4000:]}"
    return json.loads(out.read_text())


def _floor(row: dict[str, Any], floor: float) -> float:
    repeat = row.get("core_repeat_psnr_db", 999.0)
    return min(floor, repeat - STOCHASTIC_MARGIN_DB)


def test_every_registry_architecture_is_covered(matrix):
    assert matrix["not_covered"] == [], "architectures in spandrel's registry that the matrix does not run"
    broken = {
        r["architecture"]: r.get("error") or r.get("core_error")
        for r in matrix["rows"]
        if r["status"] in ("not built", "core fails")
    }
    assert not broken, f"the matrix's small configs must load and run in core's node: {broken}"


def test_ours_never_errors_where_core_succeeds(matrix):
    failing = {
        r["architecture"]: {p: r[p]["error"] for p in ("fp32", "auto") if "error" in r[p]}
        for r in matrix["rows"]
        if r["status"] == "ours fails"
    }
    assert not failing


def test_fp32_matches_core(matrix):
    low = {
        r["architecture"]: r["fp32"]["psnr_db"]
        for r in matrix["rows"]
        if r["status"] == "ok" and r["fp32"]["psnr_db"] < _floor(r, FP32_FLOOR_DB)
    }
    assert not low, f"below {FP32_FLOOR_DB} dB against core's node in fp32"
    assert all(r["fp32"]["precision_used"] == "fp32" for r in matrix["rows"] if r["status"] == "ok")


def test_auto_is_close_or_falls_back_with_one_warning(matrix):
    problems = {}
    for r in (r for r in matrix["rows"] if r["status"] == "ok"):
        auto = r["auto"]
        fell_back = auto["precision_used"] == "fp32" and r["supports_bfloat16"] and matrix["fast_bf16"]
        expected_warnings = 1 if fell_back else 0
        if auto["psnr_db"] < _floor(r, AUTO_FLOOR_DB):
            problems[r["architecture"]] = f"{auto['psnr_db']} dB in {auto['precision_used']}"
        elif len(auto["warnings"]) != expected_warnings:
            problems[r["architecture"]] = f"{len(auto['warnings'])} warnings, expected {expected_warnings}"
        elif fell_back and r["architecture"] not in auto["warnings"][0]:
            problems[r["architecture"]] = f"the warning does not name the architecture: {auto['warnings'][0]}"
    assert not problems
