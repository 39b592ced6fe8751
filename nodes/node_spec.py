"""The vocabulary of the node table: inputs, outputs and nodes, independent of ComfyUI's API.

One table (``definitions.NODES``) written in these terms is turned into V3 ``io.ComfyNode``
classes or V1 classes by ``v3.py`` / ``v1.py``, so ids, input names, order, defaults, ranges
and tooltips cannot drift between the two registration styles.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "InputSpec",
    "OutputSpec",
    "NodeSpec",
    "NodeResult",
    "WIDGET_TYPES",
    "CONTROL_AFTER_GENERATE_VALUES",
]

# Input types the frontend draws as widgets (their values are saved, by position, in a
# workflow's ``widgets_values``); every other type is a socket.
WIDGET_TYPES = frozenset({"INT", "FLOAT", "BOOLEAN", "COMBO", "STRING"})

# The extra widget the frontend adds after an INT with control_after_generate; its value is
# saved in ``widgets_values`` right after the number's.
CONTROL_AFTER_GENERATE_VALUES = ("fixed", "increment", "decrement", "randomize")


@dataclass(frozen=True)
class InputSpec:
    name: str
    type: str
    """IMAGE, MASK, INT, FLOAT, BOOLEAN, COMBO, STRING, or a socket type such as
    ``"REALESRGAN_KIT_MODEL,UPSCALE_MODEL"`` (a comma means "any of these")."""
    tooltip: str
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    options: Sequence[str] | Callable[[], Sequence[str]] | None = None
    """Combo choices; a callable is evaluated each time ComfyUI asks for the schema (so the
    model list follows the files on disk when the user presses Refresh)."""
    optional: bool = False
    control_after_generate: bool = False
    multiline: bool = False

    @property
    def is_widget(self) -> bool:
        return self.type in WIDGET_TYPES

    def choices(self) -> list[str]:
        if self.options is None:
            return []
        return list(self.options() if callable(self.options) else self.options)


@dataclass(frozen=True)
class OutputSpec:
    name: str
    type: str
    tooltip: str


@dataclass(frozen=True)
class NodeResult:
    """What a node function returns: output values in order, plus optional UI data."""

    outputs: tuple[Any, ...]
    ui: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class NodeSpec:
    node_id: str
    display_name: str
    category: str
    description: str
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputSpec, ...]
    run: Callable[..., NodeResult]
    """Called with every input by name (optional inputs may be absent)."""
    output_node: bool = False

    def input(self, name: str) -> InputSpec:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def widgets(self) -> tuple[InputSpec, ...]:
        return tuple(i for i in self.inputs if i.is_widget)
