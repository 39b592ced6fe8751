"""Rewrite canonical (BasicSR) RRDBNet keys into the old layouts real files use."""

from __future__ import annotations

import re


def to_old_esrgan(sd: dict, num_block: int, num_upsample: int) -> dict:
    rename = {
        "conv_first": "model.0",
        "conv_body": f"model.1.sub.{num_block}",
        "conv_hr": f"model.{3 * num_upsample + 2}",
        "conv_last": f"model.{3 * num_upsample + 4}",
    }
    rename.update({f"conv_up{n}": f"model.{3 * n}" for n in range(1, num_upsample + 1)})
    out = {}
    for key, value in sd.items():
        m = re.fullmatch(r"body\.(\d+)\.rdb(\d)\.conv(\d)\.(weight|bias)", key)
        if m:
            out[f"model.1.sub.{m[1]}.RDB{m[2]}.conv{m[3]}.0.{m[4]}"] = value
        else:
            layer, param = key.rsplit(".", 1)
            out[f"{rename[layer]}.{param}"] = value
    return out


def to_bsrgan(sd: dict) -> dict:
    out = {}
    for key, value in sd.items():
        key = re.sub(r"^body\.(\d+)\.rdb(\d)", r"RRDB_trunk.\1.RDB\2", key)
        key = key.replace("conv_body.", "trunk_conv.").replace("conv_hr.", "HRconv.")
        key = re.sub(r"^conv_up(\d)", r"upconv\1", key)
        out[key] = value
    return out
