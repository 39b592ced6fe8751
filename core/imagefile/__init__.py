"""Image files with their metadata: read upright pixels plus what must survive, write both back.

``read_image_file`` checks the pixel count from the header before decoding, applies the EXIF
orientation and returns an :class:`ImageFile` (pixels + :class:`ImageMetadata`);
``write_image_file`` writes pixels and whatever of the metadata the format can hold
(:data:`METADATA_SUPPORT`). ``arrays.py`` keeps the plain-array functions on top of these.
"""

from __future__ import annotations

from .header import KNOWN_FORMATS, ImageHeader, probe_image, sniff_format
from .metadata import ImageFile, ImageMetadata, apply_orientation, exif_orientation, patch_exif
from .reading import DEFAULT_MAX_PIXELS, check_pixels, decode_image_file, read_image_file
from .writing import METADATA_SUPPORT, WRITABLE_SUFFIXES, encode_image_file, format_of, write_image_file

__all__ = [
    "ImageFile",
    "ImageMetadata",
    "ImageHeader",
    "probe_image",
    "sniff_format",
    "read_image_file",
    "decode_image_file",
    "write_image_file",
    "encode_image_file",
    "check_pixels",
    "apply_orientation",
    "exif_orientation",
    "patch_exif",
    "format_of",
    "DEFAULT_MAX_PIXELS",
    "KNOWN_FORMATS",
    "METADATA_SUPPORT",
    "WRITABLE_SUFFIXES",
    "READABLE_SUFFIXES",
]

READABLE_SUFFIXES = (*WRITABLE_SUFFIXES, ".heic", ".heif")
"""Extensions a folder scan picks up (HEIC/HEIF need the ``heif`` extra to decode)."""
