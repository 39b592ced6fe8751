"""Image files ↔ numpy arrays in RGB order, keeping 16 bits and alpha.

OpenCV decodes 16-bit PNG/TIFF and alpha faithfully (Pillow opens 16-bit RGBA as 8-bit), but
in BGR order; every front end wants RGB, so the swap lives here once. Gray images come back
as H×W, colour as H×W×3 (RGB) or H×W×4 (RGBA), as uint8 or uint16.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import InvalidImageError, InvalidParameterError
from .fileio import atomic_output

__all__ = [
    "decode_image",
    "read_image",
    "encode_image",
    "write_image",
    "image_files",
    "pil_to_array",
    "WRITABLE_SUFFIXES",
]

# Formats that hold 16 bits per channel through OpenCV; the others are 8-bit only.
_SIXTEEN_BIT_SUFFIXES = (".png", ".tif", ".tiff")
WRITABLE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".webp", ".bmp")


def decode_image(data: bytes | bytearray | memoryview, *, name: str = "image") -> np.ndarray:
    """Decode encoded image bytes (PNG, JPEG, WebP, TIFF, BMP...) to an RGB(A) or gray array."""
    buffer = np.frombuffer(data, dtype=np.uint8)
    if buffer.size == 0:
        raise InvalidImageError(f"{name} is empty (0 bytes); expected the bytes of an image file")
    decoded = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise InvalidImageError(
            f"{name} ({buffer.size} bytes) could not be decoded as an image; "
            "expected PNG, JPEG, WebP, TIFF or BMP"
        )
    if decoded.ndim == 3 and decoded.shape[2] == 1:
        decoded = decoded[:, :, 0]
    if decoded.ndim == 3:
        code = cv2.COLOR_BGRA2RGBA if decoded.shape[2] == 4 else cv2.COLOR_BGR2RGB
        decoded = cv2.cvtColor(decoded, code)
    if decoded.dtype not in (np.uint8, np.uint16):
        # 32-bit float TIFF/EXR would need a policy of its own; say so rather than guess.
        raise InvalidImageError(
            f"{name} decodes to {decoded.dtype} pixels; only 8- and 16-bit images are supported"
        )
    return np.ascontiguousarray(decoded)


# PIL modes we take after a conversion (None: palette → RGBA when it has transparency, else RGB).
_PIL_CONVERT = {
    "1": "L",
    "P": None,
    "PA": "RGBA",
    "CMYK": "RGB",
    "YCbCr": "RGB",
    "LAB": "RGB",
    "HSV": "RGB",
    "RGBX": "RGB",
    "RGBa": "RGBA",
    "La": "LA",
}


def pil_to_array(image: Any) -> tuple[np.ndarray, str]:
    """A PIL image → (array, the mode it stands for): L/LA/RGB/RGBA as uint8, 16-bit modes as
    uint16, F as float32; other modes are converted to the nearest of those first."""
    mode = image.mode
    if mode in _PIL_CONVERT:
        target = _PIL_CONVERT[mode]
        if target is None:
            target = "RGBA" if "transparency" in image.info else "RGB"
        image, mode = image.convert(target), target
    if mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16), "I;16"
    if mode == "I":  # Pillow's 16-bit PNG mode (int32 storage): 16-bit by its format, not its values
        return np.clip(np.asarray(image), 0, 65535).astype(np.uint16), "I"
    if mode == "F":
        return np.asarray(image, dtype=np.float32), "F"
    if mode in ("L", "LA", "RGB", "RGBA"):
        return np.asarray(image), mode
    raise InvalidImageError(f"unsupported PIL image mode {mode!r}; convert it to RGB, RGBA, L or LA first")


def image_files(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files directly inside ``folder`` (by extension, not recursive), sorted."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in WRITABLE_SUFFIXES)


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file (see :func:`decode_image` for what comes back)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise InvalidImageError(f"no such image file: {file}")
    return decode_image(file.read_bytes(), name=str(file))


def _to_storable(image: np.ndarray, suffix: str) -> np.ndarray:
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)) or image.size == 0:
        raise InvalidImageError(f"expected an H×W, H×W×1, H×W×3 or H×W×4 image, got shape {image.shape}")
    sixteen = suffix in _SIXTEEN_BIT_SUFFIXES
    if image.dtype == np.uint16 and not sixteen:
        raise InvalidParameterError(
            f"{suffix} holds 8 bits per channel but the image is 16-bit; save as .png or .tiff to keep 16 bits"
        )
    if np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all():
            raise InvalidImageError("the image contains NaN or infinite values; nothing was written")
        peak = 65535 if sixteen else 255
        image = np.rint(np.clip(image, 0.0, 1.0) * peak).astype(np.uint16 if sixteen else np.uint8)
    elif image.dtype not in (np.uint8, np.uint16):
        raise InvalidImageError(f"expected uint8, uint16 or float pixels, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
        image = cv2.cvtColor(image, code)
    return image


def _suffix_of(name: str) -> str:
    suffix = Path(name).suffix.lower() or name.lower()
    suffix = suffix if suffix.startswith(".") else f".{suffix}"
    if suffix not in WRITABLE_SUFFIXES:
        raise InvalidParameterError(
            f"cannot write images of type {suffix!r}; use one of {', '.join(WRITABLE_SUFFIXES)}"
        )
    return suffix


def encode_image(image: np.ndarray, format: str = ".png") -> bytes:
    """Encode an RGB(A)/gray array (uint8, uint16, or float in 0..1) as image file bytes.

    Floats become 16-bit where the format allows it, else 8-bit.
    """
    suffix = _suffix_of(format)
    ok, encoded = cv2.imencode(suffix, _to_storable(np.asarray(image), suffix))
    if not ok:
        raise InvalidImageError(f"OpenCV could not encode a {image.shape} {image.dtype} image as {suffix}")
    return encoded.tobytes()


def write_image(path: str | os.PathLike[str], image: np.ndarray, *, overwrite: bool = False) -> Path:
    """Write ``image`` to ``path`` atomically; the format follows the file extension."""
    final = Path(path).expanduser()
    if not final.suffix:
        raise InvalidParameterError(f"{final} has no extension; name the format, e.g. {final.name}.png")
    data = encode_image(image, final.suffix)
    with atomic_output(final, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return final
