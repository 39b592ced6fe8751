"""The fine-tuning loop: tiny models for a few iterations on tiny crops.

- resume: stopped + resumed reaches the uninterrupted run's losses bit for bit (CPU, fp32,
  same threads), with the pair pool on and a different worker count after the stop;
- a crash keeps the last checkpoint; foreign run folders are refused;
- the GAN stage runs with a tiny discriminator and a small randomly initialised VGG-like
  stand-in for the perceptual loss (mechanics only; real VGG19 weights are never downloaded);
- the exported generator loads wherever a model loads: load_model, the CLI, ComfyUI's Load
  node and the notebook tuner;
- no global RNG is touched.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from realesrgan_kit.cli import main
from realesrgan_kit.core.errors import OutputExistsError, RunFolderMismatchError
from realesrgan_kit.core.imagefile.arrays import read_image, write_image
from realesrgan_kit.core.load import ModelDescriptor, build_descriptor, load_model, save_safetensors
from realesrgan_kit.core.train import TrainSettings, finetune
from realesrgan_kit.core.train.checkpoint import list_checkpoints
from realesrgan_kit.core.train.vgg import VGGFeatures
from support.tiny_models import tiny_discriminator, tiny_srvgg

LAYERS = {"conv1_2": 0.1, "conv2_2": 1.0}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors run fastest on one thread, and a busy CI machine does not oversubscribe it.
    (Bitwise resume needs the same thread count before and after the stop, as here.)"""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SETTINGS = TrainSettings(
    iterations=4,
    batch_size=2,
    patch_size=32,
    pool_size=4,
    checkpoint_every=2,
    val_every=2,
    precision="fp32",
    perceptual_layers=LAYERS,
)


def _vgg_stand_in() -> VGGFeatures:
    """A small randomly initialised VGG-like network: exercises the loss, means nothing."""
    generator = torch.Generator().manual_seed(0)
    net = VGGFeatures(LAYERS, config=(4, 4, "M", 8, 8, "M"))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.2)
    return net


@pytest.fixture(scope="module")
def hr_folder(tmp_path_factory, data_dir):
    folder = tmp_path_factory.mktemp("hr")
    comic = read_image(data_dir / "gt" / "comic.png")
    write_image(folder / "a.png", comic[:48, :56])
    write_image(folder / "b.png", comic[120:168, 100:148])
    return folder


@pytest.fixture(scope="module")
def model():
    return build_descriptor(tiny_srvgg().state_dict(), name="tiny")


@pytest.fixture(scope="module")
def discriminator():
    return build_descriptor(tiny_discriminator().state_dict())


def _run(model, run_dir, hr_folder, settings=SETTINGS, **kwargs):
    kwargs.setdefault("val_count", 1)
    return finetune(model, run_dir, hr_folder=hr_folder, settings=settings, **kwargs)


@pytest.fixture(scope="module")
def full_net_run(model, hr_folder, tmp_path_factory):
    return _run(model, tmp_path_factory.mktemp("runs") / "full", hr_folder)


def _stop_after(n):
    calls = []

    def cancel():
        calls.append(1)
        return len(calls) > n

    return cancel


def test_net_stage_writes_checkpoints_losses_validation_and_a_loadable_model(full_net_run, model):
    run = full_net_run
    assert run.iteration == 4 and not run.stopped and len(run.losses) == 4
    assert [set(e) for e in run.losses] == [{"iteration", "l1", "total"}] * 4
    assert [i for i, _ in list_checkpoints(run.run_dir)] == [2, 4]
    folder = list_checkpoints(run.run_dir)[-1][1]
    assert sorted(p.name for p in folder.iterdir()) == [
        "generator.safetensors",
        "generator_ema.safetensors",
        "state.safetensors",
    ]
    with safe_open(str(folder / "state.safetensors"), framework="pt") as handle:
        meta = handle.metadata()
        assert "g/0/exp_avg" in handle.keys() and "rng/run" in handle.keys()
    assert json.loads(meta["iteration"]) == 4 and json.loads(meta["settings"])["batch_size"] == 2
    logged = [json.loads(line) for line in (run.run_dir / "losses.jsonl").read_text().splitlines()]
    assert logged == run.losses
    assert [v.iteration for v in run.validations] == [0, 2, 4]
    assert run.validations[0].psnr_raw == run.validations[0].psnr_start
    assert run.validations[-1].psnr_raw != run.validations[0].psnr_raw, "the generator was trained"
    assert run.validations[-1].image.shape == (32, 4 * 32, 3)
    assert (run.run_dir / "validation" / "iter_00000004.png").is_file()
    exported = load_model(run.model_path)
    assert exported.architecture == "SRVGGNetCompact" and exported.scale == 4
    ema = load_model(folder / "generator_ema.safetensors").module.state_dict()
    for name, value in exported.module.state_dict().items():
        assert torch.equal(value, ema[name]), "model.safetensors is the EMA generator by default"
    start = model.module.state_dict()
    assert any(not torch.equal(start[k], v) for k, v in exported.module.state_dict().items())
    assert all(not p.requires_grad for p in model.module.parameters()), "the caller's model is untouched"


