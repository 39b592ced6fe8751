"""Photo-like test files made on the fly: EXIF orientation, ICC profiles, ComfyUI text chunks."""

from __future__ import annotations

import functools
import io
import json
import struct
import zlib
from typing import Any

import numpy as np
from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo

XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/><!-- realesrgan-kit test --></x:xmpmeta>'
COMFY_PROMPT = json.dumps({"3": {"class_type": "KSampler", "inputs": {"seed": 42, "text": "a café"}}})
COMFY_WORKFLOW = json.dumps({"last_node_id": 9, "nodes": [{"id": 3, "type": "KSampler"}], "version": 0.4})


@functools.cache
def icc_profile() -> bytes:
    """A real (small) ICC profile that is not sRGB, so keeping it is observable (made once: it is dated)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()


def pattern(height: int, width: int, channels: int = 3, dtype: Any = np.uint8, seed: int = 0) -> np.ndarray:
    """Random pixels (no symmetry, so every rotation and flip is distinguishable)."""
    rng = np.random.default_rng(seed)
    shape = (height, width) if channels == 1 else (height, width, channels)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, int(np.iinfo(dtype).max) + 1, shape, dtype=np.int64).astype(dtype)
    return rng.random(shape, dtype=np.float32)


def camera_exif(orientation: int, width: int, height: int) -> bytes:
    """EXIF bytes (with the ``Exif\\0\\0`` prefix Pillow wants) like a camera writes them."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TestCam"
    exif[0x0110] = "Model X"
    sub = exif.get_ifd(0x8769)
    sub[0xA002] = width
    sub[0xA003] = height
    sub[0x9003] = "2026:11:28 10:00:00"
    return exif.tobytes()


def save(image: np.ndarray, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt, **options)
    return buffer.getvalue()


def comfy_png(image: np.ndarray) -> bytes:
    """A PNG as ComfyUI's Save Image writes it: ``prompt`` and ``workflow`` text chunks."""
    info = PngInfo()
    info.add_text("prompt", COMFY_PROMPT)
    info.add_text("workflow", COMFY_WORKFLOW)
    return save(image, "PNG", pnginfo=info)


def png_bomb(width: int = 60000, height: int = 60000) -> bytes:
    """A ~100-byte PNG whose header declares ``width``×``height`` RGB pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
