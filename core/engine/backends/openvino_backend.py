"""The OpenVINO backend (optional extra ``realesrgan-kit[openvino]``): fp32, bf16 and int8 on CPUs.

The module is converted once to OpenVINO's IR with a dynamic window shape (batch, height and
width free) and cached on disk, keyed by the weights' hash, the OpenVINO version and the
precision (int8: also the NNCF version and the quantisation recipe); OpenVINO's own model cache
(``CACHE_DIR``, one folder per CPU class) keeps the compiled blobs, so a second run reads the
IR and the blob instead of tracing and compiling. Dynamic shapes rather than a set of fixed
ones: on RealESRGAN_x4plus, 96² windows ran as fast through the dynamic model as through one
reshaped to that size, so edge windows need neither padding nor a compile per shape.

``import openvino`` happens only inside these functions: the plain install never needs it.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import logging
import math
import threading
from pathlib import Path
from typing import Any

import torch

from ...errors import (
    BackendCompileError,
    BackendNotInstalledError,
    BackendRuntimeError,
    InvalidParameterError,
)
from ..modelinfo import ModelFacts, probe_activations
from ..padding import reflect_pad
from ..precision import cpu_has_fast_bf16
from ..window_network import dihedral, undo_dihedral
from .machine import cpu_class
from .openvino_ir import (
    OPENVINO_INSTALL_HINT,
    converted_model_path,
    ir_cache_dir,
    ir_is_complete,
    openvino_version,
)
from .openvino_ir import require_openvino as _require_openvino
from .openvino_ir import save_ir_atomic as _save_atomic

__all__ = [
    "OpenVINOBackend",
    "OpenVINORunner",
    "converted_model_path",
    "openvino_version",
    "OPENVINO_INSTALL_HINT",
]

log = logging.getLogger(__name__)

OPENVINO_MAX_WINDOW = 1024
"""Largest window side (input pixels, pad included) automatic tiles use with OpenVINO."""
OPENVINO_WINDOW_BYTES = 1536 * 2**20
"""Activation memory one OpenVINO window may take (by ``bytes_per_pixel`` in fp32): OpenVINO
has no striped RRDBNet tail, so its ×4 maps grow with the window. Measured: x4plus fp32 on one
512² window peaked at 3.9 GB RSS (~12 KB per window pixel), over the 2.5 GB the 1024² → 4096²
job must stay under; this cap gives x4plus ~300-px windows (~2.1 GB) and compact models large
ones. The price: x4plus windows that small spend ~3× the work on their 64-px pads."""
GENERIC_SAFETY = 2.0
"""Multiplier on the largest single layer (inputs + output) for OpenVINO's live tensors."""
RUNTIME_BYTES = 160 * 2**20
"""OpenVINO's own libraries and plugin state once loaded (measured RSS growth, rounded up)."""
_HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}
_convert_lock = threading.Lock()


