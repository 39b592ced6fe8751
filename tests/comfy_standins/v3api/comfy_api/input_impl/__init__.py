"""Stand-in for ``comfy_api.input_impl`` (re-exported from ``comfy_api.latest._input_impl``):
``VideoFromFile``, what core's Load Video outputs.

Mirrors ComfyUI 0.3.64: built from a path or a ``BytesIO``; ``get_stream_source()`` returns
that path, or the ``BytesIO`` rewound to 0; ``get_dimensions()`` opens it with PyAV and returns
the first video stream's (width, height); ``get_components()`` decodes every frame to RGB
float in 0..1 and stacks them into one [N, H, W, 3] tensor (the whole clip in memory);
``save_to(path)`` copies every video, audio and subtitle packet into a new container without
re-encoding. Tests count ``get_components`` calls (``COMPONENT_CALLS``) to prove a node
streams instead.

``VideoFromComponents`` (what core's Create Video outputs) holds frames in memory; its
``save_to(path)`` encodes them as H.264 yuv420p at the frame rate (rounded to 1/1000) into
``av.open(path, "w", options={"movflags": "use_metadata_tags"})``, so the inherited
``get_stream_source()`` (``save_to`` into a ``BytesIO``) raises ValueError, as in ComfyUI:
PyAV cannot guess a container for a ``BytesIO``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from comfy_api.input import VideoInput

COMPONENT_CALLS: list[Any] = []


@dataclass
class VideoComponents:
    images: Any
    frame_rate: Fraction
    audio: Any = None
    metadata: dict | None = None


class VideoFromFile(VideoInput):
    def __init__(self, file: str | io.BytesIO) -> None:
        self.__file = file

    def get_stream_source(self) -> str | io.BytesIO:
        if isinstance(self.__file, io.BytesIO):
            self.__file.seek(0)
        return self.__file

    def get_dimensions(self) -> tuple[int, int]:
        import av

        with av.open(self.get_stream_source(), mode="r") as container:
            for stream in container.streams:
                if stream.type == "video":
                    return stream.width, stream.height
        raise ValueError(f"No video stream found in file '{self.__file}'")

    def get_components(self) -> VideoComponents:
        import av
        import torch

        COMPONENT_CALLS.append(self)
        with av.open(self.get_stream_source(), mode="r") as container:
            frames = [torch.from_numpy(f.to_ndarray(format="rgb24")) / 255.0 for f in container.decode(video=0)]
            stream = container.streams.video[0]
            rate = Fraction(stream.average_rate) if stream.average_rate else Fraction(1)
            images = torch.stack(frames) if frames else torch.zeros(0, 3, 0, 0)
            return VideoComponents(images=images, frame_rate=rate, metadata=dict(container.metadata))

    def save_to(self, path: Any, format: Any = "auto", codec: Any = "auto", metadata: dict | None = None) -> None:
        import av

        with av.open(self.get_stream_source(), mode="r") as source:
            kwargs: dict[str, Any] = {"format": source.format.name.split(",")[0]} if isinstance(path, io.BytesIO) else {}
            with av.open(path, mode="w", **kwargs) as out:
                mapping = {}
                for stream in source.streams:
                    if stream.type in ("video", "audio", "subtitle"):
                        mapping[stream] = out.add_stream_from_template(template=stream, opaque=True)
                for packet in source.demux():
                    if packet.stream in mapping and packet.dts is not None:
                        packet.stream = mapping[packet.stream]
                        out.mux(packet)


class VideoFromComponents(VideoInput):
    def __init__(self, components: VideoComponents) -> None:
        self.__components = components

    def get_components(self) -> VideoComponents:
        COMPONENT_CALLS.append(self)
        return self.__components

    def save_to(self, path: Any, format: Any = "auto", codec: Any = "auto", metadata: dict | None = None) -> None:
        import av

        images = self.__components.images
        with av.open(path, mode="w", options={"movflags": "use_metadata_tags"}) as output:
            stream = output.add_stream("h264", rate=Fraction(round(self.__components.frame_rate * 1000), 1000))
            stream.width, stream.height, stream.pix_fmt = images.shape[2], images.shape[1], "yuv420p"
            for image in images:
                pixels = (image * 255).clamp(0, 255).byte().cpu().numpy()
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24").reformat(format="yuv420p")
                output.mux(stream.encode(frame))
            output.mux(stream.encode(None))


__all__ = ["VideoFromFile", "VideoFromComponents", "VideoComponents"]
