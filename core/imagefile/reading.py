"""Image file bytes → upright pixels plus metadata, with the pixel limit checked first.

Order of work: the header says the format and size (pure Python, nothing decoded) → the size is
checked against ``max_pixels`` → the metadata is read from the container → the pixels are
decoded (OpenCV for PNG/JPEG/WebP/TIFF/BMP, keeping 16 bits, float32 TIFF and alpha; the
``OpenEXR`` package for EXR; Pillow for AVIF; ``pillow-heif`` for HEIC) → the EXIF/TIFF
orientation is applied. Only typed errors leave this module.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import ImageTooLargeError, InvalidImageError
from .containers import read_jpeg_metadata, read_png_metadata, read_webp_metadata
from .header import ImageHeader, probe_image
from .metadata import ImageFile, ImageMetadata, apply_orientation, exif_orientation, upright_exif
from .tiffdir import read_ifd

__all__ = ["DEFAULT_MAX_PIXELS", "check_pixels", "decode_image_file", "read_image_file"]

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 250_000_000
"""Largest image read by default: 250 megapixels covers 100- and 200-MP camera files."""

_EXR_EXTRA = "pip install 'realesrgan-kit[exr]'"
_HEIF_EXTRA = "pip install 'realesrgan-kit[heif]'"


def check_pixels(width: int, height: int, max_pixels: int | None, name: str) -> None:
    """Raise :class:`ImageTooLargeError` when ``width × height`` exceeds ``max_pixels`` (None: no limit)."""
    if max_pixels is not None and width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name} is {width}×{height} = {width * height:,} pixels, more than the limit of "
            f"{max_pixels:,}; if you trust the file, raise the limit (--max-pixels {width * height} "
            f"on the command line, max_pixels={width * height} in Python)",
            width=width,
            height=height,
            limit=max_pixels,
        )


def read_image_file(
    path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> ImageFile:
    """Read an image file: upright pixels (RGB(A)/gray; uint8, uint16 or float32) and its metadata."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise InvalidImageError(f"no such image file: {file}")
    return decode_image_file(file.read_bytes(), name=str(file), max_pixels=max_pixels, path=file)


def decode_image_file(
    data: bytes | bytearray | memoryview,
    *,
    name: str = "image",
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    path: Path | None = None,
) -> ImageFile:
    """Decode image file bytes (see :func:`read_image_file`). ``path``: where they came from, if a file."""
    data = bytes(data)
    if not data:
        raise InvalidImageError(f"{name} is empty (0 bytes); expected the bytes of an image file")
    header = probe_image(data, name=name)
    check_pixels(header.width, header.height, max_pixels, name)
    if header.format in ("avif", "heif"):
        pixels, metadata = _decode_with_pillow(data, header, name)
    else:
        metadata = _container_metadata(data, header, name)
        pixels = _decode_exr(data, name, path) if header.format == "exr" else _decode_opencv(data, name)
    if header.format == "tiff":
        orientation = metadata.orientation  # OpenCV's TIFF decoder applies the tag itself
    elif header.format == "heif":
        orientation = 1  # libheif applies the container's rotation; HEIF readers ignore the EXIF tag
    else:
        orientation = exif_orientation(metadata.exif)
    pixels = _normalise(pixels, name)
    if header.format not in ("tiff", "heif"):
        pixels = apply_orientation(pixels, orientation)
    check_pixels(pixels.shape[1], pixels.shape[0], max_pixels, name)  # a header that lied
    exif = upright_exif(metadata.exif, orientation, name=name)
    metadata = ImageMetadata(
        icc_profile=metadata.icc_profile,
        exif=exif,
        xmp=metadata.xmp,
        dpi=metadata.dpi,
        text=metadata.text,
        orientation=orientation,
    )
    return ImageFile(pixels, metadata, header.format)


def _container_metadata(data: bytes, header: ImageHeader, name: str) -> ImageMetadata:
    """The metadata, or none when its structure is damaged (the pixel decoder judges the file).

    PNG is the exception: a chunk that claims to run past the end of the file is refused here,
    because OpenCV's PNG reader allocates the claimed length first (found by fuzzing: a 700-byte
    file made it allocate 4 GB).
    """
    try:
        return _read_container_metadata(data, header, name)
    except InvalidImageError as exc:
        if header.format == "png":
            raise
        log.warning("%s: its metadata could not be read and is not kept (%s)", name, exc)
        return ImageMetadata()


def _read_container_metadata(data: bytes, header: ImageHeader, name: str) -> ImageMetadata:
    if header.format == "png":
        return read_png_metadata(data, name=name)
    if header.format == "jpeg":
        return read_jpeg_metadata(data, name=name)
    if header.format == "webp":
        return read_webp_metadata(data, name=name)
    if header.format == "tiff":
        return _tiff_metadata(data, name)
    return ImageMetadata()


