"""Chunks: runs of a few seconds of frames, the unit of resume and of distribution.

Chunks are cut every ``chunk_seconds`` of video whatever the source's keyframes (a clip with a
single keyframe splits like any other): a chunk decodes from the keyframe at or before its
first needed frame and drops what comes before. With temporal stabilisation a chunk also needs
``warmup_frames`` frames before its start: they run through the model and the stabiliser but
are not written, so its output equals that of one uninterrupted run. Both are extra decoding
(:attr:`Chunk.frames_decoded_extra`), paid once per run of consecutive chunks.

A chunk's encoded packets are stored in a small file of our own (``chunk-NNNNN.pkts``): a
header (the job key, the encoder's extradata, the time base) and the packets with their exact
timestamps. Containers would round or shift timestamps (Matroska keeps milliseconds, NUT and
MP4 shift B-frame delays); these files keep the encoder's numbers, so chunks made anywhere
assemble into the same stream. A chunk file is written under a temporary name and renamed
when complete, so a file with the final name is always whole.
"""

from __future__ import annotations

import bisect
import json
import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import CorruptVideoError, InvalidParameterError
from ..fileio import create_unique
from .frames import PacketScan, scan_packets

__all__ = [
    "Chunk",
    "plan_chunks",
    "ChunkWriter",
    "read_chunk",
    "chunk_path",
    "DEFAULT_CHUNK_SECONDS",
]

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SECONDS = 4.0
"""Longest chunk, in seconds of video: the most work an interruption loses and the grain of
distribution. A range is split into equal chunks of at most this length (a 10 s clip: three of
3.3 s). Each chunk that starts a decoding pass pays for the frames between the keyframe before
it and its start; 4 s keeps that small next to the chunk's own work for common GOPs (≤ 4 s)."""

_MAGIC = b"RKPKTS1\n"
_RECORD = struct.Struct("<qqqBI")  # pts, dts, duration, flags (1 = keyframe, 2 = no pts, 4 = no dts), size
_NONE = 0


@dataclass(frozen=True)
class Chunk:
    """Frames ``start_frame`` ≤ i < ``stop_frame`` (presentation order) of the source.

    ``start_pts``/``stop_pts`` bound them by timestamp (``stop_pts`` None: to the end);
    ``seek_pts`` is the keyframe decoding starts from (None: the start of the file), frame
    ``seek_frame``. ``warmup_frames`` frames before ``start_frame`` (the first at
    ``warmup_pts``) warm the temporal state when the chunk starts a decoding pass.
    """

    index: int
    start_frame: int
    stop_frame: int
    start_pts: int | None
    stop_pts: int | None
    seek_pts: int | None
    warmup_frames: int = 0
    warmup_pts: int | None = None
    seek_frame: int = 0

    @property
    def frames(self) -> int:
        return self.stop_frame - self.start_frame

    @property
    def first_pts(self) -> int | None:
        """The first frame this chunk needs decoded (its first warm-up frame, or its start)."""
        return self.warmup_pts if self.warmup_frames else self.start_pts

    @property
    def frames_decoded_extra(self) -> int:
        """Frames decoded and not written when this chunk starts a pass (warm-up included)."""
        return self.start_frame - self.seek_frame

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def parse_frame_range(frames: Any, total: int) -> tuple[int, int]:
    """``None``, ``(a, b)``, ``"a:b"`` (either side may be empty) → a checked [a, b) range."""
    if frames is None:
        return 0, total
    if isinstance(frames, str):
        head, sep, tail = frames.partition(":")
        if not sep:
            raise InvalidParameterError(f"frames must look like A:B (e.g. 0:48 or 100:), got {frames!r}")
        try:
            a = int(head) if head.strip() else 0
            b = int(tail) if tail.strip() else total
        except ValueError:
            raise InvalidParameterError(
                f"frames must look like A:B with whole numbers, got {frames!r}"
            ) from None
    else:
        a, b = frames
        a = 0 if a is None else a
        b = total if b is None else b
    if a < 0 or b <= a or a >= total:
        raise InvalidParameterError(
            f"frame range {a}:{b} selects nothing of this video's {total} frames (valid: 0..{total})"
        )
    return a, min(b, total)


