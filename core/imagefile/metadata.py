"""What travels with the pixels of an image file, and the EXIF edits an upscale needs.

Policy (the README's metadata table says which format keeps which part):

- **Orientation** is applied to the pixels on read; the EXIF we keep says orientation 1, so the
  output is upright in every viewer whether or not it reads EXIF.
- **EXIF** is kept byte for byte except for in-place edits of orientation and pixel dimensions
  (maker notes with absolute offsets survive). The thumbnail is dropped when the orientation was
  applied (it would be the only part still turned).
- **ICC profile** and **XMP** are kept as they are: the network works in the file's encoded
  colour space, so the profile still describes the output.
- **DPI is kept**, as image editors do when they resample: the upscaled image prints larger at
  the same density (scale the DPI yourself to keep the print size).
- **PNG text chunks** are kept (ComfyUI's ``prompt`` and ``workflow`` included, so an upscaled
  ComfyUI image still loads its graph).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import InvalidImageError
from .tiffdir import patch_int, read_ifd

__all__ = ["ImageMetadata", "ImageFile", "exif_orientation", "apply_orientation", "patch_exif"]

log = logging.getLogger(__name__)

ORIENTATION_TAG = 0x0112
EXIF_IFD_TAG = 0x8769
IMAGE_WIDTH_TAG, IMAGE_LENGTH_TAG = 0x0100, 0x0101
PIXEL_X_TAG, PIXEL_Y_TAG = 0xA002, 0xA003


@dataclass(frozen=True)
class ImageMetadata:
    """Metadata read from an image file; an empty instance means "nothing to keep"."""

    icc_profile: bytes | None = None
    exif: bytes | None = None  # a TIFF structure (no ``Exif\\0\\0`` prefix), orientation already 1
    xmp: bytes | None = None
    dpi: tuple[float, float] | None = None
    text: dict[str, str] = field(default_factory=dict)  # PNG tEXt/zTXt/iTXt (not XMP)
    orientation: int = 1  # as found in the file; already applied to the pixels

    def is_empty(self) -> bool:
        return not (self.icc_profile or self.exif or self.xmp or self.dpi or self.text)

    def kinds(self) -> list[str]:
        """The names of what is present: icc, exif, xmp, dpi, text."""
        present = {
            "icc": self.icc_profile,
            "exif": self.exif,
            "xmp": self.xmp,
            "dpi": self.dpi,
            "text": self.text,
        }
        return [kind for kind, value in present.items() if value]

    def without(self, *kinds: str) -> ImageMetadata:
        cleared = {"icc": "icc_profile", "exif": "exif", "xmp": "xmp", "dpi": "dpi", "text": "text"}
        return replace(self, **{cleared[k]: ({} if k == "text" else None) for k in kinds})


@dataclass(frozen=True)
class ImageFile:
    """An image read from a file: upright pixels (RGB(A) or gray) and what must survive."""

    pixels: np.ndarray
    metadata: ImageMetadata
    format: str  # png, jpeg, webp, tiff, bmp, exr, avif, heif


def exif_orientation(exif: bytes | None) -> int:
    """The EXIF orientation (1..8); 1 when absent, unreadable or out of range."""
    if not exif:
        return 1
    try:
        value = read_ifd(exif, name="EXIF").get_int(ORIENTATION_TAG)
    except InvalidImageError:
        return 1
    return value if value is not None and 1 <= value <= 8 else 1


def apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright (EXIF orientation 1..8; rows × columns, 1 to 4 channels)."""
    if orientation not in range(2, 9):
        return pixels
    import cv2  # its flips and rotations are several times faster than strided numpy copies

    if orientation == 2:
        return cv2.flip(pixels, 1)
    if orientation == 3:
        return cv2.rotate(pixels, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(pixels, 0)
    if orientation == 5:
        return cv2.transpose(pixels)
    if orientation == 6:
        return cv2.rotate(pixels, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.rotate(cv2.transpose(pixels), cv2.ROTATE_180)
    return cv2.rotate(pixels, cv2.ROTATE_90_COUNTERCLOCKWISE)


def patch_exif(
    exif: bytes,
    *,
    width: int | None = None,
    height: int | None = None,
    orientation: int | None = None,
    drop_thumbnail: bool = False,
) -> bytes:
    """A copy of ``exif`` with its orientation and pixel dimensions set where those tags exist.

    Raises :class:`InvalidImageError` when the block is not a readable TIFF structure.
    """
    buffer = bytearray(exif)
    ifd0 = read_ifd(buffer, name="EXIF")
    if orientation is not None:
        patch_int(buffer, ifd0, ORIENTATION_TAG, orientation)
    if width is not None and height is not None:
        patch_int(buffer, ifd0, IMAGE_WIDTH_TAG, width)
        patch_int(buffer, ifd0, IMAGE_LENGTH_TAG, height)
        pointer = ifd0.get_int(EXIF_IFD_TAG)
        if pointer:
            sub = read_ifd(buffer, pointer, name="EXIF sub-directory")
            for tag, value in ((PIXEL_X_TAG, width), (PIXEL_Y_TAG, height)):
                if tag in sub.entries and not patch_int(buffer, sub, tag, value):
                    log.debug("EXIF tag 0x%04X cannot hold %d; left as it was", tag, value)
    if drop_thumbnail and ifd0.next_field + (8 if ifd0.big else 4) <= len(buffer):
        buffer[ifd0.next_field : ifd0.next_field + (8 if ifd0.big else 4)] = bytes(8 if ifd0.big else 4)
    return bytes(buffer)


def upright_exif(exif: bytes | None, orientation: int, *, name: str) -> bytes | None:
    """The EXIF to keep after ``orientation`` was applied to the pixels (None if unreadable)."""
    if not exif:
        return None
    try:
        return patch_exif(exif, orientation=1, drop_thumbnail=orientation != 1)
    except InvalidImageError as exc:
        log.warning("%s: its EXIF block is damaged and is not kept (%s)", name, exc)
        return None
