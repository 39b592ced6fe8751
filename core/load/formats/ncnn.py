"""ncnn ``.param`` + ``.bin`` → a canonical state dict, recognised by graph structure.

``.param`` is text: magic ``7767517``, ``layer_count blob_count``, then one layer a line
(``Type Name n_in n_out inputs... outputs... key=value ...``; a negative key marks an array
``count,v1,v2...``). ``.bin`` holds the weights in layer order: per Convolution a 4-byte tag
(``0x01306B47`` fp16, padded to 4 bytes; ``0`` fp32) then the kernel as (out, in, kh, kw), then
the bias as raw fp32; per PReLU the slopes as raw fp32. The file must be consumed exactly.

Two graphs are recognised: RRDBNet (Concat + Eltwise dense blocks, nearest ×2 Interp,
optionally a pixel-unshuffle ``Reorg`` first) and SRVGGNetCompact (conv/activation chain,
PixelShuffle, and a nearest Interp of the input added back).
"""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...archs.rrdbnet import spec as rrdbnet_spec
from ...archs.srvgg import spec as srvgg_spec
from ...errors import CorruptModelError, UnsupportedModelError
from ..statedict import StateDict

__all__ = ["NcnnLayer", "parse_param", "read_ncnn", "FP16_TAG", "FP32_TAG", "NCNN_MAGIC"]

NCNN_MAGIC = "7767517"
FP16_TAG = 0x01306B47
FP32_TAG = 0
INT8_TAG = 0x000D4B38
ARRAY_KEY_BASE = -23300
"""A key ``ARRAY_KEY_BASE - id`` holds parameter ``id`` as an array (``count,v1,v2...``)."""

# Layer parameter ids, as ncnn's layer sources number them (only the ones read here).
CONV_NUM_OUTPUT = 0
CONV_KERNEL_W = 1
CONV_DILATION_W = 2
CONV_STRIDE_W = 3
CONV_PAD_LEFT = 4
CONV_BIAS_TERM = 5
CONV_WEIGHT_DATA_SIZE = 6
CONV_ACTIVATION_TYPE = 9
CONV_ACTIVATION_PARAMS = 10  # an array: the leaky slope for ACT_LEAKY
CONV_KERNEL_H = 11  # defaults to the kernel width
PRELU_NUM_SLOPE = 0
RELU_SLOPE = 0  # 0: plain ReLU, otherwise the leaky slope
INTERP_RESIZE_TYPE = 0
INTERP_HEIGHT_SCALE = 1
PIXELSHUFFLE_UPSCALE_FACTOR = 0
REORG_STRIDE = 0
REORG_MODE = 1

# Values of those parameters.
ACT_NONE, ACT_RELU, ACT_LEAKY = 0, 1, 2  # CONV_ACTIVATION_TYPE
INTERP_NEAREST = 1  # INTERP_RESIZE_TYPE
REORG_PYTORCH_ORDER = 1  # REORG_MODE: channel order of PyTorch's pixel_unshuffle
WEIGHTED_TYPES = {"Convolution", "PReLU"}
KNOWN_WEIGHTLESS = {
    "Input",
    "Split",
    "Concat",
    "Eltwise",
    "BinaryOp",
    "Interp",
    "PixelShuffle",
    "Reorg",
    "ReLU",
}


@dataclass
class NcnnLayer:
    type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, Any]
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)

    def int_param(self, key: int, default: int = 0) -> int:
        """Integer parameter ``key`` (one of the ``*_`` ids above), ``default`` when absent."""
        return int(self.params.get(key, default))

    def float_param(self, key: int, default: float = 0.0) -> float:
        return float(self.params.get(key, default))

    def float_array(self, key: int) -> list[float]:
        """Array parameter ``key`` (stored under ``ARRAY_KEY_BASE - key``), empty when absent."""
        value = self.params.get(ARRAY_KEY_BASE - key, [])
        return [float(v) for v in value]


def _parse_value(text: str, is_array: bool) -> Any:
    def scalar(t: str) -> int | float:
        return float(t) if any(c in t for c in ".eE") else int(t)

    if is_array:
        parts = text.split(",")
        count = int(parts[0])
        items = [scalar(p) for p in parts[1:]]
        if len(items) != count:
            raise ValueError(f"array says {count} items but holds {len(items)}")
        return items
    return scalar(text)


