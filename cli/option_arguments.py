"""Engine options as command-line arguments, built from their definition.

Each ``UpscaleOptions`` field carries its help text, choices, default and (where it has them)
a short flag and metavar (``core.options.option_field``); its type gives argparse's ``type``
(``int``/``float``) or ``store_true`` (``bool``). So a command exposes an engine option with
one line, ``add_option_argument(parser, "tile")``, and reads them all back with
:func:`engine_options`.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

from ..core.options import UpscaleOptions

__all__ = ["add_option_argument", "engine_options"]


def add_option_argument(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    name: str,
    *,
    definition: type[UpscaleOptions] = UpscaleOptions,
) -> argparse.Action:
    """``--name-with-dashes`` for engine option ``name``, as its field in ``definition`` defines it."""
    field = {f.name: f for f in dataclasses.fields(definition)}[name]
    meta = field.metadata
    flags = [meta["short"]] if "short" in meta else []
    flags.append("--" + name.replace("_", "-"))
    value_type = _value_type(definition, name)
    if value_type is bool:
        return parser.add_argument(*flags, action="store_true", help=meta["help"])
    extras: dict[str, Any] = {key: meta[key] for key in ("choices", "metavar") if key in meta}
    if value_type is not None:
        extras["type"] = value_type
    return parser.add_argument(*flags, default=field.default, help=meta["help"], **extras)


def _value_type(definition: type[UpscaleOptions], name: str) -> type | None:
    """``int``, ``float`` or ``bool`` when the field holds that (or ``None``); else ``None``:
    the argument stays text (a choice, a device, the tile vocabulary that its command parses)."""
    hint = typing.get_type_hints(definition)[name]
    kinds = [kind for kind in typing.get_args(hint) if kind is not type(None)] or [hint]
    return kinds[0] if len(kinds) == 1 and kinds[0] in (int, float, bool) else None


def engine_options(
    args: argparse.Namespace, *, definition: type[UpscaleOptions] = UpscaleOptions, **parsed: Any
) -> UpscaleOptions:
    """The engine options a command's arguments hold (the others at their defaults), with
    ``parsed`` replacing the values the command read itself (``tile=parse_tile(...)``)."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(definition) if hasattr(args, f.name)}
    return definition.from_dict({**given, **parsed})
