"""RRDBNet spec: BasicSR keys, old ESRGAN (``model.N``) and BSRGAN (``RRDB_trunk``) layouts."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from ...errors import CorruptModelError, UnsupportedModelError
from ...netspec.base import (
    SUPER_RESOLUTION,
    ArchitectureFacts,
    ArchitectureSpec,
    StateDict,
    indices,
    shape_of,
)
from ...netspec.policy import EnginePolicy
from .fast_forward import TAIL_STRIPE_BYTES, lean_forward_for
from .network import RRDBNet, unshuffle_factor
from .quantization import split_dense_trunks

ARCH = "RRDBNet"

RRDB_TILE_PAD = 64
"""Tile pad for RRDBNet (receptive field ≈ 347 px, too large to cover): chosen by measurement
so 96-px tiles stay ≥ 55 dB from whole-image inference with the real x4plus weights on the
baboon photo (fp32, 320² crop: pad 40 → 49.9 dB, 48 → 55.0, 56 → 59.6, 64 → 68.4)."""
RRDB_BODY_MAPS = 9.0
"""Live feature maps (in units of num_feat channels) at the body's peak in the lean forward,
fitted to peak RSS measured in fresh processes (``benchmarks/calibrate_memory.py``)."""


CONVS_PER_BLOCK = 15
"""Convolutions in one RRDB: three dense blocks of five."""
CONVS_OUTSIDE_BLOCKS = 4
"""conv_first, conv_body, conv_hr and conv_last (the up-convs are counted apart)."""


def conv_names(num_block: int, num_upsample: int) -> list[str]:
    """RRDBNet's convolutions (state-dict prefixes) in forward order, the order an exported
    graph (ncnn, ONNX) lists them in: conv_first, the blocks' dense convs, conv_body, the
    up-convs, conv_hr, conv_last."""
    names = ["conv_first"]
    names += [f"body.{b}.rdb{r}.conv{c}" for b in range(num_block) for r in (1, 2, 3) for c in range(1, 6)]
    names += ["conv_body"] + [f"conv_up{n}" for n in range(1, num_upsample + 1)] + ["conv_hr", "conv_last"]
    return names


def leaky_conv_names(num_block: int, num_upsample: int) -> set[str]:
    """The convolutions followed by LeakyReLU(0.2): the first four of each dense block (the
    fifth feeds the residual), the up-convs and conv_hr."""
    leaky = {f"body.{b}.rdb{r}.conv{c}" for b in range(num_block) for r in (1, 2, 3) for c in range(1, 5)}
    return leaky | {f"conv_up{n}" for n in range(1, num_upsample + 1)} | {"conv_hr"}


LEAKY_SLOPE = 0.2
"""The negative slope of every LeakyReLU in RRDBNet."""


def _from_old_esrgan(sd: StateDict) -> StateDict:
    """``model.0`` / ``model.1.sub.I.RDBJ.convK.0`` / ``model.1.sub.N`` / ``model.{3,6,..}``."""
    blocks = indices(sd, r"model\.1\.sub\.(\d+)\.RDB1\.conv1\.0\.weight")
    num_block = len(blocks)
    top = [i for i in indices(sd, r"model\.(\d+)\.weight") if i >= 2]
    if len(top) < 3:
        raise UnsupportedModelError(
            f"old ESRGAN layout with {len(top)} convolutions after the trunk: expected ≥ 1 upsample "
            "conv, the HR conv and the last conv"
        )
    *ups, hr, last = top
    rename = {
        "model.0.": "conv_first.",
        f"model.1.sub.{num_block}.": "conv_body.",
        f"model.{hr}.": "conv_hr.",
        f"model.{last}.": "conv_last.",
    }
    rename.update({f"model.{index}.": f"conv_up{n}." for n, index in enumerate(ups, start=1)})
    out: StateDict = {}
    rdb = re.compile(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(weight|bias)")
    for key, value in sd.items():
        if m := rdb.fullmatch(key):
            out[f"body.{m[1]}.rdb{m[2]}.conv{m[3]}.{m[4]}"] = value
            continue
        prefix = next((p for p in rename if key.startswith(p)), None)
        if prefix is None:
            raise UnsupportedModelError(f"old ESRGAN layout with an unexpected tensor {key!r}")
        out[rename[prefix] + key[len(prefix) :]] = value
    return out


_BSRGAN_RENAMES = (
    (re.compile(r"RRDB_trunk\.(\d+)\.RDB(\d)\.conv(\d)\.(weight|bias)"), r"body.\1.rdb\2.conv\3.\4"),
    (re.compile(r"trunk_conv\.(weight|bias)"), r"conv_body.\1"),
    (re.compile(r"upconv(\d)\.(weight|bias)"), r"conv_up\1.\2"),
    (re.compile(r"HRconv\.(weight|bias)"), r"conv_hr.\1"),
)


def _from_bsrgan(sd: StateDict) -> StateDict:
    out: StateDict = {}
    for key, value in sd.items():
        for rx, repl in _BSRGAN_RENAMES:
            if rx.fullmatch(key):
                key = rx.sub(repl, key)
                break
        out[key] = value
    return out


def recognize(sd: StateDict) -> StateDict | None:
    if "conv_first.weight" in sd and "body.0.rdb1.conv1.weight" in sd:
        return sd
    if "model.0.weight" in sd and "model.1.sub.0.RDB1.conv1.0.weight" in sd:
        return _from_old_esrgan(sd)
    if "conv_first.weight" in sd and "RRDB_trunk.0.RDB1.conv1.weight" in sd:
        return _from_bsrgan(sd)
    return None


def hyperparameters(sd: StateDict, hints: Mapping[str, Any]) -> dict[str, Any]:
    num_feat, in_total, _, _ = shape_of(sd, "conv_first.weight", ARCH, 4)
    num_out_ch = shape_of(sd, "conv_last.weight", ARCH, 4)[0]
    num_grow_ch = shape_of(sd, "body.0.rdb1.conv1.weight", ARCH, 4)[0]
    num_block = len(indices(sd, r"body\.(\d+)\.rdb1\.conv1\.weight"))
    num_upsample = len(indices(sd, r"conv_up(\d+)\.weight"))
    for n in range(1, num_upsample + 1):
        up_shape = shape_of(sd, f"conv_up{n}.weight", ARCH, 4)
        if up_shape[:2] != (num_feat, num_feat):
            raise UnsupportedModelError(
                f"RRDBNet up-conv {n} maps {up_shape[1]}→{up_shape[0]} channels; only nearest-neighbour "
                f"upsampling with {num_feat}→{num_feat} convs is supported (not pixel-shuffle variants)"
            )
    if num_upsample == 0:
        raise UnsupportedModelError("RRDBNet weights without any conv_up layer: no upsampling network known")
    # Unshuffle factor u: conv_first sees in·u² channels. In == out for every released model, so
    # in_total/out tells u; a hint (our own metadata) settles unusual in ≠ out models.
    if "num_in_ch" in hints and in_total % int(hints["num_in_ch"]) == 0:
        u = math.isqrt(in_total // int(hints["num_in_ch"]))
    else:
        u = {1: 1, 4: 2, 16: 4}.get(in_total // num_out_ch if in_total % num_out_ch == 0 else 0, 1)
    if in_total % (u * u):
        raise CorruptModelError(f"RRDBNet conv_first takes {in_total} channels, not a multiple of {u * u}")
    scale = 2**num_upsample // u
    unshuffle_factor(scale, num_upsample)  # validates the combination
    return {
        "num_in_ch": in_total // (u * u),
        "num_out_ch": num_out_ch,
        "scale": scale,
        "num_feat": num_feat,
        "num_block": num_block,
        "num_grow_ch": num_grow_ch,
        "num_upsample": num_upsample,
    }


def build(hp: Mapping[str, Any]) -> RRDBNet:
    return RRDBNet(**hp)


def macs_per_pixel(hp: Mapping[str, Any]) -> int:
    nf, gc, nb = hp["num_feat"], hp["num_grow_ch"], hp["num_block"]
    u = unshuffle_factor(hp["scale"], hp["num_upsample"])
    n = hp["num_upsample"]
    rdb = 9 * gc * (4 * nf + 6 * gc) + 9 * nf * (nf + 4 * gc)
    feature_res = 9 * hp["num_in_ch"] * u * u * nf + 3 * nb * rdb + 9 * nf * nf
    upsampled = sum(9 * nf * nf * 4**s for s in range(1, n + 1)) + 9 * nf * (nf + hp["num_out_ch"]) * 4**n
    return round((feature_res + upsampled) / (u * u))


def facts(hp: Mapping[str, Any]) -> ArchitectureFacts:
    u = unshuffle_factor(hp["scale"], hp["num_upsample"])
    n = hp["num_upsample"]
    # One input pixel of radius per 3×3 conv at feature resolution (u input pixels each), plus
    # the convs after each ×2 upsampling, which see ever smaller neighbourhoods.
    radius = u * (2 + 15 * hp["num_block"]) + u * (sum(0.5**s for s in range(1, n + 1)) + 2 * 0.5**n)
    receptive_field = math.ceil(radius)
    return ArchitectureFacts(
        scale=hp["scale"],
        input_channels=hp["num_in_ch"],
        output_channels=hp["num_out_ch"],
        multiple_of=u,
        minimum_size=u,
        receptive_field=receptive_field,
        macs_per_pixel=macs_per_pixel(hp),
        supports_fp16=True,
        supports_bf16=True,
        policy=EnginePolicy(
            tile_pad=min(receptive_field, RRDB_TILE_PAD * u),
            # the lean forward's body maps at feature resolution (1/u² of the input pixels)
            activation_elements_per_pixel=RRDB_BODY_MAPS * hp["num_feat"] / (u * u),
            fixed_activation_bytes=3 * TAIL_STRIPE_BYTES,  # the tail's stripes
            fast_forward=lean_forward_for,
            quantization_form=split_dense_trunks,
        ),
    )


RRDBNET_SPEC = ArchitectureSpec(
    id=ARCH,
    purpose=SUPER_RESOLUTION,
    recognize=recognize,
    hyperparameters=hyperparameters,
    build=build,
    facts=facts,
    summary=(
        "ESRGAN, Real-ESRGAN (BasicSR) and BSRGAN key layouts; scale 1, 2, 4 or 8 (pixel-unshuffle "
        "for 1 and 2); any width, depth and growth channels"
    ),
)