def parse_param(text: str, *, source: str = "the .param file") -> list[NcnnLayer]:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0] != NCNN_MAGIC:
        raise CorruptModelError(f"{source} does not start with the ncnn magic {NCNN_MAGIC}")
    try:
        layer_count, _blob_count = (int(v) for v in lines[1].split())
    except (IndexError, ValueError) as exc:
        raise CorruptModelError(f"{source}: line 2 must be 'layer_count blob_count'") from exc
    body = lines[2:]
    if len(body) != layer_count:
        raise CorruptModelError(f"{source} declares {layer_count} layers but lists {len(body)}")
    layers = []
    for number, line in enumerate(body, start=3):
        tokens = line.split()
        try:
            ltype, name, n_in, n_out = tokens[0], tokens[1], int(tokens[2]), int(tokens[3])
            inputs = tokens[4 : 4 + n_in]
            outputs = tokens[4 + n_in : 4 + n_in + n_out]
            if len(inputs) != n_in or len(outputs) != n_out:
                raise ValueError("fewer blob names than declared")
            params: dict[int, Any] = {}
            for pair in tokens[4 + n_in + n_out :]:
                key_text, value_text = pair.split("=", 1)
                key = int(key_text)
                params[key] = _parse_value(value_text, is_array=key <= ARRAY_KEY_BASE)
        except (IndexError, ValueError) as exc:
            raise CorruptModelError(
                f"{source} line {number} is not a valid ncnn layer: {line[:120]!r} ({exc})"
            ) from exc
        layers.append(NcnnLayer(ltype, name, inputs, outputs, params))
    return layers


class _BinReader:
    def __init__(self, data: bytes, source: str) -> None:
        self.data, self.offset, self.source = data, 0, source

    def take(self, size: int, what: str) -> bytes:
        if self.offset + size > len(self.data):
            raise CorruptModelError(
                f"{self.source} is truncated or belongs to another .param: {what} needs {size} bytes at "
                f"offset {self.offset}, but the file has {len(self.data)} bytes"
            )
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def fp32(self, count: int, what: str) -> np.ndarray:
        return np.frombuffer(self.take(4 * count, what), dtype="<f4").copy()

    def tagged(self, count: int, what: str) -> np.ndarray:
        (tag,) = struct.unpack("<I", self.take(4, f"{what} tag"))
        if tag == FP16_TAG:
            values = np.frombuffer(self.take(2 * count, what), dtype="<f2").astype(np.float32)
            self.take((-2 * count) % 4, f"{what} padding")
            return values
        if tag == FP32_TAG:
            return self.fp32(count, what)
        if tag == INT8_TAG:
            raise UnsupportedModelError(
                f"{self.source}: {what} is int8-quantised; only fp16 and fp32 ncnn weights are supported"
            )
        raise CorruptModelError(
            f"{self.source}: {what} has the unknown storage tag 0x{tag:08X} at offset {self.offset - 4}; "
            "the .bin does not belong to this .param or is damaged"
        )


