"""Deprecated old name of :mod:`core.imagefile.arrays` (image files ↔ numpy arrays).

The plain-array functions now live inside the image-file package they front, so one package
answers "image files". This module re-exports them unchanged for code written against the old
name and warns once, on import; import ``core.imagefile.arrays`` instead.
"""

from __future__ import annotations

import warnings

from .imagefile.arrays import (
    DEFAULT_MAX_PIXELS,
    READABLE_SUFFIXES,
    WRITABLE_SUFFIXES,
    decode_image,
    encode_image,
    image_files,
    pil_to_array,
    read_image,
    write_image,
)

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

warnings.warn(
    "realesrgan_kit.core.imageio is deprecated; import realesrgan_kit.core.imagefile.arrays instead "
    "(same functions, same behaviour)",
    DeprecationWarning,
    stacklevel=2,
)
