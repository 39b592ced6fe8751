"""Format and pixel size of an image file, read from its header without decoding anything.

Pure Python on the first bytes of the file, so a size limit can be enforced before a decoder
allocates memory for the pixels (a 200-byte PNG may declare 60000×60000). Every malformed or
truncated header ends in :class:`InvalidImageError`, never in ``struct.error`` or ``IndexError``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import InvalidImageError

__all__ = ["ImageHeader", "probe_image", "sniff_format", "KNOWN_FORMATS"]

KNOWN_FORMATS = ("png", "jpeg", "webp", "tiff", "bmp", "exr", "avif", "heif")

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_EXR_MAGIC = b"\x76\x2f\x31\x01"
# JPEG start-of-frame markers (every SOFn except DHT C4, JPG C8 and DAC CC).
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}


@dataclass(frozen=True)
class ImageHeader:
    format: str  # one of KNOWN_FORMATS
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _fail(name: str, what: str) -> InvalidImageError:
    return InvalidImageError(f"{name}: {what}; the file is truncated or not a valid image")


def sniff_format(data: bytes | bytearray | memoryview) -> str | None:
    """The format told by the magic bytes, or None."""
    head = bytes(data[:32])
    if head.startswith(_PNG_SIGNATURE):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:2] == b"BM":
        return "bmp"
    if head.startswith(_EXR_MAGIC):
        return "exr"
    if head[4:8] == b"ftyp":
        brands = {head[8:12]} | {head[i : i + 4] for i in range(16, min(len(head), 32), 4)}
        if brands & _AVIF_BRANDS:
            return "avif"
        if brands & _HEIF_BRANDS:
            return "heif"
    return None


def probe_image(data: bytes | bytearray | memoryview, *, name: str = "image") -> ImageHeader:
    """Format, width and height from the header of an image file's bytes."""
    data = memoryview(data).cast("B")
    fmt = sniff_format(data)
    if fmt is None:
        raise InvalidImageError(
            f"{name} ({len(data)} bytes) could not be decoded as an image: no known format starts with "
            f"{bytes(data[:8])!r}; "
            "expected PNG, JPEG, WebP, TIFF, BMP, OpenEXR, AVIF or HEIC"
        )
    width, height = _PROBES[fmt](data, name)
    if width <= 0 or height <= 0:
        raise InvalidImageError(f"{name}: its {fmt} header declares an empty image ({width}×{height})")
    return ImageHeader(fmt, width, height)


def _unpack(fmt: str, data: memoryview, offset: int, name: str) -> tuple:
    size = struct.calcsize(fmt)
    if offset < 0 or offset + size > len(data):
        raise _fail(name, f"the header ends at byte {len(data)}, a field at {offset} needs {size} more")
    return struct.unpack_from(fmt, data, offset)


def _png(data: memoryview, name: str) -> tuple[int, int]:
    length, kind = _unpack(">I4s", data, 8, name)
    if kind != b"IHDR" or length < 8:
        raise _fail(name, "a PNG must start with its IHDR chunk")
    return _unpack(">II", data, 16, name)


def _jpeg(data: memoryview, name: str) -> tuple[int, int]:
    offset = 2
    while offset < len(data):
        if data[offset] != 0xFF:  # extraneous bytes before a marker: libjpeg skips them, so do we
            found = bytes(data[offset : offset + 65536]).find(b"\xff")
            if found < 0:
                raise _fail(name, f"expected a JPEG marker at byte {offset}")
            offset += found
        while offset < len(data) and data[offset] == 0xFF:  # fill bytes
            offset += 1
        if offset >= len(data):
            break
        marker = data[offset]
        offset += 1
        if marker in (0x01, *range(0xD0, 0xD8)):  # standalone markers carry no length
            continue
        if marker in (0xD9, 0xDA):  # end of image or start of scan before any frame header
            break
        (length,) = _unpack(">H", data, offset, name)
        if length < 2:
            raise _fail(name, f"JPEG segment 0x{marker:02X} has the impossible length {length}")
        if marker in _JPEG_SOF:
            _precision, height, width = _unpack(">BHH", data, offset + 2, name)
            if height == 0:
                raise InvalidImageError(
                    f"{name}: the JPEG frame gives its height later (DNL marker); such files are not supported"
                )
            return width, height
        offset += length
    raise _fail(name, "no JPEG frame header (SOF) before the image data")


