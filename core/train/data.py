"""Training samples: HR crops degraded on the fly, or aligned pairs; validation samples.

Every sample is a pure function of (seed, sample number): which image (a seeded permutation per
epoch), where the crop sits, the flip and every degradation choice come from generators seeded
with that pair. So a DataLoader gives the same batches with 0, 1 or 8 workers, and a resumed
run needs no loader state, only the number of the next sample (and the pool's state, see
``pool``).

A sample is ``(lq, gt, gt_usm)``: float32 CHW tensors in 0..1; ``gt_usm`` is the ground truth
sharpened by Real-ESRGAN's USM, which the degradation also starts from.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from ..errors import InvalidDatasetError, InvalidImageError
from ..imagefile.arrays import image_files, read_image

__all__ = [
    "DegradedCrops",
    "AlignedPairs",
    "ValidationSample",
    "scan_hr_folder",
    "scan_pair_folder",
    "validation_samples",
    "to_rgb_float",
]

log = logging.getLogger(__name__)

_EPOCH, _SAMPLE, _VALIDATION = 1, 2, 3  # stream tags: the seed sequences never collide


def to_rgb_float(image: np.ndarray) -> np.ndarray:
    """Any image we read → float32 RGB H×W×3 in 0..1 (gray repeated, alpha dropped)."""
    peak = (
        65535.0 if image.dtype == np.uint16 else 1.0 if image.dtype == np.float32 else 255.0
    )  # float TIFF/EXR
    x = image.astype(np.float32) / peak
    if x.ndim == 2:
        x = np.repeat(x[:, :, None], 3, axis=2)
    return np.ascontiguousarray(x[:, :, :3])


def _image_size(path: Path) -> tuple[int, int]:
    """(height, width) from the file header, without decoding the pixels."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            width, height = im.size
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise InvalidDatasetError(
            f"{path} is not a readable image ({exc}); remove it from the folder"
        ) from exc
    return height, width


