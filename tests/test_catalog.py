"""The supported-models text is generated from the registries, and the README holds it verbatim."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from realesrgan_kit.cli import main
from realesrgan_kit.core import catalog
from realesrgan_kit.core.errors import UnsupportedModelError
from realesrgan_kit.core.load import (
    ARCHITECTURES,
    WEIGHT_FORMATS,
    detect,
    read_weights,
    registry,
    supported_architectures_text,
    supported_formats_text,
)
from realesrgan_kit.core.zoo import ZOO

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_section_is_the_generated_text():
    text = README.read_text(encoding="utf-8")
    generated = catalog.models_and_formats_markdown()
    assert generated in text, (
        "README.md's models-and-formats section is stale; regenerate it with "
        "`realesrgan-kit models --markdown` (or catalog.replace_generated_section)"
    )
    assert catalog.replace_generated_section(text, generated) == text


def test_the_section_names_every_zoo_entry_network_and_format():
    generated = catalog.models_and_formats_markdown()
    for entry in ZOO:
        assert f"| {entry.name}" in generated
    for spec in ARCHITECTURES:
        assert f"**{spec.id}**: {spec.summary}" in generated
    for name, _ in WEIGHT_FORMATS:
        assert f"**{name}**" in generated


def test_a_new_architecture_shows_up_in_the_text(monkeypatch):
    extra = replace(ARCHITECTURES[0], id="TinyNet", summary="a made-up network")
    monkeypatch.setattr(registry, "ARCHITECTURES", (*ARCHITECTURES, extra))
    assert "TinyNet (a made-up network)" in registry.supported_architectures_text()
    assert "**TinyNet**: a made-up network" in catalog.models_and_formats_markdown()


def test_replace_generated_section_swaps_only_the_block():
    text = f"intro\n{catalog.GENERATED_BEGIN}\nold\n{catalog.GENERATED_END}\nafter\n"
    new = f"{catalog.GENERATED_BEGIN}\nnew\n{catalog.GENERATED_END}\n"
    assert catalog.replace_generated_section(text, new) == f"intro\n{new}after\n"


def test_cli_prints_the_section(capsys):
    assert main(["models", "--markdown"]) == 0
    assert capsys.readouterr().out == catalog.models_and_formats_markdown()


def test_errors_list_what_is_supported(tmp_path):
    with pytest.raises(UnsupportedModelError) as caught:
        detect({"foo.weight": torch.zeros(2, 2)})
    assert supported_architectures_text() in str(caught.value)
    for spec in ARCHITECTURES:
        assert spec.id in str(caught.value)
    (tmp_path / "x.pth").write_bytes(b"not weights at all")
    with pytest.raises(UnsupportedModelError) as caught:
        read_weights(tmp_path / "x.pth")
    assert supported_formats_text() in str(caught.value)
    for name, _ in WEIGHT_FORMATS:
        assert name in str(caught.value)
