"""The one vocabulary per setting (core.options): the tile parser, the choice lists the front
ends share, and the options object that upscale() and run_upscale() take."""

from __future__ import annotations

import numpy as np
import pytest

from realesrgan_kit.core import options
from realesrgan_kit.core.errors import InvalidParameterError
from realesrgan_kit.core.options import UpscaleOptions, parse_tile


@pytest.mark.parametrize(
    "given,expected",
    [("auto", "auto"), ("AUTO", "auto"), (" whole ", "whole"), (64, 64), ("512", 512), (1, 1)],
)
def test_parse_tile_reads_the_words_and_sizes(given, expected):
    assert parse_tile(given) == expected


@pytest.mark.parametrize("old", [0, "0", None])
def test_zero_and_none_are_deprecated_spellings_of_whole(old):
    with pytest.warns(DeprecationWarning, match="'whole'"):
        assert parse_tile(old) == "whole"


@pytest.mark.parametrize("bad", [-5, "big", 2.5, True, "", "-3", [64]])
def test_parse_tile_refuses_the_rest_and_names_the_vocabulary(bad):
    with pytest.raises(InvalidParameterError, match=r"'auto' .*'whole' .*tile size in input pixels; got"):
        parse_tile(bad, name="--tile")


def test_front_ends_share_the_core_lists():
    from realesrgan_kit.cli import upscale_command  # noqa: F401  (imports the lists by name)
    from realesrgan_kit.core.degrade import PRESETS, RESIZE_MODES
    from realesrgan_kit.core.engine import ALPHA_MODES, PRECISIONS
    from realesrgan_kit.nodes import degrade_node, upscale_node

    assert PRECISIONS is options.PRECISIONS and upscale_node.PRECISIONS is options.PRECISIONS
    assert ALPHA_MODES is options.ALPHA_MODES and set(upscale_node.ALPHA_MODES) < set(ALPHA_MODES)
    assert upscale_node.RESIZE_MODES is options.OUTPUT_SIZE_MODES
    assert tuple(PRESETS) == options.DEGRADE_PRESETS and degrade_node.PRESETS is options.DEGRADE_PRESETS
    assert RESIZE_MODES is options.DEGRADE_RESIZE_MODES


def test_cli_offers_exactly_the_core_choices():
    import argparse

    from realesrgan_kit.cli import upscale_command

    parser = argparse.ArgumentParser()
    upscale_command.register(parser.add_subparsers())
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices["upscale"]
    choices = {a.dest: a.choices for a in sub._actions}
    assert tuple(choices["precision"]) == options.PRECISIONS
    assert tuple(choices["alpha"]) == options.ALPHA_MODES


def test_run_upscale_takes_an_options_object_or_keywords_not_both():
    from realesrgan_kit.core.engine import run_upscale
    from realesrgan_kit.core.load import build_descriptor
    from support.tiny_models import tiny_srvgg

    model = build_descriptor(tiny_srvgg().state_dict())
    image = np.random.default_rng(0).integers(0, 256, (12, 10, 3), dtype=np.uint8)
    chosen = UpscaleOptions(outscale=2.0, tile=4, tile_pad=2, precision="fp32")
    by_object = run_upscale(model, image, options=chosen)
    by_keywords = run_upscale(model, image, outscale=2.0, tile=4, tile_pad=2, precision="fp32")
    np.testing.assert_array_equal(by_object.image, by_keywords.image)
    assert by_object.report.tiles == by_keywords.report.tiles > 1 and by_object.image.shape == (24, 20, 3)
    with pytest.raises(InvalidParameterError, match="not both"):
        run_upscale(model, image, options=chosen, tta=True)
    assert chosen.replace(tile="whole").tile == "whole" and chosen.tile == 4
