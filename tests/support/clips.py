"""Test clips made with PyAV: synthetic frames, a tone track, CFR or VFR, rotation, 8 or 10 bits.

Each frame carries its index as a brightness ramp (frame ``i`` has mean ≈ ``i`` · step), so a
test can tell which frame it got back after lossy coding. Other content for the temporal
tests: a static textured scene, a pan over a texture, a sprite moving over a texture and a
hard cut between two scenes (:func:`static_scene`, :func:`pan`, :func:`sprite`,
:func:`hard_cut`); a huge ``gop`` makes a clip whose only keyframe is its first frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def frame_image(index: int, height: int, width: int, *, deep: bool = False, step: int = 6) -> np.ndarray:
    """RGB frame ``index``: a flat level that encodes the index, plus a moving bar and a gradient."""
    level = (20 + index * step) % 236
    img = np.full((height, width, 3), level, dtype=np.float32)
    img[:, :, 1] = np.linspace(30, 200, width, dtype=np.float32)[None, :]
    bar = (index * 3) % max(1, width - 4)
    img[:, bar : bar + 4, 2] = 230
    if deep:
        return (img * 257).astype(np.uint16)
    return img.astype(np.uint8)


Content = Callable[[int, int, int], np.ndarray]
"""Frame ``index`` of ``height`` × ``width`` as RGB uint8."""


def texture(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth-ish random RGB texture (blurred noise plus edges), uint8: detail a GAN redraws."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, size=(height // 2 + 1, width // 2 + 1, 3)).astype(np.float32)
    big = np.repeat(np.repeat(noise, 2, axis=0), 2, axis=1)[:height, :width]
    stripes = 60 * (((np.arange(width)[None, :] // 5) + (np.arange(height)[:, None] // 7)) % 2)
    return np.clip(0.6 * big + stripes[:, :, None] + 20, 0, 255).astype(np.uint8)


def static_scene(seed: int = 0) -> Content:
    """The same textured picture in every frame."""
    return lambda index, height, width: texture(height, width, seed)


def pan(pixels_per_frame: int = 1, seed: int = 0) -> Content:
    """A window sliding right over a wider texture."""

    def frame(index: int, height: int, width: int) -> np.ndarray:
        wide = texture(height, width * 4, seed)
        x = (index * pixels_per_frame) % (width * 3)
        return np.ascontiguousarray(wide[:, x : x + width])

    return frame


def sprite(size: int = 6, pixels_per_frame: int = 2, seed: int = 0) -> Content:
    """A bright square crossing a static texture (occlusions and ghosting)."""

    def frame(index: int, height: int, width: int) -> np.ndarray:
        image = texture(height, width, seed).copy()
        x = (index * pixels_per_frame) % max(1, width - size)
        y = (height - size) // 2
        image[y : y + size, x : x + size] = (250, 240, 40)
        return image

    return frame


def hard_cut(at: int, before: Content | None = None, after: Content | None = None) -> Content:
    """Scene ``before`` up to frame ``at`` - 1, then an unrelated scene ``after``."""
    first = before or static_scene(1)
    second = after or (lambda index, height, width: 255 - texture(height, width, 7))
    return lambda index, height, width: (first if index < at else second)(index, height, width)


def make_clip(
    path: Path,
    *,
    frames: int = 12,
    width: int = 32,
    height: int = 24,
    rate: int = 24,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    gop: int = 4,
    rotation: int | None = None,
    audio: bool = True,
    sample_rate: int = 8000,
    metadata: dict[str, str] | None = None,
    chapters: bool = False,
    subtitles: bool = False,
    content: Content | None = None,
) -> Path:
    """Write a clip; ``pts`` (with ``time_base``) makes it variable frame rate; ``content``
    draws the frames (default :func:`frame_image`)."""
    deep = "10" in pix_fmt or "12" in pix_fmt
    tb = time_base or Fraction(1, rate)
    stamps = list(pts) if pts is not None else [round(i / rate / tb) for i in range(frames)]
    with av.open(str(path), "w") as out:
        if metadata:
            out.metadata.update(metadata)
        v = out.add_stream(codec, rate=rate)
        v.width, v.height, v.pix_fmt = width, height, pix_fmt
        v.time_base = tb
        v.codec_context.time_base = tb
        v.codec_context.gop_size = gop
        if codec == "libx264":
            v.options = {"preset": "ultrafast", "keyint": str(gop), "min-keyint": str(gop), "scenecut": "0"}
        elif codec == "libx265":
            v.options = {
                "preset": "ultrafast",
                "x265-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:log-level=error",
            }
        if rotation is not None:
            v.set_display_rotation(rotation)
        a = None
        if audio:
            a = out.add_stream("aac", rate=sample_rate)
            a.layout = "mono"
        s = None
        if subtitles:
            s = out.add_mux_stream("subrip" if path.suffix == ".mkv" else "mov_text")
            s.time_base = Fraction(1, 1000)
        if chapters:
            duration = float(stamps[-1] * tb)
            out.set_chapters(
                [
                    {
                        "id": 1,
                        "start": 0,
                        "end": int(duration * 500),
                        "time_base": Fraction(1, 1000),
                        "metadata": {"title": "One"},
                    },
                    {
                        "id": 2,
                        "start": int(duration * 500),
                        "end": int(duration * 1000),
                        "time_base": Fraction(1, 1000),
                        "metadata": {"title": "Two"},
                    },
                ]
            )
        for i, stamp in enumerate(stamps):
            if content is None:
                pixels = frame_image(i, height, width, deep=deep)
            else:
                pixels = content(i, height, width)
                pixels = pixels.astype(np.uint16) * 257 if deep else pixels
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb48le" if deep else "rgb24")
            frame.pts = stamp
            frame.time_base = tb
            for packet in v.encode(frame):
                out.mux(packet)
        for packet in v.encode():
            out.mux(packet)
        if a is not None:
            seconds = float(stamps[-1] * tb) + float(1 / rate)
            samples = int(seconds * sample_rate)
            t = np.arange(samples) / sample_rate
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = tone[start : start + 1024][None, :]
                af = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="mono")
                af.sample_rate = sample_rate
                af.pts = start
                for packet in a.encode(af):
                    out.mux(packet)
            for packet in a.encode():
                out.mux(packet)
        if s is not None:
            for k, text in enumerate(("Hello", "World")):
                packet = av.Packet(text.encode())
                packet.pts = packet.dts = k * 200
                packet.duration = 150
                packet.time_base = Fraction(1, 1000)
                packet.stream = s
                out.mux(packet)
    return path


def decoded(path: Path) -> list[tuple[Fraction, np.ndarray]]:
    """Every video frame of ``path``: (presentation time in seconds, RGB array)."""
    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            out.append((Fraction(frame.pts) * Fraction(stream.time_base), frame.to_ndarray(format="rgb24")))
    return out


def frame_times(path: Path) -> list[Fraction]:
    return [t for t, _ in decoded(path)]


def packets(path: Path, kind: str) -> list[tuple[Fraction | None, bytes]]:
    """(time, bytes) of every packet of the streams of ``kind`` (audio, subtitle)."""
    out = []
    with av.open(str(path)) as container:
        streams = [s for s in container.streams if s.type == kind]
        for packet in container.demux(*streams):
            if packet.size == 0:
                continue
            when = None if packet.pts is None else Fraction(packet.pts) * Fraction(packet.time_base)
            out.append((when, bytes(packet)))
    return out
