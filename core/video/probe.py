"""What a file is: a video or not (by content, never by suffix), and its stream facts.

PyAV is imported inside the functions so that ``import realesrgan_kit`` stays light.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import CorruptVideoError, InvalidVideoError, UnsupportedCodecError

__all__ = [
    "VideoInfo",
    "StreamInfo",
    "probe_video",
    "is_video_file",
    "open_video",
    "video_stream_of",
    "is_attached_picture",
]

log = logging.getLogger(__name__)

# Demuxers that read still images (one frame per file); such files are images, not videos.
_IMAGE_DEMUXER_SUFFIX = "_pipe"
_IMAGE_DEMUXERS = frozenset({"image2", "image2pipe", "apng", "webp", "ico"})


@dataclass(frozen=True)
class StreamInfo:
    """One stream of the container: what it is and whether the video job copies it."""

    index: int
    kind: str  # video | audio | subtitle | data | attachment
    codec: str
    language: str | None = None
    attached_picture: bool = False


@dataclass(frozen=True)
class VideoInfo:
    """Facts about a video file's container and its main video stream.

    ``frames`` is the container's frame count where it records one (None otherwise);
    ``rotation`` is the display-matrix rotation in degrees counter-clockwise (0 when none);
    colour fields carry FFmpeg's names ("bt709", "unknown", ...).
    """

    path: Path
    container: str
    duration: float | None
    stream_index: int
    codec: str
    width: int
    height: int
    pix_fmt: str
    bit_depth: int
    fps: Fraction | None
    time_base: Fraction
    start_pts: int | None
    frames: int | None
    rotation: int
    display_matrix: tuple[int, ...] | None
    color_primaries: str
    color_trc: str
    colorspace: str
    color_range: str
    sample_aspect_ratio: Fraction | None
    colour_codes: tuple[int, int, int, int] = (2, 2, 2, 0)
    """FFmpeg's numbers for (primaries, transfer, matrix, range), as the encoder takes them."""
    streams: tuple[StreamInfo, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    chapters: int = 0

    @property
    def seconds_per_frame(self) -> float | None:
        return None if not self.fps else float(1 / self.fps)


def _is_image_demuxer(name: str) -> bool:
    return name.endswith(_IMAGE_DEMUXER_SUFFIX) or any(part in _IMAGE_DEMUXERS for part in name.split(","))


def open_video(path: str | os.PathLike[str]) -> Any:
    """Open ``path`` for reading with PyAV; typed errors for missing, unreadable or non-media files."""
    import av
    from av.error import FFmpegError, InvalidDataError

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"video {p} does not exist")
    try:
        return av.open(str(p), mode="r", metadata_errors="replace")
    except InvalidDataError as exc:
        raise InvalidVideoError(
            f"{p} is not a video FFmpeg can read ({exc}); expected a video file (mp4, mkv, mov, webm, ...). "
            "If it is one, the file may be damaged: re-download or re-export it."
        ) from exc
    except FFmpegError as exc:
        raise CorruptVideoError(f"{p} could not be opened as a video: {exc}") from exc


def video_stream_of(container: Any, path: str | os.PathLike[str]) -> Any:
    """The main video stream (not cover art); InvalidVideoError when there is none,
    UnsupportedCodecError when no video stream has a decoder in this build."""
    if _is_image_demuxer(container.format.name):
        raise InvalidVideoError(
            f"{path} is a still image ({container.format.name}), not a video; upscale it as an image"
        )
    pictures = [s for s in container.streams.video if not is_attached_picture(s)]
    candidates = [s for s in pictures if s.codec_context is not None]
    if pictures and not candidates:
        raise UnsupportedCodecError(
            f"{path}: this PyAV/FFmpeg build has no decoder for its video codec; convert the file to "
            "H.264, HEVC, VP9, AV1 or ProRes with another tool first"
        )
    if not candidates:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "no streams"
        raise InvalidVideoError(
            f"{path} has no video stream (it holds: {kinds}); expected a file with a video track"
        )
    # the stream FFmpeg would pick: the largest picture among the video streams
    return max(candidates, key=lambda s: (s.codec_context.width or 0) * (s.codec_context.height or 0))


def _flag_value(flag: Any) -> int:
    return int(getattr(flag, "value", flag))


def is_attached_picture(stream: Any) -> bool:
    """True for cover art (a still picture stored as a video stream)."""
    from av.stream import Disposition

    return bool(_flag_value(stream.disposition) & _flag_value(Disposition.attached_pic))


def is_video_file(path: str | os.PathLike[str]) -> bool:
    """True when the content of ``path`` is a video with a video stream (suffix ignored).

    Still images (PNG, JPEG, ... which FFmpeg also opens), single-frame GIFs and audio-only
    files are not videos.
    """
    p = Path(path)
    if not p.is_file():
        return False
    try:
        import av

        with av.open(str(p), mode="r", metadata_errors="replace") as container:
            stream = video_stream_of(container, p)
            if container.format.name == "gif":  # an image format that may be animated
                packets = (packet for packet in container.demux(stream) if packet.size)
                return next(packets, None) is not None and next(packets, None) is not None
            return True
    except UnsupportedCodecError:
        return True  # a video; upscaling it will say that its codec cannot be decoded here
    except (InvalidVideoError, OSError, ValueError):
        return False
    except Exception as exc:  # any FFmpeg error means "not a video we can read"
        if type(exc).__module__.startswith("av"):
            return False
        raise


