"""Measure what one window's forward really costs, to calibrate ``core/engine/memory.py``.

    python benchmarks/calibrate_memory.py [--model RealESRGAN_x4plus] [--precision bf16] [--sizes 128,256,384]

For each window side, a fresh process converts the weights, runs a warm-up, resets the
resident high-water mark (``/proc/self/clear_refs``), runs one forward and reports the peak
above the resident size just before it. The fit ``bytes = a · pixels + b`` is printed next to
the engine's estimate for the same windows (Linux only).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _status(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field))


def child(model_name: str, precision: str, side: int) -> None:
    from _support import import_package

    import_package()
    import torch

    from realesrgan_kit.core.engine import default_tile_pad, estimate_tile_memory
    from realesrgan_kit.core.engine.modelinfo import model_facts
    from realesrgan_kit.core.engine.window_network import prepare_network
    from realesrgan_kit.core.load import load_model

    model = load_model(model_name)
    facts = model_facts(model)
    network = prepare_network(facts, precision, torch.device("cpu"))
    with torch.inference_mode():
        network(torch.rand(1, 3, 16, 16))  # weights converted, kernels loaded
        window = torch.rand(1, 3, side, side)
        before = _status("VmRSS:")
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        network(window)
        peak = _status("VmHWM:")
    pad = default_tile_pad(facts)
    estimate = estimate_tile_memory(model, side - 2 * pad, tile_pad=pad, precision=precision)
    print(json.dumps({"side": side, "measured": peak - before, "estimate": estimate}))


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--model", default="RealESRGAN_x4plus")
    parser.add_argument("--precision", default="bf16", choices=("fp32", "bf16"))
    parser.add_argument("--sizes", default="128,256,384")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.model, args.precision, args.child)
        return 0
    rows = []
    for side in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--model",
                args.model,
                "--precision",
                args.precision,
                "--child",
                str(side),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{args.model} {args.precision}: window side, measured peak above baseline, engine estimate")
    for r in rows:
        print(f"  {r['side']:5d}  {r['measured'] / 2**20:8.1f} MB  {r['estimate'] / 2**20:8.1f} MB")
    if len(rows) >= 2:
        (s0, m0), (s1, m1) = (rows[0]["side"], rows[0]["measured"]), (rows[-1]["side"], rows[-1]["measured"])
        slope = (m1 - m0) / (s1 * s1 - s0 * s0)
        print(f"  fit: {slope:.0f} bytes per window pixel + {(m0 - slope * s0 * s0) / 2**20:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