def _tiff_metadata(data: bytes, name: str) -> ImageMetadata:
    ifd = read_ifd(data, name=name)
    dpi = None
    x, y, unit = ifd.get_rational(282), ifd.get_rational(283), ifd.get_int(296) or 2
    if x and y and unit in (2, 3):
        factor = 1.0 if unit == 2 else 2.54
        dpi = (x * factor, y * factor)
    orientation = ifd.get_int(274) or 1
    return ImageMetadata(
        icc_profile=ifd.value_bytes(34675),
        xmp=ifd.value_bytes(700),
        dpi=dpi,
        orientation=orientation if 1 <= orientation <= 8 else 1,
    )


def _decode_opencv(data: bytes, name: str) -> np.ndarray:
    import cv2

    try:
        decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise InvalidImageError(f"{name} could not be decoded: {str(exc).strip().splitlines()[-1]}") from exc
    if decoded is None:
        raise InvalidImageError(
            f"{name} ({len(data)} bytes) could not be decoded as an image; the file is damaged or truncated"
        )
    if decoded.ndim == 3 and decoded.shape[2] in (3, 4):  # OpenCV's BGR(A) → RGB(A)
        if decoded.dtype in (np.uint8, np.uint16, np.float32):
            code = cv2.COLOR_BGRA2RGBA if decoded.shape[2] == 4 else cv2.COLOR_BGR2RGB
            decoded = cv2.cvtColor(decoded, code)
        else:  # depths cvtColor refuses (fuzzed TIFFs decode to int8, int32, float64...)
            decoded = decoded[:, :, [2, 1, 0, 3] if decoded.shape[2] == 4 else [2, 1, 0]]
    return decoded


def _decode_exr(data: bytes, name: str, path: Path | None) -> np.ndarray:
    try:
        import OpenEXR
    except ImportError:
        raise InvalidImageError(
            f"{name} is OpenEXR; reading it needs the OpenEXR package: {_EXR_EXTRA}"
        ) from None
    if path is not None:
        return _exr_pixels(OpenEXR, str(path), name)
    with tempfile.TemporaryDirectory(prefix="realesrgan-kit-exr-") as folder:
        temporary = Path(folder) / "image.exr"
        temporary.write_bytes(data)
        return _exr_pixels(OpenEXR, str(temporary), name)


def _exr_pixels(openexr, filename: str, name: str) -> np.ndarray:
    try:
        with openexr.File(filename) as exr:
            channels = exr.channels()
            for key in ("RGBA", "RGB"):
                if key in channels:
                    return np.asarray(channels[key].pixels, dtype=np.float32)
            for key in ("Y", "L", "R"):
                if key in channels:
                    return np.asarray(channels[key].pixels, dtype=np.float32)
    except (RuntimeError, ValueError, OSError) as exc:
        raise InvalidImageError(f"{name} is a damaged OpenEXR file: {exc}") from exc
    raise InvalidImageError(f"{name}: an OpenEXR image without RGB(A) or Y channels ({', '.join(channels)})")


def _decode_with_pillow(data: bytes, header: ImageHeader, name: str) -> tuple[np.ndarray, ImageMetadata]:
    """AVIF through Pillow, HEIC through pillow-heif (opened directly, no plugin registration)."""
    import io

    from .pil import pil_to_array

    if header.format == "heif":
        try:
            import pillow_heif
        except ImportError:
            raise InvalidImageError(
                f"{name} is HEIC/HEIF; reading it needs pillow-heif: {_HEIF_EXTRA}"
            ) from None
        try:
            heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=False)
            info = dict(heif.info)
            pixels = np.asarray(heif)
        except (RuntimeError, ValueError, OSError) as exc:
            raise InvalidImageError(f"{name} is a damaged HEIC/HEIF file: {exc}") from exc
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data), formats=["AVIF"]) as image:
                image.load()
                info = dict(image.info)
                pixels, _mode = pil_to_array(image)
        except (
            UnidentifiedImageError,
            OSError,
            ValueError,
            SyntaxError,
            Image.DecompressionBombError,
        ) as exc:
            raise InvalidImageError(f"{name} could not be decoded as AVIF by Pillow: {exc}") from exc
    exif = info.get("exif") or None
    if exif is not None and exif.startswith(b"Exif\x00\x00"):
        exif = exif[6:]
    xmp = info.get("xmp") or None
    metadata = ImageMetadata(
        icc_profile=info.get("icc_profile") or None,
        exif=exif,
        xmp=xmp.encode() if isinstance(xmp, str) else xmp,
    )
    return pixels, metadata


def _normalise(pixels: np.ndarray, name: str) -> np.ndarray:
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim == 3 and pixels.shape[2] == 2:  # gray + alpha → RGBA, the layout every front end takes
        gray, alpha = pixels[:, :, 0], pixels[:, :, 1]
        pixels = np.stack([gray, gray, gray, alpha], axis=2)
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4)):
        raise InvalidImageError(f"{name} decodes to an unsupported layout {pixels.shape}")
    if pixels.dtype in (np.float16, np.float64):
        pixels = pixels.astype(np.float32)
    if pixels.dtype not in (np.uint8, np.uint16, np.float32):
        raise InvalidImageError(
            f"{name} decodes to {pixels.dtype} pixels; supported are 8- and 16-bit integers and 32-bit float"
        )
    return np.ascontiguousarray(pixels)
