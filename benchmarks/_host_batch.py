"""The frame-batch rows of bench_video_nodes.py measured inside a real ComfyUI server (``--host``).

Same graph for both rows, as a user builds it: Load Video → Get Video Components → the upscale
node → Preview Any, with ``realesr-animevideov3`` ×4 from one converted file in
``models/upscale_models`` (our Load node and core's "Load Upscale Model" read the same file).
Each run gets a fresh server (the rows take turns); in it a one-frame clip warms the upscale node
up, then the input batch alone is decoded (the baseline: an upstream node made it, as in a user's
graph), then the timed prompt runs with everything upstream served from ComfyUI's cache.

Time: ComfyUI's own ``execution_start`` → ``execution_success`` timestamps of the timed prompt.
Memory: the server's peak resident memory during that prompt above its resident memory just
before it (the kernel's high-water mark of the server process, reset through
``/proc/<pid>/clear_refs``): what a user sees the node add to their ComfyUI.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ROWS = ("batch_ours", "batch_core")


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _graph(row: str, clip: str, *, upscale: bool) -> dict[str, Any]:
    graph: dict[str, Any] = {
        "1": {"class_type": "LoadVideo", "inputs": {"file": clip}},
        "2": {"class_type": "GetVideoComponents", "inputs": {"video": ["1", 0]}},
    }
    if not upscale:
        graph["9"] = {"class_type": "PreviewAny", "inputs": {"source": ["2", 0]}}
        return graph
    if row == "batch_ours":
        graph["3"] = {
            "class_type": "RealESRGANKitLoadModel",
            "inputs": {"model_name": "realesr-animevideov3.safetensors", "second_model": "none"}
            | {"second_model_strength": 0.5},
        }
        widgets = {"resize_mode": "model scale", "outscale": 2.0, "width": 0, "height": 0, "tile": "auto"}
        widgets |= {"tile_pad": 0, "precision": "auto", "tta": False, "alpha_mode": "model"}
        graph["4"] = {
            "class_type": "RealESRGANKitUpscale",
            "inputs": {"image": ["2", 0], "model": ["3", 0]} | widgets,
        }
    else:
        graph["3"] = {
            "class_type": "UpscaleModelLoader",
            "inputs": {"model_name": "realesr-animevideov3.safetensors"},
        }
        graph["4"] = {
            "class_type": "ImageUpscaleWithModel",
            "inputs": {"upscale_model": ["3", 0], "image": ["2", 0]},
        }
    graph["5"] = {"class_type": "PreviewAny", "inputs": {"source": ["4", 0]}}
    return graph


def _seconds(entry: dict[str, Any]) -> float:
    from support.real_comfyui import messages

    found = messages(entry)
    return (found["execution_success"]["timestamp"] - found["execution_start"]["timestamp"]) / 1000.0


def _one_run(row: str, install: Any, env: dict[str, str]) -> tuple[float, int]:
    from support.real_comfyui import error_of, running_server

    with running_server(install.root, install.python, env) as server:
        assert server.process is not None
        pid = server.process.pid
        for graph in (_graph(row, "warm.mp4", upscale=True), _graph(row, "batch.mp4", upscale=False)):
            entry = server.run(graph, timeout=1800)
            if entry["status"]["status_str"] != "success":
                raise RuntimeError(f"{row}: {error_of(entry)}")
        baseline = _kib(pid, "VmRSS") * 1024
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # the high-water mark starts again from now
        entry = server.run(_graph(row, "batch.mp4", upscale=True), timeout=1800)
        if entry["status"]["status_str"] != "success":
            raise RuntimeError(f"{row}: {error_of(entry)}")
        return _seconds(entry), _kib(pid, "VmHWM") * 1024 - baseline


def measure(frames: int, side: int, repeat: int) -> dict[str, dict]:
    """Both rows, ``repeat`` fresh servers each, taking turns."""
    sys.path.insert(0, str(ROOT / "tests"))
    from realesrgan_kit.core.load import load_model, save_safetensors
    from support import real_comfyui
    from support.clips import make_clip

    tmp = Path(tempfile.mkdtemp(prefix="bench-host-"))
    root = real_comfyui.unpack(real_comfyui.source(), tmp)
    install = real_comfyui.ComfyInstall(
        root=root, python=real_comfyui.python_for(root, tmp / "venv-build.log")
    )
    real_comfyui.link_pack(root)
    make_clip(root / "input" / "batch.mp4", frames=frames, width=side, height=side, audio=False, gop=12)
    make_clip(root / "input" / "warm.mp4", frames=1, width=side, height=side, audio=False, gop=1)
    model = load_model("realesr-animevideov3")
    save_safetensors(model, root / "models" / "upscale_models" / "realesr-animevideov3.safetensors")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["REALESRGAN_KIT_MODELS"] = str(tmp / "models")
    results: dict[str, dict] = {
        row: {"row": row, "seconds": [], "peaks": [], "output_bytes": frames * (side * 4) ** 2 * 3 * 4}
        for row in ROWS
    }
    for _ in range(repeat):
        for row in ROWS:
            print(f"running {row} in a fresh ComfyUI ...", file=sys.stderr, flush=True)
            seconds, peak = _one_run(row, install, env)
            results[row]["seconds"].append(seconds)
            results[row]["peaks"].append(peak)
    return results
