"""The GPU benchmark: one command, one table (also written to benchmarks/results_gpu.md).

    python benchmarks/bench_gpu.py            # 512×512 crop of tests/data/gt/baboon.png
    python benchmarks/bench_gpu.py --quick    # 128×128 crop

RealESRGAN_x4plus (real weights, embedded, offline) on the first CUDA GPU, every row in its own
fresh process:

- ComfyUI-equivalent: core "Upscale Image (using Model)" re-implemented (fp32, NCHW, eager,
  tiles of 512 with overlap 32 and a feather), the reference for the speed-up column;
- ours: ``run_upscale`` in fp16 channels-last (its default on CUDA);
- ours + ``torch.compile``: the same with the forward the engine builds compiled (the warm-up
  and the first run include compiling; windows of new shapes recompile).

It refuses to run without CUDA (exit status 2 and a message): CPU tests do not cover it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import import_package

ROWS = {
    "comfyui": "ComfyUI-core equivalent (fp32 NCHW eager, tile 512/overlap 32, feather)",
    "ours": "ours, fp16 channels-last (run_upscale default on CUDA)",
    "ours_compiled": "ours, fp16 channels-last + torch.compile",
}


def child(row: str, size: int, repeat: int, out: str) -> None:
    import_package()
    import torch
    from bench_upscale import comfyui_reference, photo_crop

    from realesrgan_kit.core.engine import run_upscale  # pyright: ignore[reportMissingImports]
    from realesrgan_kit.core.load import load_model  # pyright: ignore[reportMissingImports]

    device = torch.device("cuda")
    model = load_model("RealESRGAN_x4plus")
    image = photo_crop(size)
    if row == "comfyui":
        module = model.module.to(device).float().eval()

        def run(img: np.ndarray) -> np.ndarray:
            return comfyui_reference(_OnDevice(module, device), img, model.scale)
    else:
        if row == "ours_compiled":
            # The engine builds its fp16 channels-last forward per call; compile what it builds.
            from realesrgan_kit.core.engine import window_network as network  # pyright: ignore[reportMissingImports]

            build = network.PreparedNetwork._build
            network.PreparedNetwork._build = lambda self, dtype: torch.compile(build(self, dtype))

        def run(img: np.ndarray) -> np.ndarray:
            return run_upscale(model, img, precision="fp16", device=device).image

    run(photo_crop(64))  # warm-up (and the compile, for the compiled row, on a small window)
    times = []
    for _ in range(repeat):
        torch.cuda.synchronize()
        started = time.perf_counter()
        output = run(image)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    np.save(out, output)
    print(
        json.dumps(
            {
                "first_seconds": times[0],
                "seconds": min(times),
                "peak_vram": torch.cuda.max_memory_allocated(device),
                "gpu": torch.cuda.get_device_name(device),
            }
        )
    )


class _OnDevice:
    """Feeds the CPU tensors the reference makes to a module on the GPU and brings results back."""

    def __init__(self, module, device) -> None:
        self.module, self.device = module, device

    def __call__(self, x):
        return self.module(x.to(self.device)).float().cpu()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="128² crop")
    parser.add_argument("--size", type=int, default=None, help="crop side (default 512, quick 128)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results_gpu.md")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    size = args.size or (128 if args.quick else 512)
    if args.child:
        child(args.child, size, args.repeat, args.out)
        return 0
    import torch

    if not torch.cuda.is_available():
        print(
            "bench_gpu.py needs a CUDA GPU and this PyTorch sees none "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda}); nothing was measured.",
            file=sys.stderr,
        )
        return 2
    import_package()
    from realesrgan_kit.core.metrics import psnr  # pyright: ignore[reportMissingImports]

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        for row in ROWS:
            out = Path(tmp) / f"{row}.npy"
            print(f"running {row} ...", file=sys.stderr, flush=True)
            cmd = [
                sys.executable,
                __file__,
                "--child",
                row,
                "--size",
                str(size),
                "--repeat",
                str(args.repeat),
            ]
            proc = subprocess.run(cmd + ["--out", str(out)], capture_output=True, text=True)
            lines = proc.stdout.strip().splitlines()
            if proc.returncode != 0 or not lines:
                error = (proc.stderr.strip().splitlines() or ["failed"])[-1]
                results[row] = {"error": error}
                continue
            results[row] = json.loads(lines[-1]) | {"image": np.load(out)}
    ref = results.get("comfyui", {})
    gpu = next((r["gpu"] for r in results.values() if "gpu" in r), "?")
    lines = [
        f"# GPU upscale benchmark ({datetime.date.today().isoformat()})",
        "",
        f"RealESRGAN_x4plus, {size}² crop of tests/data/gt/baboon.png → {4 * size}², {gpu}, torch {torch.__version__}. "
        f"Each row in its own process after a 64² warm-up; first and best of {args.repeat} runs.",
        "",
        "| path | first s | best s | speed-up vs ComfyUI-equivalent (first / best) | peak VRAM | PSNR vs ComfyUI-equivalent |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row, label in ROWS.items():
        info = results[row]
        if "error" in info:
            lines.append(f"| {label} | failed: {info['error']} | | | | |")
            continue
        speed = (
            f"{ref['first_seconds'] / info['first_seconds']:.2f}× / {ref['seconds'] / info['seconds']:.2f}×"
            if "seconds" in ref
            else "–"
        )
        quality = (
            "reference"
            if row == "comfyui"
            else (f"{psnr(info['image'], ref['image']):.1f} dB" if "image" in ref else "–")
        )
        lines.append(
            f"| {label} | {info['first_seconds']:.2f} | {info['seconds']:.2f} | {speed} | "
            f"{info['peak_vram'] / 2**20:.0f} MB | {quality} |"
        )
    table = "\n".join(lines) + "\n"
    print(table)
    args.output.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
