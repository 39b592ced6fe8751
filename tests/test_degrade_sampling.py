"""Sampling: the frequencies of Real-ESRGAN's training configuration, determinism, switches and settings."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from realesrgan_kit.core.degrade import PRESETS, STEPS, DegradationSettings, sample_degradation, settings_from
from realesrgan_kit.core.errors import InvalidParameterError

DRAWS = 4000

# The training defaults of RealESRGAN_x4plus (``options/train_realesrgan_x4plus.yml`` in Real-ESRGAN).
KERNEL_P = {
    "iso": 0.45,
    "aniso": 0.25,
    "generalized_iso": 0.12,
    "generalized_aniso": 0.03,
    "plateau_iso": 0.12,
    "plateau_aniso": 0.03,
}
EXPECTED = {
    **{f"blur1 {k}": 0.9 * p for k, p in KERNEL_P.items()},
    "blur1 sinc": 0.1,
    "blur2 applied": 0.8,
    **{f"blur2 {k} | applied": 0.9 * p for k, p in KERNEL_P.items()},
    "blur2 sinc | applied": 0.1,
    "resize1 up": 0.2,
    "resize1 down": 0.7,
    "resize1 keep": 0.1,
    "resize2 up": 0.3,
    "resize2 down": 0.4,
    "resize2 keep": 0.3,
    "resize1 area": 1 / 3,
    "resize1 bilinear": 1 / 3,
    "resize1 bicubic": 1 / 3,
    "noise1 gaussian": 0.5,
    "noise2 gaussian": 0.5,
    "noise1 gray": 0.4,
    "noise2 gray": 0.4,
    "final resize+sinc first": 0.5,
    "final sinc": 0.8,
    "final bicubic": 1 / 3,
    "generalized β < 1": 0.5,
    "plateau β = 1": 0.5,
    "blur1 size 7": 1 / 8,
    "blur1 size 21": 1 / 8,
}


def measure(draws: int = DRAWS, seed: int = 2024) -> dict[str, tuple[float, int]]:
    """Frequency and denominator of every event in EXPECTED over ``draws`` seeded records."""
    rng = np.random.default_rng(seed)
    hits, totals = Counter(), Counter()

    def count(event: str, happened: bool) -> None:
        totals[event] += 1
        hits[event] += bool(happened)

    for _ in range(draws):
        r = sample_degradation(rng, height=256, width=256, scale=4)
        for kind in list(KERNEL_P) + ["sinc"]:
            count(f"blur1 {kind}", r.blur1.kind == kind)
        count("blur2 applied", r.blur2 is not None)
        if r.blur2 is not None:
            for kind in list(KERNEL_P) + ["sinc"]:
                count(f"blur2 {kind} | applied", r.blur2.kind == kind)
        for stage, choice in (("1", r.resize1), ("2", r.resize2)):
            for direction in ("up", "down", "keep"):
                count(f"resize{stage} {direction}", choice.direction == direction)
        for mode in ("area", "bilinear", "bicubic"):
            count(f"resize1 {mode}", r.resize1.mode == mode)
        for stage, noise in (("1", r.noise1), ("2", r.noise2)):
            count(f"noise{stage} gaussian", noise.kind == "gaussian")
            count(f"noise{stage} gray", noise.gray)
        count("final resize+sinc first", r.final_order == "resize_sinc_jpeg")
        count("final sinc", r.final_sinc is not None)
        count("final bicubic", r.final_resize_mode == "bicubic")
        for k in (r.blur1, r.blur2):
            if k is not None and k.kind.startswith("generalized"):
                count("generalized β < 1", k.beta < 1)
            if k is not None and k.kind.startswith("plateau"):
                count("plateau β = 1", k.beta == 1.0)
        count("blur1 size 7", r.blur1.size == 7)
        count("blur1 size 21", r.blur1.size == 21)
    return {event: (hits[event] / totals[event], totals[event]) for event in EXPECTED}


@pytest.fixture(scope="module")
def measured():
    return measure()


@pytest.mark.parametrize("event", sorted(EXPECTED))
def test_frequencies_match_reference_within_four_standard_errors(measured, event):
    p = EXPECTED[event]
    freq, n = measured[event]
    assert n >= 100, f"too few draws for {event}"
    se = math.sqrt(p * (1 - p) / n)
    assert abs(freq - p) <= 4 * se, f"{event}: measured {freq:.4f} over {n}, expected {p:.4f} ± {4 * se:.4f}"


def test_sampled_values_stay_in_their_ranges():
    rng = np.random.default_rng(9)
    for _ in range(800):
        r = sample_degradation(rng, height=400, width=300, scale=4)
        for k, sigma_hi in ((r.blur1, 3.0), (r.blur2, 1.5)):
            if k is None:
                continue
            if k.kind == "sinc":
                lo = math.pi / 3 if k.size < 13 else math.pi / 5
                assert k.omega is not None and lo <= k.omega <= math.pi
            else:
                assert k.sigma_x is not None and k.sigma_y is not None and k.theta is not None
                assert 0.2 <= k.sigma_x <= sigma_hi and 0.2 <= k.sigma_y <= sigma_hi
                assert -math.pi <= k.theta <= math.pi
                if "aniso" not in k.kind:
                    assert k.sigma_y == k.sigma_x and k.theta == 0
        assert {"up": (1, 1.5), "down": (0.15, 1), "keep": (1, 1)}[r.resize1.direction][0] <= r.resize1.factor
        assert r.resize1.factor <= {"up": 1.5, "down": 1, "keep": 1}[r.resize1.direction]
        assert r.resize1.height == math.floor(400 * r.resize1.factor + 1e-9)
        assert r.resize2.height == max(1, math.floor(100 * r.resize2.factor + 1e-9))
        assert 0.3 <= r.resize2.factor <= 1.2
        n1, n2 = r.noise1, r.noise2
        assert (1 <= n1.level <= 30) if n1.kind == "gaussian" else (0.05 <= n1.level <= 3)
        assert (1 <= n2.level <= 25) if n2.kind == "gaussian" else (0.05 <= n2.level <= 2.5)
        assert r.jpeg1 is not None and r.jpeg_final is not None
        assert 30 <= r.jpeg1 <= 95 and 30 <= r.jpeg_final <= 95
        if r.final_sinc is not None:
            omega = r.final_sinc.omega
            assert omega is not None and math.pi / 3 <= omega <= math.pi  # the final sinc always uses π/3..π
        assert (r.out_height, r.out_width) == (100, 75)


def _jpeg1(record) -> int:
    assert record.jpeg1 is not None  # every step is on by default
    return record.jpeg1


def test_jpeg_qualities_cover_the_integer_range_uniformly():
    rng = np.random.default_rng(4)
    q = [_jpeg1(sample_degradation(rng, height=64, width=64)) for _ in range(3000)]
    assert min(q) == 30 and max(q) == 95
    assert np.mean(q) == pytest.approx(62.5, abs=4 * 18.8 / math.sqrt(3000))


def test_same_seed_same_record_and_different_seed_differs():
    a = sample_degradation(np.random.default_rng(11), height=300, width=200)
    b = sample_degradation(np.random.default_rng(11), height=300, width=200)
    c = sample_degradation(np.random.default_rng(12), height=300, width=200)
    assert a == b and a != c


def test_switching_a_step_off_leaves_the_other_choices_unchanged():
    full = sample_degradation(np.random.default_rng(5), height=128, width=128)
    partial = sample_degradation(
        np.random.default_rng(5), height=128, width=128, enabled={"noise1": False, "blur1": False}
    )
    assert partial.noise1 is None and partial.blur1 is None
    assert partial.disabled == ("blur1", "noise1")
    for step in ("sharpen", "resize1", "jpeg1", "blur2", "resize2", "noise2", "final_sinc", "jpeg_final"):
        assert getattr(partial, step) == getattr(full, step)


def test_widening_a_range_moves_the_value_continuously():
    base = sample_degradation(
        np.random.default_rng(8),
        height=64,
        width=64,
        settings=settings_from("realesrgan", {"gaussian_noise_prob": 1}),
    )
    wider = sample_degradation(
        np.random.default_rng(8),
        height=64,
        width=64,
        settings=settings_from("realesrgan", {"gaussian_noise_prob": 1, "noise_range": (1, 59)}),
    )
    assert wider.noise1.sigma - 1 == pytest.approx(2 * (base.noise1.sigma - 1))


def test_unknown_step_and_bad_sampling_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(InvalidParameterError, match="unknown degradation step 'noise3'"):
        sample_degradation(rng, height=64, width=64, enabled={"noise3": False})
    with pytest.raises(InvalidParameterError, match="scale must be from 1 to 4"):
        sample_degradation(rng, height=64, width=64, scale=0)
    with pytest.raises(InvalidParameterError, match="scale must be from 1 to 4"):
        sample_degradation(rng, height=64, width=64, scale=8)
    with pytest.raises(InvalidParameterError, match="numpy.random.Generator"):
        sample_degradation(42, height=64, width=64)  # pyright: ignore[reportArgumentType]  # a wrong type on purpose: the test checks the error


def test_presets_and_steps():
    assert set(PRESETS) == {"realesrgan", "light", "heavy"}
    assert STEPS == (
        "sharpen",
        "blur1",
        "resize1",
        "noise1",
        "jpeg1",
        "blur2",
        "resize2",
        "noise2",
        "final_sinc",
        "jpeg_final",
    )
    r = PRESETS["realesrgan"]
    assert r == DegradationSettings()
    assert r.kernel_prob == (0.45, 0.25, 0.12, 0.03, 0.12, 0.03) and r.resize_prob2 == (0.3, 0.4, 0.3)
    assert PRESETS["light"].noise_range[1] < r.noise_range[1] < PRESETS["heavy"].noise_range[1]
    assert PRESETS["light"].jpeg_range[0] > r.jpeg_range[0] > PRESETS["heavy"].jpeg_range[0]


def test_overrides_parse_text_and_validate():
    s = settings_from("light", {"noise_range": "1,10", "second_blur_prob": "0", "kernel_range": "[7, 9]"})
    assert s.noise_range == (1.0, 10.0) and s.second_blur_prob == 0.0 and s.kernel_range == (7, 9)
    assert s.jpeg_range == PRESETS["light"].jpeg_range
    assert DegradationSettings().replace(**s.to_dict()) == s  # a sidecar's settings round-trip


@pytest.mark.parametrize(
    "overrides,match",
    [
        ({"noise_rang": (1, 2)}, "unknown degradation setting 'noise_rang'; did you mean noise_range"),
        ({"blur_sigma": (-1, 2)}, "blur_sigma must be > 0"),
        ({"jpeg_range": (30, 101)}, r"jpeg_range \(JPEG quality\) needs integers 0 ≤ low ≤ high ≤ 100"),
        ({"jpeg_range2": (-5, 90)}, "JPEG quality"),
        ({"sinc_prob": 1.5}, "probability and must be in 0..1"),
        ({"resize_prob": (0.5, 0.5, 0.5)}, "summing to 1"),
        ({"resize_range": (1.2, 1.5)}, "0 < low ≤ 1 ≤ high"),
        ({"noise_range": (10, 1)}, "low ≤ high"),
        ({"kernel_range": (7, 8)}, "odd kernel sizes"),
        ({"final_sinc_omega": (0.5, 4)}, "≤ π"),
        ({"noise_range": "one,two"}, "cannot read the value of noise_range"),
    ],
)
def test_bad_settings_are_clear_errors(overrides, match):
    with pytest.raises(InvalidParameterError, match=match):
        settings_from("realesrgan", overrides)


def test_unknown_preset():
    with pytest.raises(
        InvalidParameterError,
        match="unknown degradation preset 'strong'; choose one of realesrgan, light, heavy",
    ):
        settings_from("strong")
