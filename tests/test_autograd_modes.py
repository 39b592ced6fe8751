"""Every entry point works in every autograd mode, with weights made in any of them.

ComfyUI runs every node inside ``torch.inference_mode()``: the weights our Load node builds
there are inference tensors (no version counter, no in-place change outside inference mode,
never saved for backward), and they are then run by other nodes, by a notebook or by a
widget's worker thread (a new thread starts in plain mode). Each test makes tiny weights in
one mode (support.autograd_modes.MODE_PAIRS) and runs an entry point in another, checking the
result against the same call made in plain mode with plain weights. The last test is the guard
that no code reads tensor internals a mode takes away.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from realesrgan_kit.core.engine import prepare_frame_upscaler, run_upscale, upscale
from realesrgan_kit.core.engine.backends import cached_choice, measure_backends, weights_hash
from realesrgan_kit.core.engine.backends import machine as backend_machine
from realesrgan_kit.core.engine.modelinfo import model_facts
from realesrgan_kit.core.load import build_descriptor, load_model, save_safetensors
from realesrgan_kit.core.metrics import psnr
from realesrgan_kit.core.options import Tile
from realesrgan_kit.core.video import iter_upscaled_frames, iter_video_frames, upscale_video
from support.autograd_modes import MODE_PAIRS, MODES, has_inference_tensors, in_mode, pair_id
from support.clips import frame_times, make_clip
from support.engine_fakes import spandrel_like
from support.tiny_models import tiny_rrdb, tiny_srvgg

PAIRS = pytest.mark.parametrize(("made", "run"), MODE_PAIRS, ids=[pair_id(p) for p in MODE_PAIRS])
FRAMES = 4
WAIT = 120


@pytest.fixture(autouse=True)
def backend_cache(tmp_path, monkeypatch):
    """An empty backend cache per test: ``auto`` reads it (through the weights hash) on every
    CPU call, and the OpenVINO test must convert in the mode under test."""
    folder = tmp_path / "backend-cache"
    monkeypatch.setenv("REALESRGAN_KIT_BACKEND_CACHE", str(folder))
    return folder


def _descriptor(mode: str, kind: str, seed: int = 0):
    """Tiny weights built (as a Load node would) inside ``mode``."""
    with in_mode(mode):
        net = tiny_rrdb(scale=2, seed=seed) if kind == "rrdb" else tiny_srvgg(upscale=2, seed=seed)
        model = build_descriptor(net.state_dict())
    assert has_inference_tensors(model.module) == (mode == "inference_mode")
    return model


def _image(h: int = 20, w: int = 24, c: int = 3) -> np.ndarray:
    return np.random.default_rng(1).random((h, w, c)).astype(np.float32)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=FRAMES, width=16, height=12, gop=2)


# -- engine ----------------------------------------------------------------------------------


@PAIRS
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("tile", ["whole", 8])
def test_engine_images(made, run, precision, tile):
    _check_engine_images(made, run, precision, tile, "srvgg")


def test_engine_images_rrdb_in_the_hosts_mode():
    """RRDBNet runs its own lean forward (channels-last, tail in stripes, input unshuffled for
    ×2): once in ComfyUI's case (its tiny bf16 convolutions are slow, so not in every pair)."""
    _check_engine_images("inference_mode", "inference_mode", "bf16", 8, "rrdb")


def _check_engine_images(made: str, run: str, precision: str, tile: Tile, kind: str) -> None:
    model, image = _descriptor(made, kind), _image()
    expected = run_upscale(
        _descriptor("plain", kind), image, backend="torch", precision=precision, tile=tile, tile_pad=4
    )
    with in_mode(run):  # backend auto: reads the choice cache
        got = run_upscale(model, image, precision=precision, tile=tile, tile_pad=4)
    assert got.report.backend == "torch" and got.report.precision == expected.report.precision
    assert got.report.tiles == expected.report.tiles and (got.report.tiles > 1) == (tile == 8)
    np.testing.assert_array_equal(got.image, expected.image)


@PAIRS
def test_torch_batches_come_back_as_normal_tensors(made, run):
    model = _descriptor(made, "srvgg")
    with in_mode(made):  # a ComfyUI IMAGE made in the host's inference mode, or a script's tensor
        batch = torch.rand(2, 10, 12, 3, generator=torch.Generator().manual_seed(0))
    with in_mode(run):
        out = upscale(model, batch, tile=8, precision="fp32")
    expected = upscale(
        _descriptor("plain", "srvgg"), batch.clone(), tile=8, precision="fp32", backend="torch"
    )
    torch.testing.assert_close(out, expected, atol=0, rtol=0)
    # outside every mode the caller may change it in place or use it with autograd
    assert not out.is_inference()
    out.mul_(0.5)
    assert out.requires_grad_().mean().grad_fn is not None


