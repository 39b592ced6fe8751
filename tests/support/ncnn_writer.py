"""Write RRDBNet / SRVGGNetCompact modules as ncnn .param + .bin, the way ncnn's tools lay
them out (Split layers for shared blobs, fused LeakyReLU, fp16- or fp32-tagged weights)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

FP16_TAG, FP32_TAG = 0x01306B47, 0


class _Graph:
    def __init__(self) -> None:
        self.layers: list[list] = []  # [type, name, inputs, outputs, params, tensors]
        self.count = 0

    def add(self, ltype, inputs, params="", tensors=(), outputs=None):
        self.count += 1
        outs = outputs or [f"b{self.count}"]
        self.layers.append([ltype, f"{ltype}_{self.count}", list(inputs), outs, params, list(tensors)])
        return outs[0]

    def with_splits(self):
        """Insert a Split after every blob consumed more than once (ncnn requires it)."""
        consumers: dict[str, int] = {}
        for layer in self.layers:
            for blob in layer[2]:
                consumers[blob] = consumers.get(blob, 0) + 1
        out, taken = [], {}
        for layer in self.layers:
            renamed = []
            for blob in layer[2]:
                if consumers[blob] > 1:
                    index = taken.get(blob, 0)
                    taken[blob] = index + 1
                    renamed.append(f"{blob}_splitncnn_{index}")
                else:
                    renamed.append(blob)
            out.append([layer[0], layer[1], renamed, layer[3], layer[4], layer[5]])
            for blob in layer[3]:
                if consumers.get(blob, 0) > 1:
                    outs = [f"{blob}_splitncnn_{i}" for i in range(consumers[blob])]
                    out.append(["Split", f"split_{blob}", [blob], outs, "", []])
        return out


def _conv(graph, module, x, act=None):
    w = module.weight.detach().float().numpy()
    out, _cin, _kh, kw = w.shape
    params = f"0={out} 1={kw} 4=1 5=1 6={w.size}"
    if act is not None:
        kind, slope = act
        params += f" 9={kind}" + (f" -23310=1,{slope:e}" if kind == 2 else "")
    return graph.add("Convolution", [x], params, [("conv", w, module.bias.detach().float().numpy())])


def _rrdbnet(net, graph):
    x = graph.add("Input", [], "0=0 1=0 2=3", outputs=["data"])
    if net.unshuffle > 1:
        x = graph.add("Reorg", [x], f"0={net.unshuffle} 1=1")
    leaky = (2, 0.2)
    feat = _conv(graph, net.conv_first, x)
    trunk = feat
    for block in net.body:
        block_in = trunk
        for rdb in (block.rdb1, block.rdb2, block.rdb3):
            feats = [trunk]
            for conv in (rdb.conv1, rdb.conv2, rdb.conv3, rdb.conv4):
                cat = graph.add("Concat", feats) if len(feats) > 1 else feats[0]
                feats.append(_conv(graph, conv, cat, leaky))
            x5 = _conv(graph, rdb.conv5, graph.add("Concat", feats))
            trunk = graph.add("Eltwise", [x5, feats[0]], "0=1 -23301=2,2.000000e-01,1.000000e+00")
        trunk = graph.add("Eltwise", [trunk, block_in], "0=1 -23301=2,2.000000e-01,1.000000e+00")
    feat = graph.add("BinaryOp", [feat, _conv(graph, net.conv_body, trunk)], "0=0")
    for n in range(1, net.num_upsample + 1):
        up = graph.add("Interp", [feat], "0=1 1=2.000000e+00 2=2.000000e+00")
        feat = _conv(graph, getattr(net, f"conv_up{n}"), up, leaky)
    hr = _conv(graph, net.conv_hr, feat, leaky)
    _conv(graph, net.conv_last, hr)
    graph.layers[-1][3] = ["output"]


def _srvgg(net, graph):
    import torch

    x = graph.add("Input", [], "0=0 1=0 2=3", outputs=["data"])
    out = x
    fused = {"relu": (1, 0.0), "leakyrelu": (2, 0.1)}.get(net.act_type)
    for layer in net.body:
        if isinstance(layer, torch.nn.Conv2d):
            is_last = layer is net.body[-1]
            out = _conv(graph, layer, out, None if is_last else fused)
        elif isinstance(layer, torch.nn.PReLU):
            slopes = layer.weight.detach().float().numpy()
            out = graph.add("PReLU", [out], f"0={slopes.size}", [("raw", slopes)])
    shuffled = graph.add("PixelShuffle", [out], f"0={net.upscale}")
    up = graph.add("Interp", [x], f"0=1 1={float(net.upscale):e} 2={float(net.upscale):e}")
    graph.add("BinaryOp", [shuffled, up], "0=0", outputs=["output"])


def write_ncnn(net, param_path: Path, bin_path: Path, *, fp16: bool = True) -> None:
    from realesrgan_kit.core.archs import RRDBNet, SRVGGNetCompact

    graph = _Graph()
    if isinstance(net, RRDBNet):
        _rrdbnet(net, graph)
    elif isinstance(net, SRVGGNetCompact):
        _srvgg(net, graph)
    else:
        raise TypeError(f"no ncnn writer for {type(net).__name__}")
    layers = graph.with_splits()
    blobs = {b for layer in layers for b in layer[3]}
    lines = ["7767517", f"{len(layers)} {len(blobs)}"]
    payload = bytearray()
    for ltype, name, inputs, outputs, params, tensors in layers:
        lines.append(
            " ".join(
                [
                    f"{ltype:<24}",
                    f"{name:<24}",
                    str(len(inputs)),
                    str(len(outputs)),
                    *inputs,
                    *outputs,
                    params,
                ]
            ).rstrip()
        )
        for tensor in tensors:
            if tensor[0] == "conv":
                _, weight, bias = tensor
                if fp16:
                    data = weight.astype("<f2").tobytes()
                    payload += struct.pack("<I", FP16_TAG) + data + b"\0" * ((-len(data)) % 4)
                else:
                    payload += struct.pack("<I", FP32_TAG) + weight.astype("<f4").tobytes()
                payload += bias.astype("<f4").tobytes()
            else:
                payload += np.asarray(tensor[1], dtype="<f4").tobytes()
    Path(param_path).write_text("\n".join(lines) + "\n")
    Path(bin_path).write_bytes(bytes(payload))
