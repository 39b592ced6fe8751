"""UNetDiscriminatorSN spec: ``conv0`` plus spectral-norm ``convN.weight_orig`` tensors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...netspec.base import DISCRIMINATOR, ArchitectureFacts, ArchitectureSpec, StateDict, shape_of
from .network import UNetDiscriminatorSN

ARCH = "UNetDiscriminatorSN"


def recognize(sd: StateDict) -> StateDict | None:
    if "conv0.weight" in sd and "conv1.weight_orig" in sd and "conv9.weight" in sd:
        return sd
    return None


def hyperparameters(sd: StateDict, hints: Mapping[str, Any]) -> dict[str, Any]:
    num_feat, num_in_ch = shape_of(sd, "conv0.weight", ARCH, 4)[:2]
    # The skip connections have no weights; every released discriminator uses them.
    return {
        "num_in_ch": num_in_ch,
        "num_feat": num_feat,
        "skip_connection": bool(hints.get("skip_connection", True)),
    }


def build(hp: Mapping[str, Any]) -> UNetDiscriminatorSN:
    return UNetDiscriminatorSN(**hp)


def facts(hp: Mapping[str, Any]) -> ArchitectureFacts:
    nf, c = hp["num_feat"], hp["num_in_ch"]
    # Per input pixel: conv0 at full size, conv1..3 (4×4, stride 2) at 1/4, 1/16, 1/64 of it,
    # conv4..6 after each bilinear ×2 at 1/16, 1/4, 1, then conv7..9 at full size.
    macs = (
        9 * c * nf
        + 16 * (nf * 2 * nf / 4 + 2 * nf * 4 * nf / 16 + 4 * nf * 8 * nf / 64)
        + 9 * (8 * nf * 4 * nf / 16 + 4 * nf * 2 * nf / 4 + 2 * nf * nf)
        + 9 * (2 * nf * nf + nf)
    )
    return ArchitectureFacts(
        scale=1,
        input_channels=c,
        output_channels=1,
        multiple_of=8,
        minimum_size=8,
        # 1 + 2 + 4 + 8 down, bilinear 8 + conv4 4 + bilinear 4 + conv5 2 + bilinear 2, 4 more convs
        receptive_field=40,
        macs_per_pixel=round(macs),
        supports_fp16=True,
        supports_bf16=True,
    )


UNET_DISCRIMINATOR_SPEC = ArchitectureSpec(
    id=ARCH,
    purpose=DISCRIMINATOR,
    recognize=recognize,
    hyperparameters=hyperparameters,
    build=build,
    facts=facts,
    summary=("the U-Net discriminator with spectral norm that Real-ESRGAN trains against"),
)