def _example_side(facts: ModelFacts) -> int:
    side = max(16 * facts.multiple_of, facts.minimum)
    return -(-side // facts.multiple_of) * facts.multiple_of


def convert(facts: ModelFacts) -> Any:
    """The module as an fp32 OpenVINO model with a dynamic [N, C, H, W] input (not cached)."""
    ov = _require_openvino()
    module = copy.deepcopy(facts.module).to(device="cpu", dtype=torch.float32).eval()
    side = _example_side(facts)
    example = torch.rand(1, facts.input_channels, side, side, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            return ov.convert_model(
                module,
                example_input=example,
                input=[(ov.PartialShape([-1, facts.input_channels, -1, -1]), ov.Type.f32)],
            )
    except Exception as exc:
        raise BackendCompileError(
            f"OpenVINO could not convert this {facts.architecture or type(facts.module).__name__} model "
            f"({type(exc).__name__}: {exc}); use backend='torch'",
            backend="openvino",
        ) from exc


def load_or_convert(facts: ModelFacts) -> tuple[Any, bool]:
    """The cached fp32 IR (read) or a fresh conversion (saved); returns (model, converted_now)."""
    ov = _require_openvino()
    xml = converted_model_path(facts, "fp32")
    with _convert_lock:
        if ir_is_complete(xml):
            try:
                return ov.Core().read_model(str(xml)), False
            except RuntimeError as exc:
                log.warning("cached OpenVINO model %s is unreadable (%s); converting again", xml, exc)
        log.info("converting the model to OpenVINO once (cached in %s)", xml.parent)
        model = convert(facts)
        _save_atomic(model, xml)
        return model, True


def load_ir(facts: ModelFacts, precision: str) -> tuple[Any, bool]:
    """The model to compile for ``precision`` (the path of its IR, else the model itself) and
    whether that IR was already cached before this call.

    A path rather than a read model: with ``CACHE_DIR`` set, OpenVINO compiles a path whose
    blob is cached without reading the IR at all (x4plus int8 on a 2-core AVX-512-BF16 EPYC:
    0.4 s instead of 0.5 s reading the IR plus 0.4 s compiling). A fresh conversion or quantisation is saved first and its
    path returned too, so the first run's blob is the one the second run finds.
    """
    if precision == "int8":
        from .openvino_int8 import int8_model_path, quantize_and_save

        xml = int8_model_path(facts)
        if ir_is_complete(xml):
            return str(xml), True
        form = facts.policy.quantization_form
        # the architecture's quantisation form is a different graph: converted for int8 only
        source = (
            convert(dataclasses.replace(facts, module=form(facts.module)))
            if form
            else load_or_convert(facts)[0]
        )
        model = quantize_and_save(facts, source)
    else:
        xml = converted_model_path(facts, "fp32")
        if ir_is_complete(xml):
            return str(xml), True
        model, _ = load_or_convert(facts)
    # the saved file if saving worked: the next run then finds this run's compiled blob
    return (str(xml) if ir_is_complete(xml) else model), False


def compile_model(model: Any, precision: str, threads: int | None, *, what: str = "model") -> Any:
    ov = _require_openvino()
    config: dict[str, Any] = {
        "INFERENCE_PRECISION_HINT": _HINTS[precision],
        "PERFORMANCE_HINT": "LATENCY",
        "CACHE_DIR": str(
            ir_cache_dir() / "compiled" / cpu_class().replace(" ", "_").replace("(", "").replace(")", "")
        ),
    }
    if threads is not None:
        config["INFERENCE_NUM_THREADS"] = threads
    try:
        return ov.Core().compile_model(model, "CPU", config)
    except Exception as exc:
        raise BackendCompileError(
            f"OpenVINO could not compile the {what} for the CPU in {precision} ({type(exc).__name__}: {exc}); "
            "use backend='torch'",
            backend="openvino",
        ) from exc


def _is_out_of_memory(exc: BaseException) -> bool:
    text = str(exc).lower()
    return (
        isinstance(exc, MemoryError)
        or "bad_alloc" in text
        or "cannot allocate" in text
        or "out of memory" in text
    )


class OpenVINORunner:
    """One call's compiled model; ``__call__`` runs one window like ``PreparedNetwork``."""

    backend = "openvino"

    def __init__(
        self, facts: ModelFacts, precision: str, compiled: Any, *, tta: bool, threads: int | None, model: Any
    ) -> None:
        self.facts = facts
        self.precision = precision
        self.device = torch.device("cpu")
        self.tta = tta
        self.fp32_fallbacks = 0
        self._compiled = compiled
        self._request = compiled.create_infer_request()
        self._model = model
        self._threads = threads
        self._fp32_request: Any = None

    def _infer(self, request: Any, x: torch.Tensor) -> torch.Tensor:
        try:
            result = request.infer({0: x.contiguous().numpy()})
        except Exception as exc:
            if _is_out_of_memory(exc):
                raise MemoryError(f"OpenVINO ran out of memory on a {tuple(x.shape)} window: {exc}") from exc
            raise BackendRuntimeError(
                f"OpenVINO failed on a {tuple(x.shape)} window ({type(exc).__name__}: {exc}); use backend='torch'",
                backend="openvino",
            ) from exc
        return torch.from_numpy(next(iter(result.values())).copy())

    def _run(self, request: Any, x: torch.Tensor) -> torch.Tensor:
        if not self.tta:
            return self._infer(request, x)
        total: torch.Tensor | None = None
        for k in range(8):
            yi = undo_dihedral(self._infer(request, dihedral(x, k).contiguous()), k)
            total = yi if total is None else total.add_(yi)
        assert total is not None
        return total.div_(8)

    def __call__(self, window: torch.Tensor) -> torch.Tensor:
        """``window``: float32 [N, C, h, w] → float32 [N, C', h·s, w·s] on the CPU."""
        facts = self.facts
        h, w = window.shape[-2:]
        m = facts.multiple_of
        th, tw = max(facts.minimum, math.ceil(h / m) * m), max(facts.minimum, math.ceil(w / m) * m)
        if facts.square:
            th = tw = max(th, tw)
        x = reflect_pad(window.float().cpu(), 0, th - h, 0, tw - w)
        s = facts.scale
        out = self._run(self._request, x)
        if self.precision == "bf16" and not bool(torch.isfinite(out).all()):
            if self.fp32_fallbacks == 0:
                log.warning(
                    "OpenVINO bf16 produced non-finite values on a tile; recomputing such tiles in fp32"
                )
            self.fp32_fallbacks += 1
            if self._fp32_request is None:
                self._fp32_request = compile_model(self._model, "fp32", self._threads).create_infer_request()
            out = self._run(self._fp32_request, x)
        return out[..., : h * s, : w * s]


class OpenVINOBackend:
    name = "openvino"
    precisions = ("fp32", "bf16", "int8")

    def available(self) -> bool:
        return importlib.util.find_spec("openvino") is not None

    def require(self) -> None:
        _require_openvino()

    def resolve_precision(self, facts: ModelFacts, precision: str, device: torch.device) -> str:
        if device.type != "cpu":
            raise InvalidParameterError(
                f"backend 'openvino' runs on the CPU; got device {device}. Use device='cpu', or backend='torch' on {device.type}"
            )
        if precision == "fp16":
            raise InvalidParameterError(
                "backend 'openvino' runs fp32, bf16 or int8 on CPUs; use one of those, or backend='torch' for fp16"
            )
        if precision == "auto":
            return "bf16" if facts.supports_bfloat16 and cpu_has_fast_bf16() else "fp32"
        if precision == "bf16" and not facts.supports_bfloat16:
            log.warning("this model does not support bf16; running it in fp32")
            return "fp32"
        if precision == "bf16" and not cpu_has_fast_bf16():
            log.warning("bf16 on this CPU is emulated (no AVX-512-BF16/AMX): it will be slower than fp32")
        if precision == "int8" and importlib.util.find_spec("nncf") is None:
            raise BackendNotInstalledError(
                f"precision 'int8' quantises with NNCF, which is not installed; install it with {OPENVINO_INSTALL_HINT}, "
                "or use precision='fp32'/'bf16'",
                backend="openvino",
            )
        return precision

    def open(
        self, facts: ModelFacts, precision: str, device: torch.device, *, tta: bool, threads: int | None
    ) -> OpenVINORunner:
        self.require()
        model, cached = load_ir(facts, precision)
        try:
            compiled = compile_model(model, precision, threads)
        except BackendCompileError as exc:
            if not cached:
                raise
            # a damaged cache entry, not the model: make it again once
            log.warning("the cached OpenVINO model %s did not compile (%s); converting it again", model, exc)
            Path(model).unlink(missing_ok=True)
            model, _ = load_ir(facts, precision)
            compiled = compile_model(model, precision, threads)
        return OpenVINORunner(facts, precision, compiled, tta=tta, threads=threads, model=model)

    def bytes_per_pixel(self, facts: ModelFacts, precision: str, *, batch_items: int, tta: bool) -> float:
        elem = 2 if precision == "bf16" else 4
        probe = probe_activations(facts)
        per_pixel = probe.peak_elements_per_pixel if probe is not None else 4096.0
        s2 = facts.scale * facts.scale
        copies = facts.input_channels * 8 + facts.output_channels * s2 * (8 + (4 if tta else 0))
        return batch_items * (GENERIC_SAFETY * per_pixel * elem + copies)

    def fixed_bytes(self, facts: ModelFacts, precision: str) -> int:
        params = sum(p.numel() for p in facts.module.parameters())
        # the fp32 IR read in, and the compiled copy in the inference precision
        return RUNTIME_BYTES + params * 4 + params * (2 if precision == "bf16" else 4)

    def max_window(self, facts: ModelFacts) -> int | None:
        per_pixel = self.bytes_per_pixel(facts, "fp32", batch_items=1, tta=False)
        return min(OPENVINO_MAX_WINDOW, math.isqrt(int(OPENVINO_WINDOW_BYTES / per_pixel)))