def _read_tensors(layers: list[NcnnLayer], data: bytes, source: str) -> None:
    reader = _BinReader(data, source)
    for layer in layers:
        if layer.type not in WEIGHTED_TYPES | KNOWN_WEIGHTLESS:
            raise UnsupportedModelError(
                f"ncnn layer type {layer.type!r} ({layer.name}) is not part of a Real-ESRGAN graph; "
                "supported graphs are RRDBNet and SRVGGNetCompact"
            )
        if layer.type == "Convolution":
            out, kw = layer.int_param(CONV_NUM_OUTPUT), layer.int_param(CONV_KERNEL_W)
            kh, count = layer.int_param(CONV_KERNEL_H, kw), layer.int_param(CONV_WEIGHT_DATA_SIZE)
            if out <= 0 or kw <= 0 or count <= 0 or count % (out * kw * kh):
                raise CorruptModelError(
                    f"{source}: convolution {layer.name} has inconsistent sizes {layer.params}"
                )
            weight = reader.tagged(count, f"weights of {layer.name}")
            layer.tensors["weight"] = torch.from_numpy(weight.reshape(out, count // (out * kh * kw), kh, kw))
            if layer.int_param(CONV_BIAS_TERM):
                layer.tensors["bias"] = torch.from_numpy(reader.fp32(out, f"bias of {layer.name}"))
        elif layer.type == "PReLU":
            layer.tensors["weight"] = torch.from_numpy(
                reader.fp32(layer.int_param(PRELU_NUM_SLOPE), f"slopes of {layer.name}")
            )
    if reader.offset != len(data):
        raise CorruptModelError(
            f"{source} has {len(data) - reader.offset} bytes left after the last layer's weights: "
            "the .bin does not belong to this .param"
        )


def _source_of(layers: list[NcnnLayer]) -> dict[str, str]:
    """Map every blob to the blob it copies (Split outputs are aliases of their input)."""
    alias: dict[str, str] = {}
    for layer in layers:
        if layer.type == "Split":
            for out in layer.outputs:
                alias[out] = alias.get(layer.inputs[0], layer.inputs[0])
    return alias


def _conv_activation(layer: NcnnLayer) -> tuple[int, float]:
    act = layer.int_param(CONV_ACTIVATION_TYPE)
    params = layer.float_array(CONV_ACTIVATION_PARAMS)
    return act, (params[0] if act == ACT_LEAKY and params else 0.0)


def _check_conv3(convs: list[NcnnLayer], source: str) -> None:
    for conv in convs:
        kw = conv.int_param(CONV_KERNEL_W)
        kh = conv.int_param(CONV_KERNEL_H, kw)
        if (
            (kw, kh) != (3, 3)
            or conv.int_param(CONV_PAD_LEFT) != 1
            or conv.int_param(CONV_STRIDE_W, 1) != 1
            or conv.int_param(CONV_DILATION_W, 1) != 1
            or not conv.int_param(CONV_BIAS_TERM)
        ):
            raise UnsupportedModelError(
                f"{source}: convolution {conv.name} is not a biased 3×3, stride 1, pad 1 conv; "
                "not a Real-ESRGAN graph"
            )


def _srvgg(layers: list[NcnnLayer], convs: list[NcnnLayer], source: str) -> tuple[StateDict, dict[str, Any]]:
    alias = _source_of(layers)
    data_blob = next(layer.outputs[0] for layer in layers if layer.type == "Input")
    shuffle = next(layer for layer in layers if layer.type == "PixelShuffle")
    add = next(layer for layer in layers if layer.type == "BinaryOp")
    interps = [layer for layer in layers if layer.type == "Interp"]
    residual = [
        i
        for i in interps
        if alias.get(i.inputs[0], i.inputs[0]) == data_blob
        and i.int_param(INTERP_RESIZE_TYPE) == INTERP_NEAREST
    ]
    trailing = [i for i in interps if i not in residual]
    if len(residual) != 1:
        raise UnsupportedModelError(
            f"{source}: an SRVGG graph adds a nearest upsampling of its input; this one does not"
        )
    hints: dict[str, Any] = {}
    if trailing:
        # The ncnn ×2/×3 animevideov3 releases are the ×4 network followed by a bicubic shrink.
        resize = trailing[0]
        factor = resize.float_param(INTERP_HEIGHT_SCALE, 1.0)
        if len(trailing) > 1 or resize.inputs[0] != add.outputs[0] or not 0 < factor < 1:
            raise UnsupportedModelError(
                f"{source}: SRVGG graph with an unexpected resize layer {resize.name}"
            )
        hints["output_rescale"] = factor
    prelus = [layer for layer in layers if layer.type == "PReLU"]
    relus = [layer for layer in layers if layer.type == "ReLU"]
    fused = [_conv_activation(c) for c in convs[:-1]]
    if len(prelus) == len(convs) - 1:
        act_type = "prelu"
    elif all(a == (ACT_RELU, 0.0) for a in fused) or (
        len(relus) == len(convs) - 1 and not relus[0].float_param(RELU_SLOPE)
    ):
        act_type = "relu"
    elif all(a[0] == ACT_LEAKY for a in fused) or len(relus) == len(convs) - 1:
        act_type = "leakyrelu"
    else:
        raise UnsupportedModelError(f"{source}: SRVGG graph whose activations cannot be matched")
    sd: StateDict = {}
    for i, conv in enumerate(convs):
        sd[f"{srvgg_spec.conv_key(i)}.weight"] = conv.tensors["weight"]
        sd[f"{srvgg_spec.conv_key(i)}.bias"] = conv.tensors["bias"]
    for i, prelu in enumerate(prelus):
        sd[f"{srvgg_spec.activation_key(i)}.weight"] = prelu.tensors["weight"]
    upscale = shuffle.int_param(PIXELSHUFFLE_UPSCALE_FACTOR)
    if convs[-1].tensors["weight"].shape[0] != convs[0].tensors["weight"].shape[1] * upscale * upscale:
        raise CorruptModelError(f"{source}: the last conv's channels do not match PixelShuffle ×{upscale}")
    return sd, {**hints, "act_type": act_type}


def _rrdbnet(
    layers: list[NcnnLayer], convs: list[NcnnLayer], source: str
) -> tuple[StateDict, dict[str, Any]]:
    reorg = [layer for layer in layers if layer.type == "Reorg"]
    unshuffle = 1
    if reorg:
        if len(reorg) != 1 or reorg[0].int_param(REORG_MODE) != REORG_PYTORCH_ORDER:
            raise UnsupportedModelError(
                f"{source}: only one PyTorch-order pixel-unshuffle (Reorg mode 1) is supported"
            )
        unshuffle = reorg[0].int_param(REORG_STRIDE)
    num_upsample = sum(1 for layer in layers if layer.type == "Interp")
    dense = len(convs) - rrdbnet_spec.CONVS_OUTSIDE_BLOCKS - num_upsample
    if dense <= 0 or dense % rrdbnet_spec.CONVS_PER_BLOCK:
        raise UnsupportedModelError(
            f"{source}: {len(convs)} convolutions with {num_upsample} upsamplings do not form an RRDBNet "
            "(1 + 15 per block + 1 + ups + 2)"
        )
    num_block = dense // rrdbnet_spec.CONVS_PER_BLOCK
    names = rrdbnet_spec.conv_names(num_block, num_upsample)
    leaky = rrdbnet_spec.leaky_conv_names(num_block, num_upsample)
    sd: StateDict = {}
    for name, conv in zip(names, convs, strict=True):
        act, slope = _conv_activation(conv)
        expected = (ACT_LEAKY, rrdbnet_spec.LEAKY_SLOPE) if name in leaky else (ACT_NONE, 0.0)
        if act != expected[0] or abs(slope - expected[1]) > 1e-6:
            raise UnsupportedModelError(
                f"{source}: convolution {conv.name} (as {name}) has activation {act} slope {slope}; an RRDBNet "
                f"graph has {'LeakyReLU 0.2' if name in leaky else 'none'} there"
            )
        sd[f"{name}.weight"] = conv.tensors["weight"]
        sd[f"{name}.bias"] = conv.tensors["bias"]
    in_total = convs[0].tensors["weight"].shape[1]
    return sd, {"num_in_ch": in_total // (unshuffle * unshuffle)}


def read_ncnn(param_path: Path, bin_path: Path) -> tuple[StateDict, dict[str, Any]]:
    """The canonical state dict and the hints (activation, input channels) the graph tells."""
    source = f"{param_path.name} + {bin_path.name}"
    if not bin_path.is_file():
        raise CorruptModelError(
            f"{param_path} is an ncnn graph, but its weights file {bin_path} is missing; keep the .param and .bin "
            "side by side with the same name"
        )
    try:
        text = param_path.read_text(encoding="ascii")
    except UnicodeDecodeError as exc:
        raise CorruptModelError(
            f"{param_path} is not a text ncnn .param (binary .param.bin files are not supported)"
        ) from exc
    layers = parse_param(text, source=param_path.name)
    _read_tensors(layers, bin_path.read_bytes(), bin_path.name)
    counts = Counter(layer.type for layer in layers)
    convs = [layer for layer in layers if layer.type == "Convolution"]
    if not convs or counts["Input"] != 1:
        raise UnsupportedModelError(f"{source}: a graph with {dict(counts)} is not a Real-ESRGAN network")
    _check_conv3(convs, source)
    if counts["PixelShuffle"] == 1 and counts["BinaryOp"] == 1 and counts["Concat"] == 0:
        return _srvgg(layers, convs, source)
    if counts["Concat"] and counts["Eltwise"] and counts["PixelShuffle"] == 0:
        return _rrdbnet(layers, convs, source)
    raise UnsupportedModelError(
        f"{source}: a graph with layers {dict(counts)} is neither an RRDBNet nor an SRVGGNetCompact graph"
    )
