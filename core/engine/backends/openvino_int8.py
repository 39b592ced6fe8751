"""int8 for the OpenVINO backend: NNCF post-training quantisation, calibrated once on our samples.

Calibration uses ``CALIBRATION_WINDOWS`` of our own 64×64 sample windows (``samples.py``),
never the user's images, which keeps it deterministic and under ~1 GB even for
RealESRGAN_x4plus. The quantised IR is cached beside the fp32 one, keyed by the weights hash,
the OpenVINO and NNCF versions and ``RECIPE``. What is quantised is the architecture's
``quantization_form`` where it has one (RRDBNet: the dense blocks' trunk apart,
``archs/rrdbnet/quantization.py``). Weights are quantised per output channel (NNCF's default for
convolutions) with all 8 bits on every CPU: NNCF's overflow fix (7-bit weights, for CPUs
without VNNI, whose uint8×int8 pair sums saturate at 16 bits) cost x4plus 1–1.2 dB and bought
nothing measurable with oneDNN capped to AVX2 (34.7 dB mean with 8-bit weights there, 34.9
with VNNI; realesr-animevideov3 39.0 both). Activations use the ``mixed`` preset
(asymmetric), which suits the leaky-ReLU features of these networks better than the symmetric
default. Additions stay in float (quantising the residual sums costs quality and buys no int8
convolution), and bias correction is off (no better on our samples, and calibration runs in
half the time). The operations ``keep_in_float`` lists (the network's ends, found by a
per-layer sensitivity measurement, see docs/engine.md) stay in floating point.
"""

from __future__ import annotations

import importlib.metadata
import logging
from pathlib import Path
from typing import Any

from ...errors import BackendCompileError
from ..modelinfo import ModelFacts
from .openvino_ir import OPENVINO_INSTALL_HINT, converted_model_path, save_ir_atomic
from .samples import sample_windows

__all__ = [
    "quantize_and_save",
    "int8_model_path",
    "quantize",
    "keep_in_float",
    "RECIPE",
    "CALIBRATION_WINDOWS",
]

log = logging.getLogger(__name__)

RECIPE = "r4"
"""Bumped whenever the settings below change, so stale quantised models are not reused."""
CALIBRATION_WINDOWS = 8
CALIBRATION_SIDE = 64
IGNORED_TYPES: tuple[str, ...] = ("Interpolate", "Add")
"""Operations never quantised: nearest-neighbour upsampling only copies values, and additions
(residual sums, the split dense blocks' partial sums) would be rounded to 8 bits in the trunk."""


def keep_in_float(model: Any) -> list[str]:
    """Operations to leave unquantised: the first convolution, the last one and all after it.

    From a per-layer sensitivity measurement on realesr-animevideov3 (PSNR against fp32 on our
    samples, worst / mean): all int8 28 / 35 dB; the quantisers NNCF puts on the output side
    (the last convolution's result, the pixel shuffle, the upsampled-input skip) alone cost
    most of that, and keeping that tail in float gives 31 / 37 dB; keeping the first
    convolution (raw pixels in) in float as well gives 36 / 39 dB. Every other single layer
    kept in float adds under 0.3 dB: the rest of the error is spread over the body.
    """
    ops = list(model.get_ordered_ops())
    convs = [i for i, op in enumerate(ops) if op.get_type_name() == "Convolution"]
    if not convs:
        return []
    tail = [
        op.get_friendly_name() for op in ops[convs[-1] :] if op.get_type_name() not in ("Constant", "Result")
    ]
    return [ops[convs[0]].get_friendly_name(), *tail] if len(convs) > 1 else tail


def _nncf() -> Any:
    try:
        import nncf
    except ImportError as exc:
        from ...errors import BackendNotInstalledError

        raise BackendNotInstalledError(
            f"precision 'int8' needs NNCF, which is not installed ({exc}); install it with {OPENVINO_INSTALL_HINT}",
            backend="openvino",
        ) from exc
    return nncf


def quantize(facts: ModelFacts, model: Any, *, ignored: list[str] | None = None, **options: Any) -> Any:
    """``model`` (fp32 OpenVINO) quantised to int8 with our calibration windows."""
    nncf = _nncf()
    windows = [
        w.numpy()
        for w in sample_windows(
            facts.input_channels, CALIBRATION_SIDE, CALIBRATION_WINDOWS, multiple=facts.multiple_of
        )
    ]
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix

    settings: dict[str, Any] = {
        "preset": nncf.QuantizationPreset.MIXED,
        "subset_size": len(windows),
        "advanced_parameters": AdvancedQuantizationParameters(
            overflow_fix=OverflowFix.DISABLE,
            disable_bias_correction=True,
        ),
    }
    settings.update(options)
    names = keep_in_float(model) if ignored is None else ignored
    settings["ignored_scope"] = nncf.IgnoredScope(names=names, types=list(IGNORED_TYPES), validate=False)
    try:
        return nncf.quantize(model, nncf.Dataset(windows), **settings)
    except Exception as exc:
        raise BackendCompileError(
            f"NNCF could not quantise this {facts.architecture or type(facts.module).__name__} model to int8 "
            f"({type(exc).__name__}: {exc}); use precision='fp32' or 'bf16'",
            backend="openvino",
        ) from exc


def int8_model_path(facts: ModelFacts) -> Path:
    """Where the quantised IR lives. NNCF's version comes from the package metadata: importing
    NNCF takes ~0.4 s, which a run that finds the model cached should not pay."""
    try:
        version = importlib.metadata.version("nncf")
    except importlib.metadata.PackageNotFoundError:
        version = _nncf().__version__
    return converted_model_path(facts, "int8", f"-{RECIPE}-nncf{version}")


def quantize_and_save(facts: ModelFacts, model: Any) -> Any:
    """``model`` quantised (``quantize``) and saved where ``int8_model_path`` says, for the next run."""
    xml = int8_model_path(facts)
    log.info("quantising the model to int8 once with NNCF (cached in %s)", xml.parent)
    quantised = quantize(facts, model)
    save_ir_atomic(quantised, xml)
    return quantised
