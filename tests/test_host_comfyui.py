"""The pack inside a real ComfyUI 0.3.64 server, driven over its HTTP API and websocket.

This is where the host's own behaviour happens and no stand-in reproduces it: every node runs
under ``torch.inference_mode()``, outputs are cached by their inputs, ``VIDEO`` is core's type,
progress goes out on the websocket and ``/interrupt`` stops a running node. The API prompts are
made from the UI workflows in ``example_workflows/`` against the server's own ``/object_info``,
so a workflow that no longer fits its nodes fails here.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from support import real_comfyui
from support.clips import make_clip, packets
from support.real_comfyui import ComfyServer, error_of, messages
from support.workflows import WorkflowMismatch, load, to_checked_prompt

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "example_workflows"
RUNNABLE = [
    "upscale_image_realesrgan",
    "degrade_upscale_compare",
    "upscale_video_realesrgan",
    "upscale_video_file_realesrgan",
]
IMAGE_SIZE = (48, 64)  # height, width of the example.png the image workflows load
CLIP: dict[str, int] = {"frames": 12, "width": 64, "height": 48}


@pytest.fixture(scope="module")
def server(comfyui_install, tmp_path_factory) -> Any:
    root = comfyui_install.root
    _write_inputs(root / "input")
    _write_upscale_models(root / "models" / "upscale_models")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["REALESRGAN_KIT_MODELS"] = str(tmp_path_factory.mktemp("host-models"))
    with real_comfyui.running_server(root, comfyui_install.python, env) as running:
        yield running
    assert "IMPORT FAILED" not in running.log()


def _write_inputs(folder: Path) -> None:
    photo = cv2.imread(str(ROOT / "tests" / "data" / "0014.jpg"))
    h, w = IMAGE_SIZE
    cv2.imwrite(str(folder / "example.png"), photo[100 : 100 + h, 100 : 100 + w])
    make_clip(folder / "example.mp4", frames=CLIP["frames"], width=CLIP["width"], height=CLIP["height"])
    make_clip(folder / "long.mp4", frames=48, width=256, height=192, audio=False, gop=12)
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))


def _write_upscale_models(folder: Path) -> None:
    """Converted official weights, where core's "Load Upscale Model" (spandrel) finds them."""
    from realesrgan_kit.core.load import load_model, save_safetensors

    for name in ("RealESRGAN_x4plus", "realesr-animevideov3"):
        save_safetensors(load_model(name), folder / f"{name}.safetensors", overwrite=True)


def _object_info(server: ComfyServer) -> dict[str, Any]:
    return server.get("/object_info", timeout=60)


def _example_prompt(server: ComfyServer, name: str) -> dict[str, Any]:
    return to_checked_prompt(load(EXAMPLES / f"{name}.json"), _object_info(server))


def _outputs(entry: dict[str, Any], node: str) -> dict[str, Any]:
    return entry["outputs"].get(node, {})


