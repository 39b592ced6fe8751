"""Image input controls: a path box with a Load button, and a file upload."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from ..core.errors import InvalidParameterError

__all__ = ["ImagePicker"]


class ImagePicker(w.VBox):
    """Calls ``on_image(source, name)`` with a path string or the uploaded bytes.

    ``on_error(exc, action)`` shows what went wrong (the owner's error box); the picker does
    not decode anything itself, so the owner's own checks and messages apply.
    """

    def __init__(
        self, on_image: Callable[[Any, str], None], on_error: Callable[[BaseException, str], None]
    ) -> None:
        self._on_image, self._on_error = on_image, on_error
        style = {"description_width": "80px"}
        self.path = w.Text(
            placeholder="path to an image file",
            description="image",
            style=style,
            layout=w.Layout(width="270px"),
        )
        self.load_button = w.Button(
            description="Load", layout=w.Layout(width="64px"), tooltip="read the image at this path"
        )
        self.upload = w.FileUpload(
            accept="image/*", multiple=False, description="Upload", layout=w.Layout(width="130px")
        )
        self.info = w.HTML("<i>no image</i>")
        super().__init__([w.HBox([self.path, self.load_button]), self.upload, self.info])
        self.load_button.on_click(lambda _: self._load_path())
        self.upload.observe(self._on_upload, "value")

    @property
    def disabled(self) -> bool:
        return self.load_button.disabled

    @disabled.setter
    def disabled(self, value: bool) -> None:
        self.load_button.disabled = self.upload.disabled = self.path.disabled = value

    def show(self, description: str, name: str | None = None) -> None:
        suffix = f" <small>({html.escape(name)})</small>" if name else ""
        self.info.value = f"input: {html.escape(description)}{suffix}"

    def _load_path(self) -> None:
        text = self.path.value.strip()
        try:
            if not text:
                raise InvalidParameterError("type the path of an image file first")
            self._on_image(text, text)
        except Exception as exc:
            self._on_error(exc, "loading the image")

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]
        name = str(item.get("name") or "upload")
        try:
            self._on_image(bytes(item["content"]), name)
        except Exception as exc:
            self._on_error(exc, f"reading {name}")
