"""Any image a user has ⇄ float32 CHW tensors in 0..1, and a record to go back exactly.

Accepted: numpy H×W or H×W×C arrays (uint8, uint16, float16/32/64; C = 1, 3 or 4; RGB order
unless ``bgr=True``, which reads and writes OpenCV's BGR/BGRA), PIL images (L, LA, RGB, RGBA,
16-bit I;16/I, float F; P, 1, CMYK and other modes are converted to RGB(A)/L and returned in
that mode), and torch float tensors [B, H, W, C] (ComfyUI's IMAGE). What goes in comes back:
the same kind, the same dtype (uint16 stays uint16 because of its dtype, whatever its pixel
values), the same channel layout (H×W stays H×W), unless alpha is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import InvalidImageError
from ..imagefile.pil import pil_to_array

__all__ = ["ImageRecord", "read_images", "to_caller_image", "assemble_output"]

log = logging.getLogger(__name__)

_NUMPY_DTYPES = (np.uint8, np.uint16, np.float16, np.float32, np.float64)


@dataclass(frozen=True)
class ImageRecord:
    """How to give the result back in the caller's form."""

    kind: str  # "numpy" | "pil" | "torch"
    dtype: Any  # numpy dtype, "uint16"/"uint8"/"float32" for PIL, torch dtype for torch
    colour_channels: int  # 1 or 3
    has_alpha: bool
    squeeze: bool  # numpy H×W input (no channel axis)
    bgr: bool
    pil_mode: str | None
    batch: int
    height: int
    width: int


def _fail_channels(shape: tuple[int, ...], what: str) -> InvalidImageError:
    return InvalidImageError(
        f"{what} has {shape[-1]} channels (shape {shape}); expected 1 (gray), 3 (RGB) or 4 (RGBA). "
        "For gray + alpha, pass a PIL 'LA' image or expand it to RGBA."
    )


def _check_size(height: int, width: int, what: str) -> None:
    if height <= 0 or width <= 0:
        raise InvalidImageError(f"{what} is empty ({height}×{width}); expected at least 1×1 pixels")


def _numpy_record(array: np.ndarray, bgr: bool) -> ImageRecord:
    if array.dtype.type not in _NUMPY_DTYPES:
        raise InvalidImageError(
            f"unsupported image dtype {array.dtype}; expected uint8, uint16 or float (0..1). "
            "Convert it first, e.g. (img / img.max()).astype(np.float32)"
        )
    if array.ndim == 2:
        squeeze, channels = True, 1
    elif array.ndim == 3:
        squeeze, channels = False, array.shape[2]
    else:
        raise InvalidImageError(f"expected an H×W or H×W×C numpy image, got shape {array.shape}")
    _check_size(array.shape[0], array.shape[1], "the image")
    if channels not in (1, 3, 4):
        raise _fail_channels(array.shape, "the image")
    return ImageRecord(
        "numpy",
        array.dtype,
        1 if channels == 1 else 3,
        channels == 4,
        squeeze,
        bgr,
        None,
        1,
        array.shape[0],
        array.shape[1],
    )


def _to_float(array: np.ndarray) -> torch.Tensor:
    """H×W×C numpy → float32 torch, 0..1 by the dtype's range (a fresh tensor)."""
    if array.dtype in (np.uint8, np.uint16):  # astype copies, so read-only arrays (PIL) are fine
        return torch.from_numpy(array.astype(np.float32)).div_(float(np.iinfo(array.dtype).max))
    t = torch.from_numpy(np.array(array, dtype=np.float32, copy=True))
    return _checked_float(t, "the image")


def _checked_float(t: torch.Tensor, what: str) -> torch.Tensor:
    finite = torch.isfinite(t)
    if not bool(finite.all()):
        bad = int((~finite).sum())
        raise InvalidImageError(
            f"{what} has {bad} NaN or infinite pixel values; expected finite values in 0..1"
        )
    lo, hi = float(t.min()), float(t.max())
    if lo < -1e-3 or hi > 1.001:
        log.warning(
            "float pixel values span %.3g..%.3g; the network expects 0..1, so they are clipped", lo, hi
        )
    return t.clamp_(0.0, 1.0)


def _hwc_to_chw(t: torch.Tensor, record: ImageRecord) -> torch.Tensor:
    if t.dim() == 2:
        t = t[:, :, None]
    if record.bgr and t.shape[2] >= 3:
        order = [2, 1, 0] + ([3] if t.shape[2] == 4 else [])
        t = t[:, :, order]
    return t.permute(2, 0, 1).contiguous()


