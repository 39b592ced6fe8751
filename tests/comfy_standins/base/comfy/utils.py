"""Stand-in for ``comfy.utils``: the progress bar and its global hook.

Mirrors ComfyUI 0.3.64: ``ProgressBar(total)`` captures the global hook when it is created;
``update_absolute(value, total, preview)`` clamps the value to the total and calls
``hook(value, total, preview, node_id=...)``; ``update(n)`` adds to the current value. The
server installs the hook in ``main.py`` (``hijack_progress``), and that hook calls
``comfy.model_management.throw_exception_if_processing_interrupted()`` on every tick, which is
how Cancel reaches code that reports progress. ``install_server_like_hook`` reproduces it.
"""

from __future__ import annotations

from typing import Any, Callable

PROGRESS_BAR_ENABLED = True
PROGRESS_BAR_HOOK: Callable[..., Any] | None = None


def set_progress_bar_enabled(enabled: bool) -> None:
    global PROGRESS_BAR_ENABLED
    PROGRESS_BAR_ENABLED = enabled


def set_progress_bar_global_hook(function: Callable[..., Any] | None) -> None:
    global PROGRESS_BAR_HOOK
    PROGRESS_BAR_HOOK = function


class ProgressBar:
    def __init__(self, total: int, node_id: str | None = None) -> None:
        self.total = total
        self.current = 0
        self.hook = PROGRESS_BAR_HOOK
        self.node_id = node_id

    def update_absolute(self, value: int, total: int | None = None, preview: Any = None) -> None:
        if total is not None:
            self.total = total
        if value > self.total:
            value = self.total
        self.current = value
        if self.hook is not None:
            self.hook(self.current, self.total, preview, node_id=self.node_id)

    def update(self, value: int) -> None:
        self.update_absolute(self.current + value)


def install_server_like_hook(record: list | None = None) -> list:
    """Install a hook like the server's: check Cancel, then record ``(value, total)``."""
    from comfy import model_management

    ticks = record if record is not None else []

    def hook(value: int, total: int, preview: Any, prompt_id: str | None = None, node_id: str | None = None) -> None:
        model_management.throw_exception_if_processing_interrupted()
        ticks.append((value, total))

    set_progress_bar_global_hook(hook)
    return ticks
