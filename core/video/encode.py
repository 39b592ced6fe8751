"""Encoding: codec, quality and pixel-format choices, and RGB arrays → encoded packets.

Defaults come from what the installed PyAV can encode, per output container. The encoder is
a bare codec context (no container): its packets are stored by ``chunks`` with their exact
timestamps and muxed once, at assembly, into the final file.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import InvalidParameterError, UnsupportedCodecError, UnsupportedPixelFormatError
from .frames import ColourModel

__all__ = [
    "EncoderSettings",
    "CODEC_PREFERENCES",
    "VIDEO_SUFFIXES",
    "DEFAULT_CRF",
    "available_encoders",
    "choose_encoder_settings",
    "round_size",
    "Encoder",
    "configure_context",
]

log = logging.getLogger(__name__)

# Output codecs by container suffix, best first; the first one this PyAV can encode is the default.
CODEC_PREFERENCES: dict[str, tuple[str, ...]] = {
    ".mp4": ("libx264", "libx265", "libsvtav1", "mpeg4"),
    ".m4v": ("libx264", "libx265", "mpeg4"),
    ".mov": ("libx264", "libx265", "prores_ks", "mpeg4"),
    ".mkv": ("libx264", "libx265", "libsvtav1", "libvpx-vp9", "ffv1", "mpeg4"),
    ".webm": ("libvpx-vp9", "libsvtav1", "libvpx"),
    ".avi": ("libx264", "mpeg4"),
    ".ts": ("libx264", "libx265", "mpeg2video"),
    ".nut": ("ffv1", "libx264"),
}
VIDEO_SUFFIXES = tuple(CODEC_PREFERENCES)
"""Output file suffixes the video writer knows (the container follows the suffix)."""
DEFAULT_CONTAINER_CODECS = ("libx264", "libx265", "libvpx-vp9", "mpeg4")

DEFAULT_CRF: dict[str, int] = {"libx264": 18, "libx265": 20, "libvpx-vp9": 24, "libsvtav1": 28}
"""Visually near-transparent quality per codec (lower is better and larger)."""
DEFAULT_PRESET: dict[str, str] = {"libx264": "medium", "libx265": "medium", "libsvtav1": "8"}
PRESET_CODECS = frozenset(DEFAULT_PRESET)
# Fixed encoder threads, so that the bitstream does not depend on the machine's core count
# (x264/x265 output changes with their frame-thread count): chunks encoded on different
# workers assemble into the same stream as a single-process run.
ENCODER_THREADS: dict[str, int] = {"libx264": 4, "libx265": 4}


def available_encoders() -> frozenset[str]:
    """Video encoders of the installed PyAV build."""
    import av

    names = set()
    for name in av.codecs_available:
        try:
            codec = av.Codec(name, "w")
        except Exception:
            continue
        if codec.type == "video":
            names.add(name)
    return frozenset(names)


@dataclass(frozen=True)
class EncoderSettings:
    """Everything that decides the encoded bitstream (part of the resume key)."""

    codec: str
    pix_fmt: str
    width: int
    height: int
    crf: int | None
    preset: str | None
    time_base: Fraction
    frame_rate: Fraction | None
    colour: tuple[int, int, int, int]  # primaries, transfer, matrix, range (FFmpeg numbers)
    options: dict[str, str] = field(default_factory=dict)
    threads: int = 0
    sample_aspect_ratio: Fraction | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "codec": self.codec,
            "pix_fmt": self.pix_fmt,
            "width": self.width,
            "height": self.height,
            "crf": self.crf,
            "preset": self.preset,
            "time_base": str(self.time_base),
            "frame_rate": str(self.frame_rate) if self.frame_rate else None,
            "colour": list(self.colour),
            "options": dict(sorted(self.options.items())),
            "threads": self.threads,
            "sample_aspect_ratio": str(self.sample_aspect_ratio) if self.sample_aspect_ratio else None,
        }


def _pix_fmts(codec: str) -> list[str]:
    import av

    return [f.name for f in (av.Codec(codec, "w").video_formats or ())]


def subsampling(pix_fmt: str) -> tuple[int, int]:
    """(horizontal, vertical) multiple a frame size needs for ``pix_fmt`` (2 for 4:2:0 chroma)."""
    import av

    fmt = av.VideoFormat(pix_fmt, 64, 64)
    comps = fmt.components
    if len(comps) < 2 or fmt.is_rgb:
        return 1, 1
    return max(1, 64 // max(1, comps[1].width)), max(1, 64 // max(1, comps[1].height))


def round_size(width: int, height: int, pix_fmt: str) -> tuple[int, int]:
    """The nearest size not larger than (width, height) that ``pix_fmt`` can hold."""
    mx, my = subsampling(pix_fmt)
    return max(mx, width // mx * mx), max(my, height // my * my)


def _default_pix_fmt(codec: str, source_pix_fmt: str, source_depth: int) -> str:
    supported = _pix_fmts(codec)
    candidates = [source_pix_fmt]
    if source_depth > 8:
        candidates += ["yuv420p10le", "yuv422p10le", "yuv444p10le"]
    candidates += ["yuv420p", "yuv444p"]
    for name in candidates:
        if name in supported and not name.startswith(("yuva", "gbra", "rgba", "bgra", "pal")):
            return name
    if supported:
        return supported[0]
    raise UnsupportedPixelFormatError(f"encoder {codec} lists no pixel formats; choose another --codec")


def _choose_codec(suffix: str, codec: str | None, encoders: Collection[str]) -> str:
    """The asked codec if this PyAV can encode it, else the container's first available preference."""
    if codec is None:
        for name in CODEC_PREFERENCES.get(suffix, DEFAULT_CONTAINER_CODECS):
            if name in encoders:
                codec = name
                break
        else:
            raise UnsupportedCodecError(
                f"this PyAV build has no video encoder for {suffix or 'this'} files; choose --codec from: "
                f"{', '.join(sorted(encoders))}"
            )
    elif codec not in encoders:
        raise UnsupportedCodecError(
            f"this PyAV build cannot encode video with {codec!r}; available: {', '.join(sorted(encoders))}"
        )
    return codec


