"""The settings of a fine-tuning run, with Real-ESRGAN's official values as defaults.

Defaults follow Real-ESRGAN's ``train_realesrnet_x4plus.yml`` (the Net stage) and
``finetune_realesrgan_x4plus.yml`` (the GAN stage): Adam β (0.9, 0.99) without weight decay,
lr 2e-4 (Net) / 1e-4 (GAN, both networks), EMA 0.999 on the generator, batch 12, GT crops 256,
horizontal flips; L1 weight 1; perceptual loss on VGG19 features before ReLU with layer weights
conv1_2 0.1, conv2_2 0.1, conv3_4 1, conv4_4 1, conv5_4 1 (weight 1); vanilla GAN loss weight
0.1; USM-sharpened ground truth for L1 and perceptual losses, not for the GAN loss; a training
pair pool of 180 samples. The official MultiStepLR milestones sit at the end of its 1 M / 400 k
iterations, so a fine-tune shorter than that runs at a constant rate: no milestones by default.

Which fields may change on ``resume`` (they do not change the trajectory) is ``RESUMABLE_FIELDS``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Integral, Real
from types import MappingProxyType
from typing import Any

from ..errors import InvalidParameterError
from ..options import DEGRADE_PRESETS, TRAIN_PRECISIONS

__all__ = [
    "STAGES",
    "PERCEPTUAL_CHOICES",
    "EXPORT_CHOICES",
    "GT_TARGETS",
    "OFFICIAL_PERCEPTUAL_LAYERS",
    "RESUMABLE_FIELDS",
    "TrainSettings",
]

STAGES = ("net", "gan")
PERCEPTUAL_CHOICES = ("vgg19", "off")
EXPORT_CHOICES = ("ema", "raw")
GT_TARGETS = ("sharpened", "plain")
"""What the L1 and perceptual losses compare with: the USM-sharpened GT (the official recipe:
crisper output, lower PSNR against the plain image) or the plain GT (highest PSNR)."""

OFFICIAL_PERCEPTUAL_LAYERS: Mapping[str, float] = MappingProxyType(
    {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0}
)

#: Fields that only say how long to run, how often to report and how to load data: a resumed
#: run may change them and still continue the same trajectory bit for bit.
RESUMABLE_FIELDS = frozenset(
    {"iterations", "val_every", "checkpoint_every", "keep_checkpoints", "num_workers", "export"}
)


@dataclass(frozen=True)
class TrainSettings:
    """Everything that decides a run. ``None`` learning rates mean the stage's official value."""

    stage: str = "net"
    iterations: int = 1000
    batch_size: int = 12
    patch_size: int = 256
    """Side of the square ground-truth crop; the LR crop is ``patch_size / scale``."""
    lr: float | None = None
    lr_discriminator: float | None = None
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0
    lr_milestones: tuple[int, ...] = ()
    lr_gamma: float = 0.5
    ema_decay: float = 0.999
    l1_weight: float = 1.0
    perceptual: str = "vgg19"
    """``vgg19`` (needs the ImageNet weights, see ``core.train.vgg``) or ``off``. The Net stage
    never uses it."""
    perceptual_weight: float = 1.0
    perceptual_layers: Mapping[str, float] = field(default_factory=lambda: dict(OFFICIAL_PERCEPTUAL_LAYERS))
    gan_weight: float = 0.1
    l1_gt_usm: bool = True
    perceptual_gt_usm: bool = True
    gan_gt_usm: bool = False
    hflip: bool = True
    pool_size: int = 180
    """Training pair pool (0: none); rounded down to whole batches (at least one), see ``pool_samples``."""
    seed: int = 0
    degradation_preset: str = "realesrgan"
    degradation_overrides: Mapping[str, Any] = field(default_factory=dict)
    precision: str = "auto"
    num_workers: int = 0
    checkpoint_every: int = 500
    val_every: int = 100
    keep_checkpoints: int = 2
    export: str = "ema"
    """Which generator ``model.safetensors`` holds at the end: the EMA (what Real-ESRGAN ships) or raw."""

    def __post_init__(self) -> None:
        _choice("stage", self.stage, STAGES)
        _choice("perceptual", self.perceptual, PERCEPTUAL_CHOICES)
        _choice("precision", self.precision, TRAIN_PRECISIONS)
        _choice("degradation_preset", self.degradation_preset, DEGRADE_PRESETS)
        _choice("export", self.export, EXPORT_CHOICES)
        for name in ("iterations", "batch_size", "patch_size", "checkpoint_every", "val_every"):
            _integer(name, getattr(self, name), minimum=1)
        for name in ("seed", "num_workers", "pool_size", "keep_checkpoints"):
            _integer(name, getattr(self, name), minimum=0)
        for name in ("l1_weight", "perceptual_weight", "gan_weight", "weight_decay"):
            _number(name, getattr(self, name), minimum=0.0)
        for name in ("lr", "lr_discriminator"):
            value = getattr(self, name)
            if value is not None:
                _number(name, value, minimum=0.0, exclusive=True)
        if not 0.0 <= float(self.ema_decay) < 1.0:
            raise InvalidParameterError(f"ema_decay must be in [0, 1); got {self.ema_decay!r}")
        if len(self.betas) != 2 or not all(0.0 <= float(b) < 1.0 for b in self.betas):
            raise InvalidParameterError(f"betas must be two numbers in [0, 1); got {self.betas!r}")
        if self.keep_checkpoints < 1:
            raise InvalidParameterError("keep_checkpoints must be at least 1 (resume needs one)")
        for name, weight in self.perceptual_layers.items():
            _number(f"perceptual_layers[{name!r}]", weight, minimum=0.0)

    @property
    def gt_target(self) -> str:
        """``sharpened`` or ``plain``: what the L1 loss compares with (see ``GT_TARGETS``)."""
        return "sharpened" if self.l1_gt_usm else "plain"

    def with_gt_target(self, target: str) -> TrainSettings:
        """These settings with the L1 and perceptual losses against the ``target`` GT."""
        _choice("gt_target", target, GT_TARGETS)
        sharpened = target == "sharpened"
        return self.replace(l1_gt_usm=sharpened, perceptual_gt_usm=sharpened)

    @property
    def generator_lr(self) -> float:
        return float(self.lr if self.lr is not None else (2e-4 if self.stage == "net" else 1e-4))

    @property
    def discriminator_lr(self) -> float:
        return float(self.lr_discriminator if self.lr_discriminator is not None else 1e-4)

    @property
    def pool_samples(self) -> int:
        """The pool actually used: ``pool_size`` rounded down to a multiple of the batch (0 stays 0)."""
        if self.pool_size == 0:
            return 0
        return max(self.batch_size, self.pool_size // self.batch_size * self.batch_size)

    @property
    def uses_perceptual(self) -> bool:
        return self.stage == "gan" and self.perceptual != "off" and self.perceptual_weight > 0

    @property
    def uses_gan(self) -> bool:
        return self.stage == "gan"

    def lr_at(self, base: float, iteration: int) -> float:
        """MultiStepLR as a pure function of the iteration (nothing to save in a checkpoint)."""
        return base * self.lr_gamma ** sum(1 for m in self.lr_milestones if iteration >= m)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["betas"] = list(self.betas)
        data["lr_milestones"] = list(self.lr_milestones)
        data["perceptual_layers"] = dict(self.perceptual_layers)
        data["degradation_overrides"] = dict(self.degradation_overrides)
        return json.loads(json.dumps(data))  # exactly what the JSON metadata will hold

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainSettings:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidParameterError(f"unknown training settings {unknown}; known: {sorted(known)}")
        values = dict(data)
        for name in ("betas", "lr_milestones"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    def replace(self, **changes: Any) -> TrainSettings:
        return dataclasses.replace(self, **changes)


def _choice(name: str, value: object, options: tuple[str, ...]) -> None:
    if value not in options:
        raise InvalidParameterError(f"{name} must be one of {', '.join(options)}; got {value!r}")


def _integer(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise InvalidParameterError(f"{name} must be an integer ≥ {minimum}; got {value!r}")


def _number(name: str, value: object, *, minimum: float, exclusive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, Real) or value != value:
        raise InvalidParameterError(f"{name} must be a number; got {value!r}")
    if value < minimum or (exclusive and value == minimum):
        relation = ">" if exclusive else "≥"
        raise InvalidParameterError(f"{name} must be {relation} {minimum}; got {value!r}")
