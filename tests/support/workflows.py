"""Saved UI workflows (LiteGraph JSON) read the way ComfyUI's frontend reads them.

The frontend makes a widget for every INT / FLOAT / STRING / BOOLEAN / COMBO input (a combo
may be declared as a list of choices), in ``INPUT_TYPES`` order (required, then optional),
and saves their values by position in ``widgets_values``. It adds one extra widget, saved
right after its owner: the "control after generate" choice after an INT or COMBO with
``control_after_generate``, and the "upload" button after a combo with ``image_upload`` or
``video_upload`` (saved as "image" for both).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
CONTROL_VALUES = ("fixed", "increment", "decrement", "randomize")


@dataclass(frozen=True)
class WidgetSlot:
    name: str
    kind: str  # "input" (validated against the node's input) or "control" / "upload" (frontend extras)


def widget_layout(input_types: dict[str, dict[str, Any]]) -> list[WidgetSlot]:
    slots: list[WidgetSlot] = []
    for category in ("required", "optional"):
        for name, declared in input_types.get(category, {}).items():
            kind, opts = declared[0], (declared[1] if len(declared) > 1 else {})
            if not (isinstance(kind, list) or kind in WIDGET_TYPES) or opts.get("forceInput"):
                continue
            slots.append(WidgetSlot(name, "input"))
            if opts.get("control_after_generate"):
                slots.append(WidgetSlot(f"{name}.control_after_generate", "control"))
            if opts.get("image_upload") or opts.get("video_upload"):
                slots.append(WidgetSlot(f"{name}.upload", "upload"))
    return slots


def socket_inputs(input_types: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(name, type) of the inputs drawn as sockets, in slot order."""
    sockets = []
    for category in ("required", "optional"):
        for name, declared in input_types.get(category, {}).items():
            kind = declared[0]
            if not (isinstance(kind, list) or kind in WIDGET_TYPES):
                sockets.append((name, kind))
    return sockets


def load(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def to_prompt(workflow: dict[str, Any], classes: dict[str, type]) -> dict[str, dict[str, Any]]:
    """The API-format prompt the frontend queues for a UI workflow (notes and muted nodes skipped)."""
    links = {link[0]: link for link in workflow["links"]}
    prompt: dict[str, dict[str, Any]] = {}
    for node in workflow["nodes"]:
        if node["type"] not in classes or node.get("mode", 0) != 0:
            continue
        types = classes[node["type"]].INPUT_TYPES()
        inputs: dict[str, Any] = {}
        values = list(node.get("widgets_values") or [])
        for slot, value in zip(widget_layout(types), values, strict=False):
            if slot.kind == "input":
                inputs[slot.name] = value
        for item in node.get("inputs", []):
            if item.get("link") is not None:
                link = links[item["link"]]
                inputs[item["name"]] = [str(link[1]), link[2]]
        prompt[str(node["id"])] = {"class_type": node["type"], "inputs": inputs}
    return prompt
