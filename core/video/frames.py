"""Decoding: the packet scan (frame index ↔ timestamp, keyframes), frames as RGB arrays.

Frames come out as H×W×3 RGB arrays: uint8 for 8-bit sources, uint16 (the engine's 16-bit
image path) for deeper ones. The YUV → RGB matrix and range come from the stream's tags; an
untagged stream gets what players assume (BT.601 below 720 lines, BT.709 from 720 up, limited
range), and the encoder writes those assumptions back as explicit tags.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CorruptVideoError, InvalidParameterError, UnsupportedPixelFormatError
from .probe import bit_depth_of, open_video, video_stream_of

__all__ = [
    "VideoFrame",
    "PacketScan",
    "scan_packets",
    "iter_video_frames",
    "read_video_frame",
    "decode_frames",
    "ColourModel",
    "colour_model_for",
    "frame_to_array",
]

log = logging.getLogger(__name__)

# FFmpeg AVColorSpace numbers → swscale's matrix names
_MATRIX = {1: "ITU709", 4: "FCC", 5: "ITU601", 6: "ITU601", 7: "SMPTE240M", 9: "BT2020", 10: "BT2020"}
_UNSPECIFIED_MATRIX = 2
_FULL_RANGE = 2
_FULL_RANGE_FORMATS = ("yuvj420p", "yuvj422p", "yuvj444p", "yuvj440p", "yuvj411p")


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: ``image`` H×W×3 RGB (uint8, or uint16 for sources above 8 bits),
    its index in presentation order, its timestamp (``pts`` in ``time_base`` units)."""

    image: np.ndarray
    index: int
    pts: int | None
    time_base: Fraction

    @property
    def time(self) -> float | None:
        """Presentation time in seconds."""
        return None if self.pts is None else float(self.pts * self.time_base)


@dataclass(frozen=True)
class ColourModel:
    """How YUV pixels map to RGB for one stream, both ways (decode and encode)."""

    matrix: str  # swscale name: ITU709, ITU601, BT2020, ...
    matrix_code: int  # FFmpeg AVColorSpace number written to the output
    full_range: bool
    rgb_format: str  # rgb24 | rgb48le
    dtype: Any  # np.uint8 | np.uint16


def colour_model_for(colorspace: int, color_range: int, pix_fmt: str, height: int) -> ColourModel:
    """The RGB conversion for a stream with these tags (untagged: what players assume)."""
    if colorspace in _MATRIX:
        matrix, code = _MATRIX[colorspace], colorspace
    elif height >= 720:
        matrix, code = "ITU709", 1
    else:
        matrix, code = "ITU601", 6
    full = color_range == _FULL_RANGE or pix_fmt in _FULL_RANGE_FORMATS
    deep = bit_depth_of(pix_fmt) > 8
    return ColourModel(
        matrix=matrix,
        matrix_code=code,
        full_range=full,
        rgb_format="rgb48le" if deep else "rgb24",
        dtype=np.uint16 if deep else np.uint8,
    )


def frame_to_array(
    frame: Any, colour: ColourModel, *, path: Any = "", index: int | None = None
) -> np.ndarray:
    """An ``av.VideoFrame`` → H×W×3 RGB array in ``colour``'s dtype."""
    try:
        return frame.to_ndarray(
            format=colour.rgb_format,
            src_colorspace=colour.matrix,
            src_color_range="JPEG" if colour.full_range else "MPEG",
        )
    except ValueError as exc:
        where = f" at frame {index}" if index is not None else ""
        raise UnsupportedPixelFormatError(
            f"{path}: pixel format {frame.format.name}{where} cannot be converted to RGB ({exc}); "
            "convert the video to yuv420p or yuv420p10le first"
        ) from exc


@dataclass(frozen=True)
class PacketScan:
    """The video stream's timestamps, read from its packets without decoding.

    ``pts``: every frame's presentation timestamp in presentation order (index = frame number);
    ``keyframes``: the sorted presentation timestamps of keyframes (random access points).
    ``pts`` is empty when the stream carries no timestamps (then nothing can be seeked).
    """

    path: Path
    stream_index: int
    time_base: Fraction
    pts: Sequence[int]  # an int64 array: 8 bytes a frame, so a feature film's list stays small
    keyframes: tuple[int, ...]
    frame_count: int

    def keyframe_at_or_before(self, pts: int) -> int | None:
        import bisect

        i = bisect.bisect_right(self.keyframes, pts) - 1
        return self.keyframes[i] if i >= 0 else None


