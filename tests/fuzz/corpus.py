"""Seed inputs for the fuzz targets, generated (tiny models and images), plus the saved corpus.

``tests/data/fuzz/<target>/`` holds small files: seeds worth keeping and every input that once
made a target fail (named ``regress-*``), so each finding stays a regression test.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

CORPUS_ROOT = Path(__file__).resolve().parents[1] / "data" / "fuzz"


def saved_corpus(target: str) -> list[tuple[str, bytes]]:
    folder = CORPUS_ROOT / target
    if not folder.is_dir():
        return []
    return [(p.name, p.read_bytes()) for p in sorted(folder.iterdir()) if p.is_file()]


def generated_seeds(target: str) -> list[bytes]:
    """Valid inputs made now, so mutations start from deep inside each parser."""
    if target == "ncnn":
        return _ncnn_seeds()
    if target == "pth":
        return _pth_seeds()
    if target == "safetensors":
        return _safetensors_seeds()
    if target == "image":
        return _image_seeds()
    if target == "exif":
        from support.photo_files import camera_exif

        return [camera_exif(6, 64, 40)[6:], camera_exif(1, 8, 8)[6:]]
    raise KeyError(target)


def _ncnn_seeds() -> list[bytes]:
    from support.ncnn_writer import write_ncnn
    from support.tiny_models import tiny_rrdb, tiny_srvgg

    from .targets import pack_ncnn

    seeds = []
    with tempfile.TemporaryDirectory() as folder:
        for index, (net, fp16) in enumerate(
            [
                (tiny_srvgg(num_feat=4, num_conv=2), True),
                (tiny_rrdb(num_feat=4, num_block=1, num_grow_ch=2), False),
            ]
        ):
            param, weights = Path(folder) / f"{index}.param", Path(folder) / f"{index}.bin"
            write_ncnn(net, param, weights, fp16=fp16)
            seeds.append(pack_ncnn(param.read_bytes(), weights.read_bytes()))
    return seeds


def _pth_seeds() -> list[bytes]:
    import torch

    from support.tiny_models import tiny_srvgg

    seeds = []
    for wrap in (False, True):
        state = tiny_srvgg(num_feat=4, num_conv=2).state_dict()
        buffer = io.BytesIO()
        torch.save({"params_ema": state} if wrap else state, buffer)
        seeds.append(buffer.getvalue())
    return seeds


def _safetensors_seeds() -> list[bytes]:
    from safetensors.torch import save

    from support.tiny_models import tiny_srvgg

    from .targets import pack_safetensors_metadata

    state = {k: v.contiguous() for k, v in tiny_srvgg(num_feat=4, num_conv=2).state_dict().items()}
    raw = save(state, metadata={"format": "realesrgan-kit", "architecture": "srvgg", "scale": "4"})
    structured = pack_safetensors_metadata(
        b"",
        {
            "format": "realesrgan-kit",
            "architecture": "srvgg",
            "hyperparameters": '{"act_type": "prelu", "num_conv": 1, "num_feat": 4, "upscale": 4}',
            "scale": "4",
            "output_rescale": "0.5",
        },
    )
    return [raw, structured]


def _image_seeds() -> list[bytes]:
    import numpy as np

    from realesrgan_kit.core.errors import InvalidParameterError
    from realesrgan_kit.core.imagefile import ImageMetadata, encode_image_file
    from support.photo_files import camera_exif, comfy_png, icc_profile, pattern, save

    small = pattern(6, 5)
    meta = ImageMetadata(
        icc_profile=icc_profile(), exif=camera_exif(6, 5, 6)[6:], xmp=b"<x/>", dpi=(72.0, 72.0)
    )
    seeds = [
        comfy_png(pattern(4, 4, 4)),
        encode_image_file(small, ".png", meta),
        encode_image_file(small, ".jpg", meta),
        encode_image_file(pattern(4, 4, 4), ".webp", meta),
        encode_image_file(pattern(3, 4, 3, np.float32), ".tif", meta),
        save(small, "BMP"),
        save(small, "JPEG", progressive=True),
    ]
    try:
        seeds.append(encode_image_file(pattern(3, 3, 3, np.float32), ".exr"))
    except InvalidParameterError:  # the EXR seed needs the optional OpenEXR package
        pass
    return seeds
