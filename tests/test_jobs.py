"""The job model on the local executor: resume, bounded retries, shards, URIs, no Ray needed."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from realesrgan_kit.cli import main
from realesrgan_kit.core.errors import InvalidImageError, MissingDependencyError
from realesrgan_kit.core.jobs import (
    DegradeOptions,
    Job,
    JobProgress,
    Unit,
    UnitOutcome,
    plan_degrade_job,
    plan_upscale_job,
    run_job,
    storage,
)
from realesrgan_kit.core.load import build_descriptor, save_safetensors
from support.job_doubles import FlakySpec
from support.tiny_models import tiny_srvgg


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_safetensors(build_descriptor(tiny_srvgg().state_dict()), path)
    return str(path)


@pytest.fixture()
def folder(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    rng = np.random.default_rng(3)
    for name, shape in [
        ("a.png", (12, 16, 3)),
        ("b.png", (10, 9, 4)),
        ("c.jpg", (8, 14, 3)),
        ("d.png", (9, 9)),
    ]:
        assert cv2.imwrite(str(src / name), rng.integers(0, 256, shape, dtype=np.uint8))
    return src


def _bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_resume_skips_finished_units_and_redoes_the_rest(folder, tmp_path, tiny_weights, capsys):
    out = tmp_path / "out"
    assert main(["upscale", str(folder), "-o", str(out), "--model", tiny_weights]) == 0
    first = _bytes(out)
    (out / "b.png").unlink()
    stamp = (out / "a.png").stat().st_mtime_ns
    capsys.readouterr()
    # without --resume the old rule holds: existing outputs are errors, the missing one is made
    assert main(["upscale", str(folder), "-o", str(out), "--model", tiny_weights]) == 1
    assert "exists; pass --force" in capsys.readouterr().err
    (out / "b.png").unlink()
    assert main(["upscale", str(folder), "-o", str(out), "--model", tiny_weights, "--resume"]) == 0
    err = capsys.readouterr().err
    assert "1 upscaled, 0 failed, 3 skipped (finished earlier)" in err
    assert _bytes(out) == first and (out / "a.png").stat().st_mtime_ns == stamp


def test_transient_failures_are_retried_a_bounded_number_of_times(folder, tmp_path, tiny_weights):
    job, _ = plan_upscale_job([folder], tmp_path / "out", model_source=tiny_weights, max_retries=2)
    a, b = (str(folder / "a.png"), str(folder / "b.png"))
    job.worker = FlakySpec(job.worker, fail=(a,), times=2)  # fails twice, third try passes
    summary = run_job(job)
    assert summary.ok and {o.unit.key: o.attempts for o in summary.outcomes}[a] == 3
    job2, _ = plan_upscale_job([folder], tmp_path / "out2", model_source=tiny_weights, max_retries=1)
    job2.worker = FlakySpec(job2.worker, fail=(b,), times=5)
    summary = run_job(job2)
    (failed,) = summary.failed
    assert failed.unit.key == b and failed.attempts == 2 and "injected failure" in (failed.error or "")
    assert len(summary.done) == 3 and not (tmp_path / "out2" / "b.png").exists()


def test_typed_input_errors_are_not_retried(folder, tmp_path, tiny_weights):
    job, _ = plan_upscale_job([folder], tmp_path / "out", model_source=tiny_weights, max_retries=3)
    job.worker = FlakySpec(job.worker, fail=(str(folder / "c.jpg"),), times=9, error=InvalidImageError)
    outcomes = {o.unit.key: o for o in run_job(job).outcomes}
    bad = outcomes[str(folder / "c.jpg")]
    assert bad.status == "failed" and bad.attempts == 1 and isinstance(bad.exception, InvalidImageError)


def test_progress_counts_throughput_and_eta():
    unit = Unit("k", "image", ("a",), ("b",))
    counts = JobProgress(total=5)
    counts.count(UnitOutcome(unit, "skipped"))
    assert counts.eta is None and counts.throughput == 0.0  # skipped units took no work
    counts.started -= 10.0  # as if the job began ten seconds ago
    counts.count(UnitOutcome(unit, "done"))
    assert counts.throughput == pytest.approx(0.1, rel=0.01)  # one unit in ten seconds
    assert counts.first_worked is not None
    counts.first_worked -= 4.0  # the first unit ended four seconds ago (start-up excluded)
    counts.count(UnitOutcome(unit, "failed"))
    counts.count(UnitOutcome(unit, "done"))
    assert counts.throughput == pytest.approx(0.5, rel=0.01)  # two more units in four seconds
    assert counts.finished == 4 and "4/5 units" in counts.line() and "1 failed" in counts.line()
    assert counts.eta is not None and counts.eta == pytest.approx(1 / counts.throughput, rel=1e-6)


def test_unit_keys_must_be_unique():
    unit = Unit("same", "image", ("a",), ("b",))
    with pytest.raises(ValueError, match="unique"):
        Job([unit, unit], worker=None)  # type: ignore[arg-type]


def test_degrade_shards_give_the_same_pairs_whatever_the_shard_size(folder, tmp_path):
    options = DegradeOptions(seed=4, scale=2, pairs=str(tmp_path / "p1"), crop=4)
    run = run_job(plan_degrade_job([str(folder)], None, options))
    assert run.ok and len(run.done) == 4
    sharded = DegradeOptions(seed=4, scale=2, pairs=str(tmp_path / "p3"), crop=4)
    job = plan_degrade_job([str(folder)], None, sharded, shard_size=3)
    assert [len(u.sources) for u in job.units] == [3, 1] and job.units[0].kind == "dataset_shard"
    assert run_job(job).ok
    assert _bytes(tmp_path / "p1" / "hr") == _bytes(tmp_path / "p3" / "hr")
    assert _bytes(tmp_path / "p1" / "lr") == _bytes(tmp_path / "p3" / "lr")
    one, three = _bytes(tmp_path / "p1" / "records"), _bytes(tmp_path / "p3" / "records")
    assert one == three  # the records name files, seeds and settings, never the shard


def test_a_retried_shard_keeps_the_samples_it_finished(folder, tmp_path):
    options = DegradeOptions(seed=1, scale=2, pairs=str(tmp_path / "pairs"))
    job = plan_degrade_job([str(folder)], None, options, shard_size=4)
    from realesrgan_kit.core.jobs.degrade_job import _DegradeRunner

    stamps: dict[str, int] = {}
    original = job.worker

    class Spec:  # fails after writing two samples on the first try, like a worker that died
        def resources(self):
            return original.resources()

        def start(self):
            inner = original.start()
            assert isinstance(inner, _DegradeRunner)

            def run(unit, progress=None, attempt=1):
                if attempt == 1:
                    inner(Unit(unit.key, unit.kind, unit.sources[:2], (), payload=unit.payload[:2]), None, 1)
                    for p in (tmp_path / "pairs" / "records").iterdir():
                        stamps[p.name] = p.stat().st_mtime_ns
                    raise MemoryError("the worker ran out of memory")
                return inner(unit, progress, attempt)

            return run

    job.worker = Spec()
    (outcome,) = run_job(job).outcomes
    assert outcome.status == "done" and outcome.attempts == 2 and outcome.message.count("(kept)") == 2
    assert len(stamps) == 2
    assert all((tmp_path / "pairs" / "records" / n).stat().st_mtime_ns == t for n, t in stamps.items())


def test_file_uris_read_and_write_like_paths(folder, tmp_path, tiny_weights):
    pytest.importorskip("pyarrow")
    by_path = tmp_path / "by_path"
    assert main(["upscale", str(folder), "-o", str(by_path), "--model", tiny_weights]) == 0
    uri_out = f"file://{tmp_path}/by_uri"
    assert main(["upscale", f"file://{folder}", "-o", uri_out, "--model", tiny_weights]) == 0
    assert _bytes(tmp_path / "by_uri") == _bytes(by_path)
    assert main(["upscale", f"file://{folder}", "-o", uri_out, "--model", tiny_weights, "--resume"]) == 0
    with pytest.raises(FileExistsError):
        storage.write_bytes(f"{uri_out}/a.png", b"x")
    assert not [p for p in (tmp_path / "by_uri").iterdir() if p.name.startswith(".")]


def test_stale_temporaries_of_a_target_are_removed(tmp_path):
    target = tmp_path / "x[1].png"
    (tmp_path / ".x[1].png.abcdef012345.tmp.png").write_bytes(b"partial")
    (tmp_path / ".y.png.abcdef012345.tmp.png").write_bytes(b"someone else's")
    assert storage.remove_stale_temporaries(str(target)) == 1
    assert [p.name for p in tmp_path.iterdir()] == [".y.png.abcdef012345.tmp.png"]


def test_ray_option_without_ray_says_how_to_install(folder, tmp_path, tiny_weights, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    from realesrgan_kit.core.jobs import import_ray

    with pytest.raises(MissingDependencyError, match=r'pip install "realesrgan-kit\[ray\]"'):
        import_ray()
    assert main(["upscale", str(folder), "-o", str(tmp_path / "o"), "--model", tiny_weights, "--ray"]) == 1
    assert 'pip install "realesrgan-kit[ray]"' in capsys.readouterr().err
    assert main(["degrade", str(folder), "--pairs", str(tmp_path / "p"), "--ray"]) == 1
    assert not (tmp_path / "o").exists() and not (tmp_path / "p").exists()


def test_importing_the_job_model_does_not_import_ray_or_torch():
    code = (
        "import sys, realesrgan_kit.core.jobs; "
        "print(sorted(m for m in ('ray', 'torch', 'pyarrow') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_assemblies_run_on_the_driver_after_their_parts_and_rejected_inputs_are_reported(tmp_path):
    from realesrgan_kit.core.jobs import Assembly
    from support.job_doubles import WriteKeySpec

    parts = [Unit(f"clip#{n}", "video_chunk", ("clip",), (str(tmp_path / f"part{n}"),)) for n in range(3)]

    def join() -> str:
        text = "".join((tmp_path / f"part{n}").read_text() for n in range(3))
        (tmp_path / "whole").write_text(text)
        return str(tmp_path / "whole")

    whole = Unit("clip", "video", ("clip",), (str(tmp_path / "whole"),))
    broken = Unit("broken", "video", ("broken",), (str(tmp_path / "never"),))
    job = Job(
        parts,
        WriteKeySpec(),
        rejected=[(broken, InvalidImageError("not a video"))],
        assemblies=[Assembly(whole, tuple(u.key for u in parts), join)],
    )
    seen = []
    summary = run_job(job, progress=lambda outcome, counts: seen.append((outcome.unit.key, counts.total)))
    assert (tmp_path / "whole").read_text() == "clip#0clip#1clip#2"
    assert seen[0] == ("broken", 5) and seen[-1] == ("clip", 5), "rejections first, the assembly last"
    assert [o.status for o in summary.outcomes] == ["failed", "done", "done", "done", "done"]
    assert "not a video" in (summary.failed[0].error or "")

    (tmp_path / "whole").unlink()
    job.worker = FlakySpec(WriteKeySpec(), fail=("clip#1",), times=9)
    job.rejected = ()
    summary = run_job(job)
    assert summary.failed[-1].unit.key == "clip" and "1 of 3 parts failed" in (summary.failed[-1].error or "")
    assert not (tmp_path / "whole").exists()
