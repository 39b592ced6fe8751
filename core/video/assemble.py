"""Assembly: finished chunk files + the source's other streams → the final file, atomically.

The video packets are muxed as stored (exact timestamps); every audio and subtitle stream of
the source is copied packet for packet (``add_stream_from_template`` + ``mux``, never decoded).
Container metadata, stream metadata (language, title), dispositions, chapters and the display
matrix (rotation) are carried over. The file appears under its final name only when complete.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError, ResumeMismatchError, VideoError
from ..fileio import atomic_output
from .chunks import Chunk, chunk_path, read_chunk, read_chunk_header
from .encode import EncoderSettings, configure_context
from .probe import VideoInfo, is_attached_picture, open_video

__all__ = ["AssemblyResult", "assemble_parts"]

log = logging.getLogger(__name__)

# Container-level keys that describe the muxer that wrote the source, not the content.
_MUXER_KEYS = frozenset({"major_brand", "minor_version", "compatible_brands", "encoder"})


@dataclass(frozen=True)
class AssemblyResult:
    path: Path
    copied_streams: tuple[str, ...]
    dropped_streams: tuple[str, ...]
    chapters: int
    video_packets: int


def _describe(stream: Any) -> str:
    lang = stream.metadata.get("language")
    name = stream.codec_context.name if stream.codec_context is not None else "?"
    return f"#{stream.index} {stream.type} {name}" + (f" ({lang})" if lang and lang != "und" else "")


def _copyable(out: Any, stream: Any) -> bool:
    name = stream.codec_context.name if stream.codec_context is not None else None
    return name is not None and name in out.supported_codecs


def _video_packets(
    parts: Path, chunks: Sequence[Chunk], key: str, extradata: bytes, offset: int
) -> Iterator[tuple[Fraction, int, Any]]:
    order = 0
    for chunk in chunks:
        header, packets = read_chunk(chunk_path(parts, chunk.index))
        if header.key != key:
            raise ResumeMismatchError(
                f"{chunk_path(parts, chunk.index)} belongs to another job (other source or options); "
                "delete the parts folder or run with --force"
            )
        if header.extradata != extradata:
            raise VideoError(
                f"{chunk_path(parts, chunk.index)} was encoded with other codec headers than this machine's "
                "encoder makes (another FFmpeg/PyAV build made it?); delete that file and run again with --resume"
            )
        for packet in packets:
            dts = packet.dts if packet.dts is not None else packet.pts
            when = Fraction(dts - offset if dts is not None else 0) * header.time_base
            order += 1
            yield when, order, ("video", packet, header.time_base)


def _other_packets(
    src: Any, streams: Sequence[Any], start: Fraction | None, stop: Fraction | None
) -> Iterator[tuple[Fraction, int, Any]]:
    if not streams:
        return
    order = 0
    for packet in src.demux(*streams):
        if packet.size == 0:
            continue
        tb = Fraction(packet.time_base)
        stamp = packet.pts if packet.pts is not None else packet.dts
        if start is not None and stamp is not None:
            t = stamp * tb
            if t < start or (stop is not None and t >= stop):
                continue
        dts = packet.dts if packet.dts is not None else stamp
        order += 1
        when = Fraction(dts or 0) * tb - (start or 0)
        yield when, -order, ("copy", packet, tb)


def assemble_parts(
    *,
    src: Path,
    dst: Path,
    parts: Path,
    chunks: Sequence[Chunk],
    key: str,
    info: VideoInfo,
    settings: EncoderSettings,
    trimmed: bool,
    overwrite: bool,
) -> AssemblyResult:
    """Mux the chunk files of ``chunks`` (all finished) and ``src``'s other streams into ``dst``.

    ``trimmed``: the chunks cover a frame range, so the other streams are cut to it and every
    timestamp is shifted to start at the range's first frame.
    """
    import av

    _check_parts(parts, chunks, key)
    video_offset = chunks[0].start_pts or 0 if trimmed else 0
    start = Fraction(video_offset) * settings.time_base if trimmed else None
    stop = (
        Fraction(chunks[-1].stop_pts) * settings.time_base
        if trimmed and chunks[-1].stop_pts is not None
        else None
    )
    with atomic_output(dst, overwrite=overwrite) as tmp, open_video(src) as source:
        with av.open(str(tmp), mode="w") as out:
            out.metadata.update({k: v for k, v in source.metadata.items() if k.lower() not in _MUXER_KEYS})
            vstream = _add_video_stream(out, source, info, settings, dst)
            others, copied, dropped = _add_other_streams(out, source, info, src, dst)
            chapters = _copy_chapters(source, out, trimmed)
            out.start_encoding()
            extradata = bytes(vstream.codec_context.extradata or b"")
            targets = {s.index: c for s, c in others}
            merged = heapq.merge(
                _video_packets(parts, chunks, key, extradata, video_offset),
                _other_packets(source, [s for s, _ in others], start, stop),
                key=lambda entry: (entry[0], entry[1]),
            )
            count = _mux_merged(
                out,
                merged,
                vstream,
                targets,
                video_offset=video_offset,
                start=start,
                trimmed=trimmed,
                dst=dst,
            )
    return AssemblyResult(dst, tuple(copied), tuple(dropped), chapters, count)


def _check_parts(parts: Path, chunks: Sequence[Chunk], key: str) -> None:
    """Every chunk file is there and was made by this job (its header carries the job key)."""
    for chunk in chunks:
        path = chunk_path(parts, chunk.index)
        if not path.is_file():
            raise VideoError(f"chunk {chunk.index} ({path}) is missing; run again with --resume to make it")
        header, _ = read_chunk_header(path)
        if header.key != key:
            raise ResumeMismatchError(
                f"{path} belongs to another job (other source or options); delete {parts} or run with --force"
            )


def _add_video_stream(out: Any, source: Any, info: VideoInfo, settings: EncoderSettings, dst: Path) -> Any:
    """The encoded video stream, configured from ``settings``, with the source's rotation and metadata."""
    vstream = out.add_stream(settings.codec, rate=settings.frame_rate)
    vstream.time_base = settings.time_base
    ctx = vstream.codec_context
    configure_context(ctx, settings)
    if info.display_matrix is not None:
        if hasattr(vstream, "set_display_matrix"):
            vstream.set_display_matrix(list(info.display_matrix))
        else:  # older PyAV releases cannot write it
            log.warning("%s: this PyAV cannot write the rotation (display matrix); upgrade av", dst)
    source_video = source.streams[info.stream_index]
    _copy_stream_metadata(source_video, vstream)
    return vstream


