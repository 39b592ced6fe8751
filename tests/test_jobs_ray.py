"""Jobs on a local Ray: the same bytes as one process, a killed worker, pairs, two nodes.

One small Ray session serves the whole module (2 CPUs, a 200 MB object store, no dashboard)
and is shut down whatever happens; the second node of the last test is a ``ray start``
subprocess in its own process group, stopped in a ``finally``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from realesrgan_kit.cli import main
from realesrgan_kit.core.degrade import DegradationRecord, apply_degradation
from realesrgan_kit.core.imagefile.arrays import read_image
from realesrgan_kit.core.jobs import RayExecutor, plan_upscale_job, run_job
from realesrgan_kit.core.load import build_descriptor, save_safetensors
from support.job_doubles import BarrierSpec, CrashOnceSpec
from support.tiny_models import tiny_srvgg

ray = pytest.importorskip("ray")

TESTS = Path(__file__).resolve().parent
OBJECT_STORE = 200 * 2**20


def _start_local_ray():
    options = dict(
        address="local",  # our own instance, even if another Ray runs on this machine
        num_cpus=2,
        object_store_memory=OBJECT_STORE,
        include_dashboard=False,
        logging_level="WARNING",
    )
    try:
        return ray.init(**options)
    except Exception:  # Ray waits a fixed 30 s for its raylet; an overloaded machine can miss it
        ray.shutdown()
        return ray.init(**options)


@pytest.fixture(scope="module")
def ray_session(subprocess_env):
    # Workers import realesrgan_kit and the test doubles by name: the checkout's import folder
    # and this folder go on their path.
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(TESTS), subprocess_env["PYTHONPATH"]])
    # a loaded CI machine may take longer than Ray's default to start a node's agent
    agent_timeout = os.environ.setdefault("RAY_agent_register_timeout_ms", "120000")
    try:
        yield _start_local_ray()
    finally:
        ray.shutdown()
        if agent_timeout == "120000":
            os.environ.pop("RAY_agent_register_timeout_ms", None)
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_safetensors(build_descriptor(tiny_srvgg().state_dict()), path)
    return str(path)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    src = tmp_path_factory.mktemp("in")
    rng = np.random.default_rng(5)
    shapes = [(12, 16, 3), (10, 9, 4), (8, 14, 3), (9, 9), (16, 12, 3), (11, 13, 3)]
    for n, shape in enumerate(shapes):
        ext = "jpg" if n == 2 else "png"
        assert cv2.imwrite(str(src / f"{n}.{ext}"), rng.integers(0, 256, shape, dtype=np.uint8))
    return src


@pytest.fixture(scope="module")
def local_output(folder, tiny_weights, tmp_path_factory):
    """Today's single-process CLI run: the reference every Ray run must match byte for byte."""
    out = tmp_path_factory.mktemp("local")
    assert main(["upscale", str(folder), "-o", str(out), "--model", tiny_weights, "--force"]) == 0
    return out


def _bytes(folder):
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()
    }


