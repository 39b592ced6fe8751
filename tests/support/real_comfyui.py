"""A real ComfyUI for the host tests: its unmodified source, its own venv, a server on loopback.

ComfyUI is installed the way ComfyUI-Manager installs a pack: ComfyUI's ``requirements.txt``,
then the pack's ``requirements.txt``, into ComfyUI's own venv; the checkout is linked into
``custom_nodes/``. That venv cannot be the project's test venv: ComfyUI imports torchvision at
start-up, and torchvision's operators only load beside a torch build of the same kind, so the
project's CPU-only ``torch==2.13.0`` pin cannot serve it (``operator torchvision::nms does not
exist``). The venv is built once per machine and kept in the user cache, keyed by both
requirements files and the torch pins (about 4 minutes and 6.5 GB the first time, most of it
CUDA libraries that ``--cpu`` never loads).

Where the source is:

- ``$REALESRGAN_KIT_COMFYUI``: a ComfyUI folder (with ``main.py``) or its source ``.tar.gz``;
- else ``../shared/comfyui/comfyui-*.tar.gz`` beside the checkout (the project's CI and
  developer machines have it).

``$REALESRGAN_KIT_COMFYUI_PYTHON`` names the python of a ready ComfyUI venv (no venv is built).
Without any ComfyUI the host tests skip, saying how to point them at one; with
``REALESRGAN_KIT_REQUIRE_COMFYUI=1`` (CI) they fail instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .browser import free_port

REPO = Path(__file__).resolve().parents[2]
ENV_SOURCE = "REALESRGAN_KIT_COMFYUI"
ENV_PYTHON = "REALESRGAN_KIT_COMFYUI_PYTHON"
ENV_REQUIRE = "REALESRGAN_KIT_REQUIRE_COMFYUI"
ENV_VENV_CACHE = "REALESRGAN_KIT_COMFYUI_VENVS"
SHARED_SOURCES = REPO.parent / "shared" / "comfyui"

# The torch/torchvision pair installed with ComfyUI on a CPU-only machine: torch 2.14.1 with
# torchvision 0.29.1 imports and runs with --cpu (the pair lies on the project machines' disk).
TORCH_PINS = ("torch==2.14.1", "torchvision==0.29.1")
# ComfyUI 0.3.64's server.py imports requests, which its requirements.txt does not list (older
# transformers releases pulled it in). A user's ComfyUI always has it.
HOST_EXTRAS = ("requests",)
VENV_LAYOUT = "1"  # bump when the way the venv is built changes

HOW_TO_POINT = (
    f"set {ENV_SOURCE} to a ComfyUI folder or its source .tar.gz (and optionally {ENV_PYTHON} to "
    f"the python of a ComfyUI venv); the project's machines have it at {SHARED_SOURCES}"
)


class ComfyUIUnavailable(RuntimeError):
    """No ComfyUI source was found: the host tests skip (or fail, when required)."""


def required() -> bool:
    return os.environ.get(ENV_REQUIRE, "") not in ("", "0")


def source() -> Path:
    """The ComfyUI folder or source archive the tests use."""
    named = os.environ.get(ENV_SOURCE)
    if named:
        path = Path(named).expanduser()
        if not path.exists():
            raise ComfyUIUnavailable(f"{ENV_SOURCE}={named} does not exist; {HOW_TO_POINT}")
        return path
    archives = sorted(SHARED_SOURCES.glob("comfyui-*.tar.gz"))
    if not archives:
        raise ComfyUIUnavailable(f"no ComfyUI found; {HOW_TO_POINT}")
    return archives[-1]


def unpack(src: Path, dest: Path) -> Path:
    """A fresh, writable ComfyUI folder under ``dest`` (the source is never written to)."""
    if src.is_dir():
        if not (src / "main.py").is_file():
            raise ComfyUIUnavailable(f"{src} has no main.py: not a ComfyUI folder; {HOW_TO_POINT}")
        root = dest / src.name

        # the user's own packs and model files stay behind (only those top-level folders:
        # comfy/ldm/models is code)
        def user_folders(folder: str, names: list[str]) -> set[str]:
            return (
                {"custom_nodes", "models", "input", "output"} & set(names) if Path(folder) == src else set()
            )

        shutil.copytree(src, root, symlinks=True, ignore=user_folders)
        (root / "custom_nodes").mkdir()
    else:
        with tarfile.open(src) as archive:
            archive.extractall(dest, filter="data")
        roots = [p for p in dest.iterdir() if (p / "main.py").is_file()]
        if len(roots) != 1:
            raise ComfyUIUnavailable(f"{src} does not unpack to one ComfyUI folder")
        root = roots[0]
    for sub in ("models/upscale_models", "input", "output"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


def _venv_key(comfy_root: Path) -> str:
    digest = hashlib.sha256(VENV_LAYOUT.encode())
    digest.update((comfy_root / "requirements.txt").read_bytes())
    digest.update((REPO / "requirements.txt").read_bytes())
    digest.update("|".join(TORCH_PINS + HOST_EXTRAS).encode())
    digest.update(f"{sys.version_info[0]}.{sys.version_info[1]}".encode())
    return digest.hexdigest()[:16]


def _venv_cache() -> Path:
    named = os.environ.get(ENV_VENV_CACHE)
    if named:
        return Path(named)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "realesrgan-kit" / "comfyui-venvs"


def python_for(comfy_root: Path, log: Path) -> Path:
    """ComfyUI's python: ``$REALESRGAN_KIT_COMFYUI_PYTHON``, or a cached venv built as Manager would."""
    named = os.environ.get(ENV_PYTHON)
    if named:
        return Path(named)
    cache = _venv_cache()
    cache.mkdir(parents=True, exist_ok=True)
    venv = cache / _venv_key(comfy_root)
    python = venv / "bin" / "python"
    with open(cache / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time, also across pytest processes
        if python.is_file():
            return python
        building = cache / f"building-{uuid.uuid4().hex[:8]}"
        base = getattr(sys, "_base_executable", sys.executable)
        pins = building / "torch-pins.txt"
        steps = [
            [base, "-m", "venv", str(building)],
            [str(building / "bin/pip"), "install", *TORCH_PINS],
            [
                str(building / "bin/pip"),
                "install",
                "-r",
                str(comfy_root / "requirements.txt"),
                "-c",
                str(pins),
            ],
            [str(building / "bin/pip"), "install", *HOST_EXTRAS, "-c", str(pins)],
            [str(building / "bin/pip"), "install", "-r", str(REPO / "requirements.txt"), "-c", str(pins)],
        ]
        try:
            with open(log, "a") as out:
                for i, step in enumerate(steps):
                    out.write(f"+ {' '.join(step)}\n")
                    out.flush()
                    subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, check=True, timeout=1800)
                    if i == 0:
                        pins.write_text("\n".join(TORCH_PINS) + "\n")
            building.rename(venv)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        # the venv's scripts name the folder they were built in; the interpreter does not
        return python