def _numpy_global_keys() -> np.ndarray:
    """The key array of numpy's global MT19937 state."""
    return np.random.get_state(legacy=False)["state"]["key"]


def test_stop_and_resume_repeats_the_uninterrupted_losses_bit_for_bit(
    full_net_run, model, hr_folder, tmp_path
):
    rng_before = (torch.random.get_rng_state(), _numpy_global_keys().copy())
    stopped = _run(
        model, tmp_path / "run", hr_folder, settings=SETTINGS.replace(num_workers=2), cancel=_stop_after(3)
    )
    assert stopped.stopped and stopped.iteration == 3
    assert [i for i, _ in list_checkpoints(tmp_path / "run")] == [2, 3]
    resumed = _run(model, tmp_path / "run", hr_folder, resume=True)
    assert torch.equal(torch.random.get_rng_state(), rng_before[0]), "the global torch RNG is untouched"
    assert np.array_equal(_numpy_global_keys(), rng_before[1]), "the global numpy RNG is untouched"
    assert resumed.iteration == 4 and resumed.losses == full_net_run.losses
    a = load_model(resumed.model_path).module.state_dict()
    b = load_model(full_net_run.model_path).module.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_gan_stage_resumes_bit_for_bit_and_trains_the_discriminator(
    model, discriminator, hr_folder, tmp_path
):
    settings = SETTINGS.replace(stage="gan", iterations=2, checkpoint_every=1, val_every=2)
    common = dict(perceptual_features=_vgg_stand_in(), discriminator=discriminator)
    full = _run(model, tmp_path / "full", hr_folder, settings=settings, **common)
    assert set(full.losses[0]) == {"iteration", "l1", "perceptual", "gan", "d_real", "d_fake", "total"}
    entry = full.losses[0]
    assert entry["total"] == pytest.approx(entry["l1"] + entry["perceptual"] + entry["gan"], rel=1e-5)
    folder = list_checkpoints(full.run_dir)[-1][1]
    trained_d = load_model(folder / "discriminator.safetensors")
    assert trained_d.architecture == "UNetDiscriminatorSN"
    start_d = discriminator.module.state_dict()
    assert any(not torch.equal(start_d[k], v) for k, v in trained_d.module.state_dict().items())
    _run(model, tmp_path / "part", hr_folder, settings=settings, cancel=_stop_after(1), **common)
    resumed = _run(model, tmp_path / "part", hr_folder, settings=settings, resume=True, **common)
    assert resumed.losses == full.losses


def test_a_crash_keeps_the_last_checkpoint_and_the_run_resumes(full_net_run, model, hr_folder, tmp_path):
    def crash(progress):
        if progress.iteration == 3:
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        _run(model, tmp_path / "run", hr_folder, progress=crash)
    assert [i for i, _ in list_checkpoints(tmp_path / "run")] == [2]
    assert not [p for p in (tmp_path / "run" / "checkpoints").iterdir() if p.name.startswith(".")]
    assert not (tmp_path / "run" / "model.safetensors").exists()
    resumed = _run(model, tmp_path / "run", hr_folder, resume=True)
    assert resumed.losses == full_net_run.losses, "the log drops what the crashed run wrote after iteration 2"


def test_foreign_or_missing_runs_are_refused(full_net_run, model, hr_folder, tmp_path):
    with pytest.raises(OutputExistsError, match="--resume"):
        _run(model, full_net_run.run_dir, hr_folder)
    with pytest.raises(RunFolderMismatchError, match="holds no fine-tuning run"):
        _run(model, tmp_path / "nothing", hr_folder, resume=True)
    with pytest.raises(RunFolderMismatchError, match=r"settings.batch_size: run has 2, now 4"):
        _run(model, full_net_run.run_dir, hr_folder, settings=SETTINGS.replace(batch_size=4), resume=True)
    other = build_descriptor(tiny_srvgg(seed=5).state_dict())
    with pytest.raises(RunFolderMismatchError, match="model.weights_sha256"):
        _run(other, full_net_run.run_dir, hr_folder, resume=True)


def test_aligned_pairs_from_the_degrade_command_train(model, hr_folder, tmp_path):
    pairs = tmp_path / "pairs"
    assert main(["-q", "degrade", str(hr_folder), "--pairs", str(pairs), "--crop", "32", "--scale", "4"]) == 0
    run = finetune(
        model,
        tmp_path / "run",
        pairs=pairs,
        settings=SETTINGS.replace(iterations=2, pool_size=0),
        val_count=1,
    )
    assert run.iteration == 2 and run.validations[0].image.shape == (32, 128, 3)


