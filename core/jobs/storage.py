"""Paths and URIs for job inputs and outputs.

A plain path goes through the local helpers (``core.imagefile.arrays``, ``core.fileio``) exactly as a
single-machine run does. A URI (``scheme://...``: ``file://``, ``s3://``, ``gs://``,
``hdfs://``, ...) goes through a pyarrow filesystem: whatever pyarrow reaches with the
environment's own configuration (credentials stay with pyarrow and the cloud SDKs; we
handle none). On a URI an output is written to a hidden temporary name beside the target and
then moved into place, so a reader never sees a partial file under the final name.
"""

from __future__ import annotations

import os
import posixpath
import re
import secrets
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError, OutputExistsError

__all__ = [
    "is_uri",
    "join",
    "name_of",
    "stem_of",
    "suffix_of",
    "exists",
    "is_dir",
    "list_files",
    "read_bytes",
    "write_bytes",
    "remove_stale_temporaries",
    "read_image_at",
    "read_image_file_at",
    "write_image_at",
]

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(location: str | os.PathLike[str]) -> bool:
    return isinstance(location, str) and bool(_URI.match(location))


def _filesystem(uri: str) -> tuple[Any, str]:
    try:
        from pyarrow import fs  # lazily: only URIs need it
    except ImportError as exc:
        from ..errors import MissingDependencyError

        raise MissingDependencyError(
            f'{uri} is a URI, which needs pyarrow; install it with: pip install "realesrgan-kit[ray]"'
        ) from exc
    try:
        return fs.FileSystem.from_uri(uri)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for unknown schemes
        raise InvalidParameterError(
            f"pyarrow cannot open {uri!r} ({exc}); expected a local path or a URI of a filesystem "
            "pyarrow is configured for (file://, s3://, gs://, hdfs://, ...)"
        ) from exc


def join(location: str, name: str) -> str:
    if is_uri(location):
        return location.rstrip("/") + "/" + name
    return str(Path(location) / name)


def name_of(location: str) -> str:
    return posixpath.basename(location.rstrip("/")) if is_uri(location) else Path(location).name


def suffix_of(location: str) -> str:
    return posixpath.splitext(name_of(location))[1].lower()


def stem_of(location: str) -> str:
    return posixpath.splitext(name_of(location))[0]


def _info(uri: str) -> Any:
    filesystem, path = _filesystem(uri)
    return filesystem, path, filesystem.get_file_info(path)


def exists(location: str) -> bool:
    if not is_uri(location):
        return Path(location).exists()
    from pyarrow import fs

    return _info(location)[2].type != fs.FileType.NotFound


def is_dir(location: str) -> bool:
    if not is_uri(location):
        return Path(location).is_dir()
    from pyarrow import fs

    return _info(location)[2].type == fs.FileType.Directory


def list_files(folder: str, suffixes: tuple[str, ...]) -> list[str]:
    """Files directly inside ``folder`` whose extension is one of ``suffixes``, sorted by name."""
    if not is_uri(folder):
        return sorted(str(p) for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    from pyarrow import fs

    filesystem, path = _filesystem(folder)
    infos = filesystem.get_file_info(fs.FileSelector(path, recursive=False))
    names = sorted(
        i.base_name
        for i in infos
        if i.type == fs.FileType.File and posixpath.splitext(i.base_name)[1].lower() in suffixes
    )
    return [join(folder, n) for n in names]


def read_bytes(location: str) -> bytes:
    if not is_uri(location):
        return Path(location).read_bytes()
    filesystem, path = _filesystem(location)
    with filesystem.open_input_stream(path) as stream:
        return stream.read()


def write_bytes(location: str, data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` so that ``location`` appears whole or not at all."""
    if not is_uri(location):
        from ..fileio import atomic_output

        with atomic_output(location, overwrite=overwrite) as tmp:
            tmp.write_bytes(data)
        return
    from pyarrow import fs

    filesystem, path = _filesystem(location)
    if not overwrite and filesystem.get_file_info(path).type != fs.FileType.NotFound:
        raise OutputExistsError(f"{location} exists; pass --force (overwrite=True) to replace it")
    folder, name = posixpath.split(path)
    filesystem.create_dir(folder, recursive=True)
    tmp = posixpath.join(folder, f".{name}.{secrets.token_hex(6)}.tmp{posixpath.splitext(name)[1]}")
    try:
        with filesystem.open_output_stream(tmp) as stream:
            stream.write(data)
        filesystem.move(tmp, path)
    finally:
        if filesystem.get_file_info(tmp).type != fs.FileType.NotFound:
            filesystem.delete_file(tmp)


def remove_stale_temporaries(location: str) -> int:
    """Remove the hidden temporary files a killed writer of ``location`` left beside it (local
    paths only; an object store keeps no partial uploads under a listed name). Returns how many."""
    if is_uri(location):
        return 0
    target = Path(location)
    if not target.parent.is_dir():
        return 0
    removed = 0
    for stale in target.parent.glob(f".{glob_escape(target.name)}.*.tmp*"):
        stale.unlink(missing_ok=True)
        removed += 1
    return removed


def glob_escape(name: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", name)


def read_image_at(location: str, *, max_pixels: int | None = None) -> Any:
    """Read an image (RGB(A)/gray, 8 or 16 bits) from a path or URI; ``max_pixels`` (checked
    from the header, before decoding) defaults to the readers' limit."""
    from ..imagefile import DEFAULT_MAX_PIXELS
    from ..imagefile.arrays import decode_image, read_image

    limit = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    if not is_uri(location):
        return read_image(location, max_pixels=limit)
    return decode_image(read_bytes(location), name=location, max_pixels=limit)


def read_image_file_at(location: str, *, max_pixels: int | None) -> Any:
    """Read an image with its metadata (``core.imagefile.ImageFile``) from a path or URI."""
    from ..imagefile import decode_image_file, read_image_file

    if not is_uri(location):
        return read_image_file(location, max_pixels=max_pixels)
    return decode_image_file(read_bytes(location), name=location, max_pixels=max_pixels)


def write_image_at(location: str, image: Any, *, overwrite: bool = False, metadata: Any = None) -> None:
    """Write an image (and ``metadata``, an ``ImageMetadata``) atomically to a path or URI;
    the format follows the extension."""
    from ..imagefile import encode_image_file, write_image_file

    if not is_uri(location):
        write_image_file(location, image, metadata, overwrite=overwrite)
        return
    if not suffix_of(location):
        raise InvalidParameterError(f"{location} has no extension; name the format, e.g. .png")
    write_bytes(location, encode_image_file(image, suffix_of(location), metadata), overwrite=overwrite)
