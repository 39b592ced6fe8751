"""V3 registration: ``io.ComfyNode`` classes generated from the node table, handed to ComfyUI
through ``comfy_entrypoint()`` (ComfyUI ≥ 0.3.47, ``comfy_api.latest``)."""

from __future__ import annotations

from typing import Any

from .definitions import NODES
from .node_spec import InputSpec, NodeSpec, OutputSpec

__all__ = ["v3_input", "v3_output", "build_v3_class", "build_v3_nodes", "comfy_entrypoint"]


def _io() -> Any:
    from comfy_api.latest import io

    return io


def _socket_type(io: Any, type_name: str) -> Any:
    known = {
        "IMAGE": io.Image,
        "MASK": io.Mask,
        "INT": io.Int,
        "FLOAT": io.Float,
        "BOOLEAN": io.Boolean,
        "STRING": io.String,
        "COMBO": io.Combo,
        "VIDEO": getattr(io, "Video", None),  # core's own type where this ComfyUI has it
    }
    return known.get(type_name) or io.Custom(type_name)


def v3_input(io: Any, spec: InputSpec) -> Any:
    common = {"tooltip": spec.tooltip, "optional": spec.optional}
    if spec.type == "COMBO":
        return io.Combo.Input(spec.name, options=spec.choices(), default=spec.default, **common)
    if spec.type in ("INT", "FLOAT"):
        numbers = {"default": spec.default, "min": spec.minimum, "max": spec.maximum, "step": spec.step}
        if spec.type == "INT" and spec.control_after_generate:
            numbers["control_after_generate"] = True
        return _socket_type(io, spec.type).Input(spec.name, **numbers, **common)
    if spec.type == "BOOLEAN":
        return io.Boolean.Input(spec.name, default=spec.default, **common)
    if spec.type == "STRING":
        return io.String.Input(spec.name, default=spec.default, multiline=spec.multiline, **common)
    return _socket_type(io, spec.type).Input(spec.name, **common)


def v3_output(io: Any, spec: OutputSpec) -> Any:
    # No output ids: ComfyUI requires ids unique across inputs and outputs, and an output
    # called "image" next to an input called "image" is what users expect to see.
    return _socket_type(io, spec.type).Output(display_name=spec.name, tooltip=spec.tooltip)


def build_v3_class(spec: NodeSpec, io: Any) -> type:
    def define_schema(cls: type) -> Any:
        return io.Schema(
            node_id=spec.node_id,
            display_name=spec.display_name,
            category=spec.category,
            description=spec.description,
            inputs=[v3_input(io, item) for item in spec.inputs],
            outputs=[v3_output(io, item) for item in spec.outputs],
            is_output_node=spec.output_node,
        )

    def execute(cls: type, **inputs: Any) -> Any:
        result = spec.run(**inputs)
        return io.NodeOutput(*result.outputs, ui=dict(result.ui) if result.ui is not None else None)

    return type(
        spec.node_id,
        (io.ComfyNode,),
        {
            "__module__": __name__,
            "__doc__": spec.description,
            "define_schema": classmethod(define_schema),
            "execute": classmethod(execute),
        },
    )


def build_v3_nodes() -> list[type]:
    io = _io()
    return [build_v3_class(spec, io) for spec in NODES]


def _extension_class() -> type:
    from comfy_api.latest import ComfyExtension

    async def get_node_list(self: Any) -> list[type]:
        return build_v3_nodes()

    return type(
        "RealESRGANKitExtension", (ComfyExtension,), {"__module__": __name__, "get_node_list": get_node_list}
    )


async def comfy_entrypoint() -> Any:
    """What ComfyUI awaits to get our extension (its ``get_node_list`` lists the nodes)."""
    return _extension_class()()
