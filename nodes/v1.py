"""V1 registration: plain classes with ``INPUT_TYPES`` / ``RETURN_TYPES`` / ``FUNCTION``,
generated from the node table (for ComfyUI older than the ``comfy_api.latest`` API)."""

from __future__ import annotations

from typing import Any

from .definitions import NODES
from .node_spec import InputSpec, NodeSpec

__all__ = [
    "v1_input",
    "v1_input_types",
    "build_v1_class",
    "node_class_mappings",
    "node_display_name_mappings",
]


def v1_input(spec: InputSpec) -> tuple[Any, dict[str, Any]]:
    """``(type, options)`` as V1 nodes declare an input; a combo's type is its list of choices."""
    options: dict[str, Any] = {}
    if spec.default is not None:
        options["default"] = spec.default
    for key, value in (("min", spec.minimum), ("max", spec.maximum), ("step", spec.step)):
        if value is not None:
            options[key] = value
    if spec.control_after_generate:
        options["control_after_generate"] = True
    if spec.type == "STRING":  # as V3's io.String declares it, so both styles describe the same input
        options["multiline"] = spec.multiline
    options["tooltip"] = spec.tooltip
    return (spec.choices() if spec.type == "COMBO" else spec.type), options


def v1_input_types(spec: NodeSpec) -> dict[str, dict[str, tuple[Any, dict[str, Any]]]]:
    types: dict[str, dict[str, tuple[Any, dict[str, Any]]]] = {"required": {}}
    for item in spec.inputs:
        types.setdefault("optional" if item.optional else "required", {})[item.name] = v1_input(item)
    return types


def build_v1_class(spec: NodeSpec) -> type:
    def INPUT_TYPES(cls: type) -> dict[str, Any]:
        return v1_input_types(spec)

    def run(self: Any, **inputs: Any) -> Any:
        result = spec.run(**inputs)
        if result.ui is not None:
            return {"ui": dict(result.ui), "result": tuple(result.outputs)}
        return tuple(result.outputs)

    return type(
        spec.node_id,
        (),
        {
            "__module__": __name__,
            "__doc__": spec.description,
            "INPUT_TYPES": classmethod(INPUT_TYPES),
            "RETURN_TYPES": tuple(o.type for o in spec.outputs),
            "RETURN_NAMES": tuple(o.name for o in spec.outputs),
            "OUTPUT_TOOLTIPS": tuple(o.tooltip for o in spec.outputs),
            "FUNCTION": "run",
            "CATEGORY": spec.category,
            "DESCRIPTION": spec.description,
            "OUTPUT_NODE": spec.output_node,
            "run": run,
        },
    )


def node_class_mappings() -> dict[str, type]:
    return {spec.node_id: build_v1_class(spec) for spec in NODES}


def node_display_name_mappings() -> dict[str, str]:
    return {spec.node_id: spec.display_name for spec in NODES}
