"""The run itself: sizes, precision fallback, out-of-memory retry, progress, cancel, TTA, report."""

from __future__ import annotations

import itertools
import logging
import threading

import numpy as np
import pytest
import torch

from realesrgan_kit.core.engine import (
    choose_tile,
    estimate_tile_memory,
    resolve_precision,
    run_upscale,
    upscale,
)
from realesrgan_kit.core.errors import OperationCancelledError, UpscaleOutOfMemoryError
from realesrgan_kit.core.load import build_descriptor
from support.engine_fakes import InfInReducedPrecision, NearestUpscale, OutOfMemoryAbove, spandrel_like
from support.tiny_models import tiny_rrdb, tiny_srvgg


@pytest.fixture(scope="module")
def tiny():
    return build_descriptor(tiny_srvgg().state_dict())


@pytest.fixture()
def image():
    return np.random.default_rng(0).integers(0, 256, (30, 41, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "options,size",
    [
        ({}, (120, 164)),
        ({"outscale": 1.5}, (45, 62)),  # 61.5 rounds to 62 (RealESRGANer truncates to 61)
        ({"outscale": 0.5}, (15, 20)),
        ({"outscale": 7}, (210, 287)),
        ({"width": 100}, (73, 100)),
        ({"height": 10}, (10, 14)),
        ({"width": 33, "height": 99}, (99, 33)),
    ],
)
def test_output_sizes(tiny, image, options, size):
    assert upscale(tiny, image, **options).shape == size + (3,)


def test_shrinking_is_antialiased():
    # a one-pixel checkerboard shrunk 4×→×0.5 must average to gray, not alias to a solid colour
    model = spandrel_like(NearestUpscale(4), 4)
    board = (np.indices((32, 32)).sum(0) % 2 * 255).astype(np.uint8)
    out = upscale(model, board, outscale=0.5, precision="fp32")
    assert out.shape == (16, 16)
    assert abs(float(out.mean()) - 127.5) < 2 and out.std() < 4


def test_non_finite_half_output_is_recomputed_in_fp32(tiny, image, caplog):
    inner = tiny_srvgg()
    model = spandrel_like(InfInReducedPrecision(inner), 4)
    with caplog.at_level(logging.WARNING):
        result = run_upscale(model, image, precision="bf16", tile=16, tile_pad=5)
    assert result.report.fp32_fallbacks == result.report.tiles > 1
    assert sum("non-finite" in r.message for r in caplog.records) == 1, "one warning per call"
    reference = upscale(spandrel_like(inner, 4), image, precision="fp32", tile=16, tile_pad=5)
    np.testing.assert_array_equal(result.image, reference)


def test_out_of_memory_retries_with_smaller_tiles(image):
    inner = tiny_srvgg()
    model = spandrel_like(OutOfMemoryAbove(inner, limit=30), 4)
    seen = []
    result = run_upscale(
        model, image, precision="fp32", tile=64, tile_pad=5, progress=lambda d, t: seen.append((d, t))
    )
    assert result.report.tile < 64 and max(result.report.window) <= 30
    expected = upscale(spandrel_like(inner, 4), image, precision="fp32", tile="whole")
    assert np.abs(result.image.astype(int) - expected).max() <= 1
    assert seen[-1][0] == seen[-1][1] and all(b[0] >= a[0] for a, b in itertools.pairwise(seen))


def test_out_of_memory_at_the_smallest_tile_gives_up_clearly(image):
    model = spandrel_like(OutOfMemoryAbove(tiny_srvgg(), limit=2), 4)
    with pytest.raises(UpscaleOutOfMemoryError, match="out of memory on cpu even with 16-px tiles"):
        upscale(model, image, precision="fp32", tile=64, tile_pad=5)


def test_progress_counts_every_tile(tiny, image):
    seen = []
    result = run_upscale(tiny, image, tile=10, tile_pad=3, progress=lambda d, t: seen.append((d, t)))
    assert result.report.tiles == 12  # 30×41 → 3×4 windows
    assert seen == [(i, 12) for i in range(13)]


def test_cancel_between_tiles_raises_and_returns_nothing(tiny, image):
    seen = []
    with pytest.raises(OperationCancelledError, match="cancelled after 3 of 12 tiles"):
        upscale(
            tiny,
            image,
            tile=10,
            tile_pad=3,
            progress=lambda d, t: seen.append(d),
            cancel=lambda: len(seen) > 3,
        )
    assert seen[-1] == 3


def test_cancel_before_any_work(tiny, image):
    with pytest.raises(OperationCancelledError):
        upscale(tiny, image, cancel=lambda: True)


def test_tta_averages_the_eight_transforms(image):
    # a network equivariant to flips and rotations gives the same result with TTA...
    model = spandrel_like(NearestUpscale(2), 2)
    np.testing.assert_array_equal(
        upscale(model, image, tta=True, precision="fp32"), upscale(model, image, precision="fp32")
    )
    # ...a random one does not, and the report counts 8× the work
    tiny = build_descriptor(tiny_srvgg().state_dict())
    plain, tta = (
        run_upscale(tiny, image, precision="fp32"),
        run_upscale(tiny, image, precision="fp32", tta=True),
    )
    assert not np.array_equal(plain.image, tta.image)
    assert tta.report.macs == 8 * plain.report.macs and tta.report.tta


def test_report_describes_the_run(tiny, image):
    report = run_upscale(tiny, image, tile=16, tile_pad=4, precision="fp32").report
    assert report.precision == "fp32" and report.device == "cpu"
    assert report.input_size == (30, 41) and report.output_size == (120, 164)
    assert report.tile == 16 and report.tile_pad == 4 and report.tiles == 2 * 3
    assert max(report.window) <= 16 + 2 * 4  # windows shrink to the smallest equal size with 2·pad overlap
    assert report.macs >= tiny.macs_per_pixel * 30 * 41
    assert report.peak_memory_bytes is None or report.peak_memory_bytes > 0
    assert report.seconds > 0


def test_unknown_architecture_gets_safe_defaults(image):
    net = _Shifted(tiny_rrdb(scale=2, num_block=1))  # weights look known, behaviour is not: stays foreign
    model = spandrel_like(net, 2, multiple_of=2)
    result = run_upscale(model, image, precision="fp32", tile="auto")
    assert result.image.shape == (60, 82, 3)
    assert result.report.tile_pad == 32  # unknown receptive field: a fixed pad
    assert result.report.macs > 0  # counted on a zero-weight probe


def test_threads_are_restored(tiny, image):
    before = torch.get_num_threads()
    upscale(tiny, image, threads=1)
    assert torch.get_num_threads() == before


def test_concurrent_calls_do_not_interfere(tiny):
    rng = np.random.default_rng(7)
    images = [rng.integers(0, 256, (20 + i, 23, 3), dtype=np.uint8) for i in range(4)]
    expected = [upscale(tiny, im, precision="fp32") for im in images]
    results = [None] * 4

    def work(i):
        results[i] = upscale(tiny, images[i], precision="bf16" if i % 2 else "fp32", tile=8 + i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(0, 4, 2):
        np.testing.assert_array_equal(results[i], expected[i])
    assert all(r is not None for r in results)
    assert next(tiny.module.parameters()).dtype == torch.float32, "the caller's model is never converted"


def test_precision_resolution(tiny):
    cpu = torch.device("cpu")
    assert resolve_precision(tiny, "fp32", cpu) == "fp32"
    assert resolve_precision(tiny, "auto", cpu) in ("bf16", "fp32")
    no_half = spandrel_like(tiny_srvgg(), 4, supports_half=False, supports_bfloat16=False)
    assert resolve_precision(no_half, "bf16", cpu) == "fp32"
    assert resolve_precision(no_half, "auto", cpu) == "fp32"


def test_auto_tile_follows_the_memory_budget(tiny):
    big = choose_tile(tiny, 400, 400, memory_budget=1 << 40)
    assert big >= 400, "everything fits: one window"
    need = estimate_tile_memory(tiny, 64, tile_pad=8, precision="fp32")
    assert choose_tile(tiny, 400, 400, precision="fp32", tile_pad=8, memory_budget=need) == 64
    bigger = estimate_tile_memory(tiny, 128, tile_pad=8, precision="fp32")
    assert bigger > need
    assert (
        64
        <= choose_tile(tiny, 400, 400, precision="fp32", tile_pad=8, memory_budget=(need + bigger) // 2)
        < 128
    )


class _Shifted(torch.nn.Module):
    """RRDBNet weights behind a forward that is not RRDBNet's: must not be adopted."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x) + 0.5

    def state_dict(self, *args, **kwargs):
        return self.net.state_dict(*args, **kwargs)


def test_foreign_models_of_known_architectures_are_adopted_only_when_equal():
    from realesrgan_kit.core.engine.modelinfo import model_facts

    net = tiny_rrdb(num_block=1)
    facts = model_facts(spandrel_like(net, 4))
    assert facts.architecture == "RRDBNet" and facts.receptive_field is not None and facts.module is not net
    shifted = model_facts(spandrel_like(_Shifted(net), 4))
    assert shifted.receptive_field is None and isinstance(shifted.module, _Shifted)


class _Overshoot(torch.nn.Module):
    """Nearest ×2 scaled so the output leaves 0..1 on both sides (as GAN outputs slightly do)."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(()), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(x, scale_factor=2, mode="nearest") * 3.0 - 1.0 + self.anchor


@pytest.mark.parametrize("outscale", [None, 3.0])
def test_float_outputs_are_clamped_to_0_1(outscale):
    """Front ends rely on it: a ComfyUI IMAGE must stay within 0..1."""
    image = torch.linspace(0, 1, 2 * 16 * 16 * 3).reshape(2, 16, 16, 3)
    out = upscale(spandrel_like(_Overshoot(), scale=2), image, outscale=outscale, precision="fp32")
    assert out.min() == 0.0 and out.max() == 1.0


def test_overlapping_calls_with_different_threads_each_get_their_own(tiny):
    """torch.set_num_threads is process-wide in effect: overlapping calls must neither change it
    under each other nor leave another count behind for new threads."""
    from realesrgan_kit.core.engine.threads import process_default_threads

    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (24, 24, 3), dtype=np.uint8) for _ in range(2)]
    expected = [upscale(tiny, im, precision="fp32", tile=8) for im in images]
    default_before, main_before = process_default_threads(), torch.get_num_threads()
    wanted = (1, 2)
    seen: list[set[int]] = [set(), set()]
    results: list = [None, None]
    second_thread_initialised = threading.Event()
    threads: list[threading.Thread] = []

    def second():
        torch.get_num_threads()  # this thread takes its count while the first call holds 1
        second_thread_initialised.set()
        results[1] = upscale(
            tiny,
            images[1],
            precision="fp32",
            tile=8,
            threads=2,
            progress=lambda d, t: seen[1].add(torch.get_num_threads()),
        )

    def first_progress(done, total):
        seen[0].add(torch.get_num_threads())
        if done == 1:  # the second call starts while the first one runs
            threads.append(threading.Thread(target=second))
            threads[-1].start()
            second_thread_initialised.wait()

    def first():
        results[0] = upscale(tiny, images[0], precision="fp32", tile=8, threads=1, progress=first_progress)

    worker = threading.Thread(target=first)
    worker.start()
    worker.join()
    threads[0].join()
    for i in range(2):
        np.testing.assert_array_equal(results[i], expected[i])
        assert seen[i] == {wanted[i]}, f"call {i} ran with {seen[i]} threads, asked for {wanted[i]}"
    assert process_default_threads() == default_before, "new threads get the count they got before"
    assert torch.get_num_threads() == main_before


def test_the_old_engine_step_names_still_work_with_a_warning(tiny, image):
    """``plan_job``/``run_job`` were renamed (``core.jobs.run_job`` is another thing); the old
    names stay as deprecated aliases of the same functions."""
    import realesrgan_kit.core.engine as engine
    from realesrgan_kit.core.engine import api
    from realesrgan_kit.core.options import UpscaleOptions

    with pytest.warns(DeprecationWarning, match="use plan_upscale"):
        plan_job = engine.plan_job
    with pytest.warns(DeprecationWarning, match="use run_planned_upscale"):
        run_job = api.run_job
    assert plan_job is engine.plan_upscale and run_job is engine.run_planned_upscale
    job = plan_job(engine.check_options(tiny, UpscaleOptions(precision="fp32")), image)
    np.testing.assert_array_equal(run_job(job).image, upscale(tiny, image, precision="fp32"))
    with pytest.raises(AttributeError):
        _ = engine.no_such_name
    with pytest.warns(DeprecationWarning, match="use RAY_INSTALL_HINT"):
        from realesrgan_kit.core.jobs import INSTALL_HINT
    assert "realesrgan-kit[ray]" in INSTALL_HINT
