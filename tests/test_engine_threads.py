"""One thread-count mechanism (``core/engine/threads.py``) for images, frames and video.

``torch.set_num_threads`` is process-wide in effect, so every place that runs the network with
a caller's ``threads`` goes through ``torch_threads``: overlapping calls are serialised, each
runs with its own count, and the counts a thread and a new thread get are restored afterwards.
"""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from realesrgan_kit.core.engine import prepare_frame_upscaler, run_upscale
from realesrgan_kit.core.engine.threads import process_default_threads, set_process_threads
from realesrgan_kit.core.video import upscale_video
from support.clips import make_clip
from support.engine_fakes import spandrel_like

ROOT = Path(__file__).resolve().parents[1]
SEEN: dict[str, set[int]] = {}
"""Thread counts each tagged network saw in its forward (a module global: the engine runs
converted copies of the network, which carry the tag but not a list of their own)."""


class RecordsThreads(nn.Module):
    def __init__(self, tag: str) -> None:
        super().__init__()
        self.tag = tag
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        SEEN.setdefault(self.tag, set()).add(torch.get_num_threads())
        return self.conv(x)


def _model(tag: str):
    return spandrel_like(RecordsThreads(tag).eval(), 1)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory):
    return make_clip(tmp_path_factory.mktemp("clips") / "clip.mp4", frames=6, audio=False)


def test_two_videos_and_an_image_at_once_each_run_with_their_own_threads(tmp_path, clip):
    """The second video and the image start while the first video runs with 1 thread: their
    threads take their first count then (the default the first video set), so setting and
    restoring "the previous value" by hand would leave 1 behind as every new thread's count."""
    SEEN.clear()
    default_before, main_before = process_default_threads(), torch.get_num_threads()
    errors: list[BaseException] = []
    workers: list[threading.Thread] = []
    image = np.random.default_rng(0).integers(0, 256, (20, 28, 3), dtype=np.uint8)

    def video(tag: str, threads: int, progress=None) -> None:
        out = tmp_path / f"{tag}.mp4"
        options = {"precision": "fp32", "backend": "torch", "encoder_options": {"preset": "ultrafast"}}
        upscale_video(_model(tag), clip, out, threads=threads, progress=progress, **options)

    def picture(tag: str, threads: int) -> None:
        for _ in range(3):
            run_upscale(_model(tag), image, threads=threads, precision="fp32", backend="torch", tile=8)

    def start(work, *args) -> None:
        initialised = threading.Event()

        def guarded() -> None:
            torch.get_num_threads()  # this thread takes its count now, while the first video runs
            initialised.set()
            try:
                work(*args)
            except BaseException as exc:  # reported by the main thread below
                errors.append(exc)

        workers.append(threading.Thread(target=guarded))
        workers[-1].start()
        initialised.wait()

    def first_video_progress(update) -> None:
        if not workers[1:]:  # after its first frame: the other two jobs start
            start(video, "video-3", 3)
            start(picture, "image-2", 2)

    start(video, "video-1", 1, first_video_progress)
    workers[0].join()  # the first video starts the other two before it ends
    for worker in workers[1:]:
        worker.join()
    assert not errors, errors
    assert len(workers) == 3
    assert SEEN == {"video-1": {1}, "video-3": {3}, "image-2": {2}}
    assert process_default_threads() == default_before, "new threads get the count they got before"
    assert torch.get_num_threads() == main_before


def test_the_frame_upscaler_runs_with_its_threads_and_restores_them():
    SEEN.clear()
    before = torch.get_num_threads()
    upscaler = prepare_frame_upscaler(_model("frames"), 12, 12, threads=3, precision="fp32", backend="torch")
    upscaler(np.zeros((12, 12, 3), np.uint8))
    assert SEEN == {"frames": {3}} and torch.get_num_threads() == before


def _in_thread(work, *args):
    box: list = []
    helper = threading.Thread(target=lambda: box.append(work(*args)))
    helper.start()
    helper.join()
    return box[0]


def test_a_process_of_our_own_sets_its_count_for_new_threads_too():
    """What a Ray worker and ``finetune --threads`` do: the count for good, new threads included."""
    default_before, main_before = process_default_threads(), torch.get_num_threads()
    other = 3 if default_before != 3 else 1

    def set_and_read(count: int) -> int:
        set_process_threads(count)
        return torch.get_num_threads()

    try:
        assert _in_thread(set_and_read, other) == other
        assert process_default_threads() == other
    finally:
        _in_thread(set_process_threads, default_before)
    assert process_default_threads() == default_before and torch.get_num_threads() == main_before


def test_only_threads_py_sets_torchs_thread_count():
    """Setting and restoring the count by hand races (threads.py says why); one module does it."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in {"tests", "benchmarks", "notebooks"} or relative.parts[0].startswith("."):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr == "set_num_threads":
                offenders.append(f"{relative}:{node.lineno}")
    assert offenders and all(o.startswith("core/engine/threads.py:") for o in offenders), offenders
