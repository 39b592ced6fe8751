"""A short, bounded fuzz session for CI: the saved corpus plus seeded mutations per parser.

Every input must end in a return or one of our typed errors, within 5 s. The long,
coverage-guided run is ``python -m tests.fuzz.run --seconds N`` (atheris).
"""

from __future__ import annotations

import time

import pytest
from fuzz.corpus import saved_corpus
from fuzz.run import run_mutate
from fuzz.targets import TARGETS, run_one

# Mutations per target, sized so the whole session stays well under 60 s on two loaded cores.
ITERATIONS = {"ncnn": 300, "pth": 300, "safetensors": 300, "image": 1500, "exif": 3000}


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_saved_corpus_gives_only_typed_errors(target):
    corpus = saved_corpus(target)
    if target in ("pth", "image", "safetensors"):
        assert corpus, f"the regression inputs for {target} are missing from tests/data/fuzz/{target}"
    run_one(target, b"")  # imports (torch, OpenCV) happen here, not inside a timed input
    for name, data in corpus:
        started = time.perf_counter()
        run_one(target, data)  # raises anything that is not a RealESRGANKitError
        assert time.perf_counter() - started < 5, f"{target}/{name} took over 5 s"


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_bounded_mutation_session_finds_nothing(target):
    result = run_mutate(target, seconds=40, seed=1234, iterations=ITERATIONS[target])
    assert result["findings"] == [], result["findings"]
    assert result["slowest_s"] < 5
    assert result["executions"] >= min(ITERATIONS[target], 50), (
        "the session ran (time budget not exhausted early)"
    )


@pytest.mark.parametrize(
    "metadata",
    [
        {"output_rescale": "0.5.5"},  # found by fuzzing: float() raised a bare ValueError
        {"output_rescale": "nan"},
        {"output_rescale": "-2"},
        {"hyperparameters": "[1, 2]"},
        {"hyperparameters": '{"num_in_ch": 0}'},
        {"hyperparameters": '{"num_in_ch": "three"}'},
        {"hyperparameters": '{"act_type": 7}'},
        {"hyperparameters": '{"upscale": [4]}'},
    ],
)
def test_bad_safetensors_metadata_is_a_corrupt_model_error(tmp_path, metadata):
    from safetensors.torch import save

    from realesrgan_kit.core.errors import CorruptModelError
    from realesrgan_kit.core.load import load_model
    from support.tiny_models import tiny_srvgg

    state = {k: v.contiguous() for k, v in tiny_srvgg(num_feat=4, num_conv=2).state_dict().items()}
    path = tmp_path / "m.safetensors"
    path.write_bytes(save(state, metadata=metadata))
    with pytest.raises(CorruptModelError, match="metadata"):
        load_model(path, use_cache=False)


def test_png_chunk_claiming_4gb_is_refused_before_opencv_allocates_it(data_dir):
    """Found by atheris: OpenCV's PNG reader allocated a tEXt chunk's claimed 4 GB length."""
    import resource

    from realesrgan_kit.core.errors import InvalidImageError
    from realesrgan_kit.core.imagefile import decode_image_file

    data = (data_dir / "fuzz" / "image" / "regress-png-chunk-length-4gb-allocation-d9b55504").read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(InvalidImageError, match="runs past the end"):
        decode_image_file(data)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 512 * 1024, f"peak memory grew by {grown_kb // 1024} MB"
