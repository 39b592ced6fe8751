"""Weights → :class:`ModelDescriptor`: read any format, canonicalise, detect, build."""

from ..netspec.policy import EnginePolicy, default_policy
from .descriptor import DISCRIMINATOR, SUPER_RESOLUTION, ModelDescriptor, ModelInput, SizeRequirements
from .formats import WEIGHT_FORMATS, read_weights, supported_formats_text
from .interpolate import interpolate_models
from .loader import converted_cache_dir, load_model
from .modellike import SizeRequirementsLike, UpscaleModelLike
from .registry import ARCHITECTURES, build_descriptor, detect, get_spec, supported_architectures_text
from .save import save_safetensors

__all__ = [
    "load_model",
    "converted_cache_dir",
    "ModelDescriptor",
    "SizeRequirements",
    "SizeRequirementsLike",
    "UpscaleModelLike",
    "ModelInput",
    "EnginePolicy",
    "default_policy",
    "SUPER_RESOLUTION",
    "DISCRIMINATOR",
    "read_weights",
    "interpolate_models",
    "ARCHITECTURES",
    "build_descriptor",
    "detect",
    "get_spec",
    "supported_architectures_text",
    "WEIGHT_FORMATS",
    "supported_formats_text",
    "save_safetensors",
]
