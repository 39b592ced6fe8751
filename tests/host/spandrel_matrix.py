"""Every spandrel architecture core's "Upscale Image (using Model)" can run, through our Upscale node.

Run with ComfyUI's own Python (spandrel is ComfyUI's dependency, not ours)::

    <comfyui venv>/bin/python tests/host/spandrel_matrix.py --comfyui <ComfyUI folder> [--out matrix.json]

(``REALESRGAN_KIT_COMFYUI_ROOT`` or ``REALESRGAN_KIT_COMFYUI`` may name the folder instead.) ComfyUI is imported the way its
server does, as far as nodes need it (``--cpu``), and its executor calls the nodes
(``execution.get_output_data``) under ``torch.inference_mode()``, as a queued prompt does. The
pack is loaded from this checkout as a package, the way ComfyUI loads a custom node. For each
architecture of spandrel's main registry a network is built from spandrel's own classes with
small hyperparameters and seeded random weights, detected from its state dict by spandrel's
``ModelLoader`` (as core's "Load Upscale Model" does), and run through core's node and ours on
the same small image, in fp32 and at precision ``auto``. The result is one JSON document.

This file is a script, not a test: ``tests/test_host_spandrel_matrix.py`` runs it and checks
the floors. It imports nothing from the tests' helpers (ComfyUI's venv lacks their packages).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import logging
import math
import os
import platform
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[2]
PACK_NAME = "realesrgan_kit_pack"
SEED = 1234
IMAGE_SIDE = 64  # not the precision probe's 48²: the run must not see only what the probe saw
IMAGE_SIDES = {"AuraSR": 64}  # AuraSR's generator is built for 64² inputs

# Architectures core's node cannot run, or that are not image-to-image networks.
SKIPPED = {
    "LaMa": "inpainting: a MaskedImageModelDescriptor, which core's Load Upscale Model rejects",
    "GFPGAN": "face restoration: needs an aligned 512² face, not an image to upscale",
    "RestoreFormer": "face restoration: needs an aligned 512² face, not an image to upscale",
}

# (spandrel architecture id, class name in that architecture's module, small hyperparameters)
CONFIGS: list[tuple[str, str, dict[str, Any]]] = [
    ("Compact", "Compact", {"num_feat": 16, "num_conv": 2, "upscale": 4}),
    ("SwiftSRGAN", "SwiftSRGAN", {"num_channels": 16, "num_blocks": 2, "upscale_factor": 2}),
    (
        "HAT",
        "HAT",
        {
            "embed_dim": 48,
            "depths": (2,),
            "num_heads": (2,),
            "window_size": 8,
            "compress_ratio": 3,
            "squeeze_factor": 16,
            "upscale": 2,
            "num_feat": 16,
        },
    ),
    (
        "GRL",
        "GRL",
        {
            "embed_dim": 16,
            "depths": [1],
            "num_heads_window": [1],
            "num_heads_stripe": [1],
            "window_size": 8,
            "stripe_size": [8, 8],
            "upscale": 2,
            "upsampler": "pixelshuffle",
        },
    ),
    (
        "Swin2SR",
        "Swin2SR",
        {
            "embed_dim": 24,
            "depths": [2],
            "num_heads": [2],
            "window_size": 8,
            "upscale": 2,
            "upsampler": "pixelshuffle",
        },
    ),
    (
        "SwinIR",
        "SwinIR",
        {
            "embed_dim": 24,
            "depths": [2],
            "num_heads": [2],
            "window_size": 8,
            "upscale": 2,
            "upsampler": "pixelshuffle",
        },
    ),
    ("OmniSR", "OmniSR", {"num_feat": 16, "block_num": 1, "window_size": 8, "res_num": 1, "up_scale": 2}),
    ("SCUNet", "SCUNet", {"config": [2, 2, 2, 2, 2, 2, 2], "dim": 64}),
    ("FBCNN", "FBCNN", {"nc": [16, 32, 64, 512], "nb": 2}),  # its quality head needs 512
    (
        "Uformer",
        "Uformer",
        {"embed_dim": 8, "depths": [1] * 9, "num_heads": [1, 1, 1, 1, 1, 1, 1, 1, 1], "win_size": 8},
    ),
    ("RGT", "RGT", {"embed_dim": 24, "depth": [1], "num_heads": [2], "split_size": [8, 8], "upscale": 2}),
    ("DAT", "DAT", {"embed_dim": 24, "depth": [2], "num_heads": [2], "split_size": [2, 4], "upscale": 2}),
    ("CRAFT", "CRAFT", {"embed_dim": 24, "depths": [1], "num_heads": [2], "upscale": 2}),
    ("KBNet", "KBNet_s", {"width": 16, "middle_blk_num": 1, "enc_blk_nums": [1, 1], "dec_blk_nums": [1, 1]}),
    ("DITN", "DITN", {"dim": 16, "ITL_blocks": 1, "SAL_blocks": 1, "UFONE_blocks": 1, "upscale": 2}),
    (
        "MMRealSR",
        "MMRealSR",
        {"num_in_ch": 3, "num_out_ch": 3, "scale": 4, "num_feat": 16, "num_block": 1, "num_grow_ch": 8},
    ),
    ("SPAN", "SPAN", {"num_in_ch": 3, "num_out_ch": 3, "feature_channels": 16, "upscale": 2}),
    ("RealCUGAN", "UpCunet2x", {}),
    ("SAFMN", "SAFMN", {"dim": 16, "n_blocks": 2, "upscaling_factor": 2}),
    ("SAFMNBCIE", "SAFMNBCIE", {"dim": 16, "n_blocks": 2, "num_layers": 2, "upscaling_factor": 2}),
    ("DCTLSA", "DCTLSA", {"nf": 20, "upscale": 2, "num_head": 2}),  # its forward needs 6 modules
    ("FFTformer", "FFTformer", {"dim": 16, "num_blocks": [1, 1, 1], "num_refinement_blocks": 1}),
    ("NAFNet", "NAFNet", {"width": 16, "middle_blk_num": 1, "enc_blk_nums": [1, 1], "dec_blk_nums": [1, 1]}),
    (
        "ATD",
        "ATD",
        {
            "embed_dim": 24,
            "depths": (2,),
            "num_heads": (2,),
            "window_size": 8,
            "category_size": 32,
            "num_tokens": 16,
            "upscale": 2,
            "upsampler": "pixelshuffle",
        },
    ),
    ("MixDehazeNet", "MixDehazeNet", {"embed_dims": [8, 16, 32, 16, 8], "depths": [1, 1, 1, 1, 1]}),
    ("DRUNet", "DRUNet", {"in_nc": 4, "out_nc": 3, "nc": [8, 16, 32, 64], "nb": 2}),
    ("DnCNN", "DnCNN", {"in_nc": 3, "out_nc": 3, "nc": 16, "nb": 5}),
    ("IPT", "IPT", {"n_feats": 16, "num_heads": 2, "num_layers": 1, "scale": [2]}),
    (
        "DRCT",
        "DRCT",
        {
            "embed_dim": 24,
            "depths": (2,),
            "num_heads": (2,),
            "window_size": 8,
            "upscale": 2,
            "upsampler": "pixelshuffle",
            "gc": 8,
        },
    ),
    ("ESRGAN", "ESRGAN", {"num_filters": 16, "num_blocks": 1, "scale": 4}),
    ("PLKSR", "PLKSR", {"dim": 16, "n_blocks": 2, "upscaling_factor": 2, "kernel_size": 7}),
    ("PLKSR", "RealPLKSR", {"dim": 16, "n_blocks": 2, "upscaling_factor": 2, "kernel_size": 7}),
    ("RetinexFormer", "RetinexFormer", {"n_feat": 8, "stage": 1, "num_blocks": [1, 1, 1]}),
    ("HVICIDNet", "HVICIDNet", {"channels": [8, 8, 16, 32], "heads": [1, 2, 4, 8]}),
    ("SeemoRe", "SeemoRe", {"scale": 2, "num_experts": 2, "num_layers": 1, "embedding_dim": 16}),
    ("MoSR", "MoSR", {"upscale": 2, "n_block": 2, "dim": 16}),
    ("MoESR", "MoESR", {"scale": 2, "dim": 16, "n_blocks": 1, "n_block": 1, "upsample_dim": 16}),
    ("RCAN", "RCAN", {"scale": 2, "n_resgroups": 1, "n_resblocks": 1, "n_feats": 16, "reduction": 4}),
    (
        "FDAT",
        "FDAT",
        {
            "scale": 2,
            "embed_dim": 24,
            "num_groups": 1,
            "depth_per_group": 2,
            "num_heads": 2,
            "window_size": 8,
            "mid_dim": 16,
        },
    ),
    (
        "AuraSR",
        "AuraSR",
        {
            "dim": 16,
            "image_size": None,
            "input_image_size": None,
            "style_network": {"dim_in": 16, "dim_out": 64, "depth": 1},  # spandrel reads the scale from it
            "self_attn_dim_head": 8,
            "self_attn_heads": 1,
            "attn_depths": (1, 1, 1, 1, 1),
            "mid_attn_depth": 1,
        },
    ),
]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a.double() - b.double()) ** 2).mean())
    return float("inf") if mse == 0 else 10.0 * math.log10(1.0 / mse)


def import_comfyui(comfy_root: Path) -> dict[str, Any]:
    """ComfyUI's modules, initialised as ``main.py --cpu`` would for running nodes."""
    sys.path.insert(0, str(comfy_root))
    # ComfyUI's modules exist only in its own venv: imported by name, not seen by type checkers.
    cli_args = importlib.import_module("comfy.cli_args")  # parses no command line by default
    cli_args.args.cpu = True
    execution = importlib.import_module("execution")  # the executor (imports nodes, model_management)
    core = importlib.import_module("comfy_extras.nodes_upscale_model")
    return {"execution": execution, "core": core}