@dataclass(frozen=True)
class ComfyInstall:
    root: Path  # the unpacked ComfyUI folder, the checkout linked into its custom_nodes/
    python: Path  # its venv's python


@dataclass
class ComfyServer:
    """``main.py --cpu`` on a loopback port, with the checkout linked into ``custom_nodes/``."""

    root: Path
    python: Path
    env: dict[str, str]
    port: int = 0
    process: subprocess.Popen | None = None
    log_path: Path = field(default_factory=Path)
    client_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0) -> None:
        self.port = free_port()
        self.log_path = self.root / f"server-{self.port}.log"
        command = [str(self.python), "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port)]
        command += ["--disable-auto-launch"]
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                self.get("/object_info/RealESRGANKitUpscale", timeout=5)
                return
            time.sleep(0.5)
        raise RuntimeError(f"ComfyUI did not serve within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.is_file() else ""

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    # ---- HTTP ---------------------------------------------------------------------------
    def request(self, path: str, data: Any = None, timeout: float = 30.0) -> bytes:
        body = None if data is None else json.dumps(data).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        req = urllib.request.Request(self.url + path, data=body, headers=headers)
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.read()

    def get(self, path: str, timeout: float = 30.0) -> Any:
        return json.loads(self.request(path, timeout=timeout))

    def post(self, path: str, data: Any = None) -> Any:
        raw = self.request(path, data if data is not None else {})
        return json.loads(raw) if raw.strip() else None

    def submit(self, prompt: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST /prompt: (HTTP status, body); a refused prompt answers 400 with its node errors."""
        try:
            return 200, self.post("/prompt", {"prompt": prompt, "client_id": self.client_id})
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def queue(self, prompt: dict[str, Any]) -> str:
        status, body = self.submit(prompt)
        if status != 200:
            raise AssertionError(f"ComfyUI refused the prompt ({status}): {json.dumps(body, indent=1)}")
        return body["prompt_id"]

    def wait(self, prompt_id: str, timeout: float = 300.0) -> dict[str, Any]:
        """The prompt's history entry once it has finished (successfully or not)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entry = self.get(f"/history/{prompt_id}").get(prompt_id)
            if entry and entry.get("status", {}).get("completed") is not None:
                if entry["status"].get("status_str") in ("success", "error"):
                    return entry
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"ComfyUI died while running {prompt_id}:\n{self.log_tail()}")
            time.sleep(0.2)
        raise TimeoutError(f"prompt {prompt_id} did not finish within {timeout:.0f} s:\n{self.log_tail()}")

    def run(self, prompt: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
        return self.wait(self.queue(prompt), timeout)

    def view(self, item: dict[str, Any]) -> bytes:
        query = urllib.parse.urlencode(
            {
                "filename": item["filename"],
                "subfolder": item.get("subfolder", ""),
                "type": item.get("type", "output"),
            }
        )
        return self.request(f"/view?{query}")

    def websocket(self) -> Any:
        import websocket  # websocket-client (test extra)

        ws = websocket.WebSocket()
        ws.connect(f"ws://127.0.0.1:{self.port}/ws?clientId={self.client_id}", timeout=30)
        return ws


def messages(entry: dict[str, Any]) -> dict[str, Any]:
    """The history entry's status messages by kind (``execution_cached``, ``execution_error``, ...)."""
    return {kind: body for kind, body in entry.get("status", {}).get("messages", [])}


def error_of(entry: dict[str, Any]) -> str:
    error = messages(entry).get("execution_error")
    if not error:
        return ""
    return f"{error.get('node_type')}: {error.get('exception_type')}: {error.get('exception_message')}"


@contextlib.contextmanager
def running_server(root: Path, python: Path, env: dict[str, str]) -> Iterator[ComfyServer]:
    server = ComfyServer(root=root, python=python, env=env)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def link_pack(root: Path, name: str = "realesrgan-kit") -> Path:
    """The checkout in ``custom_nodes/`` under a folder name of its own (as a git clone would be)."""
    link = root / "custom_nodes" / name
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(REPO, target_is_directory=True)
    return link
