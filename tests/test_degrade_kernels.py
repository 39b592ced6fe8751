"""Kernel generators against their closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest

from realesrgan_kit.core.degrade import (
    KernelChoice,
    gaussian_kernel,
    generalized_gaussian_kernel,
    pad_kernel,
    plateau_kernel,
    sinc_kernel,
)
from realesrgan_kit.core.degrade.kernels import bessel_j1
from realesrgan_kit.core.errors import InvalidParameterError


def q_form(x: float, y: float, sx: float, sy: float, theta: float) -> float:
    """xᵀΣ⁻¹x with Σ = R diag(sx², sy²) Rᵀ, written with explicit matrices (independent of the code)."""
    r = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    sigma = r @ np.diag([sx**2, sy**2]) @ r.T
    p = np.array([x, y])
    return float(p @ np.linalg.inv(sigma) @ p)


def at(kernel: np.ndarray, x: int, y: int) -> float:
    """Value at column offset x, row offset y from the centre."""
    c = kernel.shape[0] // 2
    return float(kernel[c + y, c + x])


POINTS = [(1, 0), (0, 1), (2, -3), (-4, 1), (3, 3)]


@pytest.mark.parametrize(
    "sx,sy,theta", [(1.5, 1.5, 0.0), (2.7, 0.6, 0.4), (0.9, 2.2, -2.1), (3.0, 1.0, math.pi / 2)]
)
def test_gaussian_matches_closed_form(sx, sy, theta):
    k = gaussian_kernel(21, sx, sy, theta)
    for x, y in POINTS:
        assert at(k, x, y) / at(k, 0, 0) == pytest.approx(
            math.exp(-0.5 * q_form(x, y, sx, sy, theta)), rel=1e-12
        )


def test_rotation_by_right_angle_swaps_the_axes():
    k = gaussian_kernel(15, 3.0, 1.0, math.pi / 2)
    # After a 90° turn the wide axis (σ 3) is vertical.
    assert at(k, 0, 2) / at(k, 0, 0) == pytest.approx(math.exp(-0.5 * 4 / 9))
    assert at(k, 2, 0) / at(k, 0, 0) == pytest.approx(math.exp(-0.5 * 4 / 1))


def test_isotropic_ignores_theta_and_is_radial():
    k = gaussian_kernel(13, 1.7)
    assert at(k, 3, 4) == pytest.approx(at(k, 5, 0))
    assert at(k, 2, 0) / at(k, 0, 0) == pytest.approx(math.exp(-0.5 * 4 / 1.7**2))


@pytest.mark.parametrize("beta", [0.5, 0.8, 1.0, 2.5, 4.0])
def test_generalized_gaussian_matches_closed_form(beta):
    sx, sy, theta = 2.0, 1.2, 0.7
    k = generalized_gaussian_kernel(21, sx, sy, theta, beta=beta)
    for x, y in POINTS:
        expected = math.exp(-0.5 * q_form(x, y, sx, sy, theta) ** beta)
        assert at(k, x, y) / at(k, 0, 0) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("beta", [1.0, 1.5, 2.0])
def test_plateau_matches_closed_form(beta):
    sx, sy, theta = 1.4, 2.6, -1.0
    k = plateau_kernel(21, sx, sy, theta, beta=beta)
    for x, y in POINTS:
        expected = 1.0 / (1.0 + q_form(x, y, sx, sy, theta) ** beta)
        assert at(k, x, y) / at(k, 0, 0) == pytest.approx(expected, rel=1e-12)


def test_bessel_j1_known_values():
    # Abramowitz & Stegun table values and the first zero j_{1,1}.
    assert bessel_j1(1.0) == pytest.approx(0.44005058574493355, abs=1e-14)
    assert bessel_j1(2.0) == pytest.approx(0.5767248077568734, abs=1e-14)
    assert bessel_j1(10.0) == pytest.approx(0.04347274616886144, abs=1e-14)
    assert bessel_j1(3.8317059702075125) == pytest.approx(0.0, abs=1e-14)
    assert bessel_j1(-2.0) == pytest.approx(-0.5767248077568734, abs=1e-14)


@pytest.mark.parametrize("omega,size", [(math.pi, 21), (math.pi / 3, 7), (math.pi / 5, 15), (2.0, 11)])
def test_sinc_centre_and_values(omega, size):
    k = sinc_kernel(size, omega)
    centre = at(k, 0, 0)
    # Unnormalised centre ω²/(4π); other points ω·J1(ω r)/(2π r). Ratios cancel the normalisation.
    for x, y in [(1, 0), (0, 2), (2, 3), (-3, 1)]:
        r = math.hypot(x, y)
        expected = (omega * float(bessel_j1(omega * r)) / (2 * math.pi * r)) / (omega**2 / (4 * math.pi))
        assert at(k, x, y) / centre == pytest.approx(expected, rel=1e-12)


def test_sinc_centre_is_the_limit_of_the_formula():
    omega = 1.3
    r = 1e-6
    limit = omega * float(bessel_j1(omega * r)) / (2 * math.pi * r)
    assert limit == pytest.approx(omega**2 / (4 * math.pi), rel=1e-9)


def test_sinc_at_nyquist_is_nearly_a_pulse_on_the_axes():
    # ω = π: J1(π·n) for integer n is small but not zero; the centre dominates.
    k = sinc_kernel(21, math.pi)
    assert at(k, 0, 0) == k.max()
    assert at(k, 0, 0) > 5 * abs(at(k, 1, 0))


def test_every_kernel_sums_to_one():
    rng = np.random.default_rng(5)
    for _ in range(40):
        size = int(rng.choice([7, 9, 11, 13, 15, 17, 19, 21]))
        sx, sy, theta = rng.uniform(0.2, 3), rng.uniform(0.2, 3), rng.uniform(-math.pi, math.pi)
        for k in (
            gaussian_kernel(size, sx),
            gaussian_kernel(size, sx, sy, theta),
            generalized_gaussian_kernel(size, sx, sy, theta, beta=rng.uniform(0.5, 4)),
            plateau_kernel(size, sx, sy, theta, beta=rng.uniform(1, 2)),
            sinc_kernel(size, rng.uniform(math.pi / 5, math.pi)),
        ):
            assert k.shape == (size, size)
            assert k.sum() == pytest.approx(1.0, abs=1e-12)
            np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-15)  # point-symmetric


def test_pad_kernel_keeps_values_and_sum():
    k = sinc_kernel(7, 1.0)
    padded = pad_kernel(k)
    assert padded.shape == (21, 21)
    assert padded.sum() == pytest.approx(1.0)
    np.testing.assert_array_equal(padded[7:14, 7:14], k)
    assert KernelChoice("sinc", 7, omega=1.0).matrix(pad_to=21).shape == (21, 21)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: gaussian_kernel(21, -1.0), "sigma_x must be a finite number > 0"),
        (lambda: gaussian_kernel(21, 1.0, 0.0, 0.0), "sigma_y must be a finite number > 0"),
        (lambda: gaussian_kernel(20, 1.0), "odd positive integer"),
        (lambda: gaussian_kernel(21, 1.0, 1.0, float("nan")), "theta"),
        (lambda: generalized_gaussian_kernel(21, 1.0, beta=-0.5), "beta must be"),
        (lambda: plateau_kernel(21, 1.0, beta=0), "beta must be"),
        (lambda: sinc_kernel(21, 4.0), "at most π"),
        (lambda: sinc_kernel(21, 0.0), "omega must be a finite number > 0"),
        (lambda: pad_kernel(np.ones((21, 21)), 7), "smaller size"),
        (lambda: KernelChoice("box", 7, sigma_x=1, sigma_y=1, theta=0), "kernel kind must be one of"),
        (
            lambda: KernelChoice("iso", 7, sigma_x=-2, sigma_y=-2, theta=0),
            "sigma_x must be a finite number > 0",
        ),
    ],
)
def test_bad_kernel_parameters_are_clear_errors(call, match):
    with pytest.raises(InvalidParameterError, match=match):
        call()
