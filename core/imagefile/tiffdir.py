"""TIFF image file directories (IFDs): read tags, patch small values in place.

One reader for two jobs: the header of a TIFF file, and EXIF blocks (which are TIFF structures
inside JPEG/PNG/WebP). Values are patched in place rather than re-serialised so that whatever
we do not understand (maker notes with absolute offsets) survives byte for byte. Classic TIFF
and BigTIFF; every offset is bounds-checked and a bad one is an :class:`InvalidImageError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import InvalidImageError

__all__ = ["IfdEntry", "Ifd", "read_ifd", "patch_int"]

# Bytes per value of each TIFF field type (unknown types are skipped, as the spec asks).
_TYPE_SIZES = {
    1: 1,
    2: 1,
    3: 2,
    4: 4,
    5: 8,
    6: 1,
    7: 1,
    8: 2,
    9: 4,
    10: 8,
    11: 4,
    12: 8,
    13: 4,
    16: 8,
    17: 8,
    18: 8,
}
_MAX_ENTRIES = 4096
SHORT, LONG = 3, 4


@dataclass(frozen=True)
class IfdEntry:
    tag: int
    type: int
    count: int
    offset: int  # absolute offset of the value bytes in the buffer


@dataclass(frozen=True)
class Ifd:
    data: memoryview
    order: str  # "<" or ">"
    entries: dict[int, IfdEntry]
    next_field: int  # offset of the next-IFD pointer (patched to drop a thumbnail IFD)
    big: bool

    def value_bytes(self, tag: int) -> bytes | None:
        entry = self.entries.get(tag)
        if entry is None:
            return None
        size = _TYPE_SIZES[entry.type] * entry.count
        return bytes(self.data[entry.offset : entry.offset + size])

    def get_int(self, tag: int) -> int | None:
        """The first value of a BYTE/SHORT/LONG/LONG8 tag."""
        entry = self.entries.get(tag)
        if entry is None or entry.count < 1:
            return None
        code = {1: "B", 3: "H", 4: "I", 13: "I", 16: "Q", 18: "Q"}.get(entry.type)
        if code is None:
            return None
        return struct.unpack_from(self.order + code, self.data, entry.offset)[0]

    def get_rational(self, tag: int) -> float | None:
        entry = self.entries.get(tag)
        if entry is None or entry.count < 1 or entry.type != 5:
            return None
        num, den = struct.unpack_from(self.order + "II", self.data, entry.offset)
        return num / den if den else None


def _bad(name: str, what: str) -> InvalidImageError:
    return InvalidImageError(f"{name}: {what}; the TIFF/EXIF structure is damaged")


def read_ifd(data: bytes | bytearray | memoryview, offset: int | None = None, *, name: str = "image") -> Ifd:
    """The IFD at ``offset`` (default: the first one, from the header) of a TIFF structure."""
    view = memoryview(data).cast("B")
    if len(view) < 8:
        raise _bad(name, f"a TIFF header needs 8 bytes, got {len(view)}")
    order = {b"II": "<", b"MM": ">"}.get(bytes(view[:2]))
    if order is None:
        raise _bad(name, f"unknown byte order {bytes(view[:2])!r}")
    (magic,) = struct.unpack_from(order + "H", view, 2)
    big = magic == 43
    if magic not in (42, 43):
        raise _bad(name, f"unknown TIFF magic {magic}")
    if offset is None:
        if big:
            if len(view) < 16:
                raise _bad(name, "a BigTIFF header needs 16 bytes")
            offset = int(struct.unpack_from(order + "Q", view, 8)[0])
        else:
            offset = int(struct.unpack_from(order + "I", view, 4)[0])
    count_size, entry_size, inline = (8, 20, 8) if big else (2, 12, 4)
    if offset < 8 or offset + count_size > len(view):
        raise _bad(name, f"directory offset {offset} is outside the {len(view)}-byte buffer")
    (count,) = struct.unpack_from(order + ("Q" if big else "H"), view, offset)
    if count > _MAX_ENTRIES:
        raise _bad(name, f"a directory with {count} entries")
    first = offset + count_size
    next_field = first + count * entry_size
    if next_field > len(view):
        raise _bad(name, f"{count} directory entries do not fit in the buffer")
    entries: dict[int, IfdEntry] = {}
    for index in range(count):
        at = first + index * entry_size
        if big:
            tag, kind, n = struct.unpack_from(order + "HHQ", view, at)
            value_at = at + 12
        else:
            tag, kind, n = struct.unpack_from(order + "HHI", view, at)
            value_at = at + 8
        size = _TYPE_SIZES.get(kind)
        if size is None:
            continue
        total = size * n
        if total > inline:
            (value_at,) = struct.unpack_from(order + ("Q" if big else "I"), view, value_at)
        if value_at + total > len(view):
            continue  # a value outside the buffer is unusable, but the rest of the directory is fine
        entries.setdefault(tag, IfdEntry(tag, kind, n, value_at))
    return Ifd(view, order, entries, next_field, big)


def patch_int(buffer: bytearray, ifd: Ifd, tag: int, value: int) -> bool:
    """Overwrite a one-value SHORT/LONG tag in ``buffer`` (the bytes ``ifd`` was read from).

    False when the tag is absent, not a single SHORT/LONG, or ``value`` does not fit its type.
    """
    entry = ifd.entries.get(tag)
    if entry is None or entry.count != 1 or entry.type not in (SHORT, LONG):
        return False
    limit = 0xFFFF if entry.type == SHORT else 0xFFFFFFFF
    if not 0 <= value <= limit:
        return False
    struct.pack_into(ifd.order + ("H" if entry.type == SHORT else "I"), buffer, entry.offset, value)
    return True
