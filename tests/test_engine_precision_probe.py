"""The precision probe: ``auto`` runs a model that is not ours in fp32 where reduced precision
raises or loses quality, says so once, and remembers it per architecture.

The fall-back tests make ``auto`` consider bf16 on any CPU (bf16 arithmetic is exact-enough
emulated where oneDNN lacks native kernels, only slower); the test that bf16 is kept follows the
real CPU, because ``auto`` picks bf16 only where it is fast.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import numpy as np
import pytest
import torch
from torch import nn

from realesrgan_kit.core.engine import (
    cpu_has_fast_bf16,
    precision_probe,
    prepare_frame_upscaler,
    resolve_precision,
    run_upscale,
    upscale,
)
from realesrgan_kit.core.engine import precision as precision_module
from realesrgan_kit.core.engine.modelinfo import model_facts, probe_activations
from realesrgan_kit.core.errors import PrecisionNotSupportedError
from realesrgan_kit.core.load import build_descriptor
from support.engine_fakes import SpandrelLike, spandrel_like
from support.tiny_models import tiny_srvgg

CPU = torch.device("cpu")
PROBE_LOGGER = precision_probe.__name__
MODES: dict[str, Callable[[], AbstractContextManager[object]]] = {
    "plain": contextlib.nullcontext,
    "no_grad": torch.no_grad,
    "inference_mode": torch.inference_mode,
}


class FloatMaskInMatmul(nn.Module):
    """Like SwinIR's attention: a float32 tensor made inside forward joins a matmul, so the
    network raises in bf16 (``expected m1 and m2 to have the same dtype``)."""

    runs = 0

    def __init__(self) -> None:
        super().__init__()
        self.conv = _near_identity_conv(seed=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        type(self).runs += 1  # counted on the class: the engine runs converted copies
        y = self.conv(x).permute(0, 2, 3, 1)
        mix = torch.eye(3, device=x.device)  # float32 whatever the weights are
        return (y @ mix).permute(0, 3, 1, 2)


class SmallSignalOnLargeOffset(nn.Module):
    """Runs in bf16 but loses the signal: at 64, bf16 steps by 0.5 (8 bits of mantissa)."""

    runs = 0

    def __init__(self) -> None:
        super().__init__()
        self.conv = _near_identity_conv(seed=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        type(self).runs += 1  # counted on the class: the engine runs converted copies
        return (self.conv(x) + 64.0) - 64.0


class PlainConv(nn.Module):
    runs = 0

    def __init__(self) -> None:
        super().__init__()
        self.conv = _near_identity_conv(seed=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        type(self).runs += 1  # counted on the class: the engine runs converted copies
        return self.conv(x)


class FloatMaskForLargeWindows(nn.Module):
    """Works in bf16 on the probe's window, raises on wider ones (GRL rebuilds a float32 table
    for window sizes it was not built for)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = _near_identity_conv(seed=6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if x.shape[-1] > 2 * precision_probe.PROBE_SIDE:
            y = (y.permute(0, 2, 3, 1) @ torch.eye(3, device=x.device)).permute(0, 3, 1, 2)
        return y


class FlattensWithView(nn.Module):
    """Calls ``view`` on a permuted activation, which fails on channels-last tensors (IPT does)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = _near_identity_conv(seed=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        n, c, h, w = y.shape
        flat = y.view(n, c * h * w)  # channels-last strides cannot be viewed this way
        return flat.view(n, c, h, w)


class ReturnsTuple(nn.Module):
    """Returns (image, extra) like FBCNN; its spandrel descriptor's call function picks [0]."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = _near_identity_conv(seed=5)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.conv(x), x.mean()


def _near_identity_conv(seed: int) -> nn.Conv2d:
    conv = nn.Conv2d(3, 3, 3, padding=1)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * 0.02)
        conv.weight[:, :, 1, 1] += torch.eye(3)
        conv.bias.zero_()
    return conv


