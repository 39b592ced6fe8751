"""Stand-in for ``comfy_api.latest._io``: schemas, typed inputs/outputs, ComfyNode, NodeOutput.

Mirrors ComfyUI 0.3.64 for what a node pack uses:
- Every type (``Image``, ``Mask``, ``Int``, ``Float``, ``Boolean``, ``String``, ``Combo``,
  ``UpscaleModel``, ``Video`` ("VIDEO"), ``Custom("X")``...) has an ``io_type`` string and nested ``Input`` /
  ``Output`` classes. ``Input(id, display_name=None, optional=False, tooltip=None, lazy=None)``;
  widget inputs add ``default``, ``socketless``, ``force_input``; Int adds ``min``, ``max``,
  ``step``, ``control_after_generate``, ``display_mode``; Float adds ``round``; String adds
  ``multiline``, ``placeholder``, ``dynamic_prompts``; Combo takes ``options`` (a list or an
  Enum) and ``control_after_generate``, ``upload`` (an ``UploadType``, e.g. ``video_upload``)...; Boolean ``label_on``/``label_off``.
  ``as_dict()`` drops None values; a combo's ``get_io_type()`` is the string "COMBO" and its
  choices travel in ``options``.
- ``Schema``: dataclass (node_id, display_name, category="sd", inputs, outputs, hidden,
  description, is_input_list, is_output_node, ...). ``validate()`` raises ValueError when ids
  repeat within inputs, within outputs, or between inputs and outputs. ``finalize()`` adds the
  PROMPT / EXTRA_PNGINFO hidden inputs to output nodes and gives unnamed outputs the id
  ``_{i}_{io_type}_``. ``get_v1_info(cls)`` builds what /object_info serves: inputs split into
  required/optional (``optional`` key removed), ``input_order``, output types and names
  (display_name, else the io type).
- ``ComfyNode``: subclasses override classmethods ``define_schema`` and ``execute``;
  ``GET_SCHEMA()`` validates the class and the schema and records RETURN_TYPES, RETURN_NAMES,
  OUTPUT_TOOLTIPS, CATEGORY, OUTPUT_NODE... once per class; reading one of those class
  attributes first calls ``GET_SCHEMA()`` (ComfyUI's ``classproperty``s); ``INPUT_TYPES()`` = ``get_v1_info().input``;
  ``FUNCTION`` is "EXECUTE_NORMALIZED" (or "EXECUTE_NORMALIZED_ASYNC" for ``async execute``),
  which turns None / tuple / dict / NodeOutput returns into a ``NodeOutput``.
"""

from __future__ import annotations

import inspect
from collections import Counter
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

import torch


def _prune(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


class _StringIOType(str):
    """"A,B" accepts either; "*" accepts anything (ComfyUI's pre-union ``__ne__`` trick)."""

    def __ne__(self, value: object) -> bool:
        if self == "*" or value == "*":
            return False
        if not isinstance(value, str):
            return True
        a, b = frozenset(self.split(",")), frozenset(value.split(","))
        return not (b.issubset(a) or a.issubset(b))

    __hash__ = str.__hash__


class NumberDisplay(str, Enum):
    number = "number"
    slider = "slider"


class _IO:
    Parent: Any = None

    @property
    def io_type(self) -> str:
        return self.Parent.io_type


class Input(_IO):
    def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                 lazy: bool | None = None, extra_dict: dict | None = None) -> None:
        self.id = id
        self.display_name = display_name
        self.optional = optional
        self.tooltip = tooltip
        self.lazy = lazy
        self.extra_dict = extra_dict or {}

    def as_dict(self) -> dict[str, Any]:
        return _prune({"display_name": self.display_name, "optional": self.optional, "tooltip": self.tooltip,
                       "lazy": self.lazy}) | _prune(self.extra_dict)

    def get_io_type(self) -> str:
        return _StringIOType(self.io_type)


class WidgetInput(Input):
    def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                 lazy: bool | None = None, default: Any = None, socketless: bool | None = None,
                 widget_type: str | None = None, force_input: bool | None = None, extra_dict: dict | None = None) -> None:
        super().__init__(id, display_name, optional, tooltip, lazy, extra_dict)
        self.default = default
        self.socketless = socketless
        self.widget_type = widget_type
        self.force_input = force_input

    def as_dict(self) -> dict[str, Any]:
        return super().as_dict() | _prune({"default": self.default, "socketless": self.socketless,
                                           "widgetType": self.widget_type, "forceInput": self.force_input})

    def get_io_type(self) -> str:
        return self.widget_type if self.widget_type is not None else super().get_io_type()