@pytest.mark.parametrize("made", list(MODES))
def test_a_foreign_model_is_probed_for_its_memory_in_every_mode(made):
    """tile="auto" on an architecture we do not know probes a zero-weight copy for activation
    sizes; made inside inference mode, the copy must still be built and run everywhere."""
    with in_mode(made):
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 12, 3, padding=1), torch.nn.PixelShuffle(2)).eval()
        foreign = spandrel_like(net, scale=2)
    expected = run_upscale(foreign, _image(), precision="fp32", backend="torch").image
    for run in MODES:
        with in_mode(run):
            got = run_upscale(foreign, _image(), precision="fp32", tile="auto")
        np.testing.assert_array_equal(got.image, expected)


@PAIRS
def test_the_frame_upscaler(made, run):
    model, frames = _descriptor(made, "srvgg"), [_image(), _image()[::-1].copy()]
    reference = _descriptor("plain", "srvgg")
    with in_mode(run):
        upscaler = prepare_frame_upscaler(
            model, 20, 24, dtype=np.float32, precision="bf16", tile=8, tile_pad=4
        )
        got = [upscaler(frame) for frame in frames]
    for frame, out in zip(frames, got, strict=True):
        expected = run_upscale(reference, frame, precision="bf16", tile=8, tile_pad=4, backend="torch").image
        np.testing.assert_array_equal(out, expected)


@PAIRS
def test_video(made, run, clip, tmp_path):
    model = _descriptor(made, "srvgg")
    with in_mode(run):
        report = upscale_video(model, clip, tmp_path / "out.mp4", precision="fp32", tile=8)
        frames = list(iter_upscaled_frames(model, iter_video_frames(clip), precision="bf16"))
    assert report.frames == FRAMES and len(frame_times(tmp_path / "out.mp4")) == FRAMES
    reference = _descriptor("plain", "srvgg")
    for decoded, out in zip(iter_video_frames(clip), frames, strict=True):
        expected = run_upscale(reference, decoded.image, precision="bf16", backend="torch").image
        np.testing.assert_array_equal(out, expected)
    assert len(frames) == FRAMES


# -- backends --------------------------------------------------------------------------------


@pytest.mark.parametrize("made", list(MODES))
def test_weights_hash_follows_in_place_changes_in_every_mode(made):
    with in_mode(made):
        net = tiny_srvgg(seed=3)
    before = weights_hash(net)
    for run in MODES:
        with in_mode(run):
            assert weights_hash(net) == before
    assert weights_hash(tiny_srvgg(seed=3)) == before  # the same weights, made in plain mode
    # Inference tensors change only inside inference mode; normal ones under no_grad.
    change = "inference_mode" if made == "inference_mode" else "no_grad"
    weight = next(net.parameters())
    with in_mode(change):
        weight.view(-1)[5] += 1e-3  # one element, in place: same address, shape and dtype
    one_element = weights_hash(net)
    assert one_element != before
    with in_mode(change):
        net.load_state_dict(tiny_srvgg(seed=4).state_dict())  # a re-load into the same tensors
    assert weights_hash(net) == weights_hash(tiny_srvgg(seed=4)) != one_element


def test_weights_hash_is_remembered_while_the_weights_stay(monkeypatch):
    with torch.inference_mode():
        net = tiny_rrdb()
    passes = []
    real = backend_machine.hashlib.sha256
    monkeypatch.setattr(backend_machine.hashlib, "sha256", lambda *a: passes.append(1) or real(*a))
    first = weights_hash(net)
    for run in MODES:
        with in_mode(run):
            assert weights_hash(net) == first
    assert len(passes) == 1
    with torch.inference_mode():
        next(net.parameters()).mul_(2.0)
    assert weights_hash(net) != first and len(passes) == 2


OPENVINO_CASES = [  # RRDBNet is quantised in its own quantisation form: once, in the host's case
    ("inference_mode", "inference_mode", "rrdb"),
    ("inference_mode", "plain", "srvgg"),
    ("plain", "inference_mode", "srvgg"),
]


@pytest.mark.parametrize(
    ("made", "run", "kind"), OPENVINO_CASES, ids=[f"{pair_id(c[:2])}-{c[2]}" for c in OPENVINO_CASES]
)
def test_openvino_conversion_int8_and_the_auto_choice(made, run, kind, backend_cache):
    model, image = _descriptor(made, kind, seed=7), _image(12, 16)
    reference = run_upscale(
        _descriptor("plain", kind, seed=7), image, precision="fp32", backend="torch"
    ).image
    with in_mode(run):
        fp32 = run_upscale(model, image, backend="openvino", precision="fp32").image
        bf16 = run_upscale(model, image, backend="openvino", precision="bf16").image
        int8 = run_upscale(model, image, backend="openvino", precision="int8")
        entry = measure_backends(model, "auto")
        stored = cached_choice(model_facts(model), "auto")
        auto = run_upscale(model, image)
    assert len(list((backend_cache / "openvino").glob("*int8*.xml"))) == 1
    np.testing.assert_allclose(fp32, reference, atol=2e-5)
    assert psnr(bf16, reference) > 40 and 30 < psnr(int8.image, reference) < 120
    assert int8.report.backend == "openvino" and int8.report.precision == "int8"
    assert set(entry["seconds"]) >= {"torch fp32", "openvino fp32"}
    assert stored is not None and (stored.backend, stored.precision) == (entry["backend"], entry["precision"])
    assert auto.report.backend == entry["backend"] and auto.report.precision == entry["precision"]


