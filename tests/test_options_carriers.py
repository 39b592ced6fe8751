"""The engine options are one object end to end: ``UpscaleOptions`` defines them, and every
carrier (image API, frame upscaler, video job, job units and their Ray pickles, widget
settings) passes that object through or derives its names from it. A dummy option added by a
subclass reaches the engine through each of them with no edit to any carrier, its help text
reaches the CLI parser built from the definition, and its check runs in ``check_options``
(CONTRIBUTING's "Add an engine option" recipe relies on this)."""

from __future__ import annotations

import ast
import pickle
import typing
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pytest

import realesrgan_kit.core.engine as engine_package
from realesrgan_kit.core.engine import api, prepare_frame_upscaler, run_upscale
from realesrgan_kit.core.errors import InvalidParameterError
from realesrgan_kit.core.options import OPTION_NAMES, UpscaleKeywords, UpscaleOptions, option_field
from support.clips import make_clip
from support.tiny_models import tiny_video_model

ROOT = Path(__file__).resolve().parents[1]


SHARPEN_HELP = "unsharp-mask strength before the network, 0..1"


def _strength(value: float, name: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise InvalidParameterError(f"{name} must be a strength from 0 to 1, got {value!r}")
    return value


@dataclass(frozen=True)
class DummyOptions(UpscaleOptions):
    """The definition with one more option, as the recipe's first step adds it."""

    sharpen: float = option_field(0.0, help=SHARPEN_HELP, check=_strength)


@pytest.fixture(scope="module")
def model():
    return tiny_video_model()


@pytest.fixture
def seen(monkeypatch):
    """The options the engine received, wherever a carrier hands them over: ``run_upscale``'s
    planned job (images) and ``prepare_frame_upscaler`` (video frames)."""
    record: list[UpscaleOptions] = []
    planned_run = api.run_planned_upscale

    def run_planned(job, **kwargs):
        record.append(job.checked.options)
        return planned_run(job, **kwargs)

    def frame_upscaler(*args, **kwargs):
        upscaler = prepare_frame_upscaler(*args, **kwargs)
        record.append(upscaler.options)
        return upscaler

    monkeypatch.setattr(api, "run_planned_upscale", run_planned)
    monkeypatch.setattr(engine_package, "prepare_frame_upscaler", frame_upscaler)
    return record


def test_the_keywords_type_is_the_definition():
    """``UpscaleKeywords`` (the PEP 692 keywords of upscale, run_upscale, upscale_video and
    plan_upscale_job) has exactly ``UpscaleOptions``' names and types."""
    assert (
        tuple(UpscaleKeywords.__annotations__)
        == OPTION_NAMES
        == tuple(f.name for f in fields(UpscaleOptions))
    )
    assert typing.get_type_hints(UpscaleKeywords) == typing.get_type_hints(UpscaleOptions)
    assert not UpscaleKeywords.__required_keys__  # every keyword has its field's default


def test_choice_options_name_their_vocabulary_and_the_cli_offers_it():
    from realesrgan_kit.core import options

    assert {n: UpscaleOptions.choices(n) for n in OPTION_NAMES if UpscaleOptions.choices(n)} == {
        "precision": options.PRECISIONS,
        "alpha": options.ALPHA_MODES,
        "backend": options.BACKENDS,
    }
    sub = _upscale_parser()
    offered = {a.dest: tuple(a.choices) for a in sub._actions if a.choices}
    assert all(offered[n] == UpscaleOptions.choices(n) for n in ("precision", "alpha", "backend"))


def _upscale_parser():
    import argparse

    from realesrgan_kit.cli import upscale_command

    parser = argparse.ArgumentParser()
    upscale_command.register(parser.add_subparsers())
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["upscale"]


def test_the_cli_builds_every_engine_flag_from_its_field():
    """Every engine option the CLI exposes takes its help, default and choices from its field."""
    definition = {f.name: f for f in fields(UpscaleOptions)}
    assert all(f.metadata["help"] for f in definition.values())  # every option documents itself
    exposed = {a.dest: a for a in _upscale_parser()._actions if a.dest in OPTION_NAMES}
    assert set(exposed) == set(OPTION_NAMES) - {"bgr", "memory_budget", "blend", "border"}
    for name, action in exposed.items():
        field = definition[name]
        assert (action.help, action.default) == (field.metadata["help"], field.default), name
        assert action.choices == field.metadata.get("choices"), name
    assert exposed["outscale"].option_strings == ["-s", "--outscale"] and exposed["outscale"].type is float
    assert exposed["tile_pad"].option_strings == ["--tile-pad"] and exposed["tile_pad"].type is int
    assert exposed["tile"].metavar == "auto|whole|N" and exposed["tile"].type is None


def test_a_new_option_s_help_reaches_the_cli_and_its_check_runs_in_check_options(model):
    import argparse

    from realesrgan_kit.cli.option_arguments import add_option_argument, engine_options
    from realesrgan_kit.core.engine import check_options

    parser = argparse.ArgumentParser()
    action = add_option_argument(parser, "sharpen", definition=DummyOptions)  # the CLI's one line
    assert action.option_strings == ["--sharpen"] and action.type is float and action.default == 0.0
    assert action.help == SHARPEN_HELP and "unsharp-mask strength" in parser.format_help()
    args = parser.parse_args(["--sharpen", "0.25"])
    assert engine_options(args, definition=DummyOptions) == DummyOptions(sharpen=0.25)
    assert check_options(model, DummyOptions(sharpen=0.25)).options == DummyOptions(sharpen=0.25)
    with pytest.raises(InvalidParameterError, match=r"sharpen must be a strength from 0 to 1, got 2\.0"):
        check_options(model, DummyOptions(sharpen=2.0))
    with pytest.raises(InvalidParameterError, match="sharpen must be a strength"):
        run_upscale(model, np.zeros((8, 8, 3), np.uint8), options=DummyOptions(sharpen=-1.0))


def test_options_round_trip_through_a_dict_and_refuse_unknown_names():
    chosen = DummyOptions(outscale=2.0, tile=8, device="cpu", sharpen=0.5)
    assert DummyOptions.from_dict(chosen.as_dict()) == chosen
    assert UpscaleOptions.from_dict({"tile": 4}) == UpscaleOptions(tile=4)
    with pytest.raises(InvalidParameterError, match="sharpen"):
        UpscaleOptions.from_dict({"sharpen": 0.5})


def test_image_api_and_frame_upscaler_carry_a_new_option(model, seen):
    image = np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    chosen = DummyOptions(tile=4, precision="fp32", sharpen=0.5)
    result = run_upscale(model, image, options=chosen)
    plain = run_upscale(model, image, tile=4, precision="fp32")
    np.testing.assert_array_equal(result.image, plain.image)  # the dummy changes nothing else
    frames = prepare_frame_upscaler(model, 12, 10, options=chosen)
    assert frames.options == chosen
    assert seen[0] == chosen and seen[0].sharpen == 0.5


def test_video_job_carries_a_new_option_into_every_frame_and_its_key(tmp_path, model, seen):
    from realesrgan_kit.core.video import prepare_video_job, upscale_video

    clip = make_clip(tmp_path / "clip.mp4", frames=4, audio=False)
    chosen = DummyOptions(tile=16, sharpen=0.5)
    job = prepare_video_job(model, clip, tmp_path / "a.mp4", options=chosen, preset="ultrafast")
    assert isinstance(job.options, DummyOptions) and job.options.sharpen == 0.5
    assert job.identity["engine"]["sharpen"] == "0.5"
    at_default = prepare_video_job(
        model, clip, tmp_path / "a.mp4", options=DummyOptions(tile=16, alpha="drop")
    )
    plain = prepare_video_job(model, clip, tmp_path / "a.mp4", tile=16)
    assert at_default.key == plain.key  # an option at its default leaves existing keys as they were
    upscale_video(model, clip, tmp_path / "b.mp4", options=chosen, preset="ultrafast")
    assert seen and all(isinstance(o, DummyOptions) and o.sharpen == 0.5 for o in seen)


def test_job_units_carry_a_new_option_to_images_videos_chunks_and_ray_pickles(tmp_path, model, seen):
    from PIL import Image

    from realesrgan_kit.core.jobs import plan_upscale_job, run_job
    from realesrgan_kit.core.jobs.upscale_job import UpscaleWorker, split_videos

    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(np.full((10, 12, 3), 90, np.uint8)).save(folder / "a.png")
    make_clip(folder / "b.mp4", frames=4, audio=False)
    chosen = DummyOptions(tile=16, sharpen=0.5)

    def plan(output: str):
        return plan_upscale_job(
            [folder], tmp_path / output, model=model, options=chosen, video_options={"preset": "ultrafast"}
        )[0]

    job = plan("out")
    assert isinstance(job.worker, UpscaleWorker)
    worker = pickle.loads(pickle.dumps(job.worker.for_cluster()))  # what a Ray actor receives
    assert worker.options == chosen
    assert run_job(job).ok
    chunked = split_videos(plan("chunked"), model)
    payloads = [u.payload[0] for u in chunked.units if u.kind == "video_chunk"]
    assert payloads and all(p.options.sharpen == 0.5 for p in payloads)
    kinds = {type(o) for o in seen}
    assert kinds == {DummyOptions} and {o.sharpen for o in seen} == {0.5} and len(seen) >= 2


def test_widget_settings_derive_their_engine_options_from_the_definition(monkeypatch):
    from realesrgan_kit.widgets import tuner

    @dataclass(frozen=True)
    class Settings(tuner.UpscaleSettings):
        sharpen: float = 0.0  # the widget's one line for a new control

    monkeypatch.setattr(tuner, "OPTION_NAMES", (*OPTION_NAMES, "sharpen"))
    monkeypatch.setattr(tuner, "UpscaleOptions", DummyOptions)
    settings = Settings("m", tile=8, tile_pad=None, outscale=2.0, precision="fp32", tta=False, sharpen=0.5)
    assert settings.engine_kwargs()["sharpen"] == 0.5 and "model" not in settings.engine_kwargs()
    assert settings.engine_options() == DummyOptions(tile=8, outscale=2.0, precision="fp32", sharpen=0.5)


def _listed_option_names(path: Path) -> list[tuple[int, int]]:
    """(line, count) of every tuple/list/set literal or dict display naming 5+ engine options."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        items = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
        if not isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)) or items is None:
            continue
        names = {i.value for i in items if isinstance(i, ast.Constant) and i.value in OPTION_NAMES}
        if len(names) >= 5:
            found.append((node.lineno, len(names)))
    return found


# Lists that name options by a role a new option does not have: the video key's legacy names
# (kept so that existing parts folders resume), the options outside the key, and the tile
# sweep's call (one keyword per option its controls expose: the front end's one line each).
ROLE_LISTS = {
    ("core/video/job.py", "_ALWAYS_KEYED"),
    ("core/video/job.py", "_NOT_KEYED"),
    ("widgets/sweep.py", "common"),
}


def test_no_carrier_re_lists_the_options():
    allowed_lines = set()
    for relative, name in ROLE_LISTS:
        for node in ast.walk(ast.parse((ROOT / relative).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
                allowed_lines.add((relative, node.value.lineno))
    assert len(allowed_lines) == len(ROLE_LISTS)
    offenders = []
    for folder in ("core", "widgets", "cli"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            offenders += [
                (relative, line, n)
                for line, n in _listed_option_names(path)
                if (relative, line) not in allowed_lines
            ]
    assert offenders == []
