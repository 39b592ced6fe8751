"""Shared by the benchmark scripts: import this checkout as ``realesrgan_kit``."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def import_package():
    """Import this checkout as ``realesrgan_kit`` whatever its folder is called.

    An installed copy is used only when it *is* this checkout (an editable install);
    otherwise a symlink named ``realesrgan_kit`` in a temporary folder goes first on sys.path.
    """
    try:
        import realesrgan_kit

        if realesrgan_kit.__file__ and Path(realesrgan_kit.__file__).resolve().parent == ROOT:
            return realesrgan_kit
    except ImportError:
        pass
    link_dir = Path(tempfile.mkdtemp(prefix="realesrgan-kit-bench-"))
    (link_dir / "realesrgan_kit").symlink_to(ROOT, target_is_directory=True)
    sys.path.insert(0, str(link_dir))
    for name in [m for m in sys.modules if m == "realesrgan_kit" or m.startswith("realesrgan_kit.")]:
        del sys.modules[name]
    import realesrgan_kit

    return realesrgan_kit


def cpu_class() -> str:
    """The CPU class every benchmark row is labelled with: the engine's own label (so tables and
    the backend decisions stored per class agree), including the AVX2 cap set through
    ``ONEDNN_MAX_CPU_ISA``."""
    import_package()
    from realesrgan_kit.core.engine.backends.machine import cpu_class as engine_cpu_class

    return engine_cpu_class()
