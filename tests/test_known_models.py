"""One answer to "which models exist": the catalog, the CLI, the node and the widgets read it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from realesrgan_kit.cli import main
from realesrgan_kit.core import catalog, zoo
from realesrgan_kit.core.known_models import known_models
from realesrgan_kit.core.load import ARCHITECTURES, WEIGHT_FORMATS
from realesrgan_kit.nodes import load_node
from realesrgan_kit.widgets import common
from support.comfy_env import comfy_env

TOY = "Toy_x4_for_lists"


@pytest.fixture()
def toy_in_the_zoo(monkeypatch):
    """A made-up zoo entry (RRDBNet, nowhere on disk, no download) appended to the zoo table."""
    toy = replace(
        zoo.ZOO[0], name=TOY, description="a made-up entry", url=None, sha256=None, size=None, embedded=None
    )
    monkeypatch.setattr(zoo, "ZOO", (*zoo.ZOO, toy))
    return toy


def test_the_answer_is_the_zoo_and_the_registries():
    models = known_models()
    assert models.zoo == zoo.ZOO and models.default == zoo.DEFAULT_MODEL
    assert models.names == [entry.name for entry in zoo.ZOO]
    assert models.networks == ARCHITECTURES and models.formats == WEIGHT_FORMATS


def test_offline_source_says_how_each_is_had(toy_in_the_zoo):
    models = known_models()
    by_name = {entry.name: entry for entry in models.zoo}
    assert models.offline_source(by_name["RealESRGAN_x4plus"]) == "embedded"
    assert models.offline_source(by_name["RealESRGAN_x2plus"]) == "download"
    assert models.offline_source(by_name["RealESRNet_x4plus"]).startswith("download (`--sha256` required")
    assert models.offline_source(toy_in_the_zoo) == "—"
    assert models.available_at(toy_in_the_zoo) == "unavailable"


def test_embedded_names_put_the_default_first_and_need_the_package(monkeypatch, tmp_path):
    for entry in zoo.ZOO:
        if entry.embedded and entry.name != "realesr-animevideov3":
            (tmp_path / f"{entry.embedded}.param").write_text("7767517\n")
    monkeypatch.setattr(zoo, "embedded_models_dir", lambda: tmp_path)
    names = known_models().embedded_names()
    assert names[0] == zoo.DEFAULT_MODEL and "realesr-animevideov3" not in names
    assert set(names) == {e.name for e in zoo.ZOO if e.embedded and e.name != "realesr-animevideov3"}
    monkeypatch.setattr(zoo, "embedded_models_dir", lambda: None)
    assert known_models().embedded_names() == []


def test_a_new_zoo_entry_shows_up_in_every_list(toy_in_the_zoo, capsys, tmp_path):
    assert TOY in known_models().names
    assert f"| {TOY} | RRDBNet | ×4 | — | a made-up entry |" in catalog.models_and_formats_markdown()
    assert main(["models", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows[TOY]["available"] == "unavailable" and rows[TOY]["architecture"] == "RRDBNet"
    assert (TOY, TOY) in common.model_choices()
    with comfy_env(tmp_path / "ComfyUI", v3=True):
        assert TOY in load_node.model_choices()
