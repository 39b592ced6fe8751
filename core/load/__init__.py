"""Weights → :class:`ModelDescriptor`: read any format, canonicalise, detect, build."""

from .api import converted_cache_dir, load_model
from .descriptor import DISCRIMINATOR, SUPER_RESOLUTION, ModelDescriptor, SizeRequirements
from .formats import read_weights
from .interpolate import interpolate_models
from .policy import EnginePolicy, default_policy
from .registry import ARCHITECTURES, build_descriptor, detect, get_spec
from .save import save_safetensors

__all__ = [
    "load_model",
    "converted_cache_dir",
    "ModelDescriptor",
    "SizeRequirements",
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
    "save_safetensors",
]
