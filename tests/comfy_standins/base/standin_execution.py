"""A small executor and input validator mirroring ComfyUI 0.3.64's ``execution.py``.

- ``input_info(cls, name)`` mirrors ``comfy_execution.graph.get_input_info``: (type,
  "required"/"optional"/"hidden", options) from ``INPUT_TYPES()``.
- ``validate_constant(cls, name, value)`` mirrors ``validate_inputs`` for a widget value: INT /
  FLOAT / STRING / BOOLEAN values are converted, then checked against ``min`` and ``max``, and
  a combo declared as a list must contain the value. (A V3 combo's type is the string "COMBO",
  which ComfyUI does not check against its options; neither do we here.) Returns the
  converted value, or raises ``ValueError`` with ComfyUI's message.
- ``run_node(cls, **inputs)`` mirrors ``_async_map_node_over_list`` + ``get_output_from_returns``
  for one call: a V3 class is validated and its ``FUNCTION`` (EXECUTE_NORMALIZED) called on the
  class; a V1 class is instantiated and its ``FUNCTION`` called. Returns ``(outputs, ui)``.
  Like the host (``PromptExecutor.execute_async`` runs the whole prompt inside
  ``torch.inference_mode()``), the call runs in inference mode: tensors a node makes, the
  weights a Load node builds included, are inference tensors.
"""

from __future__ import annotations

from typing import Any

import torch


def input_info(cls: type, name: str) -> tuple[Any, str | None, dict[str, Any] | None]:
    valid = cls.INPUT_TYPES()
    for category in ("required", "optional", "hidden"):
        if name in valid.get(category, {}):
            info = valid[category][name]
            return info[0], category, (info[1] if len(info) > 1 else {})
    return None, None, None


def validate_constant(cls: type, name: str, value: Any) -> Any:
    input_type, category, extra = input_info(cls, name)
    if category is None:
        raise ValueError(f"{name}: not an input of {getattr(cls, '__name__', cls)}")
    converters = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}
    if isinstance(input_type, str) and input_type in converters:
        try:
            value = converters[input_type](value)
        except Exception as exc:
            raise ValueError(f"Failed to convert an input value to a {input_type} value: {name}, {value}, {exc}") from exc
    if "min" in extra and value < extra["min"]:
        raise ValueError(f"Value {value} smaller than min of {extra['min']}: {name}")
    if "max" in extra and value > extra["max"]:
        raise ValueError(f"Value {value} bigger than max of {extra['max']}: {name}")
    if isinstance(input_type, list) and value not in input_type:
        raise ValueError(f"Value not in list: {name}: '{value}' not in {input_type}")
    return value


def _is_v3(cls: type) -> bool:
    return hasattr(cls, "EXECUTE_NORMALIZED") and hasattr(cls, "define_schema")


def run_node(cls: type, **inputs: Any) -> tuple[tuple[Any, ...], dict[str, Any] | None]:
    with torch.inference_mode():
        return _run_node(cls, **inputs)


def _run_node(cls: type, **inputs: Any) -> tuple[tuple[Any, ...], dict[str, Any] | None]:
    if _is_v3(cls):
        cls.VALIDATE_CLASS()
        cls.GET_SCHEMA()
        returned = getattr(cls, cls.FUNCTION)(**inputs)
        ui = returned.ui if isinstance(returned.ui, dict) or returned.ui is None else returned.ui.as_dict()
        return tuple(returned.args), ui
    returned = getattr(cls(), cls.FUNCTION)(**inputs)
    if isinstance(returned, dict):
        return tuple(returned.get("result", ())), returned.get("ui")
    return tuple(returned), None
