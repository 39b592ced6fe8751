"""Image channels ⇄ network channels: gray, RGB, alpha, premultiplication.

The image's colour goes through the network the way the network expects it (gray replicated
to three channels for RGB models and averaged back; RGB split into three gray items for a
one-channel model). Alpha, per ``alpha``:

- ``model``: through the network too, as one more batch item, so edges get the same detail;
- ``resize``: a high-quality float resize of the input alpha (cheaper, softer);
- ``drop``: no alpha in the result.

With alpha kept, colour is premultiplied by alpha before the network and divided back after,
so colour hidden under transparent pixels (often bright garbage) cannot bleed into visible
edges as halos. A four-channel network gets RGBA as it is (it learned alpha itself).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import InvalidImageError, InvalidParameterError
from ..options import ALPHA_MODES

__all__ = ["ALPHA_MODES", "ChannelPlan", "plan_channels"]

_EPS = 1.0 / 1024  # alpha below this is treated as fully transparent when dividing back


@dataclass(frozen=True)
class ChannelPlan:
    colour_in: int  # image colour channels: 1 or 3
    alpha_in: bool  # the image has alpha
    alpha: str  # "model" | "resize" | "drop" | "none" | "native" (a 4-channel network)
    net_in: int
    net_out: int
    batch: int  # network batch items per window
    colour_out: int  # colour channels of the result

    @property
    def final_channels(self) -> int:
        return self.colour_out + (1 if self.alpha in ("model", "resize", "native") else 0)

    @property
    def written_channels(self) -> int:
        """Channels that tiles write (the resize-mode alpha is filled separately)."""
        return self.colour_out + (1 if self.alpha in ("model", "native") else 0)

    @property
    def premultiplied(self) -> bool:
        return self.alpha in ("model", "resize")

    def network_input(self, image: torch.Tensor) -> torch.Tensor:
        """[C, H, W] image (float32 0..1) → [batch, net_in, H, W] network input."""
        colour = image[: self.colour_in]
        alpha = image[self.colour_in : self.colour_in + 1] if self.alpha_in else None
        if self.alpha == "native":
            rgb = colour.expand(3, -1, -1) if self.colour_in == 1 else colour
            return torch.cat([rgb, alpha if alpha is not None else torch.ones_like(colour[:1])])[None]
        if self.premultiplied:
            assert alpha is not None
            colour = colour * alpha
        items = [self._as_network(colour)]
        if self.alpha == "model":
            assert alpha is not None
            items.append(self._as_network(alpha))
        return torch.cat(items)

    def _as_network(self, planes: torch.Tensor) -> torch.Tensor:
        """[c, H, W] → [n, net_in, H, W]."""
        c = planes.shape[0]
        if self.net_in == c:
            return planes[None]
        if self.net_in == 3 and c == 1:
            return planes.expand(3, -1, -1)[None]
        if self.net_in == 1:
            return planes[:, None]
        if self.net_in == 4:
            return torch.cat([planes.expand(3, -1, -1) if c == 1 else planes, torch.ones_like(planes[:1])])[
                None
            ]
        raise AssertionError("unreachable: plan_channels validated the combination")

    def _from_network(self, out: torch.Tensor, channels: int) -> torch.Tensor:
        """[n, net_out, h, w] → [channels, h, w]."""
        if out.shape[0] > 1:  # one gray item per image channel
            return out[:, 0]
        planes = out[0]
        if self.net_in == 4:
            planes = planes[:3]
        if channels == 1 and planes.shape[0] != 1:
            return planes.mean(0, keepdim=True)
        return planes

    def network_output(self, out: torch.Tensor) -> torch.Tensor:
        """[batch, net_out, h, w] → [written_channels, h, w] (alpha last)."""
        if self.alpha == "native":
            colour = self._from_network(out, self.colour_out)
            return torch.cat([colour, out[0, 3:4]])
        colour_items = 3 if (self.net_in == 1 and self.colour_in == 3) else 1
        colour = self._from_network(out[:colour_items], self.colour_out)
        if self.alpha != "model":
            return colour
        alpha = self._from_network(out[colour_items:], 1)
        return torch.cat([colour, alpha])

    def finish(self, hwc: torch.Tensor) -> None:
        """Divide premultiplied colour by alpha, in place, in row chunks; clamp to 0..1."""
        if not self.premultiplied:
            return
        rows = max(1, (8 << 20) // max(1, hwc.shape[1] * hwc.shape[2] * 4))
        c = self.colour_out
        for top in range(0, hwc.shape[0], rows):
            chunk = hwc[top : top + rows]
            alpha = chunk[:, :, c : c + 1].clamp_(0.0, 1.0)
            colour = chunk[:, :, :c]
            colour.div_(alpha.clamp(min=_EPS)).clamp_(0.0, 1.0)
            colour.mul_((alpha > _EPS).to(colour.dtype))


def plan_channels(colour_in: int, alpha_in: bool, alpha: str, net_in: int, net_out: int) -> ChannelPlan:
    if alpha not in ALPHA_MODES:
        raise InvalidParameterError(f"alpha must be one of {', '.join(ALPHA_MODES)}; got {alpha!r}")
    if net_in not in (1, 3, 4):
        raise InvalidImageError(
            f"this model takes {net_in}-channel images; only 1, 3 or 4 channel models are supported"
        )
    if net_in == 4:
        mode = "native" if alpha_in and alpha != "drop" else "none"
        return ChannelPlan(
            colour_in, alpha_in, mode, net_in, net_out, 1, colour_in if net_out >= 3 else net_out
        )
    if net_out != net_in and not (net_in == colour_in):
        raise InvalidImageError(
            f"this model maps {net_in} to {net_out} channels; it can only take {net_in}-channel images, "
            f"and the image has {colour_in} colour channels"
        )
    mode = alpha if alpha_in and alpha != "drop" else "none"
    colour_items = colour_in if net_in == 1 else 1
    colour_out = net_out if net_in == colour_in else colour_in
    batch = colour_items + (1 if mode == "model" else 0)
    return ChannelPlan(colour_in, alpha_in, mode, net_in, net_out, batch, colour_out)
