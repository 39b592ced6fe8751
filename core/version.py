"""The package version, defined in core so that core code can name it without importing the
package root (which imports the front ends). The root re-exports it as ``__version__``."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