class Output(_IO):
    def __init__(self, id: str | None = None, display_name: str | None = None, tooltip: str | None = None,
                 is_output_list: bool = False) -> None:
        self.id = id
        self.display_name = display_name
        self.tooltip = tooltip
        self.is_output_list = is_output_list

    def as_dict(self) -> dict[str, Any]:
        return _prune({"display_name": self.display_name, "tooltip": self.tooltip, "is_output_list": self.is_output_list})

    def get_io_type(self) -> str:
        return self.io_type


class ComfyTypeIO:
    """A type with default Input and Output classes bound to it (``comfytype`` in ComfyUI)."""

    io_type: str = ""
    Type: Any = Any

    class Input(Input):
        pass

    class Output(Output):
        pass


def _bind(cls: type, io_type: str) -> type:
    cls.io_type = _StringIOType(io_type)
    for name in ("Input", "Output"):
        nested = cls.__dict__.get(name) or getattr(cls, name, None)
        if nested is not None:
            # Each type gets its own copy so Parent points back to it.
            copy = type(nested.__name__, (nested,), {"Parent": cls})
            setattr(cls, name, copy)
    return cls


def comfytype(io_type: str):
    def decorator(cls: type) -> type:
        return _bind(cls, io_type)

    return decorator


def Custom(io_type: str) -> type:  # noqa: N802 - ComfyUI's name
    return _bind(type("CustomComfyType", (ComfyTypeIO,), {}), io_type)


@comfytype("BOOLEAN")
class Boolean(ComfyTypeIO):
    Type = bool

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                     lazy: bool | None = None, default: bool | None = None, label_on: str | None = None,
                     label_off: str | None = None, socketless: bool | None = None, force_input: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input)
            self.label_on, self.label_off = label_on, label_off

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | _prune({"label_on": self.label_on, "label_off": self.label_off})


@comfytype("INT")
class Int(ComfyTypeIO):
    Type = int

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                     lazy: bool | None = None, default: int | None = None, min: int | None = None, max: int | None = None,
                     step: int | None = None, control_after_generate: bool | None = None,
                     display_mode: NumberDisplay | None = None, socketless: bool | None = None,
                     force_input: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input)
            self.min, self.max, self.step = min, max, step
            self.control_after_generate = control_after_generate
            self.display_mode = display_mode

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | _prune({
                "min": self.min, "max": self.max, "step": self.step,
                "control_after_generate": self.control_after_generate,
                "display": self.display_mode.value if self.display_mode else None,
            })


@comfytype("FLOAT")
class Float(ComfyTypeIO):
    Type = float

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                     lazy: bool | None = None, default: float | None = None, min: float | None = None,
                     max: float | None = None, step: float | None = None, round: float | None = None,
                     display_mode: NumberDisplay | None = None, socketless: bool | None = None,
                     force_input: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input)
            self.min, self.max, self.step, self.round = min, max, step, round
            self.display_mode = display_mode

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | _prune({"min": self.min, "max": self.max, "step": self.step, "round": self.round,
                                               "display": self.display_mode})


@comfytype("STRING")
class String(ComfyTypeIO):
    Type = str

    class Input(WidgetInput):
        def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                     lazy: bool | None = None, multiline: bool = False, placeholder: str | None = None,
                     default: str | None = None, dynamic_prompts: bool | None = None, socketless: bool | None = None,
                     force_input: bool | None = None) -> None:
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input)
            self.multiline, self.placeholder, self.dynamic_prompts = multiline, placeholder, dynamic_prompts

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | _prune({"multiline": self.multiline, "placeholder": self.placeholder,
                                               "dynamicPrompts": self.dynamic_prompts})


@comfytype("COMBO")
class Combo(ComfyTypeIO):
    Type = str

    class Input(WidgetInput):
        def __init__(self, id: str, options: list | type[Enum] | None = None, display_name: str | None = None,
                     optional: bool = False, tooltip: str | None = None, lazy: bool | None = None, default: Any = None,
                     control_after_generate: bool | None = None, upload: Any = None, image_folder: Any = None,
                     remote: Any = None, socketless: bool | None = None) -> None:
            if isinstance(options, type) and issubclass(options, Enum):
                options = [v.value for v in options]
            if isinstance(default, Enum):
                default = default.value
            super().__init__(id, display_name, optional, tooltip, lazy, default, socketless)
            self.multiselect = False
            self.options = options
            self.control_after_generate = control_after_generate
            self.upload, self.image_folder, self.remote = upload, image_folder, remote

        def as_dict(self) -> dict[str, Any]:
            return super().as_dict() | _prune({"multiselect": self.multiselect, "options": self.options,
                                               "control_after_generate": self.control_after_generate})


