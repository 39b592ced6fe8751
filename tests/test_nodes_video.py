"""Upscale Video node in the ComfyUI stand-ins: a VIDEO is streamed from its file (never decoded
whole), an in-memory one goes through a temporary file that is removed, a file from the input
folder works on a ComfyUI without VIDEO, progress counts frames, Cancel leaves nothing, bad
input gets typed errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from realesrgan_kit.core.errors import InvalidParameterError, VideoError
from realesrgan_kit.core.load import build_descriptor
from realesrgan_kit.core.video import CODEC_PREFERENCES, probe_video
from realesrgan_kit.nodes import definitions, v1, v3
from realesrgan_kit.nodes.video_node import CONTAINERS, codec_choices
from support.clips import frame_times, make_clip, packets
from support.comfy_env import comfy_env
from support.tiny_models import tiny_srvgg

NODE = "RealESRGANKitUpscaleVideo"
FRAMES = 8


@pytest.fixture(scope="module")
def srvgg_x2():
    return build_descriptor(tiny_srvgg(upscale=2).state_dict())


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=FRAMES, width=32, height=24, gop=4)


@pytest.fixture
def comfy_v3(tmp_path):
    with comfy_env(tmp_path / "ComfyUI", v3=True) as env:
        env.node = v3.build_v3_class(definitions.node_by_id(NODE), env.io)
        env.ticks = env.utils.install_server_like_hook()
        yield env


@pytest.fixture
def comfy_old(tmp_path):
    """A ComfyUI without the V3 API and without the VIDEO type: V1 registration, files only."""
    with comfy_env(tmp_path / "ComfyUI", v3=False) as env:
        env.node = v1.node_class_mappings()[NODE]
        env.ticks = env.utils.install_server_like_hook()
        yield env


def _run(env, model, **inputs):
    values = {
        "file": "none",
        "resize_mode": "model scale",
        "outscale": 2.0,
        "width": 0,
        "height": 0,
        "tile": "auto",
        "tile_pad": 0,
        "precision": "fp32",
        "tta": False,
        "container": "mp4",
        "codec": "auto",
        "crf": -1,
        "filename_prefix": "video/RealESRGAN",
        **inputs,
    }
    return env.execution.run_node(env.node, model=model, **values)


def _output_dir(env) -> Path:
    return Path(env.folder_paths.get_output_directory())


def test_a_video_input_is_streamed_from_its_file(comfy_v3, srvgg_x2, clip):
    from comfy_api.input_impl import COMPONENT_CALLS, VideoFromFile

    (video, path, report), ui = _run(comfy_v3, srvgg_x2, video=VideoFromFile(str(clip)))
    assert COMPONENT_CALLS == [], "the node must not decode the whole clip through get_components"
    target = Path(path)
    assert target.parent == _output_dir(comfy_v3) / "video" and target.name == "RealESRGAN_00001_.mp4"
    info = probe_video(target)
    assert (info.width, info.height, info.frames) == (64, 48, FRAMES)
    assert len(packets(target, "audio")) == len(packets(clip, "audio")) > 0, "audio is kept"
    assert isinstance(video, VideoFromFile) and video.get_stream_source() == str(target)
    assert video.get_dimensions() == (64, 48)
    assert ui == {
        "images": [{"filename": target.name, "subfolder": "video", "type": "output"}],
        "animated": (True,),
    }
    assert f"{FRAMES} frames" in report and "64×48" in report
    assert comfy_v3.ticks[-1] == (FRAMES, FRAMES) and len(comfy_v3.ticks) >= FRAMES
    # A second run gets the next number, as core's savers do.
    (_, second, _), _ = _run(comfy_v3, srvgg_x2, video=VideoFromFile(str(clip)))
    assert Path(second).name == "RealESRGAN_00002_.mp4"


def test_an_in_memory_video_goes_through_a_temporary_file(comfy_v3, srvgg_x2, clip):
    from comfy_api.input_impl import VideoFromFile

    (_, path, _), _ = _run(
        comfy_v3,
        srvgg_x2,
        video=VideoFromFile(io.BytesIO(clip.read_bytes())),
        resize_mode="outscale",
        outscale=1.5,
    )
    info = probe_video(Path(path))
    assert (info.width, info.height, info.frames) == (48, 36, FRAMES)
    temp = Path(comfy_v3.folder_paths.get_temp_directory())
    assert not temp.exists() or list(temp.iterdir()) == [], "the temporary copy is removed"


def test_a_file_from_the_input_folder_on_a_comfyui_without_video(comfy_old, srvgg_x2, clip):
    inputs = Path(comfy_old.folder_paths.get_input_directory())
    inputs.mkdir(parents=True, exist_ok=True)
    (inputs / "clip.mp4").write_bytes(clip.read_bytes())
    (inputs / "photo.png").write_bytes(b"not listed")
    spec = definitions.node_by_id(NODE)
    assert spec.input("file").choices() == ["none", "clip.mp4"]
    (video, path, _), ui = _run(comfy_old, srvgg_x2, file="clip.mp4", container="mkv", filename_prefix="up")
    assert video is None, "no VIDEO type here"
    target = Path(path)
    assert target.parent == _output_dir(comfy_old) and target.suffix == ".mkv"
    assert len(frame_times(target)) == FRAMES
    assert ui["images"][0] == {"filename": target.name, "subfolder": "", "type": "output"}


def test_cancel_leaves_nothing_in_the_output_folder(comfy_v3, srvgg_x2, clip):
    from comfy_api.input_impl import VideoFromFile

    def hook(value, total, preview, prompt_id=None, node_id=None):
        if value >= 2:
            comfy_v3.model_management.interrupt_current_processing(True)

    comfy_v3.utils.set_progress_bar_global_hook(hook)
    with pytest.raises(comfy_v3.model_management.InterruptProcessingException):
        _run(comfy_v3, srvgg_x2, video=VideoFromFile(str(clip)))
    leftovers = list((_output_dir(comfy_v3) / "video").iterdir())
    assert leftovers == [], f"nothing partial, no unfinished pieces: {leftovers}"


def test_bad_inputs_get_typed_errors(comfy_v3, srvgg_x2, tmp_path):
    with pytest.raises(InvalidParameterError, match="connect a VIDEO"):
        _run(comfy_v3, srvgg_x2)
    with pytest.raises(InvalidParameterError, match="container"):
        _run(comfy_v3, srvgg_x2, file="clip.mp4", container="gif")
    inputs = Path(comfy_v3.folder_paths.get_input_directory())
    inputs.mkdir(parents=True, exist_ok=True)
    (inputs / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64)
    with pytest.raises(VideoError, match="broken.mp4"):
        _run(comfy_v3, srvgg_x2, file="broken.mp4")
    with pytest.raises(VideoError, match="missing.mp4"):
        _run(comfy_v3, srvgg_x2, file="missing.mp4")
    output = _output_dir(comfy_v3)
    assert not output.exists() or [p for p in output.rglob("*") if p.is_file()] == []


def test_choice_lists_come_from_core():
    assert all(f".{name}" in CODEC_PREFERENCES for name in CONTAINERS)
    codecs = codec_choices()
    assert codecs[0] == "auto" and "libx264" in codecs
    assert set(codecs[1:]) <= {name for names in CODEC_PREFERENCES.values() for name in names}


def test_gpu_runs_make_room_first_and_give_the_memory_back(comfy_v3, srvgg_x2, clip, monkeypatch):
    from comfy_api.input_impl import VideoFromFile

    from realesrgan_kit.core import engine, video

    class FakeAccelerator:
        type = "cuda"

    device = FakeAccelerator()
    order = []
    monkeypatch.setattr(comfy_v3.model_management, "get_torch_device", lambda: device)
    monkeypatch.setattr(
        comfy_v3.model_management,
        "free_memory",
        lambda required, dev, keep_loaded=None: order.append(("free", required, dev)),
    )
    monkeypatch.setattr(
        engine, "estimate_tile_memory", lambda model, tile, **kw: order.append(("estimate", tile)) or 1000
    )
    real = video.upscale_video

    def on_the_cpu(*args, device, **kwargs):  # record the device asked for, run where we can
        order.append(("run", device))
        return real(*args, device="cpu", **kwargs)

    monkeypatch.setattr(video, "upscale_video", on_the_cpu)
    moved = []
    monkeypatch.setattr(srvgg_x2.module, "to", lambda where: moved.append(where) or srvgg_x2.module)
    _run(comfy_v3, srvgg_x2, video=VideoFromFile(str(clip)))
    assert order[0] == ("estimate", 512)
    assert order[1] == ("free", 1000 + 32 * 24 * 3 * 4, device) and order[2] == ("run", device)
    assert moved == ["cpu"]


def test_cpu_runs_do_not_evict_comfyuis_models(comfy_v3, srvgg_x2, clip):
    from comfy_api.input_impl import VideoFromFile

    _run(comfy_v3, srvgg_x2, video=VideoFromFile(str(clip)))
    assert comfy_v3.model_management.FREE_MEMORY_CALLS == []


def test_a_video_made_from_frames_is_written_to_a_temporary_file(comfy_v3, srvgg_x2):
    """Core's Create Video gives frames in memory, whose default stream source fails (PyAV
    cannot pick a container for a BytesIO): the node has it save itself to a file instead."""
    from fractions import Fraction

    import torch
    from comfy_api.input_impl import VideoComponents, VideoFromComponents

    frames = torch.rand(6, 24, 32, 3, generator=torch.Generator().manual_seed(4))
    made = VideoFromComponents(VideoComponents(images=frames, frame_rate=Fraction(12)))
    with pytest.raises(ValueError):
        made.get_stream_source()
    (_, path, _), _ = _run(comfy_v3, srvgg_x2, video=made)
    info = probe_video(Path(path))
    assert (info.width, info.height, info.frames) == (64, 48, 6)
    temp = Path(comfy_v3.folder_paths.get_temp_directory())
    assert list(temp.iterdir()) == [], "the temporary file is removed"