def _file_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def scan_packets(path: str | os.PathLike[str]) -> PacketScan:
    """Demux the video stream once (no decoding); cached per file (path, size, mtime)."""
    p = Path(path)
    return _scan_cached(_file_key(p))


@functools.lru_cache(maxsize=8)
def _scan_cached(key: tuple[str, int, int]) -> PacketScan:
    from av.error import FFmpegError

    path = Path(key[0])
    pts = array("q")
    keys: list[int] = []
    count = 0
    missing = False
    with open_video(path) as container:
        stream = video_stream_of(container, path)
        tb = Fraction(stream.time_base)
        declared = int(stream.frames or 0)
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                count += 1
                if packet.pts is None:
                    missing = True
                    continue
                pts.append(packet.pts)
                if packet.is_keyframe:
                    keys.append(packet.pts)
        except FFmpegError as exc:
            last = f"{float(max(pts) * tb):.3f} s" if pts else "the start"
            raise CorruptVideoError(
                f"{path}: the video data is damaged or truncated after frame {count} ({last}): {exc}. "
                "Re-download or re-export the file, or use --frames to process the part before it."
            ) from exc
        if declared and count < declared:
            last = f"{float(max(pts) * tb):.3f} s" if pts else "the start"
            raise CorruptVideoError(
                f"{path}: truncated: the container lists {declared} video frames but only {count} are "
                f"present (the data ends at frame {count}, {last}). Re-download or re-export the file, or "
                f"use --frames 0:{count} to process what is there."
            )
        _check_complete(path, stream, container, pts, count, tb)
    if missing:
        return PacketScan(path, stream.index, tb, array("q"), (), count)
    ordered = array("q", sorted(pts))
    if any(a == b for a, b in itertools.pairwise(ordered)):
        log.warning("%s: repeated video timestamps; frames are located by decoding from the start", path)
        return PacketScan(path, stream.index, tb, array("q"), (), count)
    return PacketScan(path, stream.index, tb, ordered, tuple(sorted(set(keys))), count)


