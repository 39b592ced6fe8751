"""SRVGGNetCompact spec: ``body.K`` convs at even K, PReLU slopes at odd K."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from ...errors import CorruptModelError, InvalidParameterError
from ...netspec.base import (
    SUPER_RESOLUTION,
    ArchitectureFacts,
    ArchitectureSpec,
    StateDict,
    indices,
    shape_of,
)
from .network import ACTIVATIONS, SRVGGNetCompact

ARCH = "SRVGGNetCompact"
log = logging.getLogger(__name__)


def conv_key(index: int) -> str:
    """State-dict prefix of the ``index``-th convolution (``body`` alternates conv, activation)."""
    return f"body.{2 * index}"


def activation_key(index: int) -> str:
    """State-dict prefix of the activation after the ``index``-th convolution (PReLU slopes)."""
    return f"body.{2 * index + 1}"


def recognize(sd: StateDict) -> StateDict | None:
    if "body.0.weight" not in sd or sd["body.0.weight"].ndim != 4:
        return None
    if not all(k.startswith("body.") for k in sd) or any(".rdb" in k for k in sd):
        return None
    return sd


def hyperparameters(sd: StateDict, hints: Mapping[str, Any]) -> dict[str, Any]:
    convs = [k for k in indices(sd, r"body\.(\d+)\.weight") if sd[f"body.{k}.weight"].ndim == 4]
    slopes = [k for k in indices(sd, r"body\.(\d+)\.weight") if sd[f"body.{k}.weight"].ndim == 1]
    if convs != list(range(0, 2 * len(convs), 2)) or len(convs) < 2:
        raise CorruptModelError(
            f"SRVGGNetCompact convs sit at body indices {convs[:6]}...; expected 0, 2, 4, ... (conv, act pairs)"
        )
    num_feat, num_in_ch = shape_of(sd, "body.0.weight", ARCH, 4)[:2]
    last_out = shape_of(sd, f"body.{convs[-1]}.weight", ARCH, 4)[0]
    upscale = math.isqrt(last_out // num_in_ch) if last_out % num_in_ch == 0 else 0
    if upscale < 1 or upscale * upscale * num_in_ch != last_out:
        raise CorruptModelError(
            f"SRVGGNetCompact last conv gives {last_out} channels for {num_in_ch} input channels; "
            "expected input channels × upscale²"
        )
    if slopes:
        act_type = "prelu"
        hinted = hints.get("act_type", "prelu")
        if hinted != "prelu":
            raise InvalidParameterError(
                f"act_type {hinted!r} was asked for, but the weights hold PReLU slopes"
            )
    else:
        act_type = str(hints.get("act_type", "relu"))
        if act_type not in ACTIVATIONS or act_type == "prelu":
            raise InvalidParameterError(
                f"act_type {act_type!r} does not fit weights without PReLU slopes; use 'relu' or 'leakyrelu'"
            )
        if "act_type" not in hints:
            log.warning(
                "SRVGGNetCompact weights without PReLU slopes do not say which activation they were "
                "trained with; assuming 'relu'. Pass hyperparameters={'act_type': 'leakyrelu'} if needed."
            )
    return {
        "num_in_ch": num_in_ch,
        "num_out_ch": num_in_ch,
        "num_feat": num_feat,
        "num_conv": len(convs) - 2,
        "upscale": upscale,
        "act_type": act_type,
    }


def build(hp: Mapping[str, Any]) -> SRVGGNetCompact:
    return SRVGGNetCompact(**hp)


def facts(hp: Mapping[str, Any]) -> ArchitectureFacts:
    nf, up = hp["num_feat"], hp["upscale"]
    macs = 9 * (hp["num_in_ch"] * nf + hp["num_conv"] * nf * nf + nf * hp["num_out_ch"] * up * up)
    return ArchitectureFacts(
        scale=up,
        input_channels=hp["num_in_ch"],
        output_channels=hp["num_out_ch"],
        multiple_of=1,
        minimum_size=1,
        receptive_field=hp["num_conv"] + 2,
        macs_per_pixel=macs,
        supports_fp16=True,
        supports_bf16=True,
    )


SRVGG_SPEC = ArchitectureSpec(
    id=ARCH,
    purpose=SUPER_RESOLUTION,
    recognize=recognize,
    hyperparameters=hyperparameters,
    build=build,
    facts=facts,
    summary=("PReLU, ReLU or LeakyReLU activations, any depth, width and scale"),
)