def foreign(module: nn.Module) -> SpandrelLike:
    """As ComfyUI hands a model over: a spandrel-like descriptor of a network we do not know."""
    return spandrel_like(module.eval(), 1)


@pytest.fixture(autouse=True)
def fresh_probes() -> Iterator[None]:
    precision_probe.forget_probes()
    yield
    precision_probe.forget_probes()


@pytest.fixture()
def bf16_looks_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """``auto`` considers bf16 here whatever this CPU is (the probe is what is tested)."""
    monkeypatch.setattr(precision_module, "cpu_has_fast_bf16", lambda: True)


def _probe_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == PROBE_LOGGER and r.levelno == logging.WARNING]


@pytest.mark.parametrize(
    ("network", "why"), [(FloatMaskInMatmul, "raises in bf16"), (SmallSignalOnLargeOffset, "loses quality")]
)
def test_auto_falls_back_to_fp32_once_and_remembers(bf16_looks_fast, caplog, network, why):
    first = network()
    before = network.runs
    with caplog.at_level(logging.WARNING, logger=PROBE_LOGGER):
        assert resolve_precision(foreign(first), "auto", CPU) == "fp32"
        probed = network.runs
        assert probed - before == 2, "the probe ran the network once in fp32 and once in bf16"
        assert resolve_precision(foreign(first), "auto", CPU) == "fp32"
        second = network()  # another model of the same architecture: not probed again
        assert resolve_precision(foreign(second), "auto", CPU) == "fp32"
    assert network.runs == probed, "the verdict is remembered per architecture"
    warnings = _probe_warnings(caplog)
    assert len(warnings) == 1, warnings
    assert network.__name__ in warnings[0] and why in warnings[0] and "fp32" in warnings[0]


def test_auto_keeps_bf16_for_a_network_that_works_in_it(caplog):
    with caplog.at_level(logging.WARNING, logger=PROBE_LOGGER):
        chosen = resolve_precision(foreign(PlainConv()), "auto", CPU)
    # auto never assumes the fast path: bf16 only where this CPU has native bf16 kernels
    assert chosen == ("bf16" if cpu_has_fast_bf16() else "fp32")
    assert _probe_warnings(caplog) == []


def test_a_network_that_works_keeps_bf16_when_bf16_is_considered(bf16_looks_fast):
    before = PlainConv.runs
    assert resolve_precision(foreign(PlainConv()), "auto", CPU) == "bf16"
    assert PlainConv.runs - before == 2


def test_explicit_bf16_that_raises_is_a_typed_error_not_a_silent_fallback():
    model = foreign(FloatMaskInMatmul())
    with pytest.raises(PrecisionNotSupportedError, match=r"FloatMaskInMatmul.*precision='auto'"):
        resolve_precision(model, "bf16", CPU)
    image = np.full((16, 16, 3), 128, np.uint8)
    with pytest.raises(PrecisionNotSupportedError):
        upscale(model, image, precision="bf16", backend="torch")


def test_explicit_bf16_that_only_loses_quality_is_honoured(caplog):
    with caplog.at_level(logging.WARNING, logger=PROBE_LOGGER):
        assert resolve_precision(foreign(SmallSignalOnLargeOffset()), "bf16", CPU) == "bf16"
    assert any("as asked" in w for w in _probe_warnings(caplog))


def test_our_own_architectures_keep_their_measured_policy(bf16_looks_fast, monkeypatch):
    def no_probe(*args, **kwargs):
        raise AssertionError("our own architectures are not probed")

    monkeypatch.setattr(precision_probe, "check_reduced_precision", no_probe)
    ours = build_descriptor(tiny_srvgg().state_dict())
    assert resolve_precision(ours, "auto", CPU) == "bf16"
    adopted = spandrel_like(tiny_srvgg(), 4)  # a spandrel object holding a network we know
    assert resolve_precision(adopted, "auto", CPU) == "bf16"