def choose_encoder_settings(
    suffix: str,
    *,
    width: int,
    height: int,
    time_base: Fraction,
    frame_rate: Fraction | None,
    source_pix_fmt: str,
    source_depth: int,
    colour: ColourModel,
    source_colour: tuple[int, int, int, int],
    codec: str | None = None,
    crf: int | None = None,
    preset: str | None = None,
    pix_fmt: str | None = None,
    options: dict[str, str] | None = None,
    sample_aspect_ratio: Fraction | None = None,
) -> tuple[EncoderSettings, tuple[int, int] | None]:
    """Resolve the encoder for an output with ``suffix``; returns the settings and, when the
    requested size had to be rounded for the pixel format, the size asked for."""
    encoders = available_encoders()
    suffix = suffix.lower()
    codec = _choose_codec(suffix, codec, encoders)
    supported = _pix_fmts(codec)
    if pix_fmt is None:
        pix_fmt = _default_pix_fmt(codec, source_pix_fmt, source_depth)
    elif supported and pix_fmt not in supported:
        raise UnsupportedPixelFormatError(
            f"encoder {codec} cannot take pixel format {pix_fmt!r}; it takes: {', '.join(supported)}"
        )
    if crf is not None:
        if codec not in DEFAULT_CRF:
            raise InvalidParameterError(
                f"--crf applies to {', '.join(sorted(DEFAULT_CRF))}; {codec} has no CRF (omit --crf)"
            )
        if isinstance(crf, bool) or not isinstance(crf, int) or not 0 <= crf <= 63:
            raise InvalidParameterError(f"crf must be a whole number 0..63, got {crf!r}")
    else:
        crf = DEFAULT_CRF.get(codec)
    if preset is not None and codec not in PRESET_CODECS:
        raise InvalidParameterError(
            f"--preset applies to {', '.join(sorted(PRESET_CODECS))}; {codec} has none (omit --preset)"
        )
    preset = preset if preset is not None else DEFAULT_PRESET.get(codec)
    rounded = round_size(width, height, pix_fmt)
    asked = (width, height) if rounded != (width, height) else None
    if asked is not None:
        log.warning(
            "%s needs sizes in multiples of %s: writing %d×%d instead of %d×%d",
            pix_fmt,
            "×".join(str(v) for v in subsampling(pix_fmt)),
            rounded[0],
            rounded[1],
            width,
            height,
        )
    primaries, trc, _matrix, _range = source_colour
    settings = EncoderSettings(
        codec=codec,
        pix_fmt=pix_fmt,
        width=rounded[0],
        height=rounded[1],
        crf=crf,
        preset=preset,
        time_base=time_base,
        frame_rate=frame_rate,
        colour=(primaries, trc, colour.matrix_code, 2 if colour.full_range else 1),
        options=dict(options or {}),
        threads=ENCODER_THREADS.get(codec, 0),
        sample_aspect_ratio=sample_aspect_ratio,
    )
    return settings, asked


