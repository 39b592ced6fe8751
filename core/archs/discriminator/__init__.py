"""UNetDiscriminatorSN (Real-ESRGAN's training discriminator): network and spec."""

from .network import UNetDiscriminatorSN
from .spec import UNET_DISCRIMINATOR_SPEC

__all__ = ["UNetDiscriminatorSN", "UNET_DISCRIMINATOR_SPEC"]
