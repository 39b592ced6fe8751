"""Video: stream a clip through the upscaler with flat memory, kept streams and resumable chunks.

Flow: ``probe`` (is it a video, its facts) → ``frames`` (packet scan, decode to RGB arrays) →
``chunks`` (keyframe-aligned units, their packet files) → ``parts`` (the folder of finished
chunks beside the target, its manifest) → ``pipeline`` (decode, model and
encode overlapping on threads with bounded queues) → ``encode`` (codec choices, RGB → packets)
→ ``assemble`` (chunks + copied audio/subtitles → the target, atomically). ``temporal``
(optional flicker reduction) runs between the model and the encoder. ``job`` ties them
into :func:`upscale_video` and the pieces a distributed runner needs (:func:`prepare_video_job`,
:func:`upscale_chunk`, :func:`assemble_chunks`).

PyAV is imported inside functions: importing this package does not load it.
"""

from .chunks import DEFAULT_CHUNK_SECONDS, Chunk, plan_chunks
from .encode import CODEC_PREFERENCES, DEFAULT_CRF, VIDEO_SUFFIXES, EncoderSettings, available_encoders
from .frames import VideoFrame, iter_video_frames, read_video_frame
from .job import (
    VideoJob,
    VideoReport,
    assemble_chunks,
    engine_options_for_video,
    prepare_video_job,
    upscale_chunk,
    upscale_video,
    video_engine_options,
)
from .parts import open_parts, parts_dir_for, pending_chunks
from .pipeline import VideoProgress, iter_upscaled_frames, stabilize_frames
from .probe import StreamInfo, VideoInfo, is_video_file, probe_video

__all__ = [
    "engine_options_for_video",
    "video_engine_options",
    "probe_video",
    "is_video_file",
    "VideoInfo",
    "StreamInfo",
    "VideoFrame",
    "iter_video_frames",
    "read_video_frame",
    "iter_upscaled_frames",
    "stabilize_frames",
    "upscale_video",
    "VideoReport",
    "VideoProgress",
    "VideoJob",
    "prepare_video_job",
    "open_parts",
    "pending_chunks",
    "upscale_chunk",
    "assemble_chunks",
    "parts_dir_for",
    "Chunk",
    "plan_chunks",
    "DEFAULT_CHUNK_SECONDS",
    "EncoderSettings",
    "available_encoders",
    "CODEC_PREFERENCES",
    "VIDEO_SUFFIXES",
    "DEFAULT_CRF",
]
