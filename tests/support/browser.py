"""A Voilà server on 127.0.0.1 and a Playwright-driven Debian chromium, both offline.

Playwright's own browser download is blocked on our machines (and unnecessary): we launch
the system chromium (``apt-get install chromium``; CI's ``.ci/run`` installs it). Voilà needs
a ``python3`` kernelspec; installing ``ipykernel`` into the environment provides one in
``<prefix>/share/jupyter/kernels`` (else: ``python -m ipykernel install --user --name python3``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path(os.environ.get("REALESRGAN_KIT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def missing_prerequisites() -> list[str]:
    """What this machine lacks for the browser test, each with the fix."""
    problems = []
    if not CHROMIUM.exists():
        problems.append(
            f"no chromium at {CHROMIUM}: apt-get install -y chromium (or set REALESRGAN_KIT_CHROMIUM)"
        )
    for module, package in (("playwright", "playwright"), ("voila", "voila"), ("ipykernel", "ipykernel")):
        try:
            __import__(module)
        except ImportError:
            problems.append(f"the Python package {package} is missing: pip install -e '.[test]'")
    try:
        from jupyter_client.kernelspec import KernelSpecManager

        if "python3" not in KernelSpecManager().find_kernel_specs():
            problems.append("no python3 kernelspec: python -m ipykernel install --user --name python3")
    except ImportError:
        problems.append("jupyter_client is missing: pip install -e '.[test]'")
    return problems


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def voila_server(
    notebook: Path, *, env: Mapping[str, str], log_path: Path, ready_timeout: float = 120.0
) -> Iterator[str]:
    """Serve ``notebook`` with Voilà on 127.0.0.1; yields its URL once it answers HTTP 200.

    The server runs in its own process group, so its kernels end with it.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [
        sys.executable,
        "-m",
        "voila",
        notebook.name,
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--ServerApp.ip=127.0.0.1",
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=notebook.parent,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_serving(process, url, ready_timeout, log_path)
        yield url
    finally:
        _stop(process)


def _wait_until_serving(process: subprocess.Popen, url: str, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        # Wait on the process itself between polls: returns at once if Voilà died.
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=0.25)
            raise RuntimeError(f"voila exited with {process.returncode} before serving:\n{_tail(log_path)}")
    raise TimeoutError(f"voila did not answer at {url} within {timeout:.0f} s:\n{_tail(log_path)}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # Voilà shuts its kernels down on SIGTERM
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # whatever of its group is left (kernels)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Debian chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
