"""Stand-in for ``comfy.model_management``: devices, memory and the interrupt flag.

Mirrors ComfyUI 0.3.64:
- ``get_torch_device()`` returns the device models run on (here the CPU, as ``--cpu``);
  ``intermediate_device()`` the CPU; ``cpu_mode()``, ``is_device_cpu()``.
- ``free_memory(memory_required, device, keep_loaded=[])`` unloads models to make room; here
  it records each call in ``FREE_MEMORY_CALLS`` so tests can see what a node asked for.
- ``get_free_memory(dev)`` is the available RAM for a CPU device (ComfyUI asks psutil; the
  stand-in asks the OS, to need no extra package); ``module_size(module)`` the
  bytes of a module's state dict; ``soft_empty_cache()`` empties accelerator caches.
- Cancel: ``interrupt_current_processing(value=True)`` sets a flag under a lock;
  ``processing_interrupted()`` reads it; ``throw_exception_if_processing_interrupted()``
  resets it and raises ``InterruptProcessingException``, which the executor reports as
  "interrupted" rather than as an error.
"""

from __future__ import annotations

import threading
from enum import Enum
from typing import Any

import os

import torch


class CPUState(Enum):
    GPU = 0
    CPU = 1
    MPS = 2


cpu_state = CPUState.CPU
FREE_MEMORY_CALLS: list[tuple[int, Any]] = []

try:
    OOM_EXCEPTION = torch.cuda.OutOfMemoryError
except AttributeError:  # mirrors ComfyUI's fallback for builds without CUDA classes
    OOM_EXCEPTION = Exception


def get_torch_device() -> torch.device:
    # ComfyUI picks CUDA/XPU/MPS/... from cpu_state and what torch finds; tests run as --cpu.
    return torch.device("cpu")


def intermediate_device() -> torch.device:
    return torch.device("cpu")


def cpu_mode() -> bool:
    return cpu_state == CPUState.CPU


def is_device_cpu(device: Any) -> bool:
    return getattr(device, "type", None) == "cpu"


def module_size(module: torch.nn.Module) -> int:
    return sum(t.nelement() * t.element_size() for t in module.state_dict().values())


def get_free_memory(dev: Any = None, torch_free_too: bool = False) -> Any:
    free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return (free, free) if torch_free_too else free


def free_memory(memory_required: int, device: Any, keep_loaded: list | None = None) -> list:
    FREE_MEMORY_CALLS.append((memory_required, device))
    return []


def soft_empty_cache(force: bool = False) -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


class InterruptProcessingException(Exception):
    pass


interrupt_processing_mutex = threading.RLock()
interrupt_processing = False


def interrupt_current_processing(value: bool = True) -> None:
    global interrupt_processing
    with interrupt_processing_mutex:
        interrupt_processing = value


def processing_interrupted() -> bool:
    with interrupt_processing_mutex:
        return interrupt_processing


def throw_exception_if_processing_interrupted() -> None:
    global interrupt_processing
    with interrupt_processing_mutex:
        if interrupt_processing:
            interrupt_processing = False
            raise InterruptProcessingException()