def load_pack() -> Any:
    """This checkout as a package, the way ComfyUI imports a custom node folder."""
    spec = importlib.util.spec_from_file_location(
        PACK_NAME, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)]
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[PACK_NAME] = module
    spec.loader.exec_module(module)
    return module


def our_upscale_class(pack: Any) -> Any:
    """Our Upscale node's class as ComfyUI registers it (V3 entrypoint, else V1 mappings)."""
    if hasattr(pack, "comfy_entrypoint"):
        extension = asyncio.run(pack.comfy_entrypoint())
        nodes = asyncio.run(extension.get_node_list())
        return next(n for n in nodes if n.GET_SCHEMA().node_id == "RealESRGANKitUpscale")
    return pack.NODE_CLASS_MAPPINGS["RealESRGANKitUpscale"]


def run_node(execution: Any, node_class: Any, **inputs: Any) -> torch.Tensor:
    """One node call through ComfyUI's executor, inside inference mode as the server runs it."""
    with torch.inference_mode():
        output, _ui, _sub, _pending = asyncio.run(
            execution.get_output_data(
                "matrix", "1", node_class, {k: [v] for k, v in inputs.items()}, hidden_inputs={}
            )
        )
    return output[0][0]


def build_network(arch_id: str, class_name: str, hyper: dict[str, Any]) -> torch.nn.Module:
    module = importlib.import_module(f"spandrel.architectures.{arch_id}")
    torch.manual_seed(SEED)
    net = getattr(module, class_name)(**hyper)
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for p in net.parameters():  # zero-initialised layers would hide the network's own path
            if p.is_floating_point() and p.numel() > 1 and not bool(p.any()):
                p.copy_(torch.randn(p.shape, generator=generator) * 0.02)
    return net.eval()


