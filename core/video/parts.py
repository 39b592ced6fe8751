"""The parts folder beside a video job's target: its manifest and finished chunk files.

``<target>.parts/manifest.json`` names the job key (and the settings it was made from, to say
what changed when a resume is refused); ``chunk-NNNNN.pkts`` files are finished chunks. A
resume reuses the chunk files stamped with the same key; nothing here deletes a folder that
has no manifest of ours.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import OutputExistsError, ResumeMismatchError
from ..fileio import atomic_output
from .chunks import Chunk, chunk_path, read_chunk_header

if TYPE_CHECKING:
    from .job import VideoJob

__all__ = ["parts_dir_for", "open_parts", "pending_chunks", "MANIFEST"]

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"


def parts_dir_for(dst: str | os.PathLike[str]) -> Path:
    """Where the finished chunks of a job writing ``dst`` are kept: ``<dst>.parts/``."""
    d = Path(dst)
    return d.with_name(d.name + ".parts")


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} → {b!r}")
    return out


def open_parts(job: VideoJob, *, resume: bool, force: bool) -> None:
    """Create ``job.parts`` with its manifest, or check an existing one for a resume."""
    manifest = job.parts / MANIFEST
    if manifest.is_file():
        old = json.loads(manifest.read_text(encoding="utf-8"))
        if force and not resume:
            shutil.rmtree(job.parts)
        elif not resume:
            raise OutputExistsError(
                f"{job.parts} holds chunks of an earlier, unfinished run for {job.dst}; pass --resume "
                "(resume=True) to continue it, or --force (force=True) to start over"
            )
        elif old.get("key") != job.key:
            changes = _differences(old.get("identity", {}), job.identity)
            raise ResumeMismatchError(
                f"cannot resume {job.dst}: the chunks in {job.parts} were made "
                + ("with other settings: " + "; ".join(changes[:6]) if changes else "by another job")
                + ". Run with the same options as before, or without --resume and with --force to start over."
            )
    elif job.parts.exists() and any(
        p for p in job.parts.iterdir() if not p.name.startswith((".chunk-", ".manifest.json."))
    ):
        # not ours (no manifest): never delete a folder we did not make
        raise OutputExistsError(
            f"{job.parts} exists and is not a chunk folder of this program; move it away or choose another output name"
        )
    job.parts.mkdir(parents=True, exist_ok=True)
    for pattern in (".chunk-*", ".manifest.json.*"):  # temporary files of a killed run
        for stale in job.parts.glob(pattern):
            stale.unlink(missing_ok=True)
    if not manifest.is_file():
        with atomic_output(manifest, overwrite=True) as tmp:
            tmp.write_text(
                json.dumps({"key": job.key, "identity": job.identity, "dst": str(job.dst)}, indent=1),
                encoding="utf-8",
            )


def pending_chunks(job: VideoJob) -> list[Chunk]:
    """The chunks of ``job`` without a finished chunk file for this job's key."""
    todo = []
    for chunk in job.chunks:
        path = chunk_path(job.parts, chunk.index)
        if path.is_file():
            try:
                header, _ = read_chunk_header(path)
                if header.key == job.key:
                    continue
            except (OSError, ValueError) as exc:
                log.warning("%s is unreadable (%s); making it again", path, exc)
            path.unlink(missing_ok=True)
        todo.append(chunk)
    return todo