def _add_other_streams(
    out: Any, source: Any, info: VideoInfo, src: Path, dst: Path
) -> tuple[list[tuple[Any, Any]], list[str], list[str]]:
    """Copy the source's audio and subtitle streams (refusing a container that cannot hold one).

    Returns (source stream, output stream) pairs and the descriptions of the copied and dropped streams.
    """
    copied: list[str] = []
    dropped: list[str] = []
    others = []
    for stream in source.streams:
        if stream.index == info.stream_index:
            continue
        if stream.type in ("audio", "subtitle") and not is_attached_picture(stream):
            if not _copyable(out, stream):
                raise InvalidParameterError(
                    f"the {dst.suffix or 'output'} container cannot hold {_describe(stream)} of {src}; "
                    "write .mkv (which holds almost any stream) or .mov instead"
                )
            copy = out.add_stream_from_template(stream)
            _copy_stream_metadata(stream, copy)
            others.append((stream, copy))
            copied.append(_describe(stream))
        else:
            dropped.append(_describe(stream))
    for description in dropped:
        log.warning("%s: stream %s is not copied (only audio and subtitles are)", src, description)
    return others, copied, dropped


def _mux_merged(
    out: Any,
    merged: Any,
    vstream: Any,
    targets: dict[int, Any],
    *,
    video_offset: int,
    start: Fraction | None,
    trimmed: bool,
    dst: Path,
) -> int:
    """Mux the time-ordered packets: video from the chunks, shifted by ``video_offset``, the others
    shifted to ``start`` when ``trimmed``; returns the number of video packets."""
    import av

    last_dts: int | None = None
    count = 0
    for _when, _order, (kind, packet, tb) in merged:
        if kind == "video":
            pkt = av.Packet(packet.data)
            pts = None if packet.pts is None else packet.pts - video_offset
            dts = None if packet.dts is None else packet.dts - video_offset
            if dts is not None and last_dts is not None and dts <= last_dts:
                dts = last_dts + 1  # chunk seams: keep decode timestamps strictly increasing
            if dts is not None and pts is not None and dts > pts:
                log.warning("%s: a packet's decode time %d passes its presentation time %d", dst, dts, pts)
            last_dts = dts if dts is not None else last_dts
            pkt.pts, pkt.dts = pts, dts
            pkt.duration = packet.duration
            pkt.is_keyframe = packet.keyframe
            pkt.time_base = tb
            pkt.stream = vstream
            out.mux(pkt)
            count += 1
        else:
            if trimmed and start is not None:
                shift = int(start / tb)
                if packet.pts is not None:
                    packet.pts -= shift
                if packet.dts is not None:
                    packet.dts -= shift
            packet.stream = targets[packet.stream_index]
            out.mux(packet)
    return count


def _copy_stream_metadata(source: Any, target: Any) -> None:
    for k, v in source.metadata.items():
        if k.lower() in ("handler_name", "vendor_id", "encoder", "duration") or k.upper().startswith(
            "DURATION"
        ):
            continue
        try:
            target.metadata[k] = v
        except (TypeError, ValueError, KeyError):  # pragma: no cover - PyAV without writable metadata
            log.debug("stream metadata %s not carried over", k)
    try:
        target.disposition = source.disposition
    except (AttributeError, TypeError, ValueError):  # pragma: no cover - older PyAV
        log.debug("stream disposition not carried over")


def _copy_chapters(source: Any, out: Any, trimmed: bool) -> int:
    chapters = list(source.chapters()) if hasattr(source, "chapters") else []
    if not chapters:
        return 0
    if not hasattr(out, "set_chapters"):
        log.warning(
            "this PyAV cannot write chapters; %d chapters are not carried over (upgrade av)", len(chapters)
        )
        return 0
    if trimmed:
        log.warning("chapters are not carried over when only a frame range is written")
        return 0
    out.set_chapters(chapters)
    return len(chapters)
