"""Image files ↔ numpy arrays in RGB order, keeping 16 bits, float32 and alpha.

The plain-array front of this package (whose ``*_image_file`` functions also carry the
metadata); ``core.imageio`` is its deprecated old name. Pixels come back
upright (EXIF orientation applied), after the pixel count was checked from the header. Gray
images come back as H×W, colour as H×W×3 (RGB) or H×W×4 (RGBA), as uint8, uint16 or float32
(float TIFF, OpenEXR).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import READABLE_SUFFIXES
from .pil import pil_to_array
from .reading import DEFAULT_MAX_PIXELS, decode_image_file, read_image_file
from .writing import WRITABLE_SUFFIXES, encode_image_file, write_image_file

__all__ = [
    "decode_image",
    "read_image",
    "encode_image",
    "write_image",
    "image_files",
    "pil_to_array",
    "WRITABLE_SUFFIXES",
    "READABLE_SUFFIXES",
    "DEFAULT_MAX_PIXELS",
]


def decode_image(
    data: bytes | bytearray | memoryview, *, name: str = "image", max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode encoded image bytes to upright RGB(A) or gray pixels (metadata: ``core.imagefile``)."""
    return decode_image_file(data, name=name, max_pixels=max_pixels).pixels


# PIL modes we take after a conversion (None: palette → RGBA when it has transparency, else RGB).
def image_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files directly inside ``folder`` (by extension, not recursive), sorted."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in READABLE_SUFFIXES)


def read_image(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image file as upright pixels (see :func:`decode_image`)."""
    return read_image_file(path, max_pixels=max_pixels).pixels


def encode_image(image: np.ndarray, format: str = ".png") -> bytes:
    """Encode an RGB(A)/gray array (uint8, uint16, or float) without metadata.

    Floats in 0..1 become 16-bit where the format allows it, else 8-bit; TIFF and EXR keep float32.
    """
    return encode_image_file(image, format)


def write_image(path: str | os.PathLike[str], image: np.ndarray, *, overwrite: bool = False) -> Path:
    """Write ``image`` to ``path`` atomically (no metadata); the format follows the file extension."""
    return write_image_file(path, image, overwrite=overwrite)