def _stream_infos(container: Any) -> tuple[StreamInfo, ...]:
    out = []
    for s in container.streams:
        codec = (
            s.codec_context.name if s.codec_context is not None else (getattr(s, "codec_name", None) or "?")
        )
        out.append(
            StreamInfo(
                index=s.index,
                kind=s.type,
                codec=str(codec),
                language=s.metadata.get("language"),
                attached_picture=is_attached_picture(s),
            )
        )
    return tuple(out)


def _display_matrix(frame: Any) -> tuple[int, ...] | None:
    import struct

    for item in frame.side_data:
        if str(getattr(item.type, "name", item.type)) == "DISPLAYMATRIX":
            raw = bytes(item)
            if len(raw) == 36:
                return struct.unpack("<9i", raw)
    return None


def bit_depth_of(pix_fmt: str) -> int:
    import av

    try:
        fmt = av.VideoFormat(pix_fmt)
    except (ValueError, TypeError):
        return 8
    return max((c.bits for c in fmt.components), default=8)


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Facts about ``path``'s main video stream; decodes its first frame to check it can.

    Raises InvalidVideoError (not a video, no video stream), UnsupportedCodecError (no decoder
    in this PyAV build) or CorruptVideoError (no decodable frame).
    """
    from av.error import FFmpegError

    p = Path(path)
    with open_video(p) as container:
        stream = video_stream_of(container, p)
        ctx = stream.codec_context
        if ctx.codec is None or not ctx.codec.is_decoder:  # pragma: no cover - PyAV raises earlier
            raise UnsupportedCodecError(f"{p}: no decoder for its video codec in this PyAV build")
        first = None
        try:
            first = next(iter(container.decode(stream)), None)
        except FFmpegError as exc:
            raise CorruptVideoError(
                f"{p}: the first video frame could not be decoded ({exc}); the file is damaged or truncated"
            ) from exc
        if first is None:
            raise CorruptVideoError(
                f"{p}: the video stream holds no decodable frame; the file is empty, truncated or damaged"
            )
        matrix = _display_matrix(first)
        rotation = round(getattr(first, "rotation", 0) or 0) if matrix is not None else 0
        fps = stream.average_rate or stream.guessed_rate or stream.base_rate
        duration = None
        if stream.duration is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        chapters = container.chapters() if hasattr(container, "chapters") else []
        pix_fmt = ctx.pix_fmt or first.format.name
        # newer PyAV frames carry these tags; the decoder context has them in every release
        primaries = getattr(first, "color_primaries", None) or ctx.color_primaries
        trc = getattr(first, "color_trc", None) or ctx.color_trc
        return VideoInfo(
            path=p,
            container=container.format.name,
            duration=duration,
            stream_index=stream.index,
            codec=ctx.name,
            width=ctx.width or first.width,
            height=ctx.height or first.height,
            pix_fmt=pix_fmt,
            bit_depth=bit_depth_of(pix_fmt),
            fps=Fraction(fps) if fps else None,
            time_base=Fraction(stream.time_base) if stream.time_base else Fraction(1, 1),
            start_pts=stream.start_time,
            frames=int(stream.frames) or None,
            rotation=rotation,
            display_matrix=matrix,
            color_primaries=_colour_name(primaries, "primaries"),
            color_trc=_colour_name(trc, "trc"),
            colorspace=_colour_name(first.colorspace, "space"),
            color_range=_colour_name(first.color_range, "range"),
            sample_aspect_ratio=Fraction(stream.sample_aspect_ratio) if stream.sample_aspect_ratio else None,
            colour_codes=(
                int(primaries or 2),
                int(trc or 2),
                int(first.colorspace if first.colorspace is not None else 2),
                int(first.color_range or 0),
            ),
            streams=_stream_infos(container),
            metadata=dict(container.metadata),
            chapters=len(chapters),
        )


_COLOUR_NAMES = {
    "primaries": {
        1: "bt709",
        2: "unknown",
        4: "bt470m",
        5: "bt470bg",
        6: "smpte170m",
        7: "smpte240m",
        9: "bt2020",
        12: "smpte432",
    },
    "trc": {
        1: "bt709",
        2: "unknown",
        4: "gamma22",
        5: "gamma28",
        6: "smpte170m",
        7: "smpte240m",
        8: "linear",
        13: "iec61966-2-1",
        14: "bt2020-10",
        15: "bt2020-12",
        16: "smpte2084",
        18: "arib-std-b67",
    },
    "space": {
        0: "gbr",
        1: "bt709",
        2: "unknown",
        4: "fcc",
        5: "bt470bg",
        6: "smpte170m",
        7: "smpte240m",
        9: "bt2020nc",
        10: "bt2020c",
    },
    "range": {0: "unknown", 1: "tv", 2: "pc"},
}


def _colour_name(value: Any, kind: str) -> str:
    number = int(value or 0) if not isinstance(value, str) else None
    if number is None:
        return str(value)
    return _COLOUR_NAMES[kind].get(number, str(number))
