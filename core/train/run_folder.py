"""A run folder: its setup record (``run.json``), what may resume it, and the loss log.

``run.json`` records everything that decides the trajectory: the starting weights (a digest),
the data (file names and sizes), the settings except ``RESUMABLE_FIELDS`` and the precision.
``resume`` refuses a folder whose record differs, naming what differs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import OutputExistsError, RunFolderMismatchError
from ..fileio import atomic_output
from .finetune_settings import RESUMABLE_FIELDS, TrainSettings

__all__ = [
    "RUN_FORMAT",
    "RUN_FILE",
    "LOSS_FILE",
    "setup_record",
    "start_run_folder",
    "check_resumable",
    "LossLog",
]

RUN_FORMAT = "realesrgan-kit/finetune-run"
RUN_FILE = "run.json"
LOSS_FILE = "losses.jsonl"


def setup_record(
    settings: TrainSettings, model: Mapping[str, Any], data: Mapping[str, Any], precision: str
) -> dict[str, Any]:
    trajectory = {k: v for k, v in settings.to_dict().items() if k not in RESUMABLE_FIELDS}
    return {"model": dict(model), "data": dict(data), "settings": trajectory, "precision": precision}


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    with atomic_output(path, overwrite=True) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def start_run_folder(run_dir: Path, setup: Mapping[str, Any], settings: TrainSettings) -> None:
    """Claim ``run_dir`` for a new run; refuse one that holds a run already."""
    if (run_dir / RUN_FILE).exists():
        raise OutputExistsError(
            f"{run_dir} holds a run already; continue it with --resume (resume=True) or choose another folder"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    _write_json(
        run_dir / RUN_FILE,
        {"format": RUN_FORMAT, "version": 1, "setup": setup, "settings": settings.to_dict()},
    )


def _differences(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        found = []
        for key in sorted(set(old) | set(new)):
            found += _differences(old.get(key), new.get(key), f"{path}.{key}" if path else str(key))
        return found
    return [] if old == new else [f"{path}: run has {old!r}, now {new!r}"]


def check_resumable(run_dir: Path, setup: Mapping[str, Any], settings: TrainSettings) -> None:
    """Raise RunFolderMismatchError unless ``run_dir`` holds a run of this very setup."""
    file = run_dir / RUN_FILE
    if not file.is_file():
        raise RunFolderMismatchError(
            f"{run_dir} holds no fine-tuning run (no {RUN_FILE}); start a new run without --resume"
        )
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RunFolderMismatchError(
            f"{file} is unreadable ({exc}); it is not a run this package wrote"
        ) from exc
    if not isinstance(record, dict) or record.get("format") != RUN_FORMAT:
        raise RunFolderMismatchError(f"{file} is not a realesrgan-kit fine-tuning run")
    differences = _differences(record.get("setup"), json.loads(json.dumps(setup)))
    if differences:
        shown = "\n  ".join(differences[:8])
        raise RunFolderMismatchError(
            f"{run_dir} is a run of another setup; resuming it here would not continue the same training:\n  "
            f"{shown}\nUse the same model, data and settings (only {', '.join(sorted(RESUMABLE_FIELDS))} may "
            "change), or start a new run in another folder"
        )
    record["settings"] = settings.to_dict()
    _write_json(file, record)


class LossLog:
    """``losses.jsonl``: one JSON object per iteration, flushed at checkpoints.

    On resume, entries after the checkpoint's iteration (written by the interrupted run) are
    dropped, so the log matches the trajectory that continues.
    """

    def __init__(self, run_dir: Path, resume_from: int | None) -> None:
        self.path = run_dir / LOSS_FILE
        self.entries: list[dict[str, float]] = []
        self._pending: list[dict[str, float]] = []
        if resume_from is not None and self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    entry = json.loads(line)
                    if entry.get("iteration", 0) <= resume_from:
                        self.entries.append(entry)
        with atomic_output(self.path, overwrite=True) as tmp:
            tmp.write_text("".join(json.dumps(e) + "\n" for e in self.entries), encoding="utf-8")

    def add(self, entry: dict[str, float]) -> None:
        self.entries.append(entry)
        self._pending.append(entry)

    def flush(self) -> None:
        if self._pending:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write("".join(json.dumps(e) + "\n" for e in self._pending))
                fh.flush()
                os.fsync(fh.fileno())
            self._pending.clear()
