"""Regenerate example_workflows/*.json (ComfyUI UI format) from the node table, and their
same-name .jpg thumbnails (shown in ComfyUI's template browser) from the project's BSD test
images with the real default model (needs core.engine and core.degrade):

    python tests/support/make_example_workflows.py [--thumbnails]

Our nodes' sockets and outputs come from ``nodes.definitions`` so the examples follow the
table; core nodes are written as core declares them (ComfyUI 0.3.64).
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "example_workflows"
VERSION = "0.1.0"

CORE = {  # type: (socket inputs, outputs)
    "LoadImage": ([], [("IMAGE", "IMAGE"), ("MASK", "MASK")]),
    "SaveImage": ([("images", "IMAGE")], []),
    "PreviewImage": ([("images", "IMAGE")], []),
    "PreviewAny": ([("source", "*")], []),
    "CheckpointLoaderSimple": ([], [("MODEL", "MODEL"), ("CLIP", "CLIP"), ("VAE", "VAE")]),
    "CLIPTextEncode": ([("clip", "CLIP")], [("CONDITIONING", "CONDITIONING")]),
    "EmptyLatentImage": ([], [("LATENT", "LATENT")]),
    "KSampler": (
        [
            ("model", "MODEL"),
            ("positive", "CONDITIONING"),
            ("negative", "CONDITIONING"),
            ("latent_image", "LATENT"),
        ],
        [("LATENT", "LATENT")],
    ),
    "VAEDecode": ([("samples", "LATENT"), ("vae", "VAE")], [("IMAGE", "IMAGE")]),
    "LoadVideo": ([], [("VIDEO", "VIDEO")]),
}


def _ours() -> dict[str, tuple[list, list]]:
    import tempfile

    link_dir = Path(tempfile.mkdtemp(prefix="realesrgan-kit-import-"))
    (link_dir / "realesrgan_kit").symlink_to(ROOT, target_is_directory=True)  # any checkout folder name
    sys.path.insert(0, str(link_dir))
    from realesrgan_kit.nodes import definitions

    return {
        spec.node_id: (
            [(i.name, i.type) for i in spec.inputs if not i.is_widget],
            [(o.name, o.type) for o in spec.outputs],
        )
        for spec in definitions.NODES
    }


class Graph:
    def __init__(self) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.links: list[list[Any]] = []
        self.sockets = {**CORE, **_ours()}

    def add(
        self,
        node_id: int,
        node_type: str,
        pos: tuple[int, int],
        size: tuple[int, int],
        widgets: list[Any],
        title: str | None = None,
    ) -> int:
        inputs, outputs = self.sockets[node_type]
        node = {
            "id": node_id,
            "type": node_type,
            "pos": list(pos),
            "size": list(size),
            "flags": {},
            "order": 0,
            "mode": 0,
            "inputs": [{"name": n, "type": t, "link": None} for n, t in inputs],
            "outputs": [
                {"name": n, "type": t, "slot_index": i, "links": []} for i, (n, t) in enumerate(outputs)
            ],
            "properties": {
                "Node name for S&R": node_type,
                **(
                    {"cnr_id": "realesrgan-kit", "ver": VERSION}
                    if node_type.startswith("RealESRGANKit")
                    else {"cnr_id": "comfy-core", "ver": "0.3.64"}
                ),
            },
            "widgets_values": widgets,
        }
        if title:
            node["title"] = title
        self.nodes.append(node)
        return node_id

    def _node(self, node_id: int) -> dict[str, Any]:
        return next(n for n in self.nodes if n["id"] == node_id)

    def link(self, source: int, slot: int, target: int, input_name: str) -> None:
        link_id = len(self.links) + 1
        out = self._node(source)["outputs"][slot]
        inputs = self._node(target)["inputs"]
        index = next(i for i, item in enumerate(inputs) if item["name"] == input_name)
        inputs[index]["link"] = link_id
        out["links"].append(link_id)
        self.links.append([link_id, source, slot, target, index, out["type"]])

    def to_json(self) -> dict[str, Any]:
        order: list[int] = []
        pending = {n["id"] for n in self.nodes}
        while pending:  # topological order, as the frontend stores it
            ready = sorted(
                i for i in pending if all(link[1] not in pending for link in self.links if link[3] == i)
            )
            order += ready
            pending -= set(ready)
        for node in self.nodes:
            node["order"] = order.index(node["id"])
            for out in node["outputs"]:
                if not out["links"]:
                    out["links"] = None
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, json.dumps([n["type"] for n in self.nodes]))),
            "revision": 0,
            "last_node_id": max(n["id"] for n in self.nodes),
            "last_link_id": len(self.links),
            "nodes": sorted(self.nodes, key=lambda n: n["order"]),
            "links": self.links,
            "groups": [],
            "config": {},
            "extra": {"ds": {"scale": 0.8, "offset": [60, 120]}},
            "version": 0.4,
        }


STEPS_ON = [True] * 10
UPSCALE_DEFAULTS = ["model scale", 2.0, 0, 0, "auto", 0, "auto", False, "model", "auto", "off"]
LOAD_DEFAULTS = ["RealESRGAN_x4plus", "none", 0.5]


def upscale_image() -> dict[str, Any]:
    g = Graph()
    g.add(1, "LoadImage", (0, 0), (320, 360), ["example.png", "image"])
    g.add(2, "RealESRGANKitLoadModel", (0, 420), (320, 110), LOAD_DEFAULTS)
    g.add(3, "RealESRGANKitUpscale", (380, 0), (320, 330), UPSCALE_DEFAULTS)
    g.add(4, "SaveImage", (760, 0), (420, 460), ["realesrgan"])
    g.link(1, 0, 3, "image")
    g.link(2, 0, 3, "model")
    g.link(1, 1, 3, "mask")
    g.link(3, 0, 4, "images")
    return g.to_json()


def txt2img_upscale() -> dict[str, Any]:
    g = Graph()
    g.add(4, "CheckpointLoaderSimple", (0, 200), (320, 100), ["v1-5-pruned-emaonly-fp16.safetensors"])
    g.add(6, "CLIPTextEncode", (380, 0), (420, 180), ["a lighthouse on a cliff at sunset, detailed, photo"])
    g.add(7, "CLIPTextEncode", (380, 230), (420, 180), ["blurry, text, watermark"])
    g.add(5, "EmptyLatentImage", (380, 460), (320, 110), [512, 512, 1])
    g.add(3, "KSampler", (860, 0), (320, 260), [156680208700286, "randomize", 20, 8, "euler", "normal", 1])
    g.add(8, "VAEDecode", (1220, 0), (210, 50), [])
    g.add(10, "RealESRGANKitLoadModel", (1220, 120), (320, 110), LOAD_DEFAULTS)
    g.add(
        11,
        "RealESRGANKitUpscale",
        (1580, 0),
        (320, 330),
        ["outscale", 2.0, 0, 0, "auto", 0, "auto", False, "model", "auto", "off"],
        title="Upscale ×2 (Real-ESRGAN)",
    )
    g.add(9, "SaveImage", (1940, 0), (420, 460), ["txt2img_realesrgan_x2"])
    g.link(4, 0, 3, "model")
    g.link(4, 1, 6, "clip")
    g.link(4, 1, 7, "clip")
    g.link(6, 0, 3, "positive")
    g.link(7, 0, 3, "negative")
    g.link(5, 0, 3, "latent_image")
    g.link(3, 0, 8, "samples")
    g.link(4, 2, 8, "vae")
    g.link(8, 0, 11, "image")
    g.link(10, 0, 11, "model")
    g.link(11, 0, 9, "images")
    return g.to_json()


def degrade_upscale_compare() -> dict[str, Any]:
    g = Graph()
    g.add(1, "LoadImage", (0, 0), (320, 360), ["example.png", "image"])
    g.add(2, "RealESRGANKitDegrade", (380, 0), (320, 420), [0, "fixed", 4.0, "realesrgan", *STEPS_ON, "off"])
    g.add(3, "RealESRGANKitLoadModel", (380, 480), (320, 110), LOAD_DEFAULTS)
    g.add(4, "RealESRGANKitUpscale", (760, 0), (320, 330), UPSCALE_DEFAULTS)
    g.add(5, "RealESRGANKitCompare", (1140, 0), (320, 130), [4, "crop to common"])
    g.add(6, "PreviewAny", (1500, 0), (320, 120), [], title="PSNR / SSIM")
    g.add(7, "PreviewImage", (760, 380), (320, 320), [], title="Degraded input")
    g.add(8, "PreviewImage", (1140, 380), (320, 320), [], title="Upscaled")
    g.add(9, "PreviewAny", (380, 640), (320, 200), [], title="Sampled degradation")
    g.link(1, 0, 2, "image")
    g.link(2, 0, 4, "image")
    g.link(3, 0, 4, "model")
    g.link(1, 0, 5, "reference")
    g.link(4, 0, 5, "image")
    g.link(5, 2, 6, "source")
    g.link(2, 0, 7, "images")
    g.link(4, 0, 8, "images")
    g.link(2, 1, 9, "source")
    return g.to_json()


VIDEO_MODEL = ["realesr-animevideov3-x2", "none", 0.5]
# file, resize_mode, outscale, width, height, tile, tile_pad, precision, tta, container, codec, crf, prefix,
# temporal
VIDEO_DEFAULTS = [
    "model scale",
    2.0,
    0,
    0,
    "auto",
    0,
    "auto",
    False,
    "mp4",
    "auto",
    -1,
    "video/RealESRGAN",
    "off",
]


def upscale_video() -> dict[str, Any]:
    """ComfyUI with the VIDEO type: Load Video → Upscale Video (writes the file, previews it)."""
    g = Graph()
    g.add(1, "LoadVideo", (0, 0), (320, 420), ["example.mp4", "image"])
    g.add(2, "RealESRGANKitLoadModel", (0, 480), (320, 110), VIDEO_MODEL)
    g.add(3, "RealESRGANKitUpscaleVideo", (380, 0), (360, 520), ["none", *VIDEO_DEFAULTS])
    g.link(1, 0, 3, "video")
    g.link(2, 0, 3, "model")
    return g.to_json()


def upscale_video_file() -> dict[str, Any]:
    """Any ComfyUI: a clip from the input folder → Upscale Video."""
    g = Graph()
    g.add(1, "RealESRGANKitLoadModel", (0, 0), (320, 110), VIDEO_MODEL)
    g.add(2, "RealESRGANKitUpscaleVideo", (380, 0), (360, 520), ["example.mp4", *VIDEO_DEFAULTS])
    g.link(1, 0, 2, "model")
    return g.to_json()


WORKFLOWS = {
    "upscale_image_realesrgan.json": upscale_image,
    "txt2img_then_realesrgan_x2.json": txt2img_upscale,
    "degrade_upscale_compare.json": degrade_upscale_compare,
    "upscale_video_realesrgan.json": upscale_video,
    "upscale_video_file_realesrgan.json": upscale_video_file,
}


def _strip(panels: list[Any], height: int = 240) -> Any:
    """Panels (H×W×3 float 0..1) side by side, each resized (nearest) to ``height``."""
    import numpy as np
    from PIL import Image

    tiles = []
    for panel in panels:
        image = Image.fromarray((np.clip(panel, 0, 1) * 255 + 0.5).astype(np.uint8))
        tiles.append(image.resize((height * image.width // image.height, height), Image.Resampling.NEAREST))
    strip = Image.new("RGB", (sum(t.width for t in tiles) + 8 * (len(tiles) - 1), height), (24, 24, 24))
    x = 0
    for tile in tiles:
        strip.paste(tile, (x, 0))
        x += tile.width + 8
    return strip


def thumbnails() -> None:
    import numpy as np
    from PIL import Image

    from realesrgan_kit.core import degrade, engine
    from realesrgan_kit.core.load import load_model

    data = ROOT / "tests" / "data"
    model = load_model("RealESRGAN_x4plus")

    def read(name: str, box: tuple[int, int, int, int]) -> Any:
        return np.asarray(Image.open(data / name).convert("RGB").crop(box), dtype=np.float32) / 255.0

    comic = read("lq/comic.png", (0, 15, 60, 75))
    _strip([comic, engine.upscale(model, comic)]).save(OUT / "upscale_image_realesrgan.jpg", quality=85)
    baboon = read("lq/baboon.png", (30, 30, 90, 90))
    _strip([baboon, engine.upscale(model, baboon, outscale=2.0)]).save(
        OUT / "txt2img_then_realesrgan_x2.jpg", quality=85
    )
    clean = read("gt/baboon.png", (120, 120, 360, 360))
    small = degrade.degrade(clean, seed=0, scale=4).image
    _strip([clean, small, engine.upscale(model, small)]).save(OUT / "degrade_upscale_compare.jpg", quality=85)
    video_thumbnails()


def video_thumbnails() -> None:
    """The video examples: an anime-style crop (a frame) before and after the ×2 video model."""
    import numpy as np
    from PIL import Image

    from realesrgan_kit.core import engine
    from realesrgan_kit.core.load import load_model

    model = load_model("realesr-animevideov3-x2")
    crop = Image.open(ROOT / "tests" / "data" / "lq" / "comic.png").convert("RGB").crop((0, 10, 60, 44))
    frame = np.asarray(crop, dtype=np.float32) / 255.0
    after = engine.upscale(model, frame)
    for name in ("upscale_video_realesrgan.jpg", "upscale_video_file_realesrgan.jpg"):
        _strip([frame, after]).save(OUT / name, quality=85)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, make in WORKFLOWS.items():
        (OUT / name).write_text(json.dumps(make(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(OUT / name)
    if "--thumbnails" in sys.argv:
        thumbnails()


if __name__ == "__main__":
    main()