# -- loading and fine-tuning -----------------------------------------------------------------


@PAIRS
def test_load_model_with_denoise_strength(made, run, isolated_model_dir):
    isolated_model_dir.mkdir()
    general, twin = tiny_srvgg(seed=3), tiny_srvgg(seed=4)
    torch.save({"params": general.state_dict()}, isolated_model_dir / "realesr-general-x4v3.pth")
    torch.save({"params": twin.state_dict()}, isolated_model_dir / "realesr-general-wdn-x4v3.pth")
    with in_mode(made):
        blended = load_model("realesr-general-x4v3", denoise_strength=0.25)
    for key, value in blended.module.state_dict().items():
        expected = 0.25 * general.state_dict()[key] + 0.75 * twin.state_dict()[key]
        torch.testing.assert_close(value, expected, rtol=0, atol=1e-7)
    with in_mode(run):
        out = run_upscale(blended, _image(8, 8), precision="fp32").image
    assert out.shape == (32, 32, 3)


@PAIRS
def test_interpolating_models_made_in_another_mode(made, run):
    from realesrgan_kit.core.load import interpolate_models

    first, second = _descriptor(made, "srvgg", seed=1), _descriptor(made, "srvgg", seed=2)
    with in_mode(run):
        mixed = interpolate_models(first, second, 0.75)
        out = run_upscale(mixed, _image(8, 8), precision="fp32").image
    sd_a, sd_b = first.module.state_dict(), second.module.state_dict()
    for key, value in mixed.module.state_dict().items():
        torch.testing.assert_close(value, 0.75 * sd_a[key] + 0.25 * sd_b[key], rtol=0, atol=1e-7)
    assert out.shape == (16, 16, 3)


@pytest.fixture(scope="module")
def hr_folder(tmp_path_factory):
    from realesrgan_kit.core.imagefile.arrays import write_image

    folder = tmp_path_factory.mktemp("hr")
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        write_image(folder / name, (rng.random((40, 40, 3)) * 255).astype(np.uint8))
    return folder


def _one_iteration(stage: str = "net"):
    from realesrgan_kit.core.train import TrainSettings

    return TrainSettings(
        stage=stage,
        iterations=1,
        batch_size=1,
        patch_size=32,
        pool_size=0,
        checkpoint_every=1,
        val_every=1,
        precision="fp32",
        perceptual_layers={"conv1_2": 1.0},
    )


@pytest.mark.parametrize("run", list(MODES))
def test_finetune_from_weights_made_in_inference_mode(run, hr_folder, tmp_path):
    """Training needs autograd: it runs with inference mode off and gradients on whatever mode
    the caller is in, and copies weights made in inference mode into normal tensors."""
    from realesrgan_kit.core.train import finetune

    model = _descriptor("inference_mode", "srvgg")
    start = {k: v.clone() for k, v in model.module.state_dict().items()}
    with in_mode(run):
        result = finetune(
            model, tmp_path / "run", hr_folder=hr_folder, settings=_one_iteration(), val_count=1
        )
    assert result.iteration == 1 and np.isfinite(result.losses[0]["l1"])
    assert all(torch.equal(start[k], v) for k, v in model.module.state_dict().items())
    assert torch.is_inference_mode_enabled() is False and torch.is_grad_enabled()


def test_the_gan_stage_with_networks_made_in_inference_mode(hr_folder, tmp_path):
    from realesrgan_kit.core.train import finetune
    from realesrgan_kit.core.train.vgg import VGGFeatures
    from support.tiny_models import tiny_discriminator

    with torch.inference_mode():
        model = build_descriptor(tiny_srvgg(upscale=2).state_dict())
        discriminator = build_descriptor(tiny_discriminator().state_dict())
        features = VGGFeatures({"conv1_2": 1.0}, config=(4, 4, "M"))
        result = finetune(
            model,
            tmp_path / "gan",
            hr_folder=hr_folder,
            settings=_one_iteration("gan"),
            val_count=1,
            perceptual_features=features,
            discriminator=discriminator,
        )
    assert {"perceptual", "gan", "d_real"} <= set(result.losses[0])
    assert all(np.isfinite(v) for v in result.losses[0].values())


