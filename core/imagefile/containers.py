"""Metadata inside PNG chunks, JPEG segments and WebP RIFF chunks: read it, write it back.

Pixels are encoded and decoded by OpenCV (which keeps 16 bits and alpha); these functions only
walk the container around them, so reading the metadata of an ordinary PNG costs well under a
millisecond and never decodes pixels. Compressed chunks are inflated with a size cap (a zlib
bomb in a zTXt chunk is refused, not inflated), and every walk is bounded by the buffer.
"""

from __future__ import annotations

import logging
import struct
import zlib

from ..errors import InvalidImageError
from .metadata import ImageMetadata

__all__ = [
    "read_png_metadata",
    "write_png_metadata",
    "read_jpeg_metadata",
    "write_jpeg_metadata",
    "read_webp_metadata",
    "write_webp_metadata",
    "MAX_INFLATED_BYTES",
]

log = logging.getLogger(__name__)

MAX_INFLATED_BYTES = 64 * 1024 * 1024
"""Largest decompressed ICC profile or text chunk accepted (real ones are kilobytes)."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_XMP_KEY = "XML:com.adobe.xmp"
_EXIF_PREFIX = b"Exif\x00\x00"
_XMP_PREFIX = b"http://ns.adobe.com/xap/1.0/\x00"
_ICC_PREFIX = b"ICC_PROFILE\x00"
_JPEG_SEGMENT_MAX = 65533  # payload bytes of one segment (the length field counts itself)
_INCH_PER_METRE = 0.0254


def _inflate(data: bytes, name: str, what: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error as exc:
        raise InvalidImageError(f"{name}: its {what} is not valid zlib data ({exc})") from exc
    if inflater.unconsumed_tail:
        raise InvalidImageError(
            f"{name}: its {what} inflates to more than {MAX_INFLATED_BYTES} bytes; refusing a zlib bomb"
        )
    return out


def _split_keyword(body: bytes, name: str, chunk: str) -> tuple[str, bytes]:
    end = body.find(b"\x00")
    if end < 1 or end > 79:
        raise InvalidImageError(f"{name}: a PNG {chunk} chunk has no valid keyword")
    return body[:end].decode("latin-1"), body[end + 1 :]


def _png_chunks(data: bytes, name: str):
    offset = 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, offset)
        start = offset + 8
        if start + length + 4 > len(data):
            raise InvalidImageError(f"{name}: PNG chunk {kind!r} runs past the end of the file (truncated?)")
        yield kind, data[start : start + length]
        if kind == b"IEND":
            return
        offset = start + length + 4


def read_png_metadata(data: bytes, *, name: str = "image") -> ImageMetadata:
    """ICC, EXIF, XMP, DPI and text chunks of a PNG (bad optional chunks are skipped with a warning)."""
    icc = exif = xmp = None
    dpi: tuple[float, float] | None = None
    text: dict[str, str] = {}
    for kind, body in _png_chunks(data, name):
        if kind not in (b"iCCP", b"eXIf", b"pHYs", b"tEXt", b"zTXt", b"iTXt"):
            continue
        try:
            if kind == b"iCCP":
                _, rest = _split_keyword(body, name, "iCCP")
                icc = _inflate(rest[1:], name, "ICC profile")
            elif kind == b"eXIf":
                exif = body
            elif kind == b"pHYs" and len(body) == 9:
                x, y, unit = struct.unpack(">IIB", body)
                if unit == 1 and x and y:
                    dpi = (x * _INCH_PER_METRE, y * _INCH_PER_METRE)
            elif kind == b"tEXt":
                key, value = _split_keyword(body, name, "tEXt")
                text[key] = value.decode("latin-1")
            elif kind == b"zTXt":
                key, rest = _split_keyword(body, name, "zTXt")
                text[key] = _inflate(rest[1:], name, f"text chunk {key!r}").decode("latin-1")
            elif kind == b"iTXt":
                key, rest = _split_keyword(body, name, "iTXt")
                if len(rest) < 2:
                    raise InvalidImageError(f"{name}: iTXt chunk {key!r} is truncated")
                compressed = rest[0]
                parts = rest[2:].split(b"\x00", 2)
                if len(parts) != 3:
                    raise InvalidImageError(f"{name}: iTXt chunk {key!r} is missing its language fields")
                value = _inflate(parts[2], name, f"text chunk {key!r}") if compressed else parts[2]
                if key == _XMP_KEY:
                    xmp = value
                else:
                    text[key] = value.decode("utf-8", errors="replace")
        except InvalidImageError as exc:
            log.warning("%s: skipped a damaged %s chunk (%s)", name, kind.decode("latin-1"), exc)
    return ImageMetadata(icc_profile=icc, exif=exif, xmp=xmp, dpi=dpi, text=text)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _text_chunk(key: str, value: str) -> bytes | None:
    try:
        raw_key = key.encode("latin-1")
    except UnicodeEncodeError:
        return None
    if not 1 <= len(raw_key) <= 79 or b"\x00" in raw_key:
        return None
    try:
        return _chunk(b"tEXt", raw_key + b"\x00" + value.encode("latin-1"))
    except UnicodeEncodeError:  # iTXt: UTF-8, uncompressed, no language
        return _chunk(b"iTXt", raw_key + b"\x00\x00\x00\x00\x00" + value.encode("utf-8"))


def write_png_metadata(png: bytes, metadata: ImageMetadata) -> bytes:
    """``png`` (as OpenCV wrote it: no metadata chunks) with ``metadata`` inserted after IHDR."""
    if not png.startswith(_PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise InvalidImageError("expected PNG bytes that start with IHDR")
    ihdr_end = 8 + 8 + struct.unpack_from(">I", png, 8)[0] + 4
    extra = []
    if metadata.icc_profile:
        extra.append(_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(metadata.icc_profile)))
    if metadata.dpi:
        x, y = (max(1, round(d / _INCH_PER_METRE)) for d in metadata.dpi)
        extra.append(_chunk(b"pHYs", struct.pack(">IIB", x, y, 1)))
    if metadata.exif:
        extra.append(_chunk(b"eXIf", metadata.exif))
    if metadata.xmp:
        extra.append(_chunk(b"iTXt", _XMP_KEY.encode() + b"\x00\x00\x00\x00\x00" + metadata.xmp))
    for key, value in metadata.text.items():
        chunk = _text_chunk(key, value)
        if chunk is None:
            log.warning("PNG text key %r is not a valid PNG keyword; not written", key)
        else:
            extra.append(chunk)
    return png[:ihdr_end] + b"".join(extra) + png[ihdr_end:]


def _jpeg_segments(data: bytes, name: str):
    """(marker, payload) of every segment before the scan data."""
    offset = 2
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:  # extraneous bytes before a marker, as libjpeg tolerates
            found = data.find(b"\xff", offset, offset + 65536)
            if found < 0:
                raise InvalidImageError(f"{name}: expected a JPEG marker at byte {offset}")
            offset = found
            continue
        marker = data[offset + 1]
        if marker == 0xFF:
            offset += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):
            offset += 2
            continue
        if marker in (0xD9, 0xDA):
            return
        (length,) = struct.unpack_from(">H", data, offset + 2)
        if length < 2 or offset + 2 + length > len(data):
            raise InvalidImageError(f"{name}: JPEG segment 0x{marker:02X} runs past the end of the file")
        yield marker, data[offset + 4 : offset + 2 + length]
        offset += 2 + length


def read_jpeg_metadata(data: bytes, *, name: str = "image") -> ImageMetadata:
    """ICC (APP2, reassembled), EXIF and XMP (APP1), and JFIF density (APP0) of a JPEG."""
    exif = xmp = None
    dpi: tuple[float, float] | None = None
    icc_parts: dict[int, bytes] = {}
    icc_count = 0
    for marker, body in _jpeg_segments(data, name):
        if marker == 0xE0 and body.startswith(b"JFIF\x00") and len(body) >= 12:
            unit, x, y = struct.unpack_from(">BHH", body, 7)
            if x and y and unit in (1, 2):
                factor = 1.0 if unit == 1 else 2.54
                dpi = (x * factor, y * factor)
        elif marker == 0xE1 and body.startswith(_EXIF_PREFIX) and exif is None:
            exif = body[len(_EXIF_PREFIX) :]
        elif marker == 0xE1 and body.startswith(_XMP_PREFIX) and xmp is None:
            xmp = body[len(_XMP_PREFIX) :]
        elif marker == 0xE2 and body.startswith(_ICC_PREFIX) and len(body) >= 14:
            sequence, icc_count = body[12], body[13]
            icc_parts.setdefault(sequence, body[14:])
    icc = None
    if icc_parts:
        if icc_count and sorted(icc_parts) == list(range(1, icc_count + 1)):
            icc = b"".join(icc_parts[i] for i in range(1, icc_count + 1))
        else:
            log.warning("%s: its ICC profile is split into missing or extra parts; not kept", name)
    return ImageMetadata(icc_profile=icc, exif=exif, xmp=xmp, dpi=dpi)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def write_jpeg_metadata(jpeg: bytes, metadata: ImageMetadata) -> bytes:
    """``jpeg`` (as OpenCV wrote it) with JFIF density, EXIF, XMP and ICC segments after SOI."""
    if not jpeg.startswith(b"\xff\xd8"):
        raise InvalidImageError("expected JPEG bytes")
    rest = jpeg[2:]
    if rest[:2] == b"\xff\xe0":  # OpenCV's JFIF APP0: replaced so that it carries the density
        (length,) = struct.unpack_from(">H", rest, 2)
        jfif, rest = rest[: 2 + length], rest[2 + length :]
        if metadata.dpi and jfif[4:9] == b"JFIF\x00":
            x, y = (min(65535, max(1, round(d))) for d in metadata.dpi)
            jfif = jfif[:11] + struct.pack(">BHH", 1, x, y) + jfif[16:]
    else:
        jfif = b""
    extra = []
    if metadata.exif:
        if len(_EXIF_PREFIX) + len(metadata.exif) <= _JPEG_SEGMENT_MAX:
            extra.append(_segment(0xE1, _EXIF_PREFIX + metadata.exif))
        else:
            log.warning(
                "the EXIF block (%d bytes) does not fit in a JPEG segment; not written", len(metadata.exif)
            )
    if metadata.xmp:
        if len(_XMP_PREFIX) + len(metadata.xmp) <= _JPEG_SEGMENT_MAX:
            extra.append(_segment(0xE1, _XMP_PREFIX + metadata.xmp))
        else:
            log.warning(
                "the XMP packet (%d bytes) does not fit in a JPEG segment; not written", len(metadata.xmp)
            )
    if metadata.icc_profile:
        step = _JPEG_SEGMENT_MAX - len(_ICC_PREFIX) - 2
        parts = [metadata.icc_profile[i : i + step] for i in range(0, len(metadata.icc_profile), step)]
        if len(parts) > 255:
            log.warning("the ICC profile is too large for JPEG (over 255 segments); not written")
        else:
            for index, part in enumerate(parts, start=1):
                extra.append(_segment(0xE2, _ICC_PREFIX + bytes((index, len(parts))) + part))
    return b"\xff\xd8" + jfif + b"".join(extra) + rest


def _riff_chunks(data: bytes, name: str):
    offset = 12
    end = min(len(data), 8 + struct.unpack_from("<I", data, 4)[0])
    while offset + 8 <= end:
        kind, size = struct.unpack_from("<4sI", data, offset)
        if offset + 8 + size > end:
            raise InvalidImageError(f"{name}: WebP chunk {kind!r} runs past the end of the file")
        yield kind, data[offset + 8 : offset + 8 + size]
        offset += 8 + size + (size & 1)


def read_webp_metadata(data: bytes, *, name: str = "image") -> ImageMetadata:
    """ICC, EXIF and XMP chunks of an extended (VP8X) WebP."""
    found: dict[bytes, bytes] = {}
    for kind, body in _riff_chunks(data, name):
        if kind in (b"ICCP", b"EXIF", b"XMP ") and kind not in found:
            found[kind] = body
    exif = found.get(b"EXIF")
    if exif is not None and exif.startswith(_EXIF_PREFIX):  # some writers keep the JPEG prefix
        exif = exif[len(_EXIF_PREFIX) :]
    return ImageMetadata(icc_profile=found.get(b"ICCP"), exif=exif, xmp=found.get(b"XMP "))


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def write_webp_metadata(webp: bytes, metadata: ImageMetadata, width: int, height: int, alpha: bool) -> bytes:
    """``webp`` rewritten as an extended WebP (VP8X) carrying the ICC, EXIF and XMP chunks."""
    if not (metadata.icc_profile or metadata.exif or metadata.xmp):
        return webp
    image_chunks = [
        _riff_chunk(kind, body)
        for kind, body in _riff_chunks(webp, "WebP")
        if kind in (b"VP8 ", b"VP8L", b"ALPH")
    ]
    flags = (
        (0x20 if metadata.icc_profile else 0)
        | (0x10 if alpha else 0)
        | (0x08 if metadata.exif else 0)
        | (0x04 if metadata.xmp else 0)
    )
    vp8x = struct.pack("<I", flags) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = _riff_chunk(b"VP8X", vp8x)
    if metadata.icc_profile:
        body += _riff_chunk(b"ICCP", metadata.icc_profile)
    body += b"".join(image_chunks)
    if metadata.exif:
        body += _riff_chunk(b"EXIF", metadata.exif)
    if metadata.xmp:
        body += _riff_chunk(b"XMP ", metadata.xmp)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
