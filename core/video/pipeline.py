"""The streaming pipeline: decode → upscale → encode with bounded queues.

Decoding (and the YUV → RGB conversion) runs on one worker thread, encoding (RGB → YUV, the
codec, the chunk file) on another; the model runs on the caller's thread, so a cancel hook and
Ctrl-C reach it directly. FFmpeg and PyTorch release the GIL while they work, so the three
stages overlap. The queues hold a few frames each: memory does not grow with the clip.
"""

from __future__ import annotations

import bisect
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import CorruptVideoError, InvalidVideoError, OperationCancelledError
from ..options import parse_temporal_choice
from .chunks import Chunk, ChunkWriter
from .encode import Encoder, EncoderSettings
from .frames import ColourModel, decode_frames, frame_to_array
from .probe import open_video, video_stream_of

if TYPE_CHECKING:
    from ..load.modellike import UpscaleModelLike

__all__ = [
    "VideoProgress",
    "QUEUE_FRAMES",
    "ChunkRunCounts",
    "run_chunks",
    "resolve_temporal",
    "iter_upscaled_frames",
]

log = logging.getLogger(__name__)

QUEUE_FRAMES = 4
"""Frames each queue holds: enough to keep every stage busy, few enough to keep memory flat."""
_POLL = 0.1  # seconds between checks of the stop flag while a queue is full or empty


@dataclass(frozen=True)
class VideoProgress:
    """Progress of a video job: frames upscaled so far (finished chunks of an earlier run
    included), the total when known, the speed of this run and the time left."""

    frames_done: int
    frames_total: int | None
    fps: float
    eta_seconds: float | None
    chunks_done: int = 0
    chunks_total: int = 0


class _Stop(Exception):
    """Internal: another stage failed or the job was stopped."""


class _Shared:
    def __init__(self) -> None:
        self.stop = threading.Event()  # every stage stops now
        self.stop_decoding = threading.Event()  # the decoder stops; the encoder finishes what it has
        self.error: BaseException | None = None
        self.lock = threading.Lock()

    def fail(self, exc: BaseException) -> None:
        with self.lock:
            if self.error is None:
                self.error = exc
        self.stop.set()

    def put(self, q: queue.Queue, item: Any, *, decoder: bool = False) -> None:
        while True:
            if self.stop.is_set() or (decoder and self.stop_decoding.is_set()):
                raise _Stop
            try:
                q.put(item, timeout=_POLL)
                return
            except queue.Full:
                continue

    def get(self, q: queue.Queue) -> Any:
        while True:
            try:
                return q.get(timeout=_POLL)
            except queue.Empty:
                if self.stop.is_set():
                    raise _Stop from None


def _runs(chunks: Sequence[Chunk]) -> list[list[Chunk]]:
    """Consecutive chunks decode in one pass (no seek between them)."""
    runs: list[list[Chunk]] = []
    for chunk in chunks:
        if runs and runs[-1][-1].stop_frame == chunk.start_frame:
            runs[-1].append(chunk)
        else:
            runs.append([chunk])
    return runs


def _decode_worker(
    src: Path,
    chunks: Sequence[Chunk],
    colour: ColourModel,
    frame_step: int,
    out: queue.Queue,
    shared: _Shared,
) -> None:
    try:
        with open_video(src) as container:
            stream = video_stream_of(container, src)
            stream.thread_type = "AUTO"
            for run in _runs(chunks):
                shared.put(out, decoder=True, item=("reset",))  # a new pass: fresh temporal state
                _decode_run(container, stream, src, run, colour, frame_step, out, shared)
        shared.put(out, decoder=True, item=("done",))
    except _Stop:
        return
    except BaseException as exc:
        shared.fail(exc)


