"""Fine-tuning Real-ESRGAN generators: the Net stage (L1) and the GAN stage (L1 + perceptual +
GAN against the U-Net discriminator), pure PyTorch.

    from realesrgan_kit import load_model
    from realesrgan_kit.core.train import TrainSettings, finetune

    result = finetune(
        load_model("realesr-animevideov3"),
        "runs/comics",
        hr_folder="my_comics/",  # degraded on the fly; or pairs="pairs/" (degrade --pairs)
        settings=TrainSettings(stage="net", iterations=2000, batch_size=8, patch_size=128),
    )
    result.model_path  # runs/comics/model.safetensors: load_model, the CLI, ComfyUI, the tuner

Flow: data (``data``, ``pool``: seeded samples, pair pool) → loop (``trainer``: losses,
optimisers, EMA, autocast) → checkpoints (``checkpoint``, ``run_folder``: safetensors + JSON,
resume) → export (a model file). VGG19 weights for the perceptual loss: ``vgg``.
"""

from __future__ import annotations

from .finetune_settings import (
    EXPORT_CHOICES,
    OFFICIAL_PERCEPTUAL_LAYERS,
    PERCEPTUAL_CHOICES,
    RESUMABLE_FIELDS,
    STAGES,
    TrainSettings,
)
from .trainer import (
    MODEL_FILE,
    TrainProgress,
    TrainResult,
    ValidationReport,
    export_generator,
    export_run,
    finetune,
    resolve_training_precision,
)

__all__ = [
    "TrainSettings",
    "STAGES",
    "PERCEPTUAL_CHOICES",
    "EXPORT_CHOICES",
    "OFFICIAL_PERCEPTUAL_LAYERS",
    "RESUMABLE_FIELDS",
    "finetune",
    "TrainProgress",
    "TrainResult",
    "ValidationReport",
    "export_generator",
    "export_run",
    "resolve_training_precision",
    "MODEL_FILE",
]
