"""Whether a network from elsewhere works in reduced precision: probed once, remembered.

A spandrel descriptor says whether its architecture supports fp16/bf16, but the network may
still fail there: SwinIR's attention adds a float32 mask it builds in its forward, so its bf16
matmul raises (``expected m1 and m2 to have the same dtype``); other networks run but lose
quality (a small-magnitude signal added to a large one). So before ``precision="auto"`` runs a
model whose policy asks for it (models that are not ours) in bf16/fp16, a probe runs the
network the way the engine will (the converted copy, its forward, its padding) on one small
window, in the reduced format and in fp32. If the reduced run raises, gives non-finite values
or stays below :data:`MIN_PSNR_DB` against fp32, ``auto`` runs fp32 and says so in one warning
per architecture. An explicit ``precision="bf16"``/``"fp16"`` is honoured: a network that raises
there gets a typed error instead of a silent fall-back.

The verdict is remembered per architecture — the module's class and its parameters' names and
shapes (the hyperparameters that change the network), the precision and the device type — for
the life of the process. The probe runs in ``torch.inference_mode()``, which accepts weights
made in any autograd mode, and costs two forwards of one 48² window, once per architecture:
measured with random weights on the 2-core AVX-512-BF16 Xeon under load, 8.4 s for a
SwinIR-M-sized network (16.6 M parameters) and 18 s for a HAT-L-sized one (26 M); a 512² job
runs such a network on over 100× as many pixels.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Literal

import torch

from ..errors import PrecisionNotSupportedError
from .modelinfo import ModelFacts
from .window_network import prepare_network

__all__ = [
    "MIN_PSNR_DB",
    "PROBE_SIDE",
    "ProbeVerdict",
    "probe_reduced_precision",
    "check_reduced_precision",
    "failed_at_run_time",
    "warn_fp32_fallback",
    "forget_probes",
]

log = logging.getLogger(__name__)

PROBE_SIDE = 48
"""Side of the probe window in input pixels (raised to the model's minimum and size multiple).
Not smaller: some networks lose quality in bf16 on a few pixels only (HVI-CIDNet's colour
transform, with random weights: 54 dB on a 32² window, 33 dB on 48² and 64²)."""
MIN_PSNR_DB = 45.0
"""Reduced precision is kept when its output is at least this close to fp32's on the probe.
Above the 40 dB that counts as a faithful result on images, because one small window is only a
sample: real-weight networks we measured keep 50+ dB in bf16 (x4plus 53 dB), so the margin
costs them nothing."""


Problem = Literal["raises", "non-finite", "loses quality"]


@dataclass(frozen=True)
class ProbeVerdict:
    problem: Problem | None
    """What goes wrong in the reduced format; ``None``: it works."""
    reason: str
    """Why, in words: ``"46.2 dB against fp32"``, ``"it raises in bf16: RuntimeError: ..."``."""

    @property
    def works(self) -> bool:
        return self.problem is None


_verdicts: dict[tuple, ProbeVerdict] = {}
_warned: set[tuple[str, str]] = set()
_lock = threading.Lock()


def _architecture(facts: ModelFacts) -> str:
    return facts.architecture or type(facts.module).__name__


def _key(facts: ModelFacts, precision: str, device: torch.device) -> tuple:
    module = facts.module
    shapes = tuple((name, tuple(t.shape)) for name, t in module.state_dict().items())
    return (type(module).__module__, type(module).__qualname__, shapes, precision, device.type)


def _probe_window(facts: ModelFacts) -> torch.Tensor:
    """A smooth gradient with fine texture (what images look like to a network), fixed seed."""
    side = max(PROBE_SIDE, facts.minimum)
    side = -(-side // facts.multiple_of) * facts.multiple_of
    ramp = torch.linspace(0.2, 0.8, side)
    smooth = (ramp.view(-1, 1) * 0.6 + ramp.view(1, -1) * 0.4).expand(facts.input_channels, side, side)
    texture = torch.rand(facts.input_channels, side, side, generator=torch.Generator().manual_seed(0))
    return (smooth + 0.15 * (texture - 0.5)).clamp(0, 1).unsqueeze(0)


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.clamp(0, 1) - b.clamp(0, 1)) ** 2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def _run(facts: ModelFacts, precision: str, device: torch.device, window: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return prepare_network(facts, precision, device).run_once(window)


def _judge(facts: ModelFacts, precision: str, device: torch.device) -> ProbeVerdict:
    window = _probe_window(facts)
    try:
        reference = _run(facts, "fp32", device, window)
    except Exception as exc:  # the network fails even in fp32: not ours to judge here
        log.debug("precision probe: %s fails in fp32 (%s); not judged", _architecture(facts), exc)
        return ProbeVerdict(None, f"not judged: it fails in fp32 too ({type(exc).__name__})")
    try:
        reduced = _run(facts, precision, device, window)
    except Exception as exc:  # any failure in reduced precision means: use fp32
        return ProbeVerdict("raises", f"it raises in {precision}: {type(exc).__name__}: {exc}")
    if not bool(torch.isfinite(reduced).all()):
        return ProbeVerdict("non-finite", f"it gives non-finite values in {precision}")
    db = _psnr(reduced.float(), reference.float())
    if db < MIN_PSNR_DB:
        return ProbeVerdict("loses quality", f"it loses quality in {precision}: {db:.1f} dB against fp32")
    return ProbeVerdict(None, f"{db:.1f} dB against fp32")


def probe_reduced_precision(facts: ModelFacts, precision: str, device: torch.device) -> ProbeVerdict:
    """The remembered verdict on running ``facts``' network in ``precision`` (probed on first use)."""
    key = _key(facts, precision, device)
    with _lock:  # one probe per architecture even when several jobs start at once
        verdict = _verdicts.get(key)
        if verdict is None:
            verdict = _judge(facts, precision, device)
            _verdicts[key] = verdict
            log.debug("precision probe: %s in %s: %s", _architecture(facts), precision, verdict.reason)
    return verdict


def failed_at_run_time(
    facts: ModelFacts, precision: str, device: torch.device, window: torch.Tensor, error: Exception
) -> PrecisionNotSupportedError:
    """Remember that the network raised in ``precision`` on a real window after all, and the
    typed error to raise (``auto`` catches it and reruns in fp32: :func:`warn_fp32_fallback`)."""
    reason = f"it raises in {precision} on a {window.shape[-2]}×{window.shape[-1]} window: {type(error).__name__}: {error}"
    with _lock:
        _verdicts[_key(facts, precision, device)] = ProbeVerdict("raises", reason)
    return PrecisionNotSupportedError(
        f"this {_architecture(facts)} network fails in {precision} ({reason}); "
        "use precision='auto' (it runs such networks in fp32) or precision='fp32'"
    )


def warn_fp32_fallback(facts: ModelFacts, precision: str, reason: str) -> None:
    """The one warning per architecture that ``auto`` runs it in fp32 instead of ``precision``."""
    _warn_once(
        facts,
        precision,
        f"{_architecture(facts)} does not run well in {precision} ({reason}); running it in fp32",
    )


def _warn_once(facts: ModelFacts, precision: str, message: str) -> None:
    with _lock:
        marker = (_architecture(facts), precision)
        if marker in _warned:
            return
        _warned.add(marker)
    log.warning(message)


def check_reduced_precision(facts: ModelFacts, precision: str, device: torch.device, *, asked: bool) -> str:
    """The precision to run: ``precision`` when the probe passes; else fp32 for ``auto``
    (``asked=False``, one warning per architecture). Asked for by name, ``precision`` is kept:
    a network that raises there gets a :class:`PrecisionNotSupportedError`, one that loses
    quality a warning, and non-finite tiles are recomputed in fp32 by the runner (its warning)."""
    verdict = probe_reduced_precision(facts, precision, device)
    if verdict.works:
        return precision
    name = _architecture(facts)
    if not asked:
        warn_fp32_fallback(facts, precision, verdict.reason)
        return "fp32"
    if verdict.problem == "raises":
        raise PrecisionNotSupportedError(
            f"precision '{precision}' was asked for, but this {name} network fails in it ({verdict.reason}); "
            "use precision='auto' (it runs such networks in fp32) or precision='fp32'"
        )
    if verdict.problem == "loses quality":
        _warn_once(facts, precision, f"{name}: {verdict.reason}; running it in {precision} as asked")
    return precision


def forget_probes() -> None:
    """Drop every remembered verdict and warning (tests; a process that swapped its torch)."""
    with _lock:
        _verdicts.clear()
        _warned.clear()