def _decode_run(
    container: Any,
    stream: Any,
    src: Path,
    run: Sequence[Chunk],
    colour: ColourModel,
    frame_step: int,
    out: queue.Queue,
    shared: _Shared,
) -> None:
    """One decoding pass over consecutive chunks: the first chunk's warm-up frames as "warm"
    items, then every chunk between "start" and "end" items."""
    starts = [c.start_pts for c in run]
    current = -1
    done = 0
    warm = 0
    index = run[0].start_frame - run[0].warmup_frames
    last_pts: int | None = None
    frames = decode_frames(
        container,
        stream,
        src,
        seek_pts=run[0].seek_pts,
        start_pts=run[0].first_pts,
        stop_pts=run[-1].stop_pts,
    )
    for frame in frames:
        pts = frame.pts
        if run[0].start_pts is None:  # no usable timestamps: one chunk, counted by index
            position = 0
            if pts is None or (last_pts is not None and pts <= last_pts):
                # the encoder needs increasing times: continue at the stream's rate
                pts = index * frame_step if last_pts is None else last_pts + frame_step
        elif pts is None:
            position = max(current, 0)
            pts = index * frame_step if last_pts is None else last_pts + frame_step
        else:
            position = bisect.bisect_right(starts, pts) - 1
        last_pts = pts
        if position < 0:  # before the run's first chunk: its temporal warm-up
            image = frame_to_array(frame, colour, path=src, index=index)
            shared.put(out, decoder=True, item=("warm", run[0], index, pts, image))
            index += 1
            warm += 1
            continue
        while current < position:
            if current >= 0:
                _check_count(src, run[current], done)
                shared.put(out, decoder=True, item=("end", run[current]))
            else:
                _check_warmup(src, run[0], warm)
            current += 1
            done = 0
            index = run[current].start_frame
            shared.put(out, decoder=True, item=("start", run[current]))
        if done >= run[current].frames:
            continue  # a stream without timestamps may hold more frames than planned
        image = frame_to_array(frame, colour, path=src, index=index)
        shared.put(out, decoder=True, item=("frame", run[current], index, pts, image))
        index += 1
        done += 1
    if current < 0:
        _check_warmup(src, run[0], warm)
    while current < len(run):
        if current >= 0:
            _check_count(src, run[current], done)
            shared.put(out, decoder=True, item=("end", run[current]))
        current += 1
        done = 0
        if current < len(run):
            shared.put(out, decoder=True, item=("start", run[current]))


def _check_warmup(src: Path, chunk: Chunk, warm: int) -> None:
    if warm != chunk.warmup_frames:
        first = chunk.start_frame - chunk.warmup_frames
        raise CorruptVideoError(
            f"{src}: the {chunk.warmup_frames} frames {first}..{chunk.start_frame - 1} before frame "
            f"{chunk.start_frame} (the temporal warm-up) gave {warm} decoded frames; the file's timestamps "
            "or data are damaged there. Re-export the file, or run with --temporal off."
        )


def _check_count(src: Path, chunk: Chunk, done: int) -> None:
    if done != chunk.frames:
        raise CorruptVideoError(
            f"{src}: frames {chunk.start_frame}..{chunk.stop_frame - 1} should be {chunk.frames} frames but "
            f"{done} could be decoded (the data after frame {chunk.start_frame + done} is damaged or missing). "
            f"Re-export the file, or use --frames 0:{chunk.start_frame + done} to process the part before it."
        )


def _encode_worker(
    parts: Path,
    key: str,
    settings: EncoderSettings,
    colour: ColourModel,
    inbox: queue.Queue,
    shared: _Shared,
    on_chunk: Callable[[Chunk, Path], None],
) -> None:
    writer: ChunkWriter | None = None
    encoder: Encoder | None = None
    try:
        while True:
            item = shared.get(inbox)
            kind = item[0]
            if kind == "start":
                encoder = Encoder(settings, colour)
                writer = ChunkWriter(
                    parts, item[1].index, key=key, extradata=encoder.extradata, time_base=settings.time_base
                )
            elif kind == "frame":
                assert encoder is not None and writer is not None
                _chunk, _index, pts, image = item[1:]
                for packet in encoder.encode(image, pts):
                    writer.write(packet)
                writer.frames += 1
            elif kind == "end":
                assert encoder is not None and writer is not None
                for packet in encoder.encode(None):
                    writer.write(packet)
                path = writer.commit()
                writer, encoder = None, None
                on_chunk(item[1], path)
            elif kind in ("done", "abort"):
                return
    except _Stop:
        return
    except BaseException as exc:
        shared.fail(exc)
    finally:
        if writer is not None:
            writer.abort()


class _Meter:
    """Frames per second over this run and the time left."""

    def __init__(self, done: int, total: int | None, chunks_done: int, chunks_total: int) -> None:
        self.started = time.perf_counter()
        self.base = done
        self.done = done
        self.total = total
        self.chunks_done = chunks_done
        self.chunks_total = chunks_total

    def snapshot(self) -> VideoProgress:
        elapsed = time.perf_counter() - self.started
        fps = (self.done - self.base) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / fps if fps > 0 and self.total is not None else None
        return VideoProgress(self.done, self.total, fps, eta, self.chunks_done, self.chunks_total)


@dataclass(frozen=True)
class ChunkRunCounts:
    """What :func:`run_chunks` did: frames written, and the extra work of starting passes
    mid-stream (frames decoded and not written; warm-up frames run through the model)."""

    frames_upscaled: int = 0
    warmup_frames: int = 0
    frames_decoded_extra: int = 0


