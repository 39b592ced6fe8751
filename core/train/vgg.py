"""VGG19 features for the perceptual loss, and where its ImageNet weights come from.

The network is torchvision's ``vgg19().features`` layer for layer (same indices, so the
published state dict's ``features.N.*`` keys load as they are), built here in plain torch so
torchvision is not needed. The weights are not shipped: they are the published torchvision file
``vgg19-dcbb9e9d.pth`` (about 550 MB; only its ``features`` part is used), found locally or
downloaded on explicit request. torchvision names its files with the first 8 hex digits of
their SHA-256 and publishes no full digest, and this package never downloads without a full
one: the user passes the SHA-256 they trust (``--sha256``), and every file found or fetched is
also checked against the ``dcbb9e9d`` prefix.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import nn

from ..errors import ChecksumMismatchError, CorruptModelError, InvalidParameterError, ModelNotFoundError
from ..zoo import fetch_verified, model_dir, sha256_of

__all__ = [
    "VGG19_URL",
    "VGG19_FILENAME",
    "VGG19_SHA256_PREFIX",
    "VGG19_LAYERS",
    "VGGFeatures",
    "find_vgg19_weights",
    "download_vgg19",
    "load_vgg19_features",
]

log = logging.getLogger(__name__)

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
VGG19_FILENAME = "vgg19-dcbb9e9d.pth"
VGG19_SHA256_PREFIX = "dcbb9e9d"

_VGG19_CONFIG = (
    64,
    64,
    "M",
    128,
    128,
    "M",
    256,
    256,
    256,
    256,
    "M",
    512,
    512,
    512,
    512,
    "M",
    512,
    512,
    512,
    512,
    "M",
)


def _layer_names(config: tuple[int | str, ...]) -> list[str]:
    names, block, conv = [], 1, 1
    for item in config:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return names


#: Layer name → index in ``features`` (``conv5_4`` → 34, as in torchvision).
VGG19_LAYERS: Mapping[str, int] = {name: i for i, name in enumerate(_layer_names(_VGG19_CONFIG))}

# ImageNet statistics the VGG weights were trained with.
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


class VGGFeatures(nn.Module):
    """A VGG ``features`` stack returning the outputs of named layers (conv outputs = before ReLU).

    ``config`` lists conv widths and ``"M"`` pools; the default is VGG19. Tests build a tiny one
    with random weights to exercise the loss mechanics; only real VGG19 weights give the
    perceptual loss its meaning.
    """

    def __init__(
        self, layers: Mapping[str, float] | list[str], config: tuple[int | str, ...] = _VGG19_CONFIG
    ):
        super().__init__()
        names = _layer_names(config)
        index = {name: i for i, name in enumerate(names)}
        wanted = list(layers)
        missing = [name for name in wanted if name not in index]
        if missing:
            raise InvalidParameterError(f"unknown VGG layers {missing}; known: {', '.join(index)}")
        self.layers = wanted
        self._indices = {index[name]: name for name in wanted}
        modules: list[nn.Module] = []
        channels = 3
        for item in config:
            if item == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules += [nn.Conv2d(channels, int(item), 3, 1, 1), nn.ReLU(inplace=False)]
                channels = int(item)
        self.features = nn.Sequential(*modules[: max(self._indices) + 1])
        self.requires_grad_(False).eval()

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        mean = torch.tensor(_MEAN, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(_STD, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        x = (x - mean) / std
        for i, module in enumerate(self.features):
            x = module(x)
            if i in self._indices:
                out[self._indices[i]] = x
        return out


def _search_places(explicit: str | os.PathLike[str] | None) -> list[Path]:
    places = [Path(explicit).expanduser()] if explicit is not None else []
    places.append(model_dir() / VGG19_FILENAME)
    torch_home = Path(os.environ.get("TORCH_HOME") or Path.home() / ".cache" / "torch")
    places.append(torch_home / "hub" / "checkpoints" / VGG19_FILENAME)  # where torchvision keeps it
    return places


def _how_to_get() -> str:
    return (
        "The perceptual loss needs torchvision's ImageNet VGG19 weights, which are not shipped. Either\n"
        f"  - download them (about 550 MB; give the SHA-256 you trust, its first 8 digits are {VGG19_SHA256_PREFIX}):\n"
        "      realesrgan-kit finetune ... --download-vgg --vgg-sha256 HEX\n"
        f"  - or put {VGG19_FILENAME} (from {VGG19_URL}) into {model_dir()} or pass --vgg-weights PATH,\n"
        "  - or train without it: --perceptual off."
    )


def find_vgg19_weights(path: str | os.PathLike[str] | None = None) -> Path:
    """The local VGG19 weights file: ``path``, the model folder, then torchvision's cache."""
    places = _search_places(path)
    for place in places:
        if place.is_file():
            return place
    searched = "\n".join(f"  - {p}" for p in places)
    raise ModelNotFoundError(f"VGG19 weights were not found. Searched:\n{searched}\n{_how_to_get()}")


def download_vgg19(
    sha256: str,
    *,
    dest_dir: str | os.PathLike[str] | None = None,
    url: str = VGG19_URL,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Download the VGG19 weights on explicit request, kept only if their SHA-256 is ``sha256``."""
    digest = (sha256 or "").strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidParameterError(
            f"a full SHA-256 (64 hex digits) is required to download VGG19; got {sha256!r}. {_how_to_get()}"
        )
    if not digest.startswith(VGG19_SHA256_PREFIX):
        raise InvalidParameterError(
            f"the SHA-256 {digest} cannot be {VGG19_FILENAME}'s: torchvision's file name says it starts "
            f"with {VGG19_SHA256_PREFIX}"
        )
    final = Path(dest_dir) / VGG19_FILENAME if dest_dir is not None else model_dir() / VGG19_FILENAME
    if final.is_file() and sha256_of(final) == digest:
        return final
    return fetch_verified(url, final, digest, label="VGG19 weights", progress=progress)


def load_vgg19_features(
    layers: Mapping[str, float] | list[str], path: str | os.PathLike[str] | None = None
) -> VGGFeatures:
    """VGG19 with ImageNet weights read safely (``weights_only``), checked against the prefix."""
    file = find_vgg19_weights(path)
    digest = sha256_of(file)
    if not digest.startswith(VGG19_SHA256_PREFIX):
        raise ChecksumMismatchError(
            f"{file} has SHA-256 {digest}, which does not start with {VGG19_SHA256_PREFIX} as "
            f"{VGG19_FILENAME} does; it is not torchvision's VGG19. {_how_to_get()}"
        )
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # weights_only refuses anything but tensors: report, never run it
        raise CorruptModelError(f"{file} could not be read as a VGG19 state dict: {exc}") from exc
    with torch.device("meta"):  # no default init: every weight is loaded below
        network = VGGFeatures(layers)
    network.to_empty(device="cpu")
    features = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
    own = network.features.state_dict()
    try:
        network.features.load_state_dict({k: features[k] for k in own}, strict=True)
    except (KeyError, RuntimeError) as exc:
        raise CorruptModelError(f"{file} does not hold VGG19 features: {exc}") from exc
    log.info("perceptual loss: VGG19 features from %s", file)
    return network
