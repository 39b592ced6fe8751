"""A before/after split view with a draggable divider and zoom to a region.

The full-resolution images stay in Python; the browser gets PNG previews of the region on
show (the whole image, or the crop a shift-drag selected), so zooming into an 8K result shows
its real pixels without sending 100 MB to the browser. ``before`` is usually smaller than
``after`` (the input of a ×4 model): both are stretched to one box with nearest-neighbour
rendering, so each input pixel shows as a block, like the model saw it.
"""

from __future__ import annotations

from typing import Any

import anywidget
import numpy as np
import traitlets

from ..core.errors import InvalidParameterError
from ._compare_frontend import CSS, ESM
from .previews import DEFAULT_PREVIEW_SIDE, as_array, crop_fraction, preview_png

__all__ = ["CompareView", "WHOLE"]

WHOLE = (0.0, 0.0, 1.0, 1.0)
_MIN_REGION_PIXELS = 2  # a selection smaller than this many input pixels is too small to look at


class CompareView(anywidget.AnyWidget):
    """Before/after split view.

    Traits synced with the browser: ``divider`` (0..1, the share of the width showing
    *before*), ``region`` (x0, y0, x1, y1 as fractions of the whole image: what is shown),
    ``before``/``after`` (PNG bytes of the shown region), labels, ``caption``.
    """

    _esm = ESM
    _css = CSS

    before = traitlets.Bytes(b"").tag(sync=True)
    after = traitlets.Bytes(b"").tag(sync=True)
    before_label = traitlets.Unicode("before").tag(sync=True)
    after_label = traitlets.Unicode("after").tag(sync=True)
    divider = traitlets.Float(0.5, min=0.0, max=1.0).tag(sync=True)
    region = traitlets.Tuple(
        traitlets.Float(), traitlets.Float(), traitlets.Float(), traitlets.Float(), default_value=WHOLE
    ).tag(sync=True)
    aspect = traitlets.Float(1.5).tag(sync=True)
    caption = traitlets.Unicode("").tag(sync=True)

    def __init__(self, *, preview_side: int = DEFAULT_PREVIEW_SIDE, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self.layout.max_width:
            self.layout.max_width = "720px"
        self.preview_side = preview_side
        self._before_full: np.ndarray | None = None
        self._after_full: np.ndarray | None = None

    # ---- Python API -------------------------------------------------------------------
    def set_images(self, before: Any, after: Any = None, *, keep_region: bool = False) -> None:
        """Show ``before`` (and ``after``, if given): paths, PIL images or numpy arrays."""
        before_array = as_array(before)
        after_array = None if after is None else as_array(after)
        self._before_full, self._after_full = before_array, after_array
        with self.hold_trait_notifications():
            if not keep_region:
                self.region = WHOLE
            self._render()

    def set_after(self, after: Any) -> None:
        """Replace only the *after* image (a new result for the same input), keeping the zoom."""
        if self._before_full is None:
            raise InvalidParameterError(
                "set a before image first (set_images); the after image is compared to it"
            )
        self._after_full = None if after is None else as_array(after)
        self._render()

    def clear(self) -> None:
        self._before_full = self._after_full = None
        with self.hold_trait_notifications():
            self.region = WHOLE
            self._render()

    def zoom_to(self, x0: float, y0: float, x1: float, y1: float) -> None:
        """Show the region ``(x0, y0)–(x1, y1)``, given as fractions (0..1) of the width and height."""
        box = (float(x0), float(y0), float(x1), float(y1))
        if not all(0.0 <= v <= 1.0 for v in box) or not (box[0] < box[2] and box[1] < box[3]):
            raise InvalidParameterError(
                f"a region is (x0, y0, x1, y1) with 0 ≤ x0 < x1 ≤ 1 and 0 ≤ y0 < y1 ≤ 1, got {box}"
            )
        self.region = box

    def reset_zoom(self) -> None:
        self.region = WHOLE

    @property
    def shown_before(self) -> np.ndarray | None:
        """The full-resolution pixels of *before* currently shown (the region's crop)."""
        return (
            None if self._before_full is None else crop_fraction(self._before_full, self._snapped_region())[0]
        )

    @property
    def shown_after(self) -> np.ndarray | None:
        return (
            None if self._after_full is None else crop_fraction(self._after_full, self._snapped_region())[0]
        )

    # ---- internals ----------------------------------------------------------------------
    @traitlets.validate("region")
    def _valid_region(self, proposal: dict[str, Any]) -> tuple[float, float, float, float]:
        # Values from the browser may be a hair outside 0..1 or reversed: clamp and order.
        x0, y0, x1, y1 = (min(1.0, max(0.0, float(v))) for v in proposal["value"])
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    @traitlets.observe("region")
    def _on_region(self, change: dict[str, Any]) -> None:
        self._render()

    def _reference(self) -> np.ndarray | None:
        return self._before_full if self._before_full is not None else self._after_full

    def _snapped_region(self) -> tuple[float, float, float, float]:
        """The region snapped outwards to whole *before* pixels, so both crops show the same area."""
        reference = self._reference()
        if reference is None or self.region == WHOLE:
            return WHOLE
        h, w = reference.shape[:2]
        x0, y0, x1, y1 = self.region
        # Grow a too-small selection around its centre to a few input pixels.
        min_w, min_h = min(1.0, _MIN_REGION_PIXELS / w), min(1.0, _MIN_REGION_PIXELS / h)
        if x1 - x0 < min_w:
            cx = (x0 + x1) / 2
            x0 = max(0.0, min(cx - min_w / 2, 1.0 - min_w))
            x1 = x0 + min_w
        if y1 - y0 < min_h:
            cy = (y0 + y1) / 2
            y0 = max(0.0, min(cy - min_h / 2, 1.0 - min_h))
            y1 = y0 + min_h
        _, (left, top, right, bottom) = crop_fraction(reference, (x0, y0, x1, y1))
        return (left / w, top / h, right / w, bottom / h)

    def _render(self) -> None:
        region = self._snapped_region()
        before = None if self._before_full is None else crop_fraction(self._before_full, region)[0]
        after = None if self._after_full is None else crop_fraction(self._after_full, region)[0]
        shown = after if after is not None else before
        with self.hold_trait_notifications():
            self.before = b"" if before is None else preview_png(before, self.preview_side)
            self.after = b"" if after is None else preview_png(after, self.preview_side)
            if shown is not None:
                self.aspect = shown.shape[1] / shown.shape[0]
            self.caption = self._caption(region, before, after)

    def _caption(
        self, region: tuple[float, float, float, float], before: np.ndarray | None, after: np.ndarray | None
    ) -> str:
        if before is None and after is None:
            return ""
        full = self._after_full if self._after_full is not None else self._before_full
        assert full is not None  # one of the crops exists, so its source does
        h, w = full.shape[:2]
        if region == WHOLE:
            where = "whole image"
        else:
            x0, y0, x1, y1 = region
            where = f"region x {round(x0 * w)}–{round(x1 * w)}, y {round(y0 * h)}–{round(y1 * h)}"
        sizes = []
        if before is not None and self._before_full is not None:
            sizes.append(f"{self.before_label} {self._before_full.shape[1]}×{self._before_full.shape[0]}")
        if after is not None and self._after_full is not None:
            sizes.append(f"{self.after_label} {w}×{h}")
        return f"{where} · " + " · ".join(sizes)