def test_image(side_h: int, side_w: int, channels: int) -> torch.Tensor:
    """A smooth gradient with texture, [1, H, W, C] in 0..1 (ComfyUI's IMAGE layout)."""
    generator = torch.Generator().manual_seed(SEED)
    ys = torch.linspace(0, 1, side_h).view(-1, 1, 1)
    xs = torch.linspace(0, 1, side_w).view(1, -1, 1)
    base = 0.25 + 0.5 * (0.6 * ys + 0.4 * xs) * torch.ones(1, 1, channels)
    noise = torch.rand(side_h, side_w, channels, generator=generator) * 0.2
    return (base + noise).clamp(0, 1).unsqueeze(0)


def image_side(descriptor: Any, wanted: int) -> int:
    reqs = descriptor.size_requirements
    side = max(IMAGE_SIDES.get(descriptor.architecture.id, wanted), reqs.minimum)
    return -(-side // reqs.multiple_of) * reqs.multiple_of


class WarningCounter(logging.Handler):
    """Counts the warnings our pack logs (and ``warnings.warn`` calls) during one node run."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(PACK_NAME):
            self.messages.append(record.getMessage())


def timed_run(
    execution: Any, node_class: Any, counter: WarningCounter | None = None, repeats: int = 1, **inputs: Any
) -> dict:
    """The first run's output, seconds and warnings (ours only), and the best of ``repeats`` runs."""
    image = inputs.pop("image")
    start_messages = len(counter.messages) if counter else 0
    times = []
    out = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(repeats):
            # A copy per run: some networks (RCAN: ``x *= rgb_range``) scale their input in
            # place, and core's node hands them a view of the IMAGE itself.
            fresh = image.clone()
            started = time.perf_counter()
            result = run_node(execution, node_class, image=fresh, **inputs)
            times.append(time.perf_counter() - started)
            out = result if out is None else out
    ours = [
        str(w.message)
        for w in caught
        if str(w.filename).startswith(str(ROOT)) and "/tests/" not in w.filename
    ]
    messages = (counter.messages[start_messages:] if counter else []) + ours
    return {"out": out, "seconds": times[0], "best_seconds": min(times), "warnings": messages}


def one_architecture(
    env: dict[str, Any], ours: Any, arch_id: str, class_name: str, hyper: dict, side: int, repeats: int
) -> dict:
    spandrel = importlib.import_module("spandrel")
    row: dict[str, Any] = {"architecture": arch_id, "class": class_name, "hyperparameters": repr(hyper)}
    try:
        state = build_network(arch_id, class_name, hyper).state_dict()
        with torch.inference_mode():  # core's Load Upscale Model runs there too
            descriptor = spandrel.ModelLoader().load_from_state_dict(state).eval()
    except Exception as exc:
        row.update(status="not built", error=f"{type(exc).__name__}: {exc}")
        return row
    if not isinstance(descriptor, spandrel.ImageModelDescriptor):
        row.update(status="skipped", reason=f"spandrel gives a {type(descriptor).__name__}")
        return row
    detected = descriptor.architecture.id
    row.update(
        detected=detected,
        scale=descriptor.scale,
        input_channels=descriptor.input_channels,
        supports_bfloat16=descriptor.supports_bfloat16,
        purpose=descriptor.purpose,
    )
    side = image_side(descriptor, side)
    image = test_image(side, side, 3)
    row["image"] = [1, side, side, 3]
    try:
        core = timed_run(
            env["execution"], env["core"].ImageUpscaleWithModel, upscale_model=descriptor, image=image
        )
    except Exception as exc:
        row.update(status="core fails", core_error=f"{type(exc).__name__}: {exc}")
        return row
    reference = core["out"]
    # A second core run shows whether the network is deterministic (AuraSR draws noise).
    repeat = timed_run(
        env["execution"],
        env["core"].ImageUpscaleWithModel,
        repeats=repeats,
        upscale_model=descriptor,
        image=image,
    )
    row.update(
        core_seconds=round(min(core["seconds"], repeat["best_seconds"]), 4),
        core_repeat_psnr_db=round(min(psnr(repeat["out"], reference), 999.0), 2),
        output=list(reference.shape),
        output_std=round(float(reference.std()), 4),
        clamped_fraction=round(float(((reference <= 0) | (reference >= 1)).float().mean()), 4),
    )
    counter = WarningCounter()
    logging.getLogger(PACK_NAME).addHandler(counter)
    try:
        for precision in ("fp32", "auto"):
            row[precision] = run_ours(env, ours, descriptor, image, precision, reference, counter, repeats)
    finally:
        logging.getLogger(PACK_NAME).removeHandler(counter)
    row["status"] = "ok" if all("error" not in row[p] for p in ("fp32", "auto")) else "ours fails"
    return row


def run_ours(
    env: dict[str, Any],
    ours: Any,
    descriptor: Any,
    image: torch.Tensor,
    precision: str,
    reference: torch.Tensor,
    counter: WarningCounter,
    repeats: int,
) -> dict[str, Any]:
    try:
        result = timed_run(
            env["execution"], ours, counter, repeats, image=image, model=descriptor, precision=precision
        )
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc(limit=-4)}
    out = result["out"]
    if out.shape != reference.shape:
        return {"error": f"output shape {list(out.shape)} against core's {list(reference.shape)}"}
    return {
        "psnr_db": round(min(psnr(out, reference), 999.0), 2),
        "seconds": round(result["seconds"], 4),
        "best_seconds": round(result["best_seconds"], 4),
        "precision_used": used_precision(descriptor, precision),
        "warnings": result["warnings"],
    }


