"""Save tiny random models in every supported layout and format; loading must give back the
same hyperparameters and the same outputs."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from realesrgan_kit.core.load import load_model, save_safetensors
from support.layouts import to_bsrgan, to_old_esrgan
from support.ncnn_writer import write_ncnn
from support.tiny_models import tiny_discriminator, tiny_rrdb, tiny_srvgg

RRDB_CASES = [(scale, in_ch) for scale in (1, 2, 4) for in_ch in (1, 3, 4)]
X = torch.rand(1, 4, 16, 16, generator=torch.Generator().manual_seed(7))


def _expected_rrdb_hp(scale, in_ch):
    return {
        "num_in_ch": in_ch,
        "num_out_ch": in_ch,
        "scale": scale,
        "num_feat": 8,
        "num_block": 2,
        "num_grow_ch": 5,
        "num_upsample": 2,
    }


def _same_outputs(net, descriptor, channels):
    x = X[:, :channels]
    with torch.inference_mode():
        assert torch.equal(net(x), descriptor(x))


@pytest.mark.parametrize("scale,in_ch", RRDB_CASES)
@pytest.mark.parametrize("wrapper", [None, "params_ema", "params", "state_dict", "model", "net"])
def test_rrdbnet_pth_wrappers(tmp_path, scale, in_ch, wrapper):
    net = tiny_rrdb(scale=scale, in_ch=in_ch)
    sd = net.state_dict()
    path = tmp_path / "model.pth"
    torch.save(sd if wrapper is None else {wrapper: sd, "iter": 1000}, path)
    d = load_model(path)
    assert (d.architecture, d.scale, dict(d.hyperparameters)) == (
        "RRDBNet",
        scale,
        _expected_rrdb_hp(scale, in_ch),
    )
    assert d.size_requirements.multiple_of == {1: 4, 2: 2, 4: 1}[scale]
    _same_outputs(net, d, in_ch)


def test_params_ema_preferred_over_params(tmp_path):
    ema, plain = tiny_rrdb(seed=1), tiny_rrdb(seed=2)
    torch.save({"params": plain.state_dict(), "params_ema": ema.state_dict()}, tmp_path / "both.pth")
    _same_outputs(ema, load_model(tmp_path / "both.pth"), 3)


@pytest.mark.parametrize("prefix", ["module.", "netG.", "module.netG."])
def test_prefixes_are_stripped(tmp_path, prefix):
    net = tiny_srvgg()
    torch.save({prefix + k: v for k, v in net.state_dict().items()}, tmp_path / "p.pt")
    _same_outputs(net, load_model(tmp_path / "p.pt"), 3)


def test_legacy_pickle_format(tmp_path):
    net = tiny_rrdb()
    torch.save(
        {"params_ema": net.state_dict()}, tmp_path / "legacy.pth", _use_new_zipfile_serialization=False
    )
    _same_outputs(net, load_model(tmp_path / "legacy.pth"), 3)


@pytest.mark.parametrize("scale,in_ch", RRDB_CASES)
def test_rrdbnet_safetensors_roundtrip_with_metadata(tmp_path, scale, in_ch):
    net = tiny_rrdb(scale=scale, in_ch=in_ch)
    first = load_model(net.state_dict())
    save_safetensors(first, tmp_path / "m.safetensors")
    again = load_model(tmp_path / "m.safetensors")
    assert dict(again.hyperparameters) == dict(first.hyperparameters) == _expected_rrdb_hp(scale, in_ch)
    assert again.metadata["architecture"] == "RRDBNet"
    _same_outputs(net, again, in_ch)


def test_plain_safetensors_without_metadata(tmp_path):
    net = tiny_srvgg(upscale=2)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "plain.safetensors"))
    d = load_model(tmp_path / "plain.safetensors")
    assert (d.architecture, d.scale) == ("SRVGGNetCompact", 2)
    _same_outputs(net, d, 3)


@pytest.mark.parametrize("num_upsample,scale", [(1, 2), (2, 4), (3, 8)])
def test_old_esrgan_layout(tmp_path, num_upsample, scale):
    net = tiny_rrdb(scale=scale, num_upsample=num_upsample, num_grow_ch=7)
    torch.save(to_old_esrgan(net.state_dict(), num_block=2, num_upsample=num_upsample), tmp_path / "old.pth")
    d = load_model(tmp_path / "old.pth")
    assert d.hyperparameters["num_upsample"] == num_upsample and d.scale == scale
    assert d.hyperparameters["num_grow_ch"] == 7
    _same_outputs(net, d, 3)


def test_bsrgan_layout(tmp_path):
    net = tiny_rrdb(num_grow_ch=6)
    torch.save(to_bsrgan(net.state_dict()), tmp_path / "bsrgan.pth")
    d = load_model(tmp_path / "bsrgan.pth")
    assert d.hyperparameters["num_grow_ch"] == 6
    _same_outputs(net, d, 3)


def _fp16_rounded(net):
    """What the net computes once its conv weights went through fp16 storage (ncnn fp16 tag)."""
    rounded = {
        k: (v.half().float() if k.endswith("weight") and v.ndim == 4 else v)
        for k, v in net.state_dict().items()
    }
    copy = type(net)(**_ctor(net))
    copy.load_state_dict(rounded)
    return copy.eval()


def _ctor(net):
    if hasattr(net, "conv_first"):
        return dict(
            num_in_ch=net.conv_first.in_channels // net.unshuffle**2,
            num_out_ch=net.conv_last.out_channels,
            scale=net.scale,
            num_feat=net.conv_first.out_channels,
            num_block=len(net.body),
            num_grow_ch=net.body[0].rdb1.conv1.out_channels,
            num_upsample=net.num_upsample,
        )
    return dict(
        num_in_ch=net.num_in_ch,
        num_out_ch=net.num_out_ch,
        num_feat=net.num_feat,
        num_conv=net.num_conv,
        upscale=net.upscale,
        act_type=net.act_type,
    )


@pytest.mark.parametrize("fp16", [True, False], ids=["fp16-tag", "fp32-tag"])
@pytest.mark.parametrize("scale,in_ch", [(4, 3), (2, 3), (1, 3), (4, 1)])
def test_rrdbnet_ncnn_roundtrip(tmp_path, scale, in_ch, fp16):
    net = tiny_rrdb(scale=scale, in_ch=in_ch)
    write_ncnn(net, tmp_path / "m.param", tmp_path / "m.bin", fp16=fp16)
    for given in ("m.param", "m.bin"):  # either file of the pair names it
        d = load_model(tmp_path / given)
        assert d.format == "ncnn"
        assert dict(d.hyperparameters) == _expected_rrdb_hp(scale, in_ch)
        _same_outputs(_fp16_rounded(net) if fp16 else net, d, in_ch)


@pytest.mark.parametrize("fp16", [True, False], ids=["fp16-tag", "fp32-tag"])
@pytest.mark.parametrize("act_type", ["prelu", "relu", "leakyrelu"])
@pytest.mark.parametrize("upscale", [2, 4])
def test_srvgg_ncnn_roundtrip(tmp_path, act_type, upscale, fp16):
    net = tiny_srvgg(upscale=upscale, act_type=act_type)
    write_ncnn(net, tmp_path / "s.param", tmp_path / "s.bin", fp16=fp16)
    d = load_model(tmp_path / "s.param")
    assert d.hyperparameters == {
        "num_in_ch": 3,
        "num_out_ch": 3,
        "num_feat": 8,
        "num_conv": 3,
        "upscale": upscale,
        "act_type": act_type,
    }
    _same_outputs(_fp16_rounded(net) if fp16 else net, d, 3)


def test_srvgg_activation_hint_for_weights_without_slopes(tmp_path, caplog):
    net = tiny_srvgg(act_type="leakyrelu")
    torch.save(net.state_dict(), tmp_path / "lrelu.pth")
    guessed = load_model(tmp_path / "lrelu.pth")
    assert guessed.hyperparameters["act_type"] == "relu"
    assert "assuming 'relu'" in caplog.text
    told = load_model(tmp_path / "lrelu.pth", hyperparameters={"act_type": "leakyrelu"})
    _same_outputs(net, told, 3)
    # Our own safetensors remember it, so the hint is needed only once.
    save_safetensors(told, tmp_path / "lrelu.safetensors")
    assert load_model(tmp_path / "lrelu.safetensors").hyperparameters["act_type"] == "leakyrelu"


def test_discriminator_roundtrip(tmp_path):
    net = tiny_discriminator()
    torch.save({"params": net.state_dict()}, tmp_path / "d.pth")
    d = load_model(tmp_path / "d.pth")
    assert (d.architecture, d.purpose, d.size_requirements.multiple_of) == (
        "UNetDiscriminatorSN",
        "discriminator",
        8,
    )
    x = torch.rand(1, 3, 16, 16)
    with torch.inference_mode():
        assert torch.equal(net(x), d(x))


def test_descriptor_facts_and_spandrel_spellings():
    net = tiny_rrdb(scale=2)
    d = load_model(net.state_dict())
    assert d.model is d.module and d.supports_half and d.supports_bfloat16
    assert d.parameter_count == sum(p.numel() for p in net.parameters())
    assert d.input_channels == d.output_channels == 3
    assert not any(p.requires_grad for p in d.module.parameters()) and not d.module.training
    summary = d.summary()
    assert summary["architecture"] == "RRDBNet" and summary["size_requirements"]["multiple_of"] == 2


def test_real_model_costs_match_reference():
    """MACs per pixel and receptive fields of the released models (counted by hand from their
    layer lists), from hyperparameters alone."""
    from realesrgan_kit.core.load import get_spec
    from realesrgan_kit.core.zoo import get_entry

    def facts(name):
        entry = get_entry(name)
        return get_spec(entry.architecture).facts(dict(entry.hyperparameters))

    assert facts("RealESRGAN_x4plus").macs_per_pixel == pytest.approx(17.93e6, rel=1e-3)
    assert facts("RealESRGAN_x2plus").macs_per_pixel == pytest.approx(4.48e6, rel=2e-3)
    assert facts("RealESRGAN_x4plus_anime_6B").macs_per_pixel == pytest.approx(5.71e6, rel=2e-3)
    assert facts("realesr-general-x4v3").macs_per_pixel == pytest.approx(1.21e6, rel=2e-3)
    assert facts("realesr-animevideov3").macs_per_pixel == pytest.approx(0.62e6, rel=2e-3)
    assert facts("RealESRGAN_x4plus").receptive_field in range(347, 351)
    assert facts("RealESRGAN_x4plus_anime_6B").receptive_field in range(93, 97)
    assert facts("realesr-general-x4v3").receptive_field == 34
    assert facts("realesr-animevideov3").receptive_field == 18