def _image(server: ComfyServer, item: dict[str, Any]) -> np.ndarray:
    data = np.frombuffer(server.view(item), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    assert image is not None, f"{item['filename']} is not an image"
    return image


def _succeeded(entry: dict[str, Any]) -> None:
    assert entry["status"]["status_str"] == "success", error_of(entry) or json.dumps(entry["status"])


def _node_of(prompt: dict[str, Any], class_type: str) -> str:
    return next(k for k, v in prompt.items() if v["class_type"] == class_type)


def _unique(prompt: dict[str, Any], prefix_class: str, prefix: str) -> dict[str, Any]:
    """A distinct output name, so that no other test's identical prompt is served from the cache."""
    prompt[_node_of(prompt, prefix_class)]["inputs"]["filename_prefix"] = prefix
    return prompt


# ---- the pack as the host sees it ------------------------------------------------------------
def test_the_pack_loads_with_its_nodes_and_templates(server: ComfyServer):
    info = _object_info(server)
    ours = sorted(k for k in info if k.startswith("RealESRGANKit"))
    assert ours == [
        "RealESRGANKitCompare",
        "RealESRGANKitDegrade",
        "RealESRGANKitLoadModel",
        "RealESRGANKitUpscale",
        "RealESRGANKitUpscaleVideo",
    ]
    for node_id in ours:  # registered from our pack: no id collides with (and is dropped for) a core id
        assert info[node_id]["python_module"] == "custom_nodes.realesrgan-kit", info[node_id]["python_module"]
    templates = server.get("/api/workflow_templates")
    assert sorted(templates["realesrgan-kit"]) == sorted([*RUNNABLE, "txt2img_then_realesrgan_x2"])
    assert "Cannot import" not in server.log() and "IMPORT FAILED" not in server.log()


@pytest.mark.parametrize("name", [*RUNNABLE, "txt2img_then_realesrgan_x2"])
def test_examples_fit_the_hosts_nodes(server: ComfyServer, name: str):
    prompt = _example_prompt(server, name)  # raises WorkflowMismatch when a workflow drifted
    assert prompt


def test_a_drifted_workflow_is_caught(server: ComfyServer):
    workflow = load(EXAMPLES / "upscale_image_realesrgan.json")
    upscale = next(n for n in workflow["nodes"] if n["type"] == "RealESRGANKitUpscale")
    upscale["widgets_values"] = upscale["widgets_values"][:-1]
    with pytest.raises(WorkflowMismatch, match="widget values"):
        to_checked_prompt(workflow, _object_info(server))


# ---- every example workflow runs ---------------------------------------------------------------
def test_upscale_image_example(server: ComfyServer):
    prompt = _example_prompt(server, "upscale_image_realesrgan")
    entry = server.run(prompt)
    _succeeded(entry)
    (item,) = _outputs(entry, _node_of(prompt, "SaveImage"))["images"]
    image = _image(server, item)
    h, w = IMAGE_SIZE
    assert image.shape[:2] == (h * 4, w * 4)


def test_degrade_upscale_compare_example(server: ComfyServer):
    prompt = _example_prompt(server, "degrade_upscale_compare")
    entry = server.run(prompt)
    _succeeded(entry)
    compare = _outputs(entry, _node_of(prompt, "RealESRGANKitCompare"))
    (report,) = compare["text"]
    match = re.match(r"PSNR ([0-9.]+) dB, SSIM ([0-9.]+)", report)
    assert match, report
    psnr, ssim = float(match[1]), float(match[2])
    assert 15 < psnr < 60 and 0.3 < ssim <= 1, (
        report
    )  # a degraded ×4 round trip: far from equal, far from noise
    # both Preview Any nodes show what Compare computed
    previews = [
        _outputs(entry, n).get("text", []) for n, v in prompt.items() if v["class_type"] == "PreviewAny"
    ]
    assert len(previews) == 2 and all(previews), previews


@pytest.mark.parametrize("name", ["upscale_video_realesrgan", "upscale_video_file_realesrgan"])
def test_video_examples(server: ComfyServer, name: str):
    prompt = _unique(_example_prompt(server, name), "RealESRGANKitUpscaleVideo", f"video/{name}")
    entry = server.run(prompt)
    _succeeded(entry)
    written = sorted((server.root / "output" / "video").glob(f"{name}*"))
    assert len(written) == 1, written
    with av.open(str(written[0])) as container:
        stream = container.streams.video[0]
        frames = [f for f in container.decode(stream)]
        assert (stream.codec_context.width, stream.codec_context.height) == (
            CLIP["width"] * 2,
            CLIP["height"] * 2,
        )
        assert len(frames) == CLIP["frames"]
        assert len(container.streams.audio) == 1
    source = packets(server.root / "input" / "example.mp4", "audio")
    assert [p[1] for p in packets(written[0], "audio")] == [p[1] for p in source]


def test_txt2img_example_fails_only_on_the_missing_checkpoint(server: ComfyServer):
    prompt = _example_prompt(server, "txt2img_then_realesrgan_x2")
    status, body = server.submit(prompt)
    assert status == 400
    errors = body["node_errors"]
    loader = _node_of(prompt, "CheckpointLoaderSimple")
    assert set(errors) == {loader}, errors
    reasons = errors[loader]["errors"]
    assert {e["type"] for e in reasons} == {"value_not_in_list"}
    assert all(e["extra_info"]["input_name"] == "ckpt_name" for e in reasons)


# ---- interop with core's nodes -----------------------------------------------------------------
def _load_image(prompt: dict[str, Any], node: str = "1") -> None:
    prompt[node] = {"class_type": "LoadImage", "inputs": {"image": "example.png"}}


def test_core_loader_feeds_our_upscale_node(server: ComfyServer):
    info = _object_info(server)
    prompt: dict[str, Any] = {}
    _load_image(prompt)
    prompt["2"] = {
        "class_type": "UpscaleModelLoader",
        "inputs": {"model_name": "RealESRGAN_x4plus.safetensors"},
    }
    upscale_inputs = _defaults(info, "RealESRGANKitUpscale")
    upscale_inputs.update({"image": ["1", 0], "model": ["2", 0]})
    prompt["3"] = {"class_type": "RealESRGANKitUpscale", "inputs": upscale_inputs}
    prompt["4"] = {
        "class_type": "SaveImage",
        "inputs": {"images": ["3", 0], "filename_prefix": "interop-core-loader"},
    }
    # core's own node on the same model, for comparison
    prompt["5"] = {
        "class_type": "ImageUpscaleWithModel",
        "inputs": {"upscale_model": ["2", 0], "image": ["1", 0]},
    }
    prompt["6"] = {
        "class_type": "SaveImage",
        "inputs": {"images": ["5", 0], "filename_prefix": "interop-core-node"},
    }
    entry = server.run(prompt)
    _succeeded(entry)
    ours = _image(server, _outputs(entry, "4")["images"][0]).astype(np.float64)
    core = _image(server, _outputs(entry, "6")["images"][0]).astype(np.float64)
    assert ours.shape == core.shape == (IMAGE_SIZE[0] * 4, IMAGE_SIZE[1] * 4, 3)
    psnr = 10 * np.log10(255.0**2 / max(np.mean((ours - core) ** 2), 1e-12))
    assert psnr > 35, psnr  # bf16 against core's fp32, and core's tile feathering


def test_core_loader_feeds_our_video_node(server: ComfyServer):
    info = _object_info(server)
    prompt: dict[str, Any] = {
        "1": {"class_type": "LoadVideo", "inputs": {"file": "example.mp4"}},
        "2": {
            "class_type": "UpscaleModelLoader",
            "inputs": {"model_name": "realesr-animevideov3.safetensors"},
        },
    }
    inputs = _defaults(info, "RealESRGANKitUpscaleVideo")
    inputs.update({"video": ["1", 0], "model": ["2", 0], "filename_prefix": "video/interop-core-loader"})
    prompt["3"] = {"class_type": "RealESRGANKitUpscaleVideo", "inputs": inputs}
    _succeeded(server.run(prompt))
    (written,) = (server.root / "output" / "video").glob("interop-core-loader*")
    with av.open(str(written)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (
            CLIP["width"] * 4,
            CLIP["height"] * 4,
        )


def test_our_loader_feeds_core_upscale_node(server: ComfyServer):
    info = _object_info(server)
    prompt: dict[str, Any] = {}
    _load_image(prompt)
    load_inputs = _defaults(info, "RealESRGANKitLoadModel")
    load_inputs["model_name"] = "realesr-animevideov3"
    prompt["2"] = {"class_type": "RealESRGANKitLoadModel", "inputs": load_inputs}
    prompt["3"] = {
        "class_type": "ImageUpscaleWithModel",
        "inputs": {"upscale_model": ["2", 0], "image": ["1", 0]},
    }
    prompt["4"] = {
        "class_type": "SaveImage",
        "inputs": {"images": ["3", 0], "filename_prefix": "interop-our-loader"},
    }
    entry = server.run(prompt)
    _succeeded(entry)
    image = _image(server, _outputs(entry, "4")["images"][0])
    assert image.shape[:2] == (IMAGE_SIZE[0] * 4, IMAGE_SIZE[1] * 4)


def _defaults(info: dict[str, Any], node: str) -> dict[str, Any]:
    """The node's widget inputs at their declared defaults (what a freshly added node holds)."""
    values: dict[str, Any] = {}
    declared = info[node]["input"]
    for category in ("required", "optional"):
        for name, spec in declared.get(category, {}).items():
            kind, opts = spec[0], (spec[1] if len(spec) > 1 else {})
            if "default" in opts:
                values[name] = opts["default"]
            elif kind == "COMBO" and opts.get("options"):
                values[name] = opts["options"][0]
            elif isinstance(kind, list) and kind:
                values[name] = kind[0]
    return values


# ---- host behaviour ---------------------------------------------------------------------------
def test_a_second_identical_prompt_is_served_from_the_cache(server: ComfyServer):
    prompt = _unique(_example_prompt(server, "upscale_image_realesrgan"), "SaveImage", "cache-check")
    first = server.run(prompt)
    _succeeded(first)
    second = server.run(prompt)
    _succeeded(second)
    cached = set(messages(second)["execution_cached"]["nodes"])
    assert cached == set(prompt), (cached, set(prompt))


def _collect(ws: Any, prompt_id: str, *, until: float, on_progress: Any = None) -> list[dict[str, Any]]:
    """Websocket messages for ``prompt_id`` until it ends (success, error or interrupt)."""
    seen: list[dict[str, Any]] = []
    ws.settimeout(5)
    while time.monotonic() < until:
        try:
            raw = ws.recv()
        except Exception:  # a receive timeout: the prompt may still be running
            continue
        if not isinstance(raw, str):
            continue  # binary preview frames
        message = json.loads(raw)
        data = message.get("data", {})
        if data.get("prompt_id") not in (None, prompt_id):
            continue
        seen.append(message)
        if message["type"] == "progress" and on_progress is not None:
            on_progress(message)
        kind = message["type"]
        if kind in ("execution_error", "execution_interrupted", "execution_success"):
            return seen
        if kind == "executing" and data.get("node") is None and data.get("prompt_id") == prompt_id:
            return seen
    raise TimeoutError(f"prompt {prompt_id} did not end; last messages: {seen[-5:]}")


def test_progress_reaches_the_websocket_per_tile_and_per_frame(server: ComfyServer):
    info = _object_info(server)
    image: dict[str, Any] = {}
    _load_image(image)
    image["2"] = {"class_type": "RealESRGANKitLoadModel", "inputs": _animevideo_loader(info)}
    upscale = {**_defaults(info, "RealESRGANKitUpscale"), "image": ["1", 0], "model": ["2", 0], "tile": "16"}
    image["3"] = {"class_type": "RealESRGANKitUpscale", "inputs": upscale}
    image["4"] = {
        "class_type": "SaveImage",
        "inputs": {"images": ["3", 0], "filename_prefix": "progress-tiles"},
    }
    video = _unique(
        _example_prompt(server, "upscale_video_realesrgan"), "RealESRGANKitUpscaleVideo", "video/progress"
    )
    ws = server.websocket()
    try:
        for graph, node in ((image, "3"), (video, _node_of(video, "RealESRGANKitUpscaleVideo"))):
            prompt_id = server.queue(graph)
            seen = _collect(ws, prompt_id, until=time.monotonic() + 300)
            ticks = [m["data"] for m in seen if m["type"] == "progress" and m["data"].get("node") == node]
            assert ticks, seen
            total = ticks[-1]["max"]
            assert total == (CLIP["frames"] if graph is video else total) and total >= 2, ticks
            # one report per tile or frame, counting up to the total
            assert sorted({t["value"] for t in ticks}) == list(range(total + 1)) or (
                sorted({t["value"] for t in ticks}) == list(range(1, total + 1))
            ), ticks
            _succeeded(server.wait(prompt_id))
    finally:
        ws.close()


def _animevideo_loader(info: dict[str, Any]) -> dict[str, Any]:
    return {**_defaults(info, "RealESRGANKitLoadModel"), "model_name": "realesr-animevideov3"}


def _file_video_prompt(info: dict[str, Any], file: str, prefix: str) -> dict[str, Any]:
    """Our Load node (realesr-animevideov3) → Upscale Video on a file of the input folder."""
    inputs = {**_defaults(info, "RealESRGANKitUpscaleVideo"), "file": file, "filename_prefix": prefix}
    return {
        "1": {"class_type": "RealESRGANKitLoadModel", "inputs": _animevideo_loader(info)},
        "2": {"class_type": "RealESRGANKitUpscaleVideo", "inputs": {**inputs, "model": ["1", 0]}},
    }


def test_interrupt_stops_a_video_within_a_frame_and_leaves_nothing(server: ComfyServer):
    info = _object_info(server)
    prompt = _file_video_prompt(info, "long.mp4", "video/interrupted")
    ws = server.websocket()
    state: dict[str, Any] = {"at_interrupt": None, "last": 0}

    def on_progress(message: dict[str, Any]) -> None:
        data = message["data"]
        if data.get("node") != "2":
            return
        state["last"] = data["value"]
        if state["at_interrupt"] is None and data["value"] >= 3:
            state["at_interrupt"] = data["value"]
            server.post("/interrupt")

    try:
        prompt_id = server.queue(prompt)
        seen = _collect(ws, prompt_id, until=time.monotonic() + 300, on_progress=on_progress)
    finally:
        ws.close()
    assert state["at_interrupt"] is not None, "the video finished before it could be interrupted"
    assert seen[-1]["type"] == "execution_interrupted", seen[-1]
    assert state["last"] - state["at_interrupt"] <= 1, state  # stopped within a frame
    entry = server.wait(prompt_id)
    assert "execution_interrupted" in messages(entry)
    leftovers = list((server.root / "output" / "video").glob("interrupted*"))
    assert leftovers == []


def test_after_a_typed_error_the_server_stays_up(server: ComfyServer):
    info = _object_info(server)
    prompt = _file_video_prompt(info, "broken.mp4", "video/broken")
    entry = server.run(prompt)
    assert entry["status"]["status_str"] == "error"
    error = messages(entry)["execution_error"]
    assert error["exception_type"].rsplit(".", 1)[-1] in ("CorruptVideoError", "InvalidVideoError")
    assert "broken.mp4" in error["exception_message"]
    assert list((server.root / "output" / "video").glob("broken*")) == []
    # the next prompt runs normally
    following = _unique(_example_prompt(server, "upscale_image_realesrgan"), "SaveImage", "after-error")
    _succeeded(server.run(following))


def test_our_requirements_keep_the_hosts_torch(comfyui_install):
    """What ComfyUI-Manager runs for the pack, ``pip install -r requirements.txt``, replaces
    nothing of ComfyUI's torch stack."""
    import subprocess

    run = subprocess.run(
        [
            str(comfyui_install.python),
            "-m",
            "pip",
            "install",
            "--dry-run",
            "-r",
            str(ROOT / "requirements.txt"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    would = " ".join(line for line in run.stdout.splitlines() if line.startswith("Would install"))
    assert "torch" not in would.lower(), would
