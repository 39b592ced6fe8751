"""Load model node: the dropdown, loading from ComfyUI's folders, interpolation, and errors that
tell the user what was found and how to fix it. Executed through both registration styles."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from realesrgan_kit.core.errors import IncompatibleModelsError, ModelNotFoundError, UnsupportedModelError
from realesrgan_kit.core.load import ModelDescriptor, build_descriptor, save_safetensors
from realesrgan_kit.nodes import definitions, v3
from support.comfy_env import comfy_env
from support.tiny_models import tiny_discriminator, tiny_rrdb, tiny_srvgg

NODE = "RealESRGANKitLoadModel"


def _save(module: torch.nn.Module, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_safetensors(build_descriptor(module.state_dict(), source=str(path)), path)


def _run(env, **inputs):
    return env.execution.run_node(env.node, **inputs)[0]


def test_dropdown_lists_embedded_first_then_files_then_other_names(comfy):
    _save(tiny_srvgg(), comfy.upscale_dir / "my-anime.safetensors")
    _save(tiny_srvgg(seed=1), comfy.upscale_dir / "sub" / "other.safetensors")
    (comfy.upscale_dir / "notes.txt").write_text("not a model")
    (comfy.upscale_dir / "net.param").write_text("7767517\n")  # no .bin beside it: not listed
    (comfy.upscale_dir / "pair.param").write_text("7767517\n")
    (comfy.upscale_dir / "pair.bin").write_bytes(b"\0")
    options = comfy.node.INPUT_TYPES()["required"]["model_name"]
    choices = options[0] if isinstance(options[0], list) else options[1]["options"]
    assert choices[0] == "RealESRGAN_x4plus"
    files = ["my-anime.safetensors", "pair.param", "sub/other.safetensors"]
    first_file = choices.index(files[0])
    assert choices[first_file : first_file + 3] == files
    assert "realesr-animevideov3" in choices[:first_file], "embedded models come before files"
    assert "RealESRGAN_x2plus" in choices[first_file + 3 :], "downloadable names come last"
    assert "notes.txt" not in choices and "net.param" not in choices
    second = comfy.node.INPUT_TYPES()["required"]["second_model"]
    assert (second[0] if isinstance(second[0], list) else second[1]["options"])[0] == "none"


def test_loads_a_file_from_any_upscale_models_folder(comfy, tmp_path):
    extra = tmp_path / "extra_models"
    _save(tiny_rrdb(scale=2), extra / "nested" / "tiny-x2.safetensors")
    comfy.folder_paths.add_model_folder_path("upscale_models", str(extra))
    model, info = _run(
        comfy, model_name="nested/tiny-x2.safetensors", second_model="none", second_model_strength=0.5
    )
    assert isinstance(model, ModelDescriptor)
    assert (model.architecture, model.scale) == ("RRDBNet", 2)
    summary = json.loads(info)
    assert summary["scale"] == 2 and summary["source"].endswith("tiny-x2.safetensors")
    out = model(torch.rand(1, 3, 8, 8))
    assert out.shape == (1, 3, 16, 16)


def test_a_zoo_name_finds_its_file_in_upscale_models(comfy):
    # A zoo name resolves to a same-named file in ComfyUI's folder before anywhere else.
    net = tiny_srvgg(num_conv=2)
    _save(net, comfy.upscale_dir / "realesr-general-x4v3.safetensors")
    model, _ = _run(comfy, model_name="realesr-general-x4v3", second_model="none", second_model_strength=0.5)
    assert model.source.startswith(str(comfy.upscale_dir))
    assert torch.equal(model.module.state_dict()["body.0.weight"], net.state_dict()["body.0.weight"])


def test_interpolation_blends_every_weight(comfy):
    a, b = tiny_srvgg(seed=1), tiny_srvgg(seed=2)
    _save(a, comfy.upscale_dir / "a.safetensors")
    _save(b, comfy.upscale_dir / "b.safetensors")
    model, _ = _run(
        comfy, model_name="a.safetensors", second_model="b.safetensors", second_model_strength=0.25
    )
    for key, value in model.module.state_dict().items():
        expected = 0.75 * a.state_dict()[key] + 0.25 * b.state_dict()[key]
        torch.testing.assert_close(value, expected, rtol=0, atol=1e-6)
    alone, _ = _run(comfy, model_name="a.safetensors", second_model="none", second_model_strength=0.25)
    assert torch.equal(alone.module.state_dict()["body.0.weight"], a.state_dict()["body.0.weight"])


def test_incompatible_interpolation_explains_what_fits(comfy):
    _save(tiny_srvgg(), comfy.upscale_dir / "a.safetensors")
    _save(tiny_rrdb(), comfy.upscale_dir / "b.safetensors")
    with pytest.raises(IncompatibleModelsError, match="same architecture.*second_model to 'none'"):
        _run(comfy, model_name="a.safetensors", second_model="b.safetensors", second_model_strength=0.5)


def test_missing_zoo_weights_say_where_we_looked_and_how_to_fix(comfy):
    _save(tiny_srvgg(), comfy.upscale_dir / "present.safetensors")
    with pytest.raises(ModelNotFoundError) as caught:
        _run(comfy, model_name="RealESRGAN_x2plus", second_model="none", second_model_strength=0.5)
    message = str(caught.value)
    assert "'RealESRGAN_x2plus' was not found" in message
    assert str(comfy.upscale_dir) in message and "present.safetensors" in message  # what was found
    assert "RealESRGAN_x2plus.pth" in message and "realesrgan-kit download RealESRGAN_x2plus" in message
    assert "press R" in message and "realesrgan-kit model folder" in message


def test_a_vanished_file_is_reported_with_the_folder_contents(comfy):
    with pytest.raises(
        ModelNotFoundError, match=r"(?s)'gone\.pth' was not found.*no model files.*put the weights file into"
    ):
        _run(comfy, model_name="gone.pth", second_model="none", second_model_strength=0.5)


def test_damaged_and_foreign_files_name_the_file(comfy):
    (comfy.upscale_dir / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(Exception, match="Load Real-ESRGAN Model: broken.safetensors:") as caught:
        _run(comfy, model_name="broken.safetensors", second_model="none", second_model_strength=0.5)
    assert caught.type.__module__.endswith("core.errors")
    save_file({"foo.weight": torch.zeros(3, 3)}, str(comfy.upscale_dir / "foreign.safetensors"))
    with pytest.raises(UnsupportedModelError, match="foreign.safetensors"):
        _run(comfy, model_name="foreign.safetensors", second_model="none", second_model_strength=0.5)


def test_a_discriminator_is_refused_with_a_pointer_to_generators(comfy):
    _save(tiny_discriminator(), comfy.upscale_dir / "net_d.safetensors")
    with pytest.raises(UnsupportedModelError, match="cannot upscale; pick a generator"):
        _run(comfy, model_name="net_d.safetensors", second_model="none", second_model_strength=0.5)


@pytest.fixture
def comfy_v3(tmp_path):
    """One registration style only, for the slow real-weights test (behaviour is shared)."""
    with comfy_env(tmp_path / "ComfyUI", v3=True) as env:
        env.node = v3.build_v3_class(definitions.node_by_id(NODE), env.io)
        yield env


@pytest.mark.real_weights
def test_the_default_model_loads_offline(comfy_v3, x4plus):
    model, info = _run(
        comfy_v3, model_name="RealESRGAN_x4plus", second_model="none", second_model_strength=0.5
    )
    assert (model.name, model.architecture, model.scale) == ("RealESRGAN_x4plus", "RRDBNet", 4)
    assert json.loads(info)["parameter_count"] == x4plus.parameter_count
