"""RRDBNet (ESRGAN, Real-ESRGAN x4plus, BSRGAN): network, lean forward, int8 form and spec."""

from .network import RRDBNet
from .spec import RRDBNET_SPEC

__all__ = ["RRDBNet", "RRDBNET_SPEC"]
