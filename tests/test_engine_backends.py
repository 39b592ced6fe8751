"""The backend layer: torch and OpenVINO run the same windows; caches, auto decisions, errors.

Tiny random models only (the real-weight rows live in benchmarks/bench_upscale.py). OpenVINO
and NNCF come with the ``test`` extra; every test here runs with its own backend cache folder.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys

import numpy as np
import pytest
import torch

from realesrgan_kit.core.engine import estimate_tile_memory, run_upscale
from realesrgan_kit.core.engine.backends import (
    BACKENDS,
    MEASURE_MIN_PIXELS,
    cached_choice,
    choices_path,
    choose_backend,
    measure_backends,
    openvino_backend,
    openvino_int8,
)
from realesrgan_kit.core.engine.modelinfo import model_facts
from realesrgan_kit.core.errors import (
    BackendCompileError,
    BackendError,
    BackendNotInstalledError,
    BackendRuntimeError,
    InvalidParameterError,
)
from realesrgan_kit.core.load import build_descriptor
from realesrgan_kit.core.metrics import psnr
from support.tiny_models import tiny_rrdb, tiny_srvgg

if not os.environ.get("REALESRGAN_KIT_REQUIRE_OPENVINO"):  # CI sets it: there a missing extra fails
    pytest.importorskip("openvino")
    pytest.importorskip("nncf")


@pytest.fixture(scope="module", autouse=True)
def shared_cache(tmp_path_factory):
    """One backend cache for the module: tiny models convert once, not once per test."""
    folder = tmp_path_factory.mktemp("backend-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REALESRGAN_KIT_BACKEND_CACHE", str(folder))
        yield folder


@pytest.fixture()
def empty_cache(tmp_path, monkeypatch):
    """A backend cache with nothing in it, for tests that count what gets converted."""
    folder = tmp_path / "backend-cache"
    monkeypatch.setenv("REALESRGAN_KIT_BACKEND_CACHE", str(folder))
    return folder


@pytest.fixture()
def decisions_cache(tmp_path, monkeypatch, shared_cache):
    """The shared converted models, but no stored auto decisions."""
    folder = tmp_path / "backend-cache"
    shutil.copytree(shared_cache, folder, ignore=shutil.ignore_patterns("choices.json"))
    monkeypatch.setenv("REALESRGAN_KIT_BACKEND_CACHE", str(folder))
    return folder


def _model(kind: str = "srvgg", seed: int = 0):
    net = tiny_srvgg(seed=seed) if kind == "srvgg" else tiny_rrdb(seed=seed)
    return build_descriptor(net.state_dict())


def _image(h: int = 40, w: int = 52, c: int = 3) -> np.ndarray:
    return np.random.default_rng(1).random((h, w, c)).astype(np.float32)


def test_front_ends_offer_cores_backend_and_precision_choices():
    from realesrgan_kit.core import options
    from realesrgan_kit.nodes import upscale_node
    from realesrgan_kit.widgets import tuner

    assert BACKENDS == options.BACKENDS == ("auto", "torch", "openvino")
    assert "int8" in options.PRECISIONS
    assert upscale_node.BACKENDS is options.BACKENDS and tuner.BACKENDS is options.BACKENDS
    assert upscale_node.PRECISIONS is options.PRECISIONS and tuner.PRECISIONS is options.PRECISIONS


@pytest.mark.parametrize("kind", ["srvgg", "rrdb"])
@pytest.mark.parametrize("tile", ["whole", 16])
def test_openvino_fp32_matches_torch_fp32(kind, tile):
    model, image = _model(kind), _image()
    ref = run_upscale(model, image, backend="torch", precision="fp32", tile=tile)
    out = run_upscale(model, image, backend="openvino", precision="fp32", tile=tile)
    assert out.report.backend == "openvino" and out.report.precision == "fp32"
    assert ref.report.backend == "torch"
    assert out.report.tiles == ref.report.tiles
    np.testing.assert_allclose(out.image, ref.image, atol=2e-5)


def test_openvino_runs_alpha_tta_and_batches_like_torch():
    model = _model("srvgg")
    image = _image(24, 20, 4)
    ref = run_upscale(model, image, backend="torch", precision="fp32", tile=16, tta=True)
    out = run_upscale(model, image, backend="openvino", precision="fp32", tile=16, tta=True)
    np.testing.assert_allclose(out.image, ref.image, atol=2e-5)
    batch = torch.from_numpy(np.stack([_image(12, 16), _image(12, 16)[::-1].copy()]))
    ref_b = run_upscale(model, batch, backend="torch", precision="fp32")
    out_b = run_upscale(model, batch, backend="openvino", precision="fp32")
    torch.testing.assert_close(out_b.image, ref_b.image, atol=2e-5, rtol=0)


def test_openvino_bf16_is_close_to_fp32():
    model, image = _model("rrdb"), _image()
    ref = run_upscale(model, image, backend="torch", precision="fp32").image
    out = run_upscale(model, image, backend="openvino", precision="bf16")
    assert out.report.precision == "bf16"
    assert psnr(out.image, ref) > 45


def test_second_load_reads_the_cached_ir_and_does_not_convert(monkeypatch, empty_cache):
    model, image = _model("rrdb"), _image(20, 20)
    first = run_upscale(model, image, backend="openvino", precision="fp32").image
    xmls = list((empty_cache / "openvino").glob("*.xml"))
    assert len(xmls) == 1 and "-ov" in xmls[0].name and xmls[0].with_suffix(".bin").is_file()
    assert any((empty_cache / "openvino" / "compiled").rglob("*.blob"))

    def no_conversion(facts):
        raise AssertionError("converted again although the IR is cached")

    monkeypatch.setattr(openvino_backend, "convert", no_conversion)
    second = run_upscale(model, image, backend="openvino", precision="fp32").image
    np.testing.assert_array_equal(first, second)
    # other weights are another cache entry: they must convert
    with pytest.raises(AssertionError, match="converted again"):
        run_upscale(_model("rrdb", seed=5), image, backend="openvino", precision="fp32")


def test_a_cached_run_compiles_the_ir_file_without_reading_it(monkeypatch, empty_cache):
    import openvino

    model, image = _model(), _image(12, 12)
    first = run_upscale(model, image, backend="openvino", precision="fp32").image

    def no_read(self, *args, **kwargs):
        raise AssertionError("read the IR although it is cached")

    monkeypatch.setattr(openvino.Core, "read_model", no_read)
    again = run_upscale(model, image, backend="openvino", precision="fp32").image
    np.testing.assert_array_equal(first, again)


def test_a_damaged_cached_ir_is_converted_again_with_a_warning(empty_cache, caplog):
    model, image = _model(), _image(12, 12)
    first = run_upscale(model, image, backend="openvino", precision="fp32").image
    shutil.rmtree(empty_cache / "openvino" / "compiled")  # so the damaged file is really read
    (xml,) = (empty_cache / "openvino").glob("*.xml")
    xml.write_text("<net>not a model")
    with caplog.at_level(logging.WARNING):
        again = run_upscale(model, image, backend="openvino", precision="fp32").image
    np.testing.assert_array_equal(first, again)
    assert "converting it again" in caplog.text
    assert xml.read_text().startswith("<?xml")


def test_a_killed_conversion_leaves_nothing_that_looks_cached(monkeypatch, empty_cache):
    def killed(model, path, compress_to_fp16=False):
        (empty_cache / "openvino").mkdir(parents=True, exist_ok=True)
        raise KeyboardInterrupt

    import openvino

    monkeypatch.setattr(openvino, "save_model", killed)
    with pytest.raises(KeyboardInterrupt):
        run_upscale(_model(), _image(8, 8), backend="openvino", precision="fp32")
    assert not list((empty_cache / "openvino").rglob("*.xml"))
    assert not list((empty_cache / "openvino").glob(".converting-*"))


def test_int8_is_quantised_once_and_stays_close(monkeypatch, empty_cache):
    model, image = _model("rrdb"), _image()
    ref = run_upscale(model, image, backend="torch", precision="fp32").image
    out = run_upscale(model, image, backend="openvino", precision="int8")
    assert out.report.precision == "int8" and out.report.backend == "openvino"
    quality = psnr(out.image, ref)
    assert 30 < quality < 120  # quantised: close, but not the same numbers
    assert len(list((empty_cache / "openvino").glob("*int8*.xml"))) == 1

    def no_quantisation(*args, **kwargs):
        raise AssertionError("quantised again although the int8 IR is cached")

    monkeypatch.setattr(openvino_int8, "quantize", no_quantisation)
    again = run_upscale(model, image, backend="openvino", precision="int8").image
    np.testing.assert_array_equal(out.image, again)


def test_int8_quantises_the_architectures_quantization_form_with_additions_in_float(empty_cache):
    import openvino

    model = _model("rrdb")  # tiny_rrdb: 8 features, growth 5
    out = run_upscale(model, _image(12, 12), backend="openvino", precision="int8")
    assert out.report.precision == "int8"
    (xml,) = (empty_cache / "openvino").glob("*int8*.xml")
    assert f"-{openvino_int8.RECIPE}-" in xml.name
    ops = openvino.Core().read_model(str(xml)).get_ordered_ops()
    conv_outputs = [
        op.get_output_partial_shape(0)[1].get_length() for op in ops if op.get_type_name() == "Convolution"
    ]
    assert 4 * 5 + 8 in conv_outputs  # a dense block's trunk convolution: the split form
    for op in ops:
        if op.get_type_name() == "FakeQuantize":
            consumers = {t.get_node().get_type_name() for t in op.output(0).get_target_inputs()}
            assert "Add" not in consumers


def test_int8_through_auto_goes_to_openvino_and_torch_refuses_it():
    out = run_upscale(_model(), _image(12, 12), precision="int8")
    assert out.report.backend == "openvino" and out.report.precision == "int8"
    with pytest.raises(InvalidParameterError, match="int8.*OpenVINO"):
        run_upscale(_model(), _image(12, 12), backend="torch", precision="int8")


def test_openvino_rejects_precisions_and_devices_it_does_not_run():
    with pytest.raises(InvalidParameterError, match="openvino.*fp32, bf16 or int8"):
        run_upscale(_model(), _image(8, 8), backend="openvino", precision="fp16")
    with pytest.raises(InvalidParameterError, match="backend must be one of auto, torch, openvino"):
        run_upscale(_model(), _image(8, 8), backend="onnx")


def test_missing_openvino_is_a_typed_error_and_auto_uses_torch(monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "openvino", None)
    with pytest.raises(
        BackendNotInstalledError, match=r"openvino.*pip install 'realesrgan-kit\[openvino\]'"
    ) as err:
        run_upscale(_model(), _image(8, 8), backend="openvino")
    assert err.value.backend == "openvino"
    with caplog.at_level(logging.WARNING):
        out = run_upscale(_model(), _image(8, 8))
    assert out.report.backend == "torch" and "openvino not installed" in (out.report.backend_note or "")
    assert not caplog.records  # the plain install is not nagged on every call


def test_a_model_openvino_cannot_convert_is_a_typed_error(monkeypatch, empty_cache):
    import openvino

    def unsupported(*args, **kwargs):
        raise RuntimeError("Cannot create aten::weird_op")

    monkeypatch.setattr(openvino, "convert_model", unsupported)
    with pytest.raises(BackendCompileError, match="OpenVINO could not convert.*backend='torch'") as err:
        run_upscale(_model(), _image(8, 8), backend="openvino")
    assert err.value.backend == "openvino"


def _store_decision(model, backend: str, precision: str) -> None:
    """Edit the stored measurement so that ``backend precision`` wins it by far."""
    measure_backends(model)  # writes the entry for this machine and model
    path = choices_path()
    data = json.loads(path.read_text())
    (key,) = data
    label = f"{backend} {precision}"
    data[key]["seconds"][label] = 1e-6
    data[key]["psnr"][label] = "exact"
    path.write_text(json.dumps(data))


def test_auto_falls_back_to_torch_once_with_a_warning_when_openvino_fails(
    monkeypatch, caplog, decisions_cache
):
    model = _model("rrdb")
    _store_decision(model, "openvino", "fp32")

    class BrokenRequest:
        def infer(self, inputs):
            raise RuntimeError("Exception from src/inference/src/infer_request.cpp: boom")

    def broken(self, request, x):
        return self._infer(BrokenRequest(), x)

    monkeypatch.setattr(openvino_backend.OpenVINORunner, "_run", broken)
    ref = run_upscale(model, _image(), backend="torch", tile=16).image
    with caplog.at_level(logging.WARNING):
        out = run_upscale(model, _image(), tile=16)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "falling back to torch" in warnings[0].getMessage()
    assert out.report.backend == "torch" and "fell back to torch" in (out.report.backend_note or "")
    np.testing.assert_array_equal(out.image, ref)
    with pytest.raises(BackendRuntimeError, match="OpenVINO failed on a .* window.*backend='torch'"):
        run_upscale(model, _image(), backend="openvino", tile=16)


def test_auto_measures_once_stores_the_decision_and_can_be_overridden(monkeypatch, decisions_cache):
    model = _model("srvgg")
    facts = model_facts(model)
    cpu = torch.device("cpu")
    assert cached_choice(facts, "auto") is None
    # a small job does not pay for a measurement
    small = choose_backend(facts, "auto", cpu, job_pixels=64 * 64)
    assert small.backend == "torch" and "small job" in small.reason
    assert not choices_path().exists()
    measured = choose_backend(facts, "auto", cpu, job_pixels=MEASURE_MIN_PIXELS)
    assert measured.reason == "measured"
    entry = json.loads(choices_path().read_text())
    (stored,) = entry.values()
    assert {"torch fp32", "openvino fp32"} <= set(stored["seconds"]) and stored["measurement_seconds"] > 0
    assert stored["psnr"]["openvino fp32"] == "exact" or stored["psnr"]["openvino fp32"] > 100
    assert (stored["backend"], stored["precision"]) == (measured.backend, measured.precision)

    def no_measuring(*args, **kwargs):
        raise AssertionError("measured again")

    from realesrgan_kit.core.engine.backends import autoselect

    monkeypatch.setattr(autoselect, "_time_candidates", no_measuring)
    again = choose_backend(facts, "auto", cpu, job_pixels=MEASURE_MIN_PIXELS)
    assert again.reason == "stored decision" and again.backend == measured.backend
    monkeypatch.undo()
    # editing the stored decision overrides auto; an explicit backend ignores it
    _store_decision(model, "openvino", "fp32")
    assert run_upscale(model, _image(8, 8)).report.backend == "openvino"
    assert run_upscale(model, _image(8, 8), backend="torch").report.backend == "torch"
    remeasured = measure_backends(model, remeasure=True)
    assert remeasured["measured_at"] and remeasured["seconds"]


def test_measurement_skips_a_backend_that_cannot_run_the_model(monkeypatch, empty_cache):
    import openvino

    def unsupported(*args, **kwargs):
        raise RuntimeError("Cannot create aten::weird_op")

    monkeypatch.setattr(openvino, "convert_model", unsupported)
    entry = measure_backends(_model())
    assert entry["backend"] == "torch" and any(k.startswith("openvino") for k in entry["failed"])


def test_memory_estimates_and_auto_tiles_follow_the_backend(monkeypatch):
    model = _model("rrdb")
    torch_bytes = estimate_tile_memory(model, 64, backend="torch", precision="fp32")
    ov_bytes = estimate_tile_memory(model, 64, backend="openvino", precision="fp32")
    assert torch_bytes != ov_bytes
    # OpenVINO has no striped tail: per pixel it needs more than our torch forward
    big = estimate_tile_memory(model, 256, backend="openvino", precision="fp32") - ov_bytes
    big_torch = estimate_tile_memory(model, 256, backend="torch", precision="fp32") - torch_bytes
    assert big > big_torch
    # auto tiles with OpenVINO stay within its window cap even when memory would allow more:
    # the cap is the window whose activations fit OPENVINO_WINDOW_BYTES
    ov = openvino_backend.OpenVINOBackend()
    facts = model_facts(model)
    per_pixel = ov.bytes_per_pixel(facts, "fp32", batch_items=1, tta=False)
    monkeypatch.setattr(openvino_backend, "OPENVINO_WINDOW_BYTES", int(per_pixel * 160 * 160))
    assert ov.max_window(facts) == 160
    out = run_upscale(model, _image(600, 40), backend="openvino", precision="fp32", memory_budget=2**34)
    assert out.report.window[0] <= 160 and out.report.tiles > 1
    torch_out = run_upscale(model, _image(600, 40), backend="torch", precision="fp32", memory_budget=2**34)
    assert torch_out.report.tiles == 1


def test_backend_errors_share_one_base():
    for cls in (BackendNotInstalledError, BackendCompileError, BackendRuntimeError):
        assert issubclass(cls, BackendError)


def test_weights_hash_follows_in_place_changes():
    from realesrgan_kit.core.engine.backends import weights_hash

    net = tiny_srvgg(seed=3)
    before = weights_hash(net)
    assert weights_hash(net) == before and weights_hash(tiny_srvgg(seed=3)) == before
    with torch.no_grad():
        next(net.parameters()).add_(1.0)
    assert weights_hash(net) != before


def test_cli_backend_options(tmp_path, decisions_cache, caplog):
    import cv2

    from realesrgan_kit.cli import main
    from realesrgan_kit.core.load import save_safetensors

    weights = tmp_path / "tiny.safetensors"
    save_safetensors(_model("srvgg"), weights)
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), (np.random.default_rng(2).random((12, 10, 3)) * 255).astype(np.uint8))
    outs = {}
    for backend in ("torch", "openvino"):
        outs[backend] = tmp_path / f"{backend}.png"
        args = ["upscale", str(src), "-o", str(outs[backend]), "--model", str(weights)]
        assert main([*args, "--backend", backend, "--precision", "fp32"]) == 0
    torch_out, ov_out = (cv2.imread(str(outs[b])).astype(int) for b in ("torch", "openvino"))
    assert np.abs(torch_out - ov_out).max() <= 1  # rounding of nearly equal floats
    assert not choices_path().exists()
    with caplog.at_level(logging.INFO):
        assert (
            main(
                [
                    "upscale",
                    str(src),
                    "-o",
                    str(tmp_path / "auto.png"),
                    "--model",
                    str(weights),
                    "--remeasure-backend",
                ]
            )
            == 0
        )
    assert choices_path().exists() and "backend measurement" in caplog.text
    with pytest.raises(SystemExit):
        main(["upscale", str(src), "-o", str(tmp_path / "x.png"), "--backend", "onnx"])


def test_auto_keeps_torch_when_the_openvino_window_cap_would_tile_the_image(
    monkeypatch, caplog, decisions_cache
):
    """auto measures on small windows; on an image that OpenVINO's window cap would cut into
    more windows than torch needs, the extra context pads would cost more than it saved."""
    model = _model("rrdb")
    _store_decision(model, "openvino", "fp32")  # as if auto had measured OpenVINO faster
    facts = model_facts(model)
    ov = openvino_backend.OpenVINOBackend()
    per_pixel = ov.bytes_per_pixel(facts, "fp32", batch_items=1, tta=False)
    monkeypatch.setattr(openvino_backend, "OPENVINO_WINDOW_BYTES", int(per_pixel * 160 * 160))
    with caplog.at_level(logging.INFO):
        capped = run_upscale(model, _image(600, 40), memory_budget=2**34)
    assert capped.report.backend == "torch" and capped.report.tiles == 1
    assert "openvino would run this image in" in caplog.text
    reference = run_upscale(model, _image(600, 40), backend="torch", tile="whole")
    np.testing.assert_array_equal(capped.image, reference.image)
    # an image within the cap keeps the measured choice
    small = run_upscale(model, _image(40, 40), memory_budget=2**34)
    assert small.report.backend == "openvino" and small.report.tiles == 1


@pytest.mark.parametrize(
    "openvino_seconds, expected",
    [(0.80, "openvino"), (0.90, "torch")],  # 20 % faster wins; 10 % faster is a near tie: torch
)
def test_auto_needs_a_clear_margin_to_leave_torch(monkeypatch, decisions_cache, openvino_seconds, expected):
    from realesrgan_kit.core.engine.backends import SWITCH_MARGIN, autoselect

    assert 0.10 < SWITCH_MARGIN < 0.20
    model = _model("srvgg")
    timings = {"torch": 1.0, "openvino": openvino_seconds}

    def timed(facts, labels, windows, threads):
        seconds = {label: timings[label.split(" ")[0]] for label in labels}
        outputs = {label: [w.repeat(1, 1, 2, 2) for w in windows] for label in labels}  # exact PSNR
        return seconds, outputs, {}

    monkeypatch.setattr(autoselect, "_time_candidates", timed)
    entry = measure_backends(model, "fp32", remeasure=True)
    assert entry["backend"] == expected and entry["precision"] == "fp32"


def test_a_measurement_belongs_to_its_thread_count_and_runs_torch_with_it(monkeypatch, decisions_cache):
    """A Ray worker or a --threads 1 job ranks backends differently from a 2-thread job: the
    stored measurement is keyed by thread count, and torch is timed with that count."""
    from realesrgan_kit.core.engine.backends import autoselect
    from realesrgan_kit.core.engine.window_network import PreparedNetwork

    model = _model("srvgg")
    facts = model_facts(model)
    seen: list[int] = []
    forward = PreparedNetwork.__call__

    def counting(self, x):
        seen.append(torch.get_num_threads())
        return forward(self, x)

    monkeypatch.setattr(PreparedNetwork, "__call__", counting)
    before = torch.get_num_threads()
    entry = measure_backends(model, threads=1)
    assert entry["threads"] == 1 and seen and set(seen) == {1}
    assert torch.get_num_threads() == before  # the caller's setting is back
    assert cached_choice(facts, "auto", threads=1) is not None
    assert cached_choice(facts, "auto", threads=2) is None  # not measured at 2 threads
    torch_candidates = sum(1 for label in entry["seconds"] if label.startswith("torch"))
    # one warm-up and MEASURE_ROUNDS timed passes per window and torch candidate
    assert len(seen) == autoselect.MEASURE_WINDOWS * (1 + autoselect.MEASURE_ROUNDS) * torch_candidates


def test_a_stored_measurement_is_decided_by_todays_rule(decisions_cache):
    """The decision is derived from the stored seconds and PSNRs when read: an entry written
    when a 9 % lead still switched backends now stays on torch; a backend below the quality
    floor is never chosen, however fast."""
    model = _model("srvgg")
    facts = model_facts(model)
    measure_backends(model)
    path = choices_path()
    data = json.loads(path.read_text())
    (key,) = data
    data[key].update(
        backend="openvino",
        precision="bf16",
        seconds={"torch fp32": 2.0, "torch bf16": 1.0, "openvino fp32": 1.9, "openvino bf16": 0.91},
        psnr={"torch fp32": "exact", "torch bf16": 50.0, "openvino fp32": "exact", "openvino bf16": 51.0},
    )
    path.write_text(json.dumps(data))
    assert (cached_choice(facts, "auto").backend, cached_choice(facts, "auto").precision) == ("torch", "bf16")
    data[key]["seconds"]["openvino bf16"] = 0.5
    data[key]["psnr"]["openvino bf16"] = 30.0  # fast but below the floor
    path.write_text(json.dumps(data))
    assert (cached_choice(facts, "auto").backend, cached_choice(facts, "auto").precision) == ("torch", "bf16")