def read_images(image: Any, *, bgr: bool = False) -> tuple[ImageRecord, Iterator[torch.Tensor]]:
    """The record and an iterator of float32 [C, H, W] tensors in 0..1 (RGB(A) order).

    Batches are yielded one image at a time so only one float copy exists at once.
    """
    if isinstance(image, np.ndarray):
        record = _numpy_record(image, bgr)
        return record, iter([_hwc_to_chw(_to_float(image), record)])
    if isinstance(image, torch.Tensor):
        return _read_torch(image, bgr)
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a dependency
        Image = None
    if Image is not None and isinstance(image, Image.Image):
        array, mode = pil_to_array(image)
        dtype = str(array.dtype)
        channels = 1 if array.ndim == 2 else array.shape[2]
        _check_size(array.shape[0], array.shape[1], "the image")
        if mode == "LA":
            gray, alpha = _to_float(array[:, :, 0]), _to_float(array[:, :, 1])
            chw = torch.stack([gray, alpha])
            record = ImageRecord("pil", dtype, 1, True, False, False, mode, 1, array.shape[0], array.shape[1])
            return record, iter([chw])
        record = ImageRecord(
            "pil",
            dtype,
            1 if channels == 1 else 3,
            channels == 4,
            False,
            False,
            mode,
            1,
            array.shape[0],
            array.shape[1],
        )
        return record, iter([_hwc_to_chw(_to_float(array), record)])
    raise InvalidImageError(
        f"unsupported image type {type(image).__name__}; expected a numpy array, a PIL image or a torch tensor [B, H, W, C]"
    )


def _read_torch(t: torch.Tensor, bgr: bool) -> tuple[ImageRecord, Iterator[torch.Tensor]]:
    if not t.is_floating_point():
        raise InvalidImageError(
            f"torch images must be float tensors in 0..1 ([B, H, W, C]); got dtype {t.dtype}"
        )
    if t.dim() != 4:
        raise InvalidImageError(
            f"torch images must be [B, H, W, C] (ComfyUI IMAGE); got shape {tuple(t.shape)}"
        )
    batch, height, width, channels = t.shape
    if batch == 0:
        raise InvalidImageError("the image batch is empty (B = 0)")
    _check_size(height, width, "the image")
    if channels not in (1, 3, 4):
        raise _fail_channels(tuple(t.shape), "the image batch")
    record = ImageRecord(
        "torch",
        torch.float32,
        1 if channels == 1 else 3,
        channels == 4,
        False,
        bgr,
        None,
        batch,
        height,
        width,
    )

    def frames() -> Iterator[torch.Tensor]:
        for index in range(batch):
            frame = _checked_float(
                t[index].detach().to("cpu", torch.float32, copy=True), f"image {index} of the batch"
            )
            yield _hwc_to_chw(frame, record)

    return record, frames()


def _quantize(hwc: torch.Tensor, dtype: Any) -> np.ndarray:
    """float32 H×W×C in 0..1 → numpy of ``dtype``, converted in row chunks (small temporaries)."""
    np_dtype = np.dtype(dtype)
    out = np.empty(tuple(hwc.shape), dtype=np_dtype)
    rows = max(1, (8 << 20) // max(1, hwc.shape[1] * hwc.shape[2] * 4))
    peak = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(np_dtype)
    target = torch.from_numpy(out)
    for top in range(0, hwc.shape[0], rows):
        chunk = hwc[top : top + rows].clamp(0.0, 1.0)
        if peak is not None:
            chunk = chunk.mul_(peak).round_()
        target[top : top + rows] = chunk.to(target.dtype) if np_dtype != np.float16 else chunk.half()
    return out


def _channel_order(hwc: torch.Tensor, bgr: bool) -> torch.Tensor:
    if bgr and hwc.shape[2] >= 3:
        return hwc[:, :, [2, 1, 0] + ([3] if hwc.shape[2] == 4 else [])]
    return hwc


def to_caller_image(hwc: torch.Tensor, record: ImageRecord) -> Any:
    """One float32 H×W×C result → the caller's kind (not used for torch batches)."""
    channels = hwc.shape[2]
    if record.kind == "numpy":
        array = _quantize(_channel_order(hwc, record.bgr), record.dtype)
        return array[:, :, 0] if record.squeeze and channels == 1 else array
    from PIL import Image

    array = _quantize(hwc, {"uint8": np.uint8, "uint16": np.uint16, "float32": np.float32}[record.dtype])
    if channels == 1:
        plane = array[:, :, 0]
        if record.pil_mode == "I":  # Pillow's int32 mode for 16-bit PNGs
            plane = plane.astype(np.int32)
        return Image.fromarray(plane)  # uint8 → L, uint16 → I;16, int32 → I, float32 → F
    return Image.fromarray(array)  # H×W×2 → LA, ×3 → RGB, ×4 → RGBA (uint8)


def assemble_output(record: ImageRecord, frames: torch.Tensor) -> Any:
    """Torch batches: the already preallocated [B, H, W, C] float32 tensor, in the caller's channel order."""
    if record.bgr:
        return _channel_order_batch(frames)
    return frames


def _channel_order_batch(batch: torch.Tensor) -> torch.Tensor:
    if batch.shape[-1] >= 3:
        order = [2, 1, 0] + ([3] if batch.shape[-1] == 4 else [])
        return batch[..., order].contiguous()
    return batch
