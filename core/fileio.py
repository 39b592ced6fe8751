"""Atomic outputs: a file appears whole under its final name, or not at all."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from .errors import OutputExistsError

__all__ = ["atomic_output", "same_file", "create_unique"]


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when both paths name one existing file (symlinks and relative paths resolved)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def create_unique(folder: Path, prefix: str, suffix: str) -> Path:
    """Create an empty file with a fresh name; unlike mkstemp's 0600, its mode follows the umask."""
    for _ in range(100):
        candidate = folder / f"{prefix}{secrets.token_hex(6)}.tmp{suffix}"
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"could not create a temporary file in {folder}")


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str], *, overwrite: bool = False, suffix: str | None = None
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` in one rename.

    On an exception (a cancel included) the temporary file is removed and ``path`` is
    untouched. ``suffix`` keeps the extension on the temporary name for writers that infer
    the format from it (OpenCV).
    """
    final = Path(path)
    if final.exists() and not overwrite:
        raise OutputExistsError(f"{final} exists; pass --force (overwrite=True) to replace it")
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = create_unique(final.parent, f".{final.name}.", suffix if suffix is not None else final.suffix)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
