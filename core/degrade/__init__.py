"""Real-ESRGAN's second-order degradation: see what a model was trained to undo.

Flow: ``seed → sample_degradation (a record of every random choice) → apply_degradation``.
Sampling and applying are separate, so a record (or its JSON) replays byte for byte.

    from realesrgan_kit.core.degrade import degrade
    result = degrade(image, seed=7, scale=4)          # numpy RGB(A)/gray, uint8/uint16/float
    result.image, result.record.to_dict()

Output size: floor(H / scale) × floor(W / scale) (``output_size``). Alpha, gray and 16-bit
handling: see ``planes``. The parts (kernels, filter2d, usm_sharpen, resize, noise, JPEG) are
usable alone.
"""

from __future__ import annotations

from .apply_record import DegradeResult, apply_degradation, degrade, derive_seed
from .filters import filter2d, usm_sharpen
from .jpeg import jpeg_compress
from .kernels import (
    KERNEL_PAD,
    KERNEL_TYPES,
    MIXED_KERNEL_TYPES,
    gaussian_kernel,
    generalized_gaussian_kernel,
    pad_kernel,
    plateau_kernel,
    sinc_kernel,
)
from .noise import add_gaussian_noise, add_poisson_noise, gaussian_noise, poisson_noise
from .pairs import aligned_crop_boxes, paired_crops
from .record import (
    FINAL_ORDERS,
    STEPS,
    DegradationRecord,
    KernelChoice,
    NoiseChoice,
    ResizeChoice,
    SharpenChoice,
)
from .resize_modes import RESIZE_MODES, resize
from .sampling import output_size, sample_degradation
from .settings import PRESETS, DegradationSettings, parse_setting, settings_from

__all__ = [
    "STEPS",
    "PRESETS",
    "DegradationSettings",
    "DegradationRecord",
    "DegradeResult",
    "sample_degradation",
    "apply_degradation",
    "degrade",
    "derive_seed",
    "output_size",
    "settings_from",
    "parse_setting",
    "FINAL_ORDERS",
    "SharpenChoice",
    "KernelChoice",
    "ResizeChoice",
    "NoiseChoice",
    "KERNEL_PAD",
    "KERNEL_TYPES",
    "MIXED_KERNEL_TYPES",
    "gaussian_kernel",
    "generalized_gaussian_kernel",
    "plateau_kernel",
    "sinc_kernel",
    "pad_kernel",
    "filter2d",
    "usm_sharpen",
    "RESIZE_MODES",
    "resize",
    "gaussian_noise",
    "poisson_noise",
    "add_gaussian_noise",
    "add_poisson_noise",
    "jpeg_compress",
    "aligned_crop_boxes",
    "paired_crops",
]
