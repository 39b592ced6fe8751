"""SRVGGNetCompact (Real-ESRGAN's small general and anime-video models): network and spec."""

from .network import SRVGGNetCompact
from .spec import SRVGG_SPEC

__all__ = ["SRVGGNetCompact", "SRVGG_SPEC"]
