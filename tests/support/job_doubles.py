"""Worker specs for job tests: wrappers that fail, crash or report where they ran.

They live in an importable module (not a test file) so that Ray worker processes can load them.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realesrgan_kit.core.jobs import WorkerResources


@dataclass(frozen=True)
class FlakySpec:
    """Runs ``inner``; raises ``error`` for units in ``fail`` on their first ``times`` tries."""

    inner: Any
    fail: tuple[str, ...] = ()
    times: int = 1
    error: type[BaseException] = RuntimeError

    def resources(self) -> WorkerResources:
        return self.inner.resources()

    def start(self):
        runner = self.inner.start()

        def run(unit, progress=None, attempt=1):
            if unit.key in self.fail and attempt <= self.times:
                raise self.error(f"injected failure of {unit.key} on try {attempt}")
            return runner(unit, progress, attempt)

        return run


@dataclass(frozen=True)
class CrashOnceSpec:
    """Runs ``inner``; the first time a worker starts ``victim`` it leaves a half-written
    temporary file beside the target (as an interrupted atomic write does) and is killed with
    SIGKILL. ``flag`` records that the crash happened, across worker processes."""

    inner: Any
    victim: str
    flag: str
    starts: str = field(default="")

    def resources(self) -> WorkerResources:
        return self.inner.resources()

    def for_cluster(self) -> CrashOnceSpec:
        inner = getattr(self.inner, "for_cluster", None)
        return CrashOnceSpec(inner() if callable(inner) else self.inner, self.victim, self.flag, self.starts)

    def start(self):
        runner = self.inner.start()
        if self.starts:  # one line per started worker process
            with open(self.starts, "a", encoding="ascii") as log:
                log.write(f"{os.getpid()}\n")

        def run(unit, progress=None, attempt=1):
            if unit.key == self.victim and not os.path.exists(self.flag):
                Path(self.flag).write_text(str(os.getpid()))
                target = Path(unit.outputs[0])
                target.parent.mkdir(parents=True, exist_ok=True)
                (target.parent / f".{target.name}.0123456789ab.tmp{target.suffix}").write_bytes(b"partial")
                os.kill(os.getpid(), signal.SIGKILL)
            return runner(unit, progress, attempt)

        return run


@dataclass(frozen=True)
class BarrierSpec:
    """Runs ``inner``; no unit starts before ``workers`` workers have started (each appends a
    line to ``starts``), so every worker gets units however fast the first one is."""

    inner: Any
    starts: str
    workers: int = 2
    timeout: float = 180.0

    def resources(self) -> WorkerResources:
        return self.inner.resources()

    def for_cluster(self) -> BarrierSpec:
        inner = getattr(self.inner, "for_cluster", None)
        return BarrierSpec(
            inner() if callable(inner) else self.inner, self.starts, self.workers, self.timeout
        )

    def start(self):
        runner = self.inner.start()
        with open(self.starts, "a", encoding="ascii") as log:
            log.write(f"{os.getpid()}\n")
        deadline = time.monotonic() + self.timeout

        def run(unit, progress=None, attempt=1):
            while len(Path(self.starts).read_text().split()) < self.workers:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"only some of {self.workers} workers started")
                time.sleep(0.05)  # waiting for the other worker to exist, not for a duration
            return runner(unit, progress, attempt)

        return run


@dataclass(frozen=True)
class WriteKeySpec:
    """A worker with no model: each unit writes its key into its first output."""

    def resources(self) -> WorkerResources:
        return WorkerResources(cpus=1.0, gpus=0.0)

    def start(self):
        def run(unit, progress=None, attempt=1):
            Path(unit.outputs[0]).write_text(unit.key)
            return unit.outputs[0]

        return run