def used_precision(descriptor: Any, precision: str) -> str:
    """What our engine ran: its own plan for this model (after any probe)."""
    engine = importlib.import_module(f"{PACK_NAME}.core.engine")
    options = engine.UpscaleOptions(precision=precision, device="cpu", backend="torch")
    return str(engine.check_options(descriptor, options).precision)


def cpu_label() -> str:
    machine = importlib.import_module(f"{PACK_NAME}.core.engine.backends.machine")
    return str(machine.cpu_class())


def fast_bf16() -> bool:
    return bool(importlib.import_module(f"{PACK_NAME}.core.engine").cpu_has_fast_bf16())


def _db(value: float) -> str:
    return "exact" if value >= 999 else f"{value:.1f}"


def markdown_rows(report: dict[str, Any]) -> list[str]:
    """The matrix as Markdown table rows (``benchmarks/spandrel_matrix.md``); speed is core's
    best time ÷ ours (above 1: ours is faster)."""
    lines = [
        "| architecture (class) | × | auto ran | dB vs core, fp32 | dB vs core, auto | core s "
        "| ours fp32 s | ours auto s | speed fp32 | speed auto | note |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in report["rows"]:
        name = (
            r["architecture"]
            if r.get("class", r["architecture"]) == r["architecture"]
            else f"{r['architecture']} ({r['class']})"
        )
        if r["status"] != "ok":
            reason = r.get("reason") or r.get("error") or r.get("core_error") or r["status"]
            lines.append(f"| {name} | | | | | | | | | | {r['status']}: {reason} |")
            continue
        fp32, auto, core = r["fp32"], r["auto"], r["core_seconds"]
        note = "; ".join(auto["warnings"])
        if r["core_repeat_psnr_db"] < 60:
            note = f"core against itself: {r['core_repeat_psnr_db']:.1f} dB (its forward draws noise)"
        lines.append(
            f"| {name} | {r['scale']} | {auto['precision_used']} | {_db(fp32['psnr_db'])} | {_db(auto['psnr_db'])} "
            f"| {core:.3f} | {fp32['best_seconds']:.3f} | {auto['best_seconds']:.3f} "
            f"| {core / fp32['best_seconds']:.2f}× | {core / auto['best_seconds']:.2f}× | {note} |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    default_root = os.environ.get("REALESRGAN_KIT_COMFYUI_ROOT") or os.environ.get("REALESRGAN_KIT_COMFYUI")
    parser.add_argument("--comfyui", default=default_root, help="ComfyUI folder")
    parser.add_argument("--out", help="write the JSON here (default: stdout)")
    parser.add_argument("--only", nargs="*", help="architecture ids to run (default: all)")
    parser.add_argument("--side", type=int, default=IMAGE_SIDE, help="test image side in pixels")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per node (best is kept)")
    parser.add_argument("--markdown", help="also write the matrix as Markdown table rows here")
    options = parser.parse_args(argv)
    if not options.comfyui:
        parser.error("give --comfyui <ComfyUI folder> or set REALESRGAN_KIT_COMFYUI_ROOT")
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger(PACK_NAME).setLevel(logging.WARNING)  # our warnings are counted per run
    env = import_comfyui(Path(options.comfyui).resolve())
    pack = load_pack()
    ours = our_upscale_class(pack)
    spandrel = importlib.import_module("spandrel")

    registered = sorted(a.architecture.id for a in spandrel.MAIN_REGISTRY.architectures())
    rows = [{"architecture": a, "status": "skipped", "reason": r} for a, r in SKIPPED.items()]
    for arch_id, class_name, hyper in CONFIGS:
        if options.only and arch_id not in options.only:
            continue
        rows.append(one_architecture(env, ours, arch_id, class_name, hyper, options.side, options.repeats))
        print(f"{arch_id}/{class_name}: {rows[-1].get('status')}", file=sys.stderr, flush=True)
    covered = {r["architecture"] for r in rows}
    report = {
        "spandrel": spandrel.__version__,
        "torch": torch.__version__,
        "comfyui": options.comfyui,
        "cpu": cpu_label(),
        "fast_bf16": fast_bf16(),
        "machine": platform.machine(),
        "threads": torch.get_num_threads(),
        "side": options.side,
        "repeats": options.repeats,
        "registry": registered,
        "not_covered": [a for a in registered if a not in covered] if not options.only else [],
        "rows": rows,
    }
    if options.markdown:
        Path(options.markdown).write_text("\n".join(markdown_rows(report)) + "\n")
    text = json.dumps(report, indent=1, default=str)
    if options.out:
        Path(options.out).write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