def test_cli_on_ray_writes_the_single_process_bytes_and_reports_failures(
    ray_session, folder, local_output, tiny_weights, tmp_path, capsys
):
    src = tmp_path / "in"
    shutil.copytree(folder, src)
    (src / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    capsys.readouterr()
    code = main(["upscale", str(src), "-o", str(out), "--model", tiny_weights, "--ray", "--workers", "2"])
    captured = capsys.readouterr()
    assert code == 1, "a failed unit makes the job fail"
    assert _bytes(out) == _bytes(local_output)
    assert "failed" in captured.err and "broken.png" in captured.err and "InvalidImageError" in captured.err
    assert "6 upscaled, 1 failed" in captured.err and "[7/7]" in captured.err and "units/s" in captured.err
    assert "units per node" in captured.err
    assert sorted(Path(line).name for line in captured.out.split()) == sorted(_bytes(local_output))


def test_a_killed_worker_loses_no_finished_output_and_the_job_completes(
    ray_session, folder, local_output, tiny_weights, tmp_path
):
    out = tmp_path / "out"
    job, _ = plan_upscale_job([str(folder)], str(out), model_source=tiny_weights)
    victim = job.units[3].key
    flag = tmp_path / "crashed"
    job.worker = CrashOnceSpec(job.worker, victim=victim, flag=str(flag))
    stamps = {}

    def record(outcome, counts):
        if outcome.status == "done":
            stat = Path(outcome.unit.outputs[0]).stat()
            stamps[outcome.unit.key] = (stat.st_ino, stat.st_mtime_ns)

    summary = run_job(job, RayExecutor(workers=2), progress=record)
    assert flag.exists(), "the victim's worker was killed"
    assert summary.ok and len(summary.done) == 6
    assert {o.unit.key: o.attempts for o in summary.outcomes}[victim] == 2
    assert _bytes(out) == _bytes(local_output), "no partial file, every output whole"
    for key, stamp in stamps.items():  # nothing finished was written again
        target = Path(next(u for u in job.units if u.key == key).outputs[0])
        assert (target.stat().st_ino, target.stat().st_mtime_ns) == stamp


def test_degrade_pairs_on_ray_match_the_local_run_and_replay(ray_session, folder, tmp_path):
    common = ["--seed", "3", "--scale", "2", "--crop", "4"]
    assert main(["degrade", str(folder), "--pairs", str(tmp_path / "local"), *common]) == 0
    ray_args = ["--ray", "--workers", "2", "--shard-size", "2"]
    assert main(["degrade", str(folder), "--pairs", str(tmp_path / "ray"), *common, *ray_args]) == 0
    assert _bytes(tmp_path / "ray") == _bytes(tmp_path / "local")
    record_file = tmp_path / "ray" / "records" / "4.json"
    sidecar = json.loads(record_file.read_text())
    lr = apply_degradation(read_image(folder / "4.png"), DegradationRecord.from_dict(sidecar["record"]))
    first = sidecar["crops"][0]
    top, left, h, w = first["lr_box"]
    np.testing.assert_array_equal(
        lr[top : top + h, left : left + w], read_image(tmp_path / "ray" / "lr" / first["name"])
    )


def test_chunks_of_one_clip_run_on_two_workers_and_assemble_to_the_single_process_file(
    ray_session, tiny_weights, tmp_path
):
    from realesrgan_kit.core.jobs.upscale_job import split_videos
    from realesrgan_kit.core.load import load_model
    from support.clips import decoded, make_clip, packets

    clip = make_clip(tmp_path / "clip.mp4", frames=24, gop=4)  # with a tone track
    video_args = ["--model", tiny_weights, "--preset", "ultrafast", "--chunk-seconds", "0.25"]
    single = tmp_path / "single.mp4"
    assert main(["upscale", str(clip), "-o", str(single), *video_args]) == 0

    out = tmp_path / "ray.mp4"
    model = load_model(tiny_weights)
    job, _ = plan_upscale_job(
        [str(clip)],
        str(out),
        model=model,
        model_source=tiny_weights,
        video_options={"preset": "ultrafast", "chunk_seconds": 0.25},
    )
    job = split_videos(job, model)
    chunks = [u for u in job.units if u.kind == "video_chunk"]
    assert len(chunks) >= 3 and len(job.assemblies) == 1
    job.worker = BarrierSpec(job.worker, starts=str(tmp_path / "starts"), workers=2)
    summary = run_job(job, RayExecutor(workers=2))
    assert summary.ok, [o.error for o in summary.failed]
    chunk_workers = {o.worker for o in summary.outcomes if o.unit.kind == "video_chunk"}
    assert len(chunk_workers) == 2, "the chunks ran on both workers"
    assert summary.outcomes[-1].unit.kind == "video" and summary.outcomes[-1].node == "driver"
    assert out.read_bytes() == single.read_bytes()
    frames, reference = decoded(out), decoded(single)
    assert [t for t, _ in frames] == [t for t, _ in reference] and len(frames) == 24
    assert packets(out, "audio") == packets(clip, "audio"), "audio copied once, packet for packet"
    assert not Path(str(out) + ".parts").exists()


def test_a_single_keyframe_clip_with_temporal_on_splits_over_two_workers_into_the_single_process_file(
    ray_session, tiny_weights, tmp_path
):
    from realesrgan_kit.core.jobs.upscale_job import split_videos
    from realesrgan_kit.core.load import load_model
    from support.clips import make_clip, pan

    clip = make_clip(tmp_path / "pan.mp4", frames=24, gop=10_000, content=pan(1), audio=False)
    video_options = {"preset": "ultrafast", "chunk_seconds": 0.25, "temporal": "auto"}
    single = tmp_path / "single.mp4"
    cli = ["--model", tiny_weights, "--preset", "ultrafast", "--chunk-seconds", "0.25", "--temporal", "auto"]
    assert main(["upscale", str(clip), "-o", str(single), *cli]) == 0

    out = tmp_path / "ray.mp4"
    model = load_model(tiny_weights)
    job, _ = plan_upscale_job(
        [str(clip)], str(out), model=model, model_source=tiny_weights, video_options=video_options
    )
    job = split_videos(job, model)
    chunks = [u for u in job.units if u.kind == "video_chunk"]
    assert len(chunks) == 4, "one keyframe, yet 4 chunks of 6 frames"
    assert all(u.payload[0].temporal is not None for u in chunks), "every chunk carries the setting"
    job.worker = BarrierSpec(job.worker, starts=str(tmp_path / "starts"), workers=2)
    summary = run_job(job, RayExecutor(workers=2))
    assert summary.ok, [o.error for o in summary.failed]
    assert len({o.worker for o in summary.outcomes if o.unit.kind == "video_chunk"}) == 2
    assert out.read_bytes() == single.read_bytes()


def _alive_nodes() -> int:
    return sum(1 for node in ray.nodes() if node["Alive"])


def _stop(node: subprocess.Popen) -> None:
    """Stop a ``ray start --block`` process group we started (and nothing else)."""
    if node.poll() is None:
        os.killpg(node.pid, signal.SIGTERM)
    try:
        node.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(node.pid, signal.SIGKILL)
        node.wait()


def _join_second_node(address: str, started: list[subprocess.Popen]) -> None:
    """Start a node joining ``address``; one more try if its start fails (Ray waits a fixed
    time for the node's agent, which an overloaded machine can miss)."""
    ray_cli = shutil.which("ray", path=os.path.dirname(sys.executable)) or shutil.which("ray")
    assert ray_cli, "the ray command comes with the ray package"
    before = _alive_nodes()
    cpus_before = ray.cluster_resources().get("CPU", 0)
    for _attempt in range(2):
        node = subprocess.Popen(
            [ray_cli, "start", "--address", address, "--num-cpus=1"]
            + [f"--object-store-memory={100 * 2**20}", "--disable-usage-stats", "--block"],
            start_new_session=True,  # its own process group: stopped without touching others
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(node)
        deadline = time.monotonic() + 120
        while _alive_nodes() <= before and node.poll() is None:
            assert time.monotonic() < deadline, "the second node did not join within 120 s"
            time.sleep(0.2)  # polling for the node to register, not timing anything
        # A node is listed alive before the scheduler sees its CPU; SPREAD would then place both
        # workers on the head node. Wait until the cluster's CPUs include the new node's.
        while ray.cluster_resources().get("CPU", 0) <= cpus_before and node.poll() is None:
            assert time.monotonic() < deadline, "the second node's CPU did not show within 120 s"
            time.sleep(0.2)  # polling for the scheduler's view, not timing anything
        if node.poll() is None:
            return
        _stop(node)
    pytest.fail("`ray start --address ...` exited twice before its node joined")


def test_work_spreads_over_a_second_node(ray_session, folder, local_output, tiny_weights, tmp_path):
    started: list[subprocess.Popen] = []
    try:
        _join_second_node(ray_session.address_info["gcs_address"], started)
        out = tmp_path / "out"
        job, _ = plan_upscale_job([str(folder)], str(out), model_source=tiny_weights)
        job.worker = BarrierSpec(job.worker, starts=str(tmp_path / "starts"), workers=2)
        summary = run_job(job, RayExecutor(workers=2))
        # each unit reports the node it ran on; the two workers were placed on different nodes
        assert summary.ok and len(summary.nodes) == 2, summary.nodes
        assert _bytes(out) == _bytes(local_output)
    finally:
        for node in started:
            _stop(node)
