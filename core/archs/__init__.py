"""One folder per architecture: its network, its optional fast forward and int8 form, and its
spec (detection, hyperparameters, facts), written to ``core.netspec``'s contract. Nothing here
imports ``core.load``, whose registry lists the specs below.
"""

from ..netspec.base import ArchitectureFacts, ArchitectureSpec
from .discriminator import UNET_DISCRIMINATOR_SPEC, UNetDiscriminatorSN
from .rrdbnet import RRDBNET_SPEC, RRDBNet
from .srvgg import SRVGG_SPEC, SRVGGNetCompact

__all__ = [
    "ArchitectureFacts",
    "ArchitectureSpec",
    "RRDBNet",
    "RRDBNET_SPEC",
    "SRVGGNetCompact",
    "SRVGG_SPEC",
    "UNetDiscriminatorSN",
    "UNET_DISCRIMINATOR_SPEC",
]