def _declared_video_seconds(stream: Any) -> float | None:
    """The video stream's own duration: its header field, or Matroska's DURATION tag."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    for key, value in stream.metadata.items():
        if key.upper() == "DURATION":
            try:
                h, m, sec = value.split(":")
                return int(h) * 3600 + int(m) * 60 + float(sec)
            except ValueError:
                return None
    return None


def _check_complete(
    path: Path, stream: Any, container: Any, pts: Sequence[int], count: int, tb: Fraction
) -> None:
    """Raise when the video data ends well before the duration its headers declare."""
    if not pts or not stream.average_rate:
        return
    frame = float(1 / stream.average_rate)
    end = float((max(pts) - (stream.start_time or 0)) * tb) + frame
    declared = _declared_video_seconds(stream)
    if declared is not None:
        slack = 2 * frame + 0.05
    elif container.duration:
        # the container's duration covers every stream (audio may run longer): be lenient
        declared = container.duration / 1_000_000
        slack = max(1.0, 0.1 * declared)
    else:
        return
    if end < declared - slack:
        raise CorruptVideoError(
            f"{path}: truncated: its headers say the video lasts {declared:.3f} s but the data ends at "
            f"{end:.3f} s (after frame {count - 1}). Re-download or re-export the file, or use "
            f"--frames 0:{count} to process what is there."
        )


def decode_frames(
    container: Any,
    stream: Any,
    path: Any,
    *,
    seek_pts: int | None,
    start_pts: int | None,
    stop_pts: int | None,
) -> Iterator[Any]:
    """``av.VideoFrame`` objects with ``start_pts ≤ pts < stop_pts`` in presentation order.

    Seeks to the keyframe at ``seek_pts`` first (None: decode from the start). Frames before
    ``start_pts`` are decoded (they are references) and dropped.
    """
    from av.error import FFmpegError

    last_pts: int | None = None
    tb = Fraction(stream.time_base)
    try:
        if seek_pts is not None:
            container.seek(seek_pts, stream=stream, backward=True, any_frame=False)
            frames = container.decode(stream)
            first = next(frames, None)
            first_pts = None if first is None else first.pts
            if start_pts is not None and (first is None or (first_pts is not None and first_pts > start_pts)):
                # the seek landed after the frames we need (a poor index): decode from the start
                log.warning(
                    "%s: seeking missed frame time %s; decoding from the start instead", path, start_pts
                )
                container.seek(0, stream=stream, backward=True, any_frame=False)
                frames = container.decode(stream)
            elif first is not None:
                frames = itertools.chain([first], frames)
        else:
            frames = container.decode(stream)
        for frame in frames:
            pts = frame.pts
            if pts is None:
                pts = frame.dts if frame.dts is not None else None
            if start_pts is not None and pts is not None and pts < start_pts:
                continue
            if stop_pts is not None and pts is not None and pts >= stop_pts:
                return
            last_pts = pts
            yield frame
    except FFmpegError as exc:
        where = f"after {float(last_pts * tb):.3f} s" if last_pts is not None else "at the start"
        raise CorruptVideoError(
            f"{path}: the video could not be decoded {where} ({exc}); the file is damaged. "
            "Re-export it, or use --frames to process the part before the damage."
        ) from exc


def _range(scan: PacketScan, start: int | None, stop: int | None) -> tuple[int, int]:
    total = len(scan.pts) if scan.pts else scan.frame_count
    first = 0 if start is None else start
    last = total if stop is None else min(stop, total)
    if first < 0 or last < first:
        raise InvalidParameterError(
            f"frame range {start}:{stop} is outside the video's {total} frames (0:{total})"
        )
    return first, last


def iter_video_frames(
    path: str | os.PathLike[str], *, start: int | None = None, stop: int | None = None
) -> Iterator[VideoFrame]:
    """Decode frames ``start`` (inclusive) to ``stop`` (exclusive) of ``path`` as RGB arrays.

    Seeks to the keyframe before ``start`` when the stream has timestamps.
    """
    p = Path(path)
    scan = scan_packets(p)
    first, last = _range(scan, start, stop)
    if first >= last:
        return
    with open_video(p) as container:
        stream = video_stream_of(container, p)
        stream.thread_type = "AUTO"
        ctx = stream.codec_context
        colour: ColourModel | None = None
        if scan.pts:
            start_pts = scan.pts[first]
            stop_pts = scan.pts[last] if last < len(scan.pts) else None
            seek = scan.keyframe_at_or_before(start_pts) if first > 0 else None
            frames = decode_frames(
                container, stream, p, seek_pts=seek, start_pts=start_pts, stop_pts=stop_pts
            )
            index = first
        else:
            frames = decode_frames(container, stream, p, seek_pts=None, start_pts=None, stop_pts=None)
            index = 0
        tb = Fraction(stream.time_base)
        for frame in frames:
            if index >= last:
                break
            if index >= first:
                if colour is None:
                    colour = colour_model_for(
                        int(frame.colorspace if frame.colorspace is not None else 2),
                        int(frame.color_range or 0),
                        frame.format.name,
                        frame.height or ctx.height,
                    )
                image = frame_to_array(frame, colour, path=p, index=index)
                yield VideoFrame(image=image, index=index, pts=frame.pts, time_base=tb)
            index += 1
        if index < last:
            raise CorruptVideoError(
                f"{p}: expected frames up to {last - 1} but decoding ended at frame {index}; the file is "
                "damaged or truncated"
            )


def read_video_frame(path: str | os.PathLike[str], index: int) -> VideoFrame:
    """Frame ``index`` (presentation order) of ``path``, decoded from the keyframe before it."""
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise InvalidParameterError(f"frame index must be a whole number ≥ 0, got {index!r}")
    scan = scan_packets(path)
    total = len(scan.pts) if scan.pts else scan.frame_count
    if index >= total:
        raise InvalidParameterError(
            f"{path} has {total} frames (0..{total - 1}); frame {index} does not exist"
        )
    for frame in iter_video_frames(path, start=index, stop=index + 1):
        return frame
    raise CorruptVideoError(f"{path}: frame {index} could not be decoded")  # pragma: no cover