def _list_images(folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise InvalidDatasetError(f"the {what} folder {folder} does not exist or is not a folder")
    files = image_files(folder)
    if not files:
        raise InvalidDatasetError(
            f"the {what} folder {folder} holds no images (.png, .jpg, .webp, .tif, .bmp directly inside)"
        )
    return files


def scan_hr_folder(folder: str | os.PathLike[str], patch_size: int) -> list[Path]:
    """The HR images of ``folder``; each must be readable and at least ``patch_size`` on both sides."""
    files = _list_images(Path(folder), "HR")
    small = []
    for path in files:
        height, width = _image_size(path)
        if height < patch_size or width < patch_size:
            small.append(f"{path.name} ({width}×{height})")
    if small:
        raise InvalidDatasetError(
            f"{len(small)} HR image(s) in {folder} are smaller than the {patch_size}-pixel patch: "
            f"{', '.join(small[:5])}{' …' if len(small) > 5 else ''}; use a smaller --patch or larger images"
        )
    return files


def scan_pair_folder(folder: str | os.PathLike[str], scale: int, patch_size: int) -> list[tuple[Path, Path]]:
    """Aligned pairs as ``degrade --pairs DIR`` writes them: ``DIR/hr/NAME`` and ``DIR/lr/NAME``.

    Each HR image must be exactly its LR image × ``scale`` and hold a ``patch_size`` crop.
    """
    root = Path(folder)
    hr_files = _list_images(root / "hr", "pairs' hr")
    lr_dir = root / "lr"
    pairs, problems = [], []
    for hr in hr_files:
        lr = lr_dir / hr.name
        if not lr.is_file():
            problems.append(f"{hr.name}: no lr/{hr.name}")
            continue
        (hh, hw), (lh, lw) = _image_size(hr), _image_size(lr)
        if (hh, hw) != (lh * scale, lw * scale):
            problems.append(f"{hr.name}: HR {hw}×{hh} is not LR {lw}×{lh} × {scale}")
        elif hh < patch_size or hw < patch_size:
            problems.append(f"{hr.name}: HR {hw}×{hh} is smaller than the {patch_size}-pixel patch")
        else:
            pairs.append((hr, lr))
    if problems:
        raise InvalidDatasetError(
            f"{len(problems)} pair(s) in {root} cannot be used: {'; '.join(problems[:5])}"
            f"{' …' if len(problems) > 5 else ''}. Pairs must align exactly (HR = LR × the model's scale "
            f"{scale}), as `realesrgan-kit degrade HR -o LR --pairs DIR --scale {scale}` writes them"
        )
    return pairs


class _ImageCache:
    """A few decoded images per worker process: crops of one image repeat across an epoch."""

    def __init__(self, capacity: int = 16) -> None:
        self.capacity = capacity
        self.items: OrderedDict[Path, np.ndarray] = OrderedDict()

    def get(self, path: Path) -> np.ndarray:
        if path in self.items:
            self.items.move_to_end(path)
            return self.items[path]
        try:
            image = to_rgb_float(read_image(path))
        except InvalidImageError as exc:
            raise InvalidDatasetError(f"{path} could not be read during training: {exc}") from exc
        self.items[path] = image
        if len(self.items) > self.capacity:
            self.items.popitem(last=False)
        return image


class _SeededSamples(torch.utils.data.Dataset):
    """Shared by both datasets: which file, crop position and flip a sample number gets."""

    def __init__(self, count: int, seed: int, hflip: bool) -> None:
        self.count, self.seed, self.hflip = count, seed, hflip
        self._epoch: tuple[int, np.ndarray] | None = None
        self._cache = _ImageCache()

    def __len__(self) -> int:  # the loop asks for sample numbers from a sampler, never by length
        return 2**62

    def file_index(self, number: int) -> int:
        epoch, position = divmod(number, self.count)
        if self._epoch is None or self._epoch[0] != epoch:
            order = np.random.default_rng([self.seed, _EPOCH, epoch]).permutation(self.count)
            self._epoch = (epoch, order)
        return int(self._epoch[1][position])

    def rng(self, number: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, _SAMPLE, number])

    @staticmethod
    def crop(rng: np.random.Generator, height: int, width: int, size: int, step: int) -> tuple[int, int]:
        """Top-left of a crop whose position is a multiple of ``step`` (the LR grid)."""
        top = int(rng.integers(0, (height - size) // step + 1)) * step
        left = int(rng.integers(0, (width - size) // step + 1)) * step
        return top, left


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


class DegradedCrops(_SeededSamples):
    """HR crops degraded on the fly with ``core.degrade`` (Real-ESRGAN's second-order pipeline)."""

    def __init__(
        self,
        files: Sequence[Path],
        *,
        scale: int,
        patch_size: int,
        seed: int,
        hflip: bool = True,
        degradation: Any = "realesrgan",
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        from ..degrade import settings_from

        super().__init__(len(files), seed, hflip)
        self.files, self.scale, self.patch_size = list(files), scale, patch_size
        self.settings = settings_from(degradation, overrides)

    def __getitem__(self, number: int) -> tuple[Any, Any, Any]:
        from ..degrade import degrade, usm_sharpen

        rng = self.rng(number)
        image = self._cache.get(self.files[self.file_index(number)])
        p = self.patch_size
        top, left = self.crop(rng, image.shape[0], image.shape[1], p, 1)
        gt = image[top : top + p, left : left + p]
        if self.hflip and rng.random() < 0.5:
            gt = gt[:, ::-1]
        gt = np.ascontiguousarray(gt)
        seed = int(rng.integers(0, 2**53))
        s = self.settings
        gt_usm = usm_sharpen(
            gt,
            weight=s.usm_weight,
            kernel_size=s.usm_kernel_size,
            sigma=s.usm_sigma,
            threshold=s.usm_threshold,
        )
        # The pipeline's first step is this very sharpening: degrade the sharpened copy with that
        # step off (the other steps draw the same choices either way) instead of sharpening twice.
        settings: Any = self.settings  # degrade takes settings as well as a preset name
        lq = degrade(gt_usm, seed=seed, scale=self.scale, preset=settings, enabled={"sharpen": False}).image
        return _tensor(lq), _tensor(gt), _tensor(np.clip(gt_usm, 0.0, 1.0).astype(np.float32))


class AlignedPairs(_SeededSamples):
    """Random aligned crops of HR/LR pairs (the LR is used as it is; the GT is USM-sharpened too)."""

    def __init__(
        self,
        pairs: Sequence[tuple[Path, Path]],
        *,
        scale: int,
        patch_size: int,
        seed: int,
        hflip: bool = True,
        usm: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(len(pairs), seed, hflip)
        self.pairs, self.scale, self.patch_size = list(pairs), scale, patch_size
        self.usm = dict(usm or {})

    def __getitem__(self, number: int) -> tuple[Any, Any, Any]:
        from ..degrade import usm_sharpen

        rng = self.rng(number)
        hr_path, lr_path = self.pairs[self.file_index(number)]
        hr, lr = self._cache.get(hr_path), self._cache.get(lr_path)
        s, p = self.scale, self.patch_size
        top, left = self.crop(rng, hr.shape[0], hr.shape[1], p, s)
        gt = hr[top : top + p, left : left + p]
        lq = lr[top // s : (top + p) // s, left // s : (left + p) // s]
        if self.hflip and rng.random() < 0.5:
            gt, lq = gt[:, ::-1], lq[:, ::-1]
        gt = np.ascontiguousarray(gt)
        gt_usm = np.clip(usm_sharpen(gt, **self.usm), 0.0, 1.0).astype(np.float32)
        return _tensor(np.ascontiguousarray(lq)), _tensor(gt), _tensor(gt_usm)


@dataclass(frozen=True)
class ValidationSample:
    name: str
    lq: np.ndarray
    """float32 H×W×3 in 0..1."""
    gt: np.ndarray


def validation_samples(
    source: Sequence[Path] | Sequence[tuple[Path, Path]],
    *,
    scale: int,
    size: int,
    seed: int,
    count: int,
    degradation: Any = "realesrgan",
    overrides: Mapping[str, Any] | None = None,
) -> list[ValidationSample]:
    """Fixed validation samples: the centre ``size`` crop of up to ``count`` images.

    HR files are degraded with a seed derived from ``seed`` and the file name (stable when the
    folder grows); pairs are cropped as they are.
    """
    from ..degrade import degrade, derive_seed, settings_from

    settings = settings_from(degradation, overrides)
    samples = []
    for item in list(source)[:count]:
        if isinstance(item, tuple):
            hr, lr = to_rgb_float(read_image(item[0])), to_rgb_float(read_image(item[1]))
            name = item[0].name
        else:
            hr, lr, name = to_rgb_float(read_image(item)), None, item.name
        side = min(size, hr.shape[0], hr.shape[1]) // (scale * 8) * (scale * 8)  # D and unshuffle friendly
        if side < scale * 8:
            raise InvalidDatasetError(
                f"{name} is too small for a validation crop ({hr.shape[1]}×{hr.shape[0]})"
            )
        top = (hr.shape[0] - side) // 2 // scale * scale
        left = (hr.shape[1] - side) // 2 // scale * scale
        gt = np.ascontiguousarray(hr[top : top + side, left : left + side])
        if lr is None:
            lq = degrade(gt, seed=derive_seed(seed, name), scale=scale, preset=cast(Any, settings)).image
        else:
            lq = lr[top // scale : (top + side) // scale, left // scale : (left + side) // scale]
        samples.append(ValidationSample(name, np.ascontiguousarray(lq), gt))
    return samples
