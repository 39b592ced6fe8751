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


def load(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


class WorkflowMismatch(AssertionError):
    """A saved workflow no longer fits the nodes it names (as the host declares them)."""


def to_checked_prompt(workflow: dict[str, Any], object_info: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The API prompt for a UI workflow, read against the host's ``/object_info``.

    Strict where the frontend would load a broken graph silently: every node type must exist,
    every node must save exactly one value per widget, every linked input must be declared and
    every link must join sockets of compatible types.
    """
    links = {link[0]: link for link in workflow["links"]}
    outputs = {node["id"]: [o["type"] for o in node.get("outputs") or []] for node in workflow["nodes"]}
    prompt: dict[str, dict[str, Any]] = {}
    for node in workflow["nodes"]:
        kind = node["type"]
        if node.get("mode", 0) != 0 or kind in ("Note", "MarkdownNote"):
            continue
        if kind not in object_info:
            raise WorkflowMismatch(f"node {node['id']}: the host has no node type {kind!r}")
        declared = object_info[kind]["input"]
        layout = widget_layout(declared)
        values = list(node.get("widgets_values") or [])
        if len(values) != len(layout):
            raise WorkflowMismatch(
                f"node {node['id']} ({kind}): saved {len(values)} widget values, the node has "
                f"{len(layout)} widgets ({[s.name for s in layout]})"
            )
        inputs = {
            slot.name: value for slot, value in zip(layout, values, strict=True) if slot.kind == "input"
        }
        all_inputs = {**declared.get("required", {}), **declared.get("optional", {})}
        for item in node.get("inputs", []):
            if item.get("link") is None:
                continue
            name = item["name"]
            if name not in all_inputs:
                raise WorkflowMismatch(f"node {node['id']} ({kind}): linked input {name!r} is not declared")
            link = links[item["link"]]
            source_type = outputs[link[1]][link[2]]
            wanted = all_inputs[name][0]
            if isinstance(wanted, str) and not _accepts(wanted, source_type):
                raise WorkflowMismatch(
                    f"node {node['id']} ({kind}): input {name!r} takes {wanted}, linked to a {source_type}"
                )
            inputs[name] = [str(link[1]), link[2]]
        prompt[str(node["id"])] = {"class_type": kind, "inputs": inputs}
    return prompt


def _accepts(input_type: str, output_type: str) -> bool:
    """ComfyUI's socket rule: "*" matches anything, "A,B" unions must overlap."""
    if "*" in (input_type, output_type):
        return True
    return bool({t.strip() for t in input_type.split(",")} & {t.strip() for t in output_type.split(",")})