def test_the_exported_model_loads_in_the_cli_comfyui_and_the_tuner(full_net_run, tmp_path, data_dir):
    from realesrgan_kit.nodes import v1
    from realesrgan_kit.widgets import InlineExecutor, UpscaleTuner
    from support.comfy_env import comfy_env

    path = full_net_run.model_path
    out = tmp_path / "up.png"
    src = tmp_path / "in.png"
    write_image(src, read_image(data_dir / "gt" / "comic.png")[:12, :10])
    assert main(["-q", "upscale", str(src), "-o", str(out), "--model", str(path)]) == 0
    assert read_image(out).shape == (48, 40, 3)

    with comfy_env(tmp_path / "ComfyUI", v3=False) as env:
        (env.upscale_dir / "finetuned.safetensors").write_bytes(path.read_bytes())
        node = v1.node_class_mappings()["RealESRGANKitLoadModel"]
        loaded = env.execution.run_node(
            node, model_name="finetuned.safetensors", second_model="none", second_model_strength=0.5
        )[0][0]
        assert loaded.architecture == "SRVGGNetCompact"

    tuner = UpscaleTuner(executor=InlineExecutor())
    tuner.set_model(str(path))
    selected = tuner.load_selected_model()
    assert isinstance(selected, ModelDescriptor) and selected.architecture == "SRVGGNetCompact"


def test_cli_finetune_shows_progress_and_resumes_with_the_runs_settings(tmp_path, hr_folder, capsys):
    weights = tmp_path / "tiny.safetensors"
    save_safetensors(build_descriptor(tiny_srvgg().state_dict()), weights)
    run_dir = tmp_path / "run"
    args = ["finetune", str(hr_folder), "--model", str(weights), "-o", str(run_dir), "--batch", "2"]
    args += [
        "--patch",
        "32",
        "--iters",
        "2",
        "--val-every",
        "1",
        "--precision",
        "fp32",
        "--checkpoint-every",
        "2",
    ]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "iter 2/2" in err and "it/s" in err and "ETA" in err and "validation at 1: PSNR" in err
    assert (run_dir / "validation" / "iter_00000001.png").is_file()
    stored = json.loads((run_dir / "run.json").read_text())["settings"]
    assert stored["pool_size"] == 180 and stored["l1_gt_usm"] and stored["perceptual_gt_usm"]
    resume = [
        "finetune",
        str(hr_folder),
        "--model",
        str(weights),
        "-o",
        str(run_dir),
        "--iters",
        "3",
        "--resume",
    ]
    assert main(resume) == 0, capsys.readouterr().err
    assert "iter 3/3" in capsys.readouterr().err
    assert main([*resume[:-1], "--stage", "gan", "--resume"]) == 1
    assert "run of another setup" in capsys.readouterr().err
    plain_dir = tmp_path / "plain"
    plain = ["finetune", str(hr_folder), "--model", str(weights), "-o", str(plain_dir), "--batch", "2"]
    assert main([*plain, "--patch", "32", "--iters", "1", "--precision", "fp32", "--gt", "plain"]) == 0
    stored = json.loads((plain_dir / "run.json").read_text())["settings"]
    assert not stored["l1_gt_usm"] and not stored["perceptual_gt_usm"]
    assert (
        main(["finetune", str(tmp_path / "none"), "--model", str(weights), "-o", str(tmp_path / "r2")]) == 1
    )
    assert "does not exist" in capsys.readouterr().err


def test_cpu_precisions(model, hr_folder, tmp_path):
    from realesrgan_kit.core.engine.precision import cpu_has_fast_bf16
    from realesrgan_kit.core.errors import InvalidParameterError
    from realesrgan_kit.core.train import resolve_training_precision

    cpu = torch.device("cpu")
    assert resolve_training_precision("auto", cpu) == ("bf16" if cpu_has_fast_bf16() else "fp32")
    with pytest.raises(InvalidParameterError, match="fp16 training needs a CUDA GPU"):
        resolve_training_precision("fp16", cpu)
    run = _run(model, tmp_path / "bf16", hr_folder, settings=SETTINGS.replace(iterations=1, precision="bf16"))
    assert np.isfinite(run.losses[0]["l1"])
    assert json.loads((tmp_path / "bf16" / "run.json").read_text())["setup"]["precision"] == "bf16"


def test_an_rrdbnet_with_pixel_unshuffle_trains(hr_folder, tmp_path):
    from realesrgan_kit.core.errors import InvalidParameterError
    from support.tiny_models import tiny_rrdb

    x2 = build_descriptor(tiny_rrdb(scale=2).state_dict())  # ×2: the input is unshuffled ×2
    with pytest.raises(InvalidParameterError, match="multiple of 4"):
        _run(x2, tmp_path / "odd", hr_folder, settings=SETTINGS.replace(patch_size=30))
    run = _run(x2, tmp_path / "x2", hr_folder, settings=SETTINGS.replace(iterations=1, pool_size=0))
    assert run.iteration == 1 and run.validations[-1].image.shape == (32, 4 * 32, 3)
    assert load_model(run.model_path).scale == 2