def plan_chunks(
    src: str | os.PathLike[str] | PacketScan,
    *,
    frames: Any = None,
    chunk_seconds: float = DEFAULT_CHUNK_SECONDS,
    chunk_frames: int | None = None,
    warmup_frames: int = 0,
) -> list[Chunk]:
    """Split the source's frames (or ``frames`` = A:B of them) into equal chunks.

    Each chunk holds at most ``chunk_frames`` frames (default: that many frames as
    ``chunk_seconds`` of video), wherever the keyframes are. ``warmup_frames``: frames before
    a chunk's start (within the range) that its run needs for temporal state. A stream
    without timestamps is one chunk.
    """
    scan = src if isinstance(src, PacketScan) else scan_packets(src)
    total = len(scan.pts) if scan.pts else scan.frame_count
    if total == 0:
        raise CorruptVideoError(f"{scan.path}: the video stream has no frames")
    first, last = parse_frame_range(frames, total)
    if isinstance(warmup_frames, bool) or not isinstance(warmup_frames, int) or warmup_frames < 0:
        raise InvalidParameterError(f"warmup_frames must be a whole number ≥ 0, got {warmup_frames!r}")
    if not scan.pts:
        if (first, last) != (0, total):
            raise InvalidParameterError(
                f"{scan.path}: its video has no timestamps, so a frame range cannot be located; "
                "process the whole file (remux it to mkv/mp4 first to use --frames)"
            )
        return [Chunk(0, 0, total, None, None, None)]
    if chunk_frames is None:
        if not chunk_seconds > 0:
            raise InvalidParameterError(f"chunk_seconds must be above 0, got {chunk_seconds!r}")
        span = scan.pts[-1] - scan.pts[0]
        rate = (total - 1) / float(span * scan.time_base) if span > 0 else 25.0
        chunk_frames = max(1, int(chunk_seconds * rate + 1e-6))
    elif isinstance(chunk_frames, bool) or not isinstance(chunk_frames, int) or chunk_frames < 1:
        raise InvalidParameterError(f"chunk_frames must be a whole number ≥ 1, got {chunk_frames!r}")
    count = -(-(last - first) // chunk_frames)  # equal chunks, none longer than chunk_frames
    bounds = [first + k * (last - first) // count for k in range(count)] + [last]
    return [
        _chunk(scan, k, bounds[k], bounds[k + 1], min(warmup_frames, bounds[k] - first)) for k in range(count)
    ]


def _chunk(scan: PacketScan, index: int, start: int, stop: int, warmup: int) -> Chunk:
    start_pts = scan.pts[start]
    stop_pts = scan.pts[stop] if stop < len(scan.pts) else None
    needed = start - warmup
    seek = scan.keyframe_at_or_before(scan.pts[needed]) if needed > 0 else None
    seek_frame = 0 if seek is None else bisect.bisect_left(scan.pts, seek)
    return Chunk(
        index,
        start,
        stop,
        start_pts,
        stop_pts,
        seek,
        warmup_frames=warmup,
        warmup_pts=scan.pts[needed] if warmup else None,
        seek_frame=seek_frame,
    )


def chunk_path(parts: Path, index: int) -> Path:
    return parts / f"chunk-{index:05d}.pkts"


class ChunkWriter:
    """Writes one chunk's packets to a temporary file; ``commit()`` renames it into place."""

    def __init__(self, parts: Path, index: int, *, key: str, extradata: bytes, time_base: Fraction) -> None:
        self.final = chunk_path(parts, index)
        self.tmp = create_unique(parts, f".{self.final.name}.", "")
        self.file: BinaryIO = open(self.tmp, "wb")
        header = json.dumps(
            {"key": key, "index": index, "extradata": extradata.hex(), "time_base": str(time_base)}
        ).encode()
        self.file.write(_MAGIC + struct.pack("<I", len(header)) + header)
        self.packets = 0
        self.frames = 0

    def write(self, packet: Any) -> None:
        data = bytes(packet)
        flags = (
            (1 if packet.is_keyframe else 0)
            | (2 if packet.pts is None else 0)
            | (4 if packet.dts is None else 0)
        )
        self.file.write(
            _RECORD.pack(
                packet.pts if packet.pts is not None else _NONE,
                packet.dts if packet.dts is not None else _NONE,
                packet.duration or 0,
                flags,
                len(data),
            )
        )
        self.file.write(data)
        self.packets += 1

    def commit(self) -> Path:
        # an end record with the packet count: a file cut short is detected on reading
        self.file.write(_RECORD.pack(self.packets, 0, 0, 255, 0))
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.tmp, self.final)
        return self.final

    def abort(self) -> None:
        if not self.file.closed:
            self.file.close()
        self.tmp.unlink(missing_ok=True)


@dataclass(frozen=True)
class StoredPacket:
    pts: int | None
    dts: int | None
    duration: int
    keyframe: bool
    data: bytes


@dataclass(frozen=True)
class ChunkHeader:
    key: str
    index: int
    extradata: bytes
    time_base: Fraction


def read_chunk_header(path: Path) -> tuple[ChunkHeader, int]:
    with open(path, "rb") as f:
        if f.read(len(_MAGIC)) != _MAGIC:
            raise CorruptVideoError(f"{path} is not a chunk file of this program; delete the parts folder")
        (length,) = struct.unpack("<I", f.read(4))
        meta = json.loads(f.read(length))
        header = ChunkHeader(
            meta["key"], int(meta["index"]), bytes.fromhex(meta["extradata"]), Fraction(meta["time_base"])
        )
        return header, f.tell()


def read_chunk(path: Path) -> tuple[ChunkHeader, Iterator[StoredPacket]]:
    """The header and the packets of a complete chunk file."""
    header, offset = read_chunk_header(path)

    def packets() -> Iterator[StoredPacket]:
        count = 0
        with open(path, "rb") as f:
            f.seek(offset)
            while True:
                raw = f.read(_RECORD.size)
                if len(raw) < _RECORD.size:
                    raise CorruptVideoError(f"{path} is cut short; delete it and run again with --resume")
                pts, dts, duration, flags, size = _RECORD.unpack(raw)
                if flags == 255:
                    if pts != count:
                        raise CorruptVideoError(f"{path} is damaged; delete it and run again with --resume")
                    return
                data = f.read(size)
                if len(data) < size:
                    raise CorruptVideoError(f"{path} is cut short; delete it and run again with --resume")
                count += 1
                yield StoredPacket(
                    None if flags & 2 else pts, None if flags & 4 else dts, duration, bool(flags & 1), data
                )

    return header, packets()
