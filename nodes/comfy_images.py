"""ComfyUI IMAGE / MASK conventions, checked and converted at the node boundary.

IMAGE is a float tensor [B, H, W, C] in 0..1 (C = 3, newer core also passes 4 with straight
alpha). MASK is [B, H, W] or [H, W] where 1 marks *transparent* pixels: core's Load Image
outputs ``1 - alpha`` and gives an all-zero 64×64 mask for images without alpha, and core's
Join Image with Alpha adds ``1 - mask`` as alpha. We follow the same convention both ways.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from ..core.errors import InvalidImageError

__all__ = ["check_image", "attach_mask_as_alpha", "split_alpha", "to_numpy", "from_numpy", "batch_pairs"]

log = logging.getLogger(__name__)


def check_image(image: object, what: str = "image") -> torch.Tensor:
    """The IMAGE tensor itself, or an InvalidImageError saying what came instead."""
    if not isinstance(image, torch.Tensor):
        raise InvalidImageError(
            f"{what}: expected a ComfyUI IMAGE (a torch tensor [batch, height, width, channels]), "
            f"got {type(image).__name__}; connect an IMAGE output (Load Image, VAE Decode) to it"
        )
    if image.ndim != 4 or image.shape[-1] not in (3, 4) or image.numel() == 0:
        raise InvalidImageError(
            f"{what}: expected an IMAGE of shape [batch, height, width, 3 or 4], got {tuple(image.shape)}"
        )
    if not image.is_floating_point():
        raise InvalidImageError(f"{what}: expected float pixels in 0..1, got dtype {image.dtype}")
    return image


def _as_batch_mask(mask: torch.Tensor) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor) or mask.ndim not in (2, 3):
        shape = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise InvalidImageError(f"mask: expected a ComfyUI MASK [batch, height, width], got {shape}")
    return mask if mask.ndim == 3 else mask.unsqueeze(0)


def attach_mask_as_alpha(image: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, bool]:
    """The image with ``1 - mask`` as its alpha channel, and whether the result has alpha.

    An all-zero mask means "fully opaque" (it is what Load Image gives for images without
    alpha, at 64×64 whatever the image size), so it adds nothing. A mask replaces an alpha
    channel the image already has.
    """
    has_alpha = image.shape[-1] == 4
    if mask is None:
        return image, has_alpha
    mask = _as_batch_mask(mask)
    if not bool(torch.any(mask != 0)):
        return image, has_alpha
    batch, height, width = image.shape[0], image.shape[1], image.shape[2]
    if tuple(mask.shape[-2:]) != (height, width):
        raise InvalidImageError(
            f"mask is {mask.shape[-1]}×{mask.shape[-2]} but the image is {width}×{height}; connect the MASK that came "
            "with this image (Load Image's second output) or resize the mask to the image first"
        )
    if mask.shape[0] not in (1, batch):
        raise InvalidImageError(
            f"mask batch has {mask.shape[0]} masks for {batch} images; give one mask, or one per image"
        )
    if has_alpha:
        log.info("the mask replaces the alpha channel the image already had")
    alpha = (
        (1.0 - mask.to(device=image.device, dtype=image.dtype)).clamp(0.0, 1.0).expand(batch, height, width)
    )
    return torch.cat([image[..., :3], alpha.unsqueeze(-1)], dim=-1), True


def split_alpha(
    result: torch.Tensor, had_alpha: bool, keep_alpha_channel: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """IMAGE and MASK outputs from an upscaled [B, H, W, C] result, without copying the batch.

    The MASK is ``1 - alpha``; without alpha it is all zeros (opaque) as a broadcast view that
    takes no memory (a materialised one would add a third to an RGB batch). The IMAGE keeps its
    alpha channel only when the input IMAGE itself had four channels; otherwise it is a view of
    the colour channels: strided, like the planar IMAGE core's "Upscale Image (using Model)"
    returns, which every node reads through torch or ``numpy()`` without caring about layout.
    """
    batch, height, width = result.shape[0], result.shape[1], result.shape[2]
    if had_alpha and result.shape[-1] == 4:
        mask = (1.0 - result[..., 3]).clamp_(0.0, 1.0)  # one [B, H, W] plane, contiguous
        image = result if keep_alpha_channel else result[..., :3]
    else:
        mask = torch.zeros((), dtype=torch.float32, device=result.device).expand(batch, height, width)
        image = result
    return image, mask


def to_numpy(image: torch.Tensor, index: int) -> np.ndarray:
    """One RGB image of a batch as float32 H×W×3 in 0..1 (alpha dropped, out-of-range clipped)."""
    item = image[index, ..., :3].detach().to(device="cpu", dtype=torch.float32)
    return np.clip(item.numpy(), 0.0, 1.0)


def from_numpy(images: list[np.ndarray]) -> torch.Tensor:
    """A batch of equal-size float H×W×3 images as an IMAGE tensor."""
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise InvalidImageError(f"images of one batch must share a size, got {sorted(shapes)}")
    return torch.from_numpy(np.stack([np.asarray(im, dtype=np.float32) for im in images]))


def batch_pairs(first: int, second: int, what: str) -> list[tuple[int, int]]:
    """Index pairs for two batches: equal lengths pair up, a batch of one is repeated."""
    if first == second:
        return [(i, i) for i in range(first)]
    if first == 1:
        return [(0, j) for j in range(second)]
    if second == 1:
        return [(i, 0) for i in range(first)]
    raise InvalidImageError(
        f"{what}: batches of {first} and {second} images cannot be paired; give equal batches or one image"
    )
