"""Reports name the backend and precision that ran, for images, frames, video and jobs.

``run_upscale`` and the frame upscaler (which the video job runs) share one plan/run/report
path (``core/engine/run.py``), so a frame report is an image report counted over frames, and
the video and job reports carry what the network ran in, not what was asked.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from realesrgan_kit.core.engine import UpscaleReport, precision_probe, prepare_frame_upscaler, run_upscale
from realesrgan_kit.core.engine import precision as precision_module
from realesrgan_kit.core.jobs import plan_upscale_job, run_job
from realesrgan_kit.core.video import upscale_video
from support.clips import make_clip
from support.engine_fakes import spandrel_like
from support.tiny_models import tiny_video_model

FAST = {"preset": "ultrafast"}
JOB_LOGGER = "realesrgan_kit.core.jobs.upscale_job"


def _openvino() -> None:
    if not os.environ.get("REALESRGAN_KIT_REQUIRE_OPENVINO"):  # CI sets it: there a missing extra fails
        pytest.importorskip("openvino")


class FloatMaskInMatmul(nn.Module):
    """Like SwinIR's attention: a float32 tensor made in forward joins a matmul, so the
    network raises in bf16 and ``precision="auto"`` must fall back to fp32."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.zero_()
            self.conv.weight[:, :, 1, 1] += torch.eye(3)
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x).permute(0, 2, 3, 1)
        mix = torch.eye(3, device=x.device)  # float32 whatever the weights are
        return (y @ mix).permute(0, 3, 1, 2)


class RaisesInBf16OnWideWindows(nn.Module):
    """Passes the precision probe (its window is narrow) and raises in bf16 on wider windows,
    so the network switches to fp32 while the job runs (GRL does this)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = FloatMaskInMatmul()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] > 2 * precision_probe.PROBE_SIDE:
            return self.inner(x)
        return self.inner.conv(x)


@pytest.fixture(autouse=True)
def backend_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REALESRGAN_KIT_BACKEND_CACHE", str(tmp_path_factory.getbasetemp() / "backend-cache"))


@pytest.fixture()
def bf16_falls_back() -> Iterator[SimpleNamespace]:
    """A model that is not ours whose bf16 run raises, on a CPU where ``auto`` considers bf16."""
    precision_probe.forget_probes()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(precision_module, "cpu_has_fast_bf16", lambda: True)
        yield spandrel_like(FloatMaskInMatmul().eval(), 1)
    precision_probe.forget_probes()


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory):
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=4, audio=False)


def _image(h: int = 24, w: int = 32) -> np.ndarray:
    return np.random.default_rng(2).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _comparable(report: UpscaleReport) -> UpscaleReport:
    return dataclasses.replace(report, seconds=0.0, peak_memory_bytes=None)


@pytest.mark.parametrize(
    ("backend", "precision"),
    [("torch", "fp32"), ("torch", "bf16"), ("openvino", "fp32"), ("openvino", "bf16")],
)
def test_a_frame_report_is_the_image_report_of_the_same_run(backend, precision):
    if backend == "openvino":
        _openvino()
    model, image = tiny_video_model(), _image()
    whole = run_upscale(model, image, backend=backend, precision=precision, tile=16).report
    upscaler = prepare_frame_upscaler(model, 24, 32, backend=backend, precision=precision, tile=16)
    upscaler(image)
    frames = upscaler.report()
    assert (frames.backend, frames.precision) == (whole.backend, whole.precision) == (backend, precision)
    assert _comparable(frames) == _comparable(whole)
    upscaler(image)
    assert upscaler.report().images == 2 and upscaler.report().tiles == 2 * whole.tiles


def test_images_and_frames_report_the_fp32_fall_back_not_the_request(bf16_falls_back, caplog):
    image = _image()
    with caplog.at_level(logging.WARNING):
        report = run_upscale(bf16_falls_back, image, precision="auto", backend="torch").report
    assert (report.backend, report.precision) == ("torch", "fp32")
    upscaler = prepare_frame_upscaler(bf16_falls_back, 24, 32, precision="auto", backend="torch")
    upscaler(image)
    assert (upscaler.report().backend, upscaler.report().precision) == ("torch", "fp32")


def test_a_frame_report_names_the_precision_the_network_switched_to(caplog):
    """The plan chose bf16 (the probe passed); the network ran fp32: the report says fp32."""
    precision_probe.forget_probes()
    width = 2 * precision_probe.PROBE_SIDE + 8
    image = _image(16, width)
    with pytest.MonkeyPatch.context() as patch, caplog.at_level(logging.WARNING):
        patch.setattr(precision_module, "cpu_has_fast_bf16", lambda: True)
        model = spandrel_like(RaisesInBf16OnWideWindows().eval(), 1)
        upscaler = prepare_frame_upscaler(model, 16, width, precision="auto", backend="torch", tile="whole")
        assert upscaler.job.checked.precision == "bf16", "planned in bf16"
        upscaler(image)
        upscaler(image)
    precision_probe.forget_probes()
    report = upscaler.report()
    assert (report.backend, report.precision, report.images) == ("torch", "fp32", 2)


def test_video_reports_openvino_and_its_precision(tmp_path, clip):
    _openvino()
    report = upscale_video(
        tiny_video_model(),
        clip,
        tmp_path / "out.mp4",
        backend="openvino",
        precision="fp32",
        encoder_options=FAST,
    )
    assert report.engine["backend"] == "openvino" and report.engine["precision"] == "fp32"


def test_video_reports_the_fp32_fall_back(tmp_path, clip, bf16_falls_back):
    report = upscale_video(bf16_falls_back, clip, tmp_path / "out.mp4", backend="torch", encoder_options=FAST)
    assert report.engine["backend"] == "torch" and report.engine["precision"] == "fp32"


@pytest.mark.parametrize(("backend", "precision"), [("openvino", "fp32"), ("torch", "bf16")])
def test_jobs_log_the_backend_and_precision_of_images_and_videos(tmp_path, clip, caplog, backend, precision):
    if backend == "openvino":
        _openvino()
    folder = tmp_path / "in"
    folder.mkdir()
    assert cv2.imwrite(str(folder / "a.png"), _image())
    (folder / "v.mp4").write_bytes(clip.read_bytes())
    job, _ = plan_upscale_job(
        [folder],
        tmp_path / "out",
        model=tiny_video_model(),
        backend=backend,
        precision=precision,
        video_options={"encoder_options": FAST},
    )
    with caplog.at_level(logging.INFO, logger=JOB_LOGGER):
        assert run_job(job).ok
    lines = [r.getMessage() for r in caplog.records if r.name == JOB_LOGGER]
    assert len([line for line in lines if f"{backend} {precision} on cpu" in line]) == 2, lines