class _ModelStage:
    """The caller's-thread stage: the frame-wise upscale, then the temporal stabiliser."""

    def __init__(self, src: Path, upscale_frame: Callable[[np.ndarray], np.ndarray], temporal: Any) -> None:
        self.src = src
        self.upscale_frame = upscale_frame
        self.stabiliser = None
        if temporal is not None:
            from .temporal import TemporalStabilizer

            self.stabiliser = TemporalStabilizer(temporal)
        self.size: tuple[int, ...] | None = None
        self.warmed = 0

    def reset(self) -> None:
        if self.stabiliser is not None:
            self.stabiliser.reset()

    def __call__(self, index: int, image: np.ndarray, *, warm: bool = False) -> np.ndarray:
        if self.size is None:
            self.size = image.shape
        elif image.shape != self.size:
            raise InvalidVideoError(
                f"{self.src}: the frame size changes at frame {index} (from {self.size[1]}×{self.size[0]} to "
                f"{image.shape[1]}×{image.shape[0]}); videos whose size changes are not supported"
            )
        result = self.upscale_frame(image)
        if self.stabiliser is not None:
            result = self.stabiliser.push(image, result)
        self.warmed += warm
        return result


def run_chunks(
    src: Path,
    chunks: Sequence[Chunk],
    *,
    parts: Path,
    key: str,
    settings: EncoderSettings,
    colour: ColourModel,
    upscale_frame: Callable[[np.ndarray], np.ndarray],
    temporal: Any = None,
    frame_step: int = 1,
    on_chunk: Callable[[Chunk, Path], None] | None = None,
    progress: Callable[[VideoProgress], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    frames_done: int = 0,
    frames_total: int | None = None,
    chunks_done: int = 0,
    chunks_total: int = 0,
) -> ChunkRunCounts:
    """Decode, upscale (and stabilise) and encode ``chunks`` of ``src`` into chunk files in ``parts``.

    ``temporal``: the stabiliser's settings (``core.video.temporal.TemporalSettings``) or None
    for frame-wise output; each decoding pass starts with a fresh stabiliser, warmed on the
    first chunk's warm-up frames (run, never written). ``frame_step``: one frame's duration in
    the stream's time base, for frames without a timestamp. On any error, a cancel or Ctrl-C,
    the unfinished chunk's temporary file is removed and finished chunk files stay for a resume.
    """
    if not chunks:
        return ChunkRunCounts()
    shared = _Shared()
    decoded: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
    upscaled: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
    meter = _Meter(frames_done, frames_total, chunks_done, chunks_total)
    stage = _ModelStage(src, upscale_frame, temporal)

    def chunk_finished(chunk: Chunk, path: Path) -> None:
        meter.chunks_done += 1
        if on_chunk is not None:
            on_chunk(chunk, path)

    decoder = threading.Thread(
        target=_decode_worker,
        args=(src, chunks, colour, frame_step, decoded, shared),
        name="video-decode",
        daemon=True,
    )
    encoder = threading.Thread(
        target=_encode_worker,
        args=(parts, key, settings, colour, upscaled, shared, chunk_finished),
        name="video-encode",
        daemon=True,
    )
    decoder.start()
    encoder.start()
    try:
        _model_loop(stage, decoded, upscaled, shared, meter, parts, progress, cancel)
        encoder.join()
        if shared.error is not None:
            raise shared.error
        if progress is not None:
            progress(meter.snapshot())
        return ChunkRunCounts(
            frames_upscaled=meter.done - meter.base,
            warmup_frames=stage.warmed,
            frames_decoded_extra=sum(run[0].frames_decoded_extra for run in _runs(chunks)),
        )
    except _Stop:
        assert shared.error is not None
        raise shared.error from None
    except BaseException:
        _wind_down(shared, upscaled, encoder)
        raise
    finally:
        shared.stop.set()
        decoder.join(timeout=10)
        encoder.join(timeout=10)


def _wind_down(shared: _Shared, upscaled: queue.Queue, encoder: threading.Thread) -> None:
    """After a cancel, Ctrl-C or an error in the model loop: stop decoding, let the encoder commit
    the chunks whose last frame it already has, and drop the unfinished one."""
    shared.stop_decoding.set()
    if shared.error is None and encoder.is_alive():
        try:
            shared.put(upscaled, ("abort",))
            encoder.join()
        except _Stop:
            pass


def _model_loop(
    stage: _ModelStage,
    decoded: queue.Queue,
    upscaled: queue.Queue,
    shared: _Shared,
    meter: _Meter,
    parts: Path,
    progress: Callable[[VideoProgress], None] | None,
    cancel: Callable[[], bool] | None,
) -> None:
    """Take decoded items until "done": upscale frames, warm on warm-up frames, pass the rest on."""
    if progress is not None:
        progress(meter.snapshot())
    while True:
        if cancel is not None and cancel():
            raise OperationCancelledError(
                f"video upscale cancelled after {meter.done} frames; finished chunks are kept in {parts} "
                "for a resume, nothing was written at the target"
            )
        try:
            item = shared.get(decoded)
        except _Stop:
            return
        kind = item[0]
        if kind == "reset":
            stage.reset()
        elif kind == "warm":
            stage(item[2], item[4], warm=True)  # state only: a warm-up frame is never written
        elif kind == "frame":
            shared.put(upscaled, (*item[:4], stage(item[2], item[4])))
            meter.done += 1
            if progress is not None:
                progress(meter.snapshot())
        else:
            shared.put(upscaled, item)
            if kind == "done":
                return


def resolve_temporal(value: Any) -> Any:
    """``"auto"`` / ``"off"`` / a strength (None: the default) → the stabiliser's settings, or
    None for frame-wise output. Strength 0 is frame-wise exactly, so it is None too: no
    warm-up decoding, and the same job key as ``"off"``."""
    from .temporal import parse_temporal

    settings = parse_temporal(parse_temporal_choice(value))
    if settings is None or settings.strength == 0:
        return None
    return settings


def stabilize_frames(
    low_res: Iterable[np.ndarray], upscaled: Iterable[np.ndarray], temporal: Any = None
) -> Iterator[np.ndarray]:
    """The frame-wise results ``upscaled`` of the frames ``low_res`` (in order, pairwise),
    stabilised over time; with ``temporal`` off (or strength 0) they come back unchanged.

    For front ends that upscale a clip they already hold (ComfyUI's IMAGE batch): one
    stabiliser over the sequence, which resets itself at scene cuts and size changes.
    """
    settings = resolve_temporal(temporal)
    if settings is None:
        yield from upscaled
        return
    from .temporal import TemporalStabilizer

    stabiliser = TemporalStabilizer(settings)
    for low, high in zip(low_res, upscaled, strict=True):
        yield stabiliser.push(low, high)


def iter_upscaled_frames(
    model: UpscaleModelLike,
    frames: Iterable[Any],
    *,
    progress: Callable[[VideoProgress], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    total: int | None = None,
    temporal: Any = None,
    **engine_options: Any,
) -> Iterator[np.ndarray]:
    """Upscale frames you bring (H×W×C arrays, or :class:`VideoFrame`s) one by one, lazily.

    ``engine_options`` are :func:`run_upscale`'s (``outscale``, ``tile``, ``precision``, ...);
    the network is prepared once per frame size, not per frame. ``temporal``: ``"auto"``,
    ``"off"`` or a strength in [0, 1] (default ``core.options.DEFAULT_TEMPORAL``): each
    result is stabilised against the frames before it (the input frame is the low-res
    reference; the state restarts when the frame size changes). ``cancel`` is polled between
    tiles; ``progress`` gets a :class:`VideoProgress` after every frame (``total``: the frame
    count, for the ETA). Results have the input's dtype.
    """
    from ..engine import prepare_frame_upscaler
    from .temporal import TemporalStabilizer

    settings = resolve_temporal(temporal)
    stabiliser = None if settings is None else TemporalStabilizer(settings)

    if "width" in engine_options or "height" in engine_options:
        engine_options["out_width"] = engine_options.pop("width", None)
        engine_options["out_height"] = engine_options.pop("height", None)
    upscaler = None
    meter = _Meter(0, total, 0, 0)
    for item in frames:
        image = getattr(item, "image", item)
        if not isinstance(image, np.ndarray):
            raise InvalidVideoError(
                f"frames must be numpy H×W×C arrays or VideoFrames; got {type(item).__name__}"
            )
        if cancel is not None and cancel():
            raise OperationCancelledError(f"cancelled after {meter.done} frames")
        channels = 1 if image.ndim == 2 else image.shape[2]
        if (
            upscaler is None
            or upscaler.input_shape != (image.shape[0], image.shape[1], channels)
            or (upscaler.input_dtype != image.dtype)
        ):
            upscaler = prepare_frame_upscaler(
                model,
                image.shape[0],
                image.shape[1],
                channels=channels,
                dtype=image.dtype,
                cancel=cancel,
                **engine_options,
            )
            if stabiliser is not None:
                stabiliser.reset()  # another size: the frames before are no reference
        planar = image if image.ndim == 3 else image[:, :, None]
        result = upscaler(planar)
        if stabiliser is not None:
            result = stabiliser.push(planar, result)
        meter.done += 1
        if progress is not None:
            progress(meter.snapshot())
        yield result if image.ndim == 3 else result[:, :, 0]
