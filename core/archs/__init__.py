"""Pure network definitions: no I/O, no detection. See ``core.load.registry`` for those."""

from .discriminator import UNetDiscriminatorSN
from .rrdbnet import RRDBNet
from .srvgg import SRVGGNetCompact

__all__ = ["RRDBNet", "SRVGGNetCompact", "UNetDiscriminatorSN"]
