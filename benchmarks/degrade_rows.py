"""Benchmark rows for the degradation pipeline (CPU).

``rows()`` returns dicts {"case", "seconds", "note"} for the project's benchmark table;
``python benchmarks/degrade_rows.py`` prints them alone.

Each seed samples a different degradation (some enlarge in stage 1, some add the slower
Poisson noise), so the typical case is the median over seeds, each timed best-of-3; the worst
case fixes the most expensive choices.
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import import_package


def _import_package():
    import_package()
    from realesrgan_kit.core import degrade as degrade_module

    return degrade_module


def _test_image(size: int = 512) -> np.ndarray:
    """A photo-like 512×512 RGB uint8 image: smooth colour fields plus fine texture."""
    rng = np.random.default_rng(0)
    import cv2

    coarse = cv2.resize(
        rng.random((16, 16, 3)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC
    )
    fine = rng.normal(0, 0.08, (size, size, 3)).astype(np.float32)
    return np.clip(np.round((coarse + fine) * 255), 0, 255).astype(np.uint8)


def _best_of(fn, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def rows(seeds: int = 15) -> list[dict]:
    dg = _import_package()
    image = _test_image()
    per_seed = []
    for seed in range(seeds):
        record = dg.sample_degradation(np.random.default_rng(seed), height=512, width=512, scale=4)
        per_seed.append(_best_of(lambda r=record: dg.apply_degradation(image, r)))

    # Worst case: stage 1 enlarges ×1.5 (768×768) and both noises are Poisson in colour.
    base = dg.sample_degradation(np.random.default_rng(0), height=512, width=512, scale=4)
    worst = dataclasses.replace(
        base,
        blur1=dg.KernelChoice("aniso", 21, sigma_x=3.0, sigma_y=2.0, theta=0.5),
        resize1=dg.ResizeChoice("up", 1.5, "bicubic", 768, 768),
        noise1=dg.NoiseChoice("poisson", False, 1, scale=3.0),
        blur2=dg.KernelChoice("aniso", 21, sigma_x=1.5, sigma_y=1.0, theta=0.5),
        noise2=dg.NoiseChoice("poisson", False, 2, scale=2.5),
    )
    worst_seconds = _best_of(lambda: dg.apply_degradation(image, worst))

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(1000):
        dg.sample_degradation(rng, height=512, width=512, scale=4)
    sampling = (time.perf_counter() - start) / 1000

    return [
        {
            "case": "degrade 512×512 full pipeline (realesrgan preset)",
            "seconds": statistics.median(per_seed),
            "note": f"median over {seeds} seeds of best-of-3; range {min(per_seed):.3f}–{max(per_seed):.3f} s",
        },
        {
            "case": "degrade 512×512 worst case (×1.5 enlarge, Poisson noise twice)",
            "seconds": worst_seconds,
            "note": "best-of-3",
        },
        {
            "case": "sample_degradation (parameters only)",
            "seconds": sampling,
            "note": "mean of 1000 draws",
        },
    ]


def main() -> None:
    table = rows()
    width = max(len(r["case"]) for r in table)
    print(f"{'case':<{width}}  {'seconds':>9}  note")
    for r in table:
        print(f"{r['case']:<{width}}  {r['seconds']:>9.4f}  {r['note']}")


if __name__ == "__main__":
    main()