@comfytype("IMAGE")
class Image(ComfyTypeIO):
    Type = torch.Tensor


@comfytype("MASK")
class Mask(ComfyTypeIO):
    Type = torch.Tensor


@comfytype("UPSCALE_MODEL")
class UpscaleModel(ComfyTypeIO):
    pass


@comfytype("VIDEO")
class Video(ComfyTypeIO):
    pass  # values are comfy_api.input.VideoInput objects


class FolderType(str, Enum):
    input = "input"
    output = "output"
    temp = "temp"


class UploadType(str, Enum):
    image = "image_upload"
    audio = "audio_upload"
    video = "video_upload"
    model = "file_upload"


@comfytype("*")
class AnyType(ComfyTypeIO):
    pass


class Hidden(str, Enum):
    unique_id = "UNIQUE_ID"
    prompt = "PROMPT"
    extra_pnginfo = "EXTRA_PNGINFO"
    dynprompt = "DYNPROMPT"
    auth_token_comfy_org = "AUTH_TOKEN_COMFY_ORG"
    api_key_comfy_org = "API_KEY_COMFY_ORG"


@dataclass
class NodeInfoV1:
    input: dict | None = None
    input_order: dict[str, list[str]] | None = None
    output: list[str] | None = None
    output_is_list: list[bool] | None = None
    output_name: list[str] | None = None
    output_tooltips: list[str | None] | None = None
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    python_module: Any = None
    category: str | None = None
    output_node: bool | None = None
    deprecated: bool | None = None
    experimental: bool | None = None
    api_node: bool | None = None


@dataclass
class Schema:
    node_id: str
    display_name: str | None = None
    category: str = "sd"
    inputs: list[Input] | None = None
    outputs: list[Output] | None = None
    hidden: list[Hidden] | None = None
    description: str = ""
    is_input_list: bool = False
    is_output_node: bool = False
    is_deprecated: bool = False
    is_experimental: bool = False
    is_api_node: bool = False
    not_idempotent: bool = False
    enable_expand: bool = False

    def validate(self) -> None:
        input_ids = [i.id for i in self.inputs or []]
        output_ids = [o.id for o in self.outputs or []]
        issues = []
        if len(set(input_ids)) != len(input_ids):
            issues.append(f"Input ids must be unique, but {[k for k, n in Counter(input_ids).items() if n > 1]} are not.")
        if len(set(output_ids)) != len(output_ids):
            issues.append(f"Output ids must be unique, but {[k for k, n in Counter(output_ids).items() if n > 1]} are not.")
        both = set(input_ids) & set(output_ids)
        if both:
            issues.append(f"Ids must be unique between inputs and outputs, but {both} are not.")
        if issues:
            raise ValueError("\n".join(issues))

    def finalize(self) -> None:
        if self.is_output_node:
            self.hidden = list(self.hidden or [])
            for hidden in (Hidden.prompt, Hidden.extra_pnginfo):
                if hidden not in self.hidden:
                    self.hidden.append(hidden)
        for i, output in enumerate(self.outputs or []):
            if output.id is None:
                output.id = f"_{i}_{output.io_type}_"

    def get_v1_info(self, cls: type) -> NodeInfoV1:
        inputs: dict[str, dict[str, Any]] = {"required": {}}
        for item in self.inputs or []:
            as_dict = item.as_dict()
            as_dict.pop("optional", None)
            inputs.setdefault("optional" if item.optional else "required", {})[item.id] = (item.get_io_type(), as_dict)
        for hidden in self.hidden or []:
            inputs.setdefault("hidden", {})[hidden.name] = (hidden.value,)
        outputs = self.outputs or []
        return NodeInfoV1(
            input=inputs,
            input_order={key: list(value) for key, value in inputs.items()},
            output=[o.io_type for o in outputs],
            output_is_list=[o.is_output_list for o in outputs],
            output_name=[o.display_name or o.io_type for o in outputs],
            output_tooltips=[o.tooltip or None for o in outputs],
            name=self.node_id, display_name=self.display_name, category=self.category, description=self.description,
            output_node=self.is_output_node, deprecated=self.is_deprecated, experimental=self.is_experimental,
            api_node=self.is_api_node, python_module=getattr(cls, "RELATIVE_PYTHON_MODULE", "nodes"),
        )


class NodeOutput:
    def __init__(self, *args: Any, ui: Any = None, expand: dict | None = None, block_execution: str | None = None) -> None:
        self.args = args
        self.ui = ui
        self.expand = expand
        self.block_execution = block_execution

    @property
    def result(self) -> tuple | None:
        return self.args if self.args else None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "NodeOutput":
        return cls(*data.get("result", ()), ui=data.get("ui"), expand=data.get("expand"))

    def __getitem__(self, index: int) -> Any:
        return self.args[index]