def _codec_options(settings: EncoderSettings) -> dict[str, str]:
    opts: dict[str, str] = {}
    codec = settings.codec
    if settings.crf is not None:
        opts["crf"] = str(settings.crf)
        if codec == "libvpx-vp9":
            opts["b"] = "0"  # constant quality
    if settings.preset is not None:
        opts["preset"] = settings.preset
    if codec == "libx265":
        opts["x265-params"] = "log-level=error"
    opts.update(settings.options)
    return opts


def configure_context(ctx: Any, settings: EncoderSettings) -> None:
    """Set up an (unopened) encoder context from ``settings``; the chunk encoders and the
    assembler's stream are configured by this one function, so their headers agree."""
    from av.codec.context import Flags

    ctx.width = settings.width
    ctx.height = settings.height
    ctx.pix_fmt = settings.pix_fmt
    ctx.time_base = settings.time_base
    if settings.frame_rate:
        ctx.framerate = settings.frame_rate
    primaries, trc, matrix, rng = settings.colour
    ctx.color_primaries = primaries
    ctx.color_trc = trc
    ctx.colorspace = matrix
    ctx.color_range = rng
    if settings.sample_aspect_ratio:
        ctx.sample_aspect_ratio = settings.sample_aspect_ratio
    ctx.flags |= Flags.global_header
    if settings.threads:
        ctx.thread_count = settings.threads
    ctx.options = _codec_options(settings)


class Encoder:
    """A codec context with global headers (extradata), fed RGB arrays, giving packets."""

    def __init__(self, settings: EncoderSettings, colour: ColourModel) -> None:
        import av
        from av.error import FFmpegError

        self.settings = settings
        self.colour = colour
        ctx: Any = av.CodecContext.create(settings.codec, "w")
        configure_context(ctx, settings)
        try:
            ctx.open()
        except FFmpegError as exc:
            raise UnsupportedCodecError(
                f"encoder {settings.codec} refused {settings.width}×{settings.height} {settings.pix_fmt} "
                f"with options {ctx.options} ({exc}); try another --codec, --pix-fmt or --preset"
            ) from exc
        self.context: Any = ctx

    @property
    def extradata(self) -> bytes:
        return bytes(self.context.extradata or b"")

    def encode(self, image: np.ndarray | None, pts: int | None = None) -> Iterator[Any]:
        """Encode one RGB array (None flushes); yields ``av.Packet``s."""
        import av

        if image is None:
            yield from self.context.encode(None)
            return
        rgb = "rgb48le" if image.dtype == np.uint16 else "rgb24"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=rgb)
        frame = frame.reformat(
            format=self.settings.pix_fmt,
            src_colorspace=self.colour.matrix,
            dst_colorspace=self.colour.matrix,
            src_color_range="JPEG",
            dst_color_range="JPEG" if self.colour.full_range else "MPEG",
        )
        frame.pts = pts
        frame.time_base = self.settings.time_base
        yield from self.context.encode(frame)