@pytest.mark.parametrize("made_in", list(MODES))
@pytest.mark.parametrize("run_in", list(MODES))
def test_the_probe_works_in_every_autograd_mode(bf16_looks_fast, caplog, made_in, run_in):
    with MODES[made_in]():
        model = foreign(FloatMaskInMatmul())
        reference = foreign(FloatMaskInMatmul())
    image = torch.rand(1, 20, 20, 3, generator=torch.Generator().manual_seed(0))
    with MODES[run_in](), caplog.at_level(logging.WARNING, logger=PROBE_LOGGER):
        out = upscale(model, image, precision="auto", backend="torch")
        expected = upscale(reference, image, precision="fp32", backend="torch")
    torch.testing.assert_close(out, expected)
    assert len(_probe_warnings(caplog)) == 1


def test_a_network_that_fails_on_channels_last_runs_contiguous():
    image = torch.rand(1, 12, 12, 3, generator=torch.Generator().manual_seed(1))
    model = foreign(FlattensWithView())
    out = upscale(model, image, precision="fp32", backend="torch")
    with torch.inference_mode():
        nchw = image.permute(0, 3, 1, 2)
        expected = model.model(nchw.contiguous()).clamp(0, 1).permute(0, 2, 3, 1)
    torch.testing.assert_close(out, expected)


def test_a_descriptors_call_function_is_how_the_network_runs():
    image = torch.rand(1, 12, 12, 3, generator=torch.Generator().manual_seed(2))
    model = foreign(ReturnsTuple())
    model._call_fn = lambda module, x: module(x)[0]  # spandrel's FBCNN and MMRealSR do this
    out = upscale(model, image, precision="fp32", backend="torch")
    with torch.inference_mode():
        expected = model.model(image.permute(0, 3, 1, 2))[0].clamp(0, 1).permute(0, 2, 3, 1)
    torch.testing.assert_close(out, expected)
    assert probe_activations(model_facts(model)) is not None, "the memory probe runs it that way too"


def test_auto_reruns_in_fp32_when_reduced_precision_fails_after_the_probe(bf16_looks_fast, caplog):
    side = 2 * precision_probe.PROBE_SIDE + 8
    image = torch.rand(2, side, side, 3, generator=torch.Generator().manual_seed(3))
    model = foreign(FloatMaskForLargeWindows())
    assert resolve_precision(model, "auto", CPU) == "bf16", "the probe's window passes"
    with caplog.at_level(logging.WARNING, logger=PROBE_LOGGER):
        result = run_upscale(model, image, precision="auto", backend="torch", tile="whole")
    assert result.report.precision == "fp32"
    expected = upscale(model, image, precision="fp32", backend="torch", tile="whole")
    torch.testing.assert_close(result.image, expected)
    warnings = _probe_warnings(caplog)
    assert len(warnings) == 1 and "FloatMaskForLargeWindows" in warnings[0], warnings
    assert resolve_precision(model, "auto", CPU) == "fp32", "the failure is remembered"
    precision_probe.forget_probes()  # asked for by name, the same failure is a typed error at run time
    with pytest.raises(PrecisionNotSupportedError, match="raises in bf16 on a"):
        upscale(foreign(FloatMaskForLargeWindows()), image, precision="bf16", backend="torch", tile="whole")


def test_the_frame_upscaler_falls_back_the_same_way(bf16_looks_fast, caplog):
    side = 2 * precision_probe.PROBE_SIDE + 8
    frames = np.random.default_rng(4).integers(0, 256, (3, side, side, 3), dtype=np.uint8)
    model = foreign(FloatMaskForLargeWindows())
    upscaler = prepare_frame_upscaler(model, side, side, precision="auto", backend="torch", tile="whole")
    with caplog.at_level(logging.WARNING, logger=PROBE_LOGGER):
        outs = [upscaler(frame) for frame in frames]
    expected = upscale(model, frames[0], precision="fp32", backend="torch", tile="whole")
    np.testing.assert_array_equal(outs[0], expected)
    assert upscaler.report().precision == "fp32"
    assert len(_probe_warnings(caplog)) == 1