# -- nodes (through the stand-ins, which run nodes inside inference mode as the host does) -----


def test_load_node_weights_run_through_the_nodes_and_outside_the_host(tmp_path, clip):
    from realesrgan_kit.nodes import definitions, v3
    from support.comfy_env import comfy_env

    with comfy_env(tmp_path / "ComfyUI", v3=True) as env:
        node = {
            name: v3.build_v3_class(definitions.node_by_id(name), env.io)
            for name in ("RealESRGANKitLoadModel", "RealESRGANKitUpscale")
        }
        for seed, name in ((0, "a.safetensors"), (1, "b.safetensors")):
            save_safetensors(
                build_descriptor(tiny_srvgg(upscale=2, seed=seed).state_dict()), env.upscale_dir / name
            )
        (model, _), _ = env.execution.run_node(
            node["RealESRGANKitLoadModel"],
            model_name="a.safetensors",
            second_model="b.safetensors",  # a blend, made inside the host's inference mode
            second_model_strength=0.5,
        )
        assert has_inference_tensors(model.module)
        with torch.inference_mode():
            image = torch.rand(1, 12, 10, 3, generator=torch.Generator().manual_seed(0))
        common = dict(resize_mode="model scale", outscale=2.0, width=0, height=0, tile="auto", tile_pad=0)
        common.update(precision="fp32", tta=False, alpha_mode="model")
        outputs = {
            backend: env.execution.run_node(
                node["RealESRGANKitUpscale"], image=image, model=model, backend=backend, **common
            )[0][0]
            for backend in ("auto", "openvino")
        }
    direct = upscale(model, image, precision="fp32", backend="torch")  # a script, in plain mode
    torch.testing.assert_close(outputs["auto"], direct, atol=1e-6, rtol=0)
    torch.testing.assert_close(outputs["openvino"], direct, atol=1e-4, rtol=0)


# -- widgets (the worker thread starts in plain mode, whatever mode the notebook is in) -------


@pytest.mark.parametrize("made", ["inference_mode", "plain"])
def test_the_tuner_on_its_worker_thread_and_inline(made):
    from realesrgan_kit.widgets.tuner import UpscaleTuner
    from realesrgan_kit.widgets.worker import InlineExecutor

    model, image = _descriptor(made, "srvgg"), (_image(16, 20) * 255).astype(np.uint8)
    reference = _descriptor("plain", "srvgg")
    with torch.inference_mode():
        for executor in (None, InlineExecutor()):
            tuner = UpscaleTuner(image, model=model, executor=executor)
            tuner.tile.value, tuner.precision.value = "whole", "fp32"
            expected = run_upscale(reference, image, **tuner.settings().engine_kwargs()).image
            outcome = tuner.run().result(timeout=WAIT)
            assert outcome.status == "done", tuner.error.value
            np.testing.assert_array_equal(tuner.result, expected)
            tuner.close()
    assert threading.current_thread() is threading.main_thread()


def test_the_video_tuner_and_the_fine_tuner_inside_inference_mode(
    clip, hr_folder, tmp_path, isolated_model_dir
):
    from realesrgan_kit.widgets import FineTuner, InlineExecutor, VideoTuner

    model = _descriptor("inference_mode", "srvgg")
    with torch.inference_mode():
        video = VideoTuner(clip, model=model, output=tmp_path / "out.mp4", executor=InlineExecutor())
        outcome = video.run_clip().result()
        assert outcome.status == "done", video.error.value
        weights = isolated_model_dir / "tiny.safetensors"  # listed in the model dropdown
        save_safetensors(model, weights)
        trainer = FineTuner(
            hr_folder,
            model=str(weights.resolve()),
            run_dir=tmp_path / "run",
            settings=_one_iteration(),
            executor=InlineExecutor(),
        )
        assert trainer.model.value.endswith("tiny.safetensors")
        trainer.iterations.value = 1
        trainer.start()
    assert len(frame_times(tmp_path / "out.mp4")) == FRAMES
    assert trainer.state == "done" and trainer.result.iteration == 1


# -- the guard -------------------------------------------------------------------------------

PACKAGE = Path(__file__).resolve().parents[1]


def test_no_code_reads_tensor_internals_a_mode_takes_away():
    """``t._version`` raises on an inference tensor (the weights of a model ComfyUI loaded). The
    behavioural tests above cover the entry points, in-place changes included (an inference
    tensor refuses them outside inference mode); this keeps the version counter out of the code."""
    forbidden = re.compile(r"\._version\b|[\"']_version[\"']")  # t._version, getattr(t, "_version")
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for folder in ("core", "nodes", "widgets", "cli")
        for path in sorted((PACKAGE / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if forbidden.search(line)
    ]
    assert not found, "\n".join(found)
