"""Compare node: PSNR and SSIM between two IMAGEs, as numbers and as text."""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch

from ..core.errors import InvalidImageError, InvalidParameterError
from ..core.metrics import psnr, ssim
from .comfy_images import batch_pairs, check_image, to_numpy
from .node_spec import NodeResult

__all__ = ["SIZE_MISMATCH", "compare_node"]

SIZE_MISMATCH = ("error", "crop to common", "resize image to reference")
# Cropping is meant for the few pixels that rounding loses in degrade → upscale (179 px → 44 →
# 176); beyond this share of a side it would compare different content.
_MAX_CROP_LOSS = 0.1


def _size(a: np.ndarray) -> str:
    return f"{a.shape[1]}×{a.shape[0]}"


def _match_sizes(reference: np.ndarray, image: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray]:
    if reference.shape == image.shape:
        return reference, image
    if mode == "crop to common":
        height = min(reference.shape[0], image.shape[0])
        width = min(reference.shape[1], image.shape[1])
        if height < (1 - _MAX_CROP_LOSS) * max(reference.shape[0], image.shape[0]) or width < (
            1 - _MAX_CROP_LOSS
        ) * max(reference.shape[1], image.shape[1]):
            raise InvalidImageError(
                f"reference is {_size(reference)} and image is {_size(image)}: too different to crop to a common "
                "size (that would compare different content); upscale to the reference's size, or set "
                "size_mismatch to 'resize image to reference'"
            )
        return reference[:height, :width], image[:height, :width]
    if mode == "resize image to reference":
        shrinking = image.shape[0] > reference.shape[0]
        resized = cv2.resize(
            image,
            (reference.shape[1], reference.shape[0]),
            interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC,
        )
        return reference, np.clip(resized, 0.0, 1.0)
    raise InvalidImageError(
        f"reference is {_size(reference)} but image is {_size(image)}; compare images of one size, or set size_mismatch "
        "to 'crop to common' (a few pixels lost to rounding, e.g. degrade → upscale) or 'resize image to reference'"
    )


def _format_psnr(value: float) -> str:
    return "inf (identical)" if math.isinf(value) else f"{value:.2f} dB"


def compare_node(
    reference: torch.Tensor, image: torch.Tensor, crop_border: int = 0, size_mismatch: str = "error"
) -> NodeResult:
    reference = check_image(reference, "reference")
    image = check_image(image, "image")
    if size_mismatch not in SIZE_MISMATCH:
        raise InvalidParameterError(
            f"size_mismatch must be one of {', '.join(SIZE_MISMATCH)}; got {size_mismatch!r}"
        )
    if crop_border < 0:
        raise InvalidParameterError(f"crop_border must be 0 or more, got {crop_border}")
    scores: list[tuple[float, float]] = []
    for i, j in batch_pairs(reference.shape[0], image.shape[0], "reference and image"):
        a, b = _match_sizes(to_numpy(reference, i), to_numpy(image, j), size_mismatch)
        scores.append((psnr(a, b, crop_border=crop_border), ssim(a, b, crop_border=crop_border)))
    psnr_values = [p for p, _ in scores]
    # The mean of per-image dB values, as SR benchmarks report; identical pairs make it inf.
    mean_psnr = math.inf if any(math.isinf(p) for p in psnr_values) else float(np.mean(psnr_values))
    mean_ssim = float(np.mean([s for _, s in scores]))
    lines = [f"PSNR {_format_psnr(mean_psnr)}, SSIM {mean_ssim:.4f}"]
    if len(scores) > 1:
        lines[0] = f"mean over {len(scores)} images: " + lines[0]
        lines += [f"  image {n}: PSNR {_format_psnr(p)}, SSIM {s:.4f}" for n, (p, s) in enumerate(scores)]
    if crop_border:
        lines.append(f"({crop_border} px border excluded)")
    report = "\n".join(lines)
    return NodeResult((mean_psnr, mean_ssim, report), ui={"text": [report]})