class ComfyNode:
    RELATIVE_PYTHON_MODULE: str | None = None
    SCHEMA: Schema | None = None
    hidden: Any = None

    @classmethod
    def define_schema(cls) -> Schema:
        raise NotImplementedError

    @classmethod
    def execute(cls, **kwargs: Any) -> NodeOutput:
        raise NotImplementedError

    @classmethod
    def GET_BASE_CLASS(cls) -> type:  # noqa: N802
        return ComfyNode

    @classmethod
    def VALIDATE_CLASS(cls) -> None:  # noqa: N802
        for name in ("define_schema", "execute"):
            base = getattr(ComfyNode, name).__func__
            if all(name not in c.__dict__ or getattr(c, name).__func__ is base
                   for c in cls.mro() if c is not ComfyNode):
                raise Exception(f"No {name} function was defined for node class {cls.__name__}.")

    @classmethod
    def FINALIZE_SCHEMA(cls) -> Schema:  # noqa: N802
        schema = cls.define_schema()
        schema.finalize()
        return schema

    @classmethod
    def GET_SCHEMA(cls) -> Schema:  # noqa: N802
        cls.VALIDATE_CLASS()
        schema = cls.FINALIZE_SCHEMA()
        schema.validate()
        outputs = schema.outputs or []
        values = {
            "DESCRIPTION": schema.description, "CATEGORY": schema.category, "OUTPUT_NODE": schema.is_output_node,
            "INPUT_IS_LIST": schema.is_input_list, "NOT_IDEMPOTENT": schema.not_idempotent,
            "RETURN_TYPES": [o.io_type for o in outputs],
            "RETURN_NAMES": [o.display_name or o.io_type for o in outputs],
            "OUTPUT_IS_LIST": [o.is_output_list for o in outputs],
            "OUTPUT_TOOLTIPS": [o.tooltip or None for o in outputs],
        }
        for name, value in values.items():  # set once per class, as ComfyUI does
            if cls.__dict__.get(f"_{name}") is None:
                setattr(cls, f"_{name}", value)
        cls.SCHEMA = schema
        return schema

    @classmethod
    def INPUT_TYPES(cls, include_hidden: bool = True) -> dict[str, dict]:  # noqa: N802
        info = cls.FINALIZE_SCHEMA().get_v1_info(cls)
        if not include_hidden:
            info.input.pop("hidden", None)
        return info.input

    @classmethod
    def GET_NODE_INFO_V1(cls) -> dict[str, Any]:  # noqa: N802
        return asdict(cls.GET_SCHEMA().get_v1_info(cls))

    @classmethod
    def _normalize(cls, returned: Any) -> NodeOutput:
        if returned is None:
            return NodeOutput()
        if isinstance(returned, NodeOutput):
            return returned
        if isinstance(returned, tuple):
            return NodeOutput(*returned)
        if isinstance(returned, dict):
            return NodeOutput.from_dict(returned)
        raise Exception(f"Invalid return type from node: {type(returned)}")

    @classmethod
    def EXECUTE_NORMALIZED(cls, *args: Any, **kwargs: Any) -> NodeOutput:  # noqa: N802
        return cls._normalize(cls.execute(*args, **kwargs))

    @classmethod
    async def EXECUTE_NORMALIZED_ASYNC(cls, *args: Any, **kwargs: Any) -> NodeOutput:  # noqa: N802
        return cls._normalize(await cls.execute(*args, **kwargs))

    class _FromSchema:
        """Class attribute read from the schema on first access (ComfyUI's classproperty)."""

        def __set_name__(self, owner: type, name: str) -> None:
            self.name = name

        def __get__(self, obj: Any, owner: type) -> Any:
            if owner.__dict__.get(f"_{self.name}") is None:
                owner.GET_SCHEMA()
            return owner.__dict__[f"_{self.name}"]

    DESCRIPTION = _FromSchema()
    CATEGORY = _FromSchema()
    OUTPUT_NODE = _FromSchema()
    INPUT_IS_LIST = _FromSchema()
    NOT_IDEMPOTENT = _FromSchema()
    RETURN_TYPES = _FromSchema()
    RETURN_NAMES = _FromSchema()
    OUTPUT_IS_LIST = _FromSchema()
    OUTPUT_TOOLTIPS = _FromSchema()

    class _FunctionName:
        def __get__(self, obj: Any, owner: type) -> str:
            return "EXECUTE_NORMALIZED_ASYNC" if inspect.iscoroutinefunction(owner.execute) else "EXECUTE_NORMALIZED"

    FUNCTION = _FunctionName()
