"""Pixels plus metadata → image file bytes, keeping what each format can hold.

PNG, JPEG, WebP and BMP pixels are encoded by OpenCV and the metadata is put into the container
around them; TIFF is written by ``tifffile`` (8/16-bit and float32, alpha, ICC, XMP, DPI);
OpenEXR by the ``OpenEXR`` package (float32); AVIF by Pillow (8-bit, ICC, EXIF, XMP). The EXIF
pixel dimensions are set to the written size. :data:`METADATA_SUPPORT` is the table of what each
format keeps.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from ..errors import InvalidImageError, InvalidParameterError
from ..fileio import atomic_output
from .containers import write_jpeg_metadata, write_png_metadata, write_webp_metadata
from .metadata import ImageMetadata, patch_exif

__all__ = ["encode_image_file", "write_image_file", "WRITABLE_SUFFIXES", "METADATA_SUPPORT", "format_of"]

log = logging.getLogger(__name__)

WRITABLE_SUFFIXES = (".png", ".tif", ".tiff", ".jpg", ".jpeg", ".webp", ".bmp", ".exr", ".avif")
_FORMAT_BY_SUFFIX = {
    ".png": "png",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".webp": "webp",
    ".bmp": "bmp",
    ".exr": "exr",
    ".avif": "avif",
}

METADATA_SUPPORT: dict[str, tuple[str, ...]] = {
    "png": ("icc", "exif", "xmp", "dpi", "text"),
    "jpeg": ("icc", "exif", "xmp", "dpi"),
    "webp": ("icc", "exif", "xmp"),
    "avif": ("icc", "exif", "xmp"),
    "tiff": ("icc", "xmp", "dpi"),
    "exr": (),
    "bmp": (),
}
"""What each written format keeps of :class:`ImageMetadata` (the rest is dropped with a log line)."""

# Bits per channel each format holds: 16 means uint16 is kept, "float" means float32 is kept.
_SIXTEEN_BIT = ("png", "tiff")
_FLOAT = ("tiff", "exr")


def format_of(name: str) -> str:
    """The format written for a file name or extension (``"x.tif"``, ``".jpg"``, ``"png"``)."""
    suffix = Path(name).suffix.lower() or name.lower()
    suffix = suffix if suffix.startswith(".") else f".{suffix}"
    if suffix not in _FORMAT_BY_SUFFIX:
        raise InvalidParameterError(
            f"cannot write images of type {suffix!r}; use one of {', '.join(WRITABLE_SUFFIXES)}"
        )
    return _FORMAT_BY_SUFFIX[suffix]


def _check_pixels(image: np.ndarray) -> np.ndarray:
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)) or image.size == 0:
        raise InvalidImageError(f"expected an H×W, H×W×1, H×W×3 or H×W×4 image, got shape {image.shape}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if np.issubdtype(image.dtype, np.floating):
        if not np.isfinite(image).all():
            raise InvalidImageError("the image contains NaN or infinite values; nothing was written")
    elif image.dtype not in (np.uint8, np.uint16):
        raise InvalidImageError(f"expected uint8, uint16 or float pixels, got {image.dtype}")
    return image


def _integer_pixels(image: np.ndarray, fmt: str) -> np.ndarray:
    """Integers for a format without float samples: floats (0..1) → 16-bit where it holds 16, else 8."""
    sixteen = fmt in _SIXTEEN_BIT
    if image.dtype == np.uint16 and not sixteen:
        raise InvalidParameterError(
            f"{fmt} holds 8 bits per channel but the image is 16-bit; save as .png or .tiff to keep 16 bits"
        )
    if np.issubdtype(image.dtype, np.floating):
        peak = 65535 if sixteen else 255
        image = np.rint(np.clip(image, 0.0, 1.0) * peak).astype(np.uint16 if sixteen else np.uint8)
    return image


def _float_pixels(image: np.ndarray) -> np.ndarray:
    if image.dtype in (np.uint8, np.uint16):
        return image.astype(np.float32) / float(np.iinfo(image.dtype).max)
    return image.astype(np.float32, copy=False)


def _opencv(image: np.ndarray, fmt: str) -> bytes:
    import cv2

    if image.ndim == 3:
        code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
        image = cv2.cvtColor(np.ascontiguousarray(image), code)
    suffix = {"jpeg": ".jpg"}.get(fmt, f".{fmt}")
    ok, encoded = cv2.imencode(suffix, image)
    if not ok:
        raise InvalidImageError(f"OpenCV could not encode a {image.shape} {image.dtype} image as {suffix}")
    return encoded.tobytes()


def _tiff(image: np.ndarray, metadata: ImageMetadata) -> bytes:
    import tifffile

    if image.dtype not in (np.uint8, np.uint16):
        image = _float_pixels(image)
    options: dict = {"photometric": "minisblack" if image.ndim == 2 else "rgb", "compression": "zlib"}
    if image.ndim == 3 and image.shape[2] == 4:
        options["extrasamples"] = ["unassalpha"]
    if metadata.icc_profile:
        options["iccprofile"] = metadata.icc_profile
    if metadata.dpi:
        options["resolution"], options["resolutionunit"] = metadata.dpi, "INCH"
    if metadata.xmp:
        options["extratags"] = [(700, 1, len(metadata.xmp), metadata.xmp, True)]
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, image, metadata=None, **options)
    return buffer.getvalue()


def _exr(image: np.ndarray) -> bytes:
    try:
        import OpenEXR
    except ImportError:
        raise InvalidParameterError(
            "writing OpenEXR needs the OpenEXR package: pip install 'realesrgan-kit[exr]'"
        ) from None
    pixels = np.ascontiguousarray(_float_pixels(image))
    key = "Y" if pixels.ndim == 2 else ("RGBA" if pixels.shape[2] == 4 else "RGB")
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with tempfile.TemporaryDirectory(prefix="realesrgan-kit-exr-") as folder:
        target = os.path.join(folder, "image.exr")
        with OpenEXR.File(header, {key: pixels}) as exr:
            exr.write(target)
        return Path(target).read_bytes()


def _avif(image: np.ndarray, metadata: ImageMetadata) -> bytes:
    from PIL import Image

    options: dict = {"quality": 90}
    if metadata.icc_profile:
        options["icc_profile"] = metadata.icc_profile
    if metadata.exif:
        options["exif"] = b"Exif\x00\x00" + metadata.exif
    if metadata.xmp:
        options["xmp"] = metadata.xmp
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="AVIF", **options)
    return buffer.getvalue()


def _fitted(metadata: ImageMetadata, fmt: str, width: int, height: int) -> ImageMetadata:
    """``metadata`` limited to what ``fmt`` holds, with the EXIF dimensions of the written image."""
    dropped = [kind for kind in metadata.kinds() if kind not in METADATA_SUPPORT[fmt]]
    if dropped:
        log.info("%s cannot hold %s; written without it", fmt.upper(), ", ".join(dropped))
        metadata = metadata.without(*dropped)
    if metadata.exif:
        try:
            metadata = ImageMetadata(
                icc_profile=metadata.icc_profile,
                exif=patch_exif(metadata.exif, width=width, height=height, orientation=1),
                xmp=metadata.xmp,
                dpi=metadata.dpi,
                text=metadata.text,
            )
        except InvalidImageError as exc:
            log.warning("the EXIF block is damaged and is not written (%s)", exc)
            metadata = metadata.without("exif")
    return metadata


def encode_image_file(
    image: np.ndarray, format: str = ".png", metadata: ImageMetadata | None = None
) -> bytes:
    """Encode an RGB(A)/gray array (uint8, uint16, or float) with ``metadata`` (None: none).

    Float pixels stay float32 in TIFF and EXR; elsewhere floats in 0..1 become 16-bit where the
    format holds it, else 8-bit.
    """
    fmt = format_of(format)
    image = _check_pixels(np.asarray(image))
    height, width = image.shape[:2]
    kept = _fitted(metadata or ImageMetadata(), fmt, width, height)
    if fmt == "tiff":
        return _tiff(image, kept)
    if fmt == "exr":
        return _exr(image)
    image = _integer_pixels(image, fmt)
    if fmt == "avif":
        return _avif(image, kept)
    encoded = _opencv(image, fmt)
    if kept.is_empty():
        return encoded
    if fmt == "png":
        return write_png_metadata(encoded, kept)
    if fmt == "jpeg":
        return write_jpeg_metadata(encoded, kept)
    if fmt == "webp":
        alpha = image.ndim == 3 and image.shape[2] == 4
        return write_webp_metadata(encoded, kept, width, height, alpha)
    return encoded


def write_image_file(
    path: str | os.PathLike[str],
    image: np.ndarray,
    metadata: ImageMetadata | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Write ``image`` (and ``metadata``) to ``path`` atomically; the format follows the extension."""
    final = Path(path).expanduser()
    if not final.suffix:
        raise InvalidParameterError(f"{final} has no extension; name the format, e.g. {final.name}.png")
    data = encode_image_file(image, final.suffix, metadata)
    with atomic_output(final, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return final