def _webp(data: memoryview, name: str) -> tuple[int, int]:
    kind, _size = _unpack("<4sI", data, 12, name)
    if kind == b"VP8X":
        raw = _unpack("<6B", data, 24, name)
        return 1 + (raw[0] | raw[1] << 8 | raw[2] << 16), 1 + (raw[3] | raw[4] << 8 | raw[5] << 16)
    if kind == b"VP8L":
        signature, bits = _unpack("<BI", data, 20, name)
        if signature != 0x2F:
            raise _fail(name, "a lossless WebP must start with 0x2F")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if kind == b"VP8 ":
        start = bytes(_unpack("<3s", data, 23, name)[0])
        if start != b"\x9d\x01\x2a":
            raise _fail(name, "a lossy WebP frame lacks its start code")
        width, height = _unpack("<HH", data, 26, name)
        return width & 0x3FFF, height & 0x3FFF
    raise _fail(name, f"unknown first WebP chunk {bytes(kind)!r}")


def _tiff(data: memoryview, name: str) -> tuple[int, int]:
    from .tiffdir import read_ifd

    ifd = read_ifd(data, name=name)
    width, height = ifd.get_int(256), ifd.get_int(257)
    if width is None or height is None:
        raise _fail(name, "the first TIFF directory has no ImageWidth/ImageLength")
    return width, height


def _bmp(data: memoryview, name: str) -> tuple[int, int]:
    (header_size,) = _unpack("<I", data, 14, name)
    if header_size == 12:
        width, height = _unpack("<hh", data, 18, name)
    else:
        width, height = _unpack("<ii", data, 18, name)
    return width, abs(height)


def _exr(data: memoryview, name: str) -> tuple[int, int]:
    offset = 8
    for _ in range(1024):  # attribute list: name\0 type\0 size value, ended by an empty name
        end = bytes(data[offset : offset + 256]).find(b"\x00")
        if end < 0:
            raise _fail(name, "an OpenEXR attribute name is unterminated")
        attr = bytes(data[offset : offset + end])
        if not attr:
            break
        offset += end + 1
        tend = bytes(data[offset : offset + 256]).find(b"\x00")
        if tend < 0:
            raise _fail(name, "an OpenEXR attribute type is unterminated")
        kind = bytes(data[offset : offset + tend])
        offset += tend + 1
        (size,) = _unpack("<i", data, offset, name)
        offset += 4
        if size < 0:
            raise _fail(name, f"OpenEXR attribute {attr!r} has the negative size {size}")
        if attr == b"dataWindow" and kind == b"box2i" and size == 16:
            x0, y0, x1, y1 = _unpack("<iiii", data, offset, name)
            return x1 - x0 + 1, y1 - y0 + 1
        offset += size
    raise _fail(name, "the OpenEXR header has no dataWindow")


def _isobmff(data: memoryview, name: str) -> tuple[int, int]:
    """The largest ``ispe`` (image spatial extent) in meta → iprp → ipco."""
    best = (0, 0)
    stack = [(0, len(data), 0)]
    visited = 0
    while stack:
        offset, end, depth = stack.pop()
        while offset + 8 <= end:
            visited += 1
            if visited > 4096:
                raise _fail(name, "too many boxes in the HEIF/AVIF header")
            size, kind = _unpack(">I4s", data, offset, name)
            header = 8
            if size == 1:
                (size,) = _unpack(">Q", data, offset + 8, name)
                header = 16
            elif size == 0:
                size = end - offset
            if size < header or offset + size > end:
                raise _fail(name, f"box {bytes(kind)!r} at byte {offset} has the impossible size {size}")
            body = offset + header
            if kind == b"meta" and depth < 4:
                stack.append((body + 4, offset + size, depth + 1))  # a full box: skip version/flags
            elif kind in (b"iprp", b"ipco") and depth < 4:
                stack.append((body, offset + size, depth + 1))
            elif kind == b"ispe":
                width, height = _unpack(">II", data, body + 4, name)
                if width * height > best[0] * best[1]:
                    best = (width, height)
            offset += size
    if best == (0, 0):
        raise _fail(name, "no image size (ispe) in the HEIF/AVIF header")
    return best


_PROBES = {
    "png": _png,
    "jpeg": _jpeg,
    "webp": _webp,
    "tiff": _tiff,
    "bmp": _bmp,
    "exr": _exr,
    "avif": _isobmff,
    "heif": _isobmff,
}
