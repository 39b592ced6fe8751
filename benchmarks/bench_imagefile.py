"""What keeping metadata costs when reading images (floor: ≤ 5 ms for an ordinary PNG).

    python benchmarks/bench_imagefile.py            # full: 1024² and 4096² photos, best of 15
    python benchmarks/bench_imagefile.py --quick    # 512² only, best of 5 (a smoke run)

One table. Reference path, measured in the same run: OpenCV's ``imdecode(IMREAD_UNCHANGED)``
of the same bytes (what the CLI did before). Rows: our ``decode_image_file`` (header check,
metadata, decode, orientation), its metadata part alone (header probe + container walk, no
pixels), and the ratio to the reference. Files: a plain PNG, a ComfyUI-style PNG (prompt and
workflow text chunks, ICC), a phone JPEG (EXIF orientation 6, ICC, XMP). Rows are labelled
with the CPU class read from /proc/cpuinfo.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import cpu_class, import_package


def _photo(size: int) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(0)
    coarse = cv2.resize(
        rng.random((16, 16, 3)).astype(np.float32), (size, size), interpolation=cv2.INTER_CUBIC
    )
    fine = rng.normal(0, 0.05, (size, size, 3)).astype(np.float32)
    return np.clip(np.round((coarse + fine) * 255), 0, 255).astype(np.uint8)


def _files(size: int) -> dict[str, bytes]:
    from PIL import Image, ImageCms
    from PIL.PngImagePlugin import PngInfo

    pixels = _photo(size)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    info = PngInfo()
    info.add_text(
        "prompt", json.dumps({str(i): {"class_type": "Node", "inputs": {"x": i}} for i in range(40)})
    )
    info.add_text("workflow", json.dumps({"nodes": [{"id": i, "type": "Node"} for i in range(200)]}))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Phone"

    def save(fmt: str, **options) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format=fmt, **options)
        return buffer.getvalue()

    return {
        "PNG (plain)": save("PNG"),
        "PNG (ComfyUI text + ICC)": save("PNG", pnginfo=info, icc_profile=icc),
        "JPEG (EXIF orientation 6, ICC, XMP)": save(
            "JPEG", quality=92, exif=exif.tobytes(), icc_profile=icc, xmp=b"<x:xmpmeta/>"
        ),
    }


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def _metadata_only(imagefile, data: bytes):
    header = imagefile.probe_image(data)
    containers = importlib.import_module("realesrgan_kit.core.imagefile.containers")
    reader = {"png": containers.read_png_metadata, "jpeg": containers.read_jpeg_metadata}[header.format]
    return reader(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="512² only, best of 5")
    args = parser.parse_args(argv)
    import_package()
    import cv2

    imagefile = importlib.import_module("realesrgan_kit.core.imagefile")

    sizes, repeats = ([512], 5) if args.quick else ([1024, 4096], 15)
    label = cpu_class()
    print("| CPU | file | size | OpenCV decode (ref) | ours: read | ours: metadata only | read / ref |")
    print("|---|---|---|---:|---:|---:|---:|")
    for size in sizes:
        for name, data in _files(size).items():
            buffer = np.frombuffer(data, np.uint8)
            reference = _best(lambda b=buffer: cv2.imdecode(b, cv2.IMREAD_UNCHANGED), repeats)
            ours = _best(lambda d=data: imagefile.decode_image_file(d), repeats)
            metadata = _best(lambda d=data: _metadata_only(imagefile, d), repeats * 4)
            print(
                f"| {label} | {name} | {size}² ({len(data) // 1024} KB) | {reference * 1e3:.2f} ms | "
                f"{ours * 1e3:.2f} ms | {metadata * 1e3:.3f} ms | {ours / reference:.2f}× |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
