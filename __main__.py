"""``python -m realesrgan_kit``: the same CLI as the ``realesrgan-kit`` command."""

import sys

from .cli import main

sys.exit(main())
