"""Checkpoints: safetensors files plus JSON metadata, never a pickle.

One checkpoint is a folder ``checkpoints/iter_NNNNNNNN/`` holding

- ``generator.safetensors`` and ``generator_ema.safetensors``: model files every loader of this
  package reads (``load_model``, the CLI, the ComfyUI node, the tuner);
- ``discriminator.safetensors`` (GAN stage);
- ``state.safetensors``: the optimisers' tensors (``g/<param index>/exp_avg`` ...), the random
  generator states, and in its metadata the iteration, optimiser hyperparameters, the sampler
  state and the run settings.

The folder is written under a temporary name and renamed into place, so a checkpoint exists
whole or not at all; a run that crashes keeps its previous checkpoints.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..errors import CorruptModelError, RunFolderMismatchError

__all__ = [
    "CHECKPOINT_DIR",
    "list_checkpoints",
    "latest_checkpoint",
    "write_checkpoint",
    "read_state",
    "optimizer_tensors",
    "load_optimizer",
    "prune_checkpoints",
]

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
_NAME = re.compile(r"^iter_(\d{8})$")
STATE_FILE = "state.safetensors"


def checkpoint_path(run_dir: Path, iteration: int) -> Path:
    return run_dir / CHECKPOINT_DIR / f"iter_{iteration:08d}"


def list_checkpoints(run_dir: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """Complete checkpoints of a run folder, oldest first (half-written temporaries are ignored)."""
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    found = []
    for item in folder.iterdir():
        match = _NAME.match(item.name)
        if match and item.is_dir() and (item / STATE_FILE).is_file():
            found.append((int(match.group(1)), item))
    return sorted(found)


def latest_checkpoint(run_dir: str | os.PathLike[str]) -> tuple[int, Path] | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def write_checkpoint(
    run_dir: Path,
    iteration: int,
    files: Mapping[str, tuple[dict[str, torch.Tensor], dict[str, str]]],
) -> Path:
    """Write ``{file name: (tensors, metadata)}`` as one checkpoint folder, atomically."""
    final = checkpoint_path(run_dir, iteration)
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{final.name}.{secrets.token_hex(6)}.tmp"
    tmp.mkdir()
    try:
        for name, (tensors, metadata) in files.items():
            cpu = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
            save_file(cpu, str(tmp / name), metadata=dict(metadata))
        if final.exists():  # the same iteration saved again (a stop right after a checkpoint)
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` checkpoints, and temporaries a crash left behind."""
    for _, path in list_checkpoints(run_dir)[:-keep]:
        shutil.rmtree(path, ignore_errors=True)
    folder = run_dir / CHECKPOINT_DIR
    for item in folder.glob(".iter_*.tmp") if folder.is_dir() else ():
        shutil.rmtree(item, ignore_errors=True)


def read_state(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and decoded JSON metadata of a checkpoint's ``state.safetensors``."""
    file = path / STATE_FILE
    try:
        with safe_open(str(file), framework="pt") as handle:
            tensors = {k: handle.get_tensor(k) for k in handle.keys()}
            raw = handle.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise CorruptModelError(f"the checkpoint {file} could not be read: {exc}") from exc
    try:
        metadata = {k: json.loads(v) for k, v in raw.items()}
    except json.JSONDecodeError as exc:
        raise CorruptModelError(f"the checkpoint {file} has damaged metadata: {exc}") from exc
    return tensors, metadata


def optimizer_tensors(optimizer: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], Any]:
    """An optimiser's per-parameter state as flat tensors, and its param groups as JSON."""
    state = optimizer.state_dict()
    tensors = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if not isinstance(value, torch.Tensor):
                value = torch.tensor(value)
            tensors[f"{prefix}/{index}/{key}"] = value
    return tensors, state["param_groups"]


def load_optimizer(
    optimizer: torch.optim.Optimizer, tensors: Mapping[str, torch.Tensor], groups: Any, prefix: str
) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        head, _, rest = key.partition("/")
        if head != prefix:
            continue
        index, _, name = rest.partition("/")
        state.setdefault(int(index), {})[name] = value
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as exc:
        raise RunFolderMismatchError(
            f"the checkpoint's {prefix} optimiser state does not fit this network: {exc}"
        ) from exc
