"""Contract tests over every node: schema fields, tooltips, defaults inside ranges, V1 and V3
built from one table, and a snapshot of input order (saved workflows depend on it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from realesrgan_kit.nodes import definitions, v1, v3
from realesrgan_kit.nodes.node_spec import WIDGET_TYPES
from support.comfy_env import comfy_env
from support.workflows import CONTROL_VALUES, widget_layout

SNAPSHOT = Path(__file__).parent / "snapshots" / "node_inputs.json"
NODE_IDS = [spec.node_id for spec in definitions.NODES]


@pytest.fixture
def comfy(tmp_path):
    with comfy_env(tmp_path / "ComfyUI", v3=True) as env:
        yield env


@pytest.fixture
def v3_classes(comfy):
    return {cls.GET_SCHEMA().node_id: cls for cls in v3.build_v3_nodes()}


def test_ids_are_unique_and_prefixed():
    assert len(set(NODE_IDS)) == len(NODE_IDS) == 5
    assert all(node_id.startswith("RealESRGANKit") for node_id in NODE_IDS)
    assert {spec.category for spec in definitions.NODES} == {"image/upscaling/Real-ESRGAN"}


@pytest.mark.parametrize("node_id", NODE_IDS)
def test_every_input_and_output_explains_itself(node_id, comfy):
    spec = definitions.node_by_id(node_id)
    assert spec.display_name and spec.description
    for item in spec.inputs:
        assert len(item.tooltip) > 20, f"{node_id}.{item.name} needs a real tooltip"
    for item in spec.outputs:
        assert len(item.tooltip) > 10, f"{node_id} output {item.name} needs a tooltip"
    names = [i.name for i in spec.inputs]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("node_id", NODE_IDS)
def test_defaults_lie_inside_their_ranges(node_id, comfy):
    spec = definitions.node_by_id(node_id)
    for item in spec.widgets:
        if item.type in ("INT", "FLOAT"):
            assert item.minimum is not None and item.maximum is not None and item.step and item.step > 0
            assert item.minimum <= item.default <= item.maximum, item.name
            assert isinstance(item.default, int if item.type == "INT" else float), item.name
        elif item.type == "COMBO":
            choices = item.choices()
            assert choices and len(set(choices)) == len(choices), item.name
            assert item.default in choices, item.name
        elif item.type == "BOOLEAN":
            assert isinstance(item.default, bool)
        assert item.type in WIDGET_TYPES
    for item in spec.inputs:
        if not item.is_widget:
            assert item.default is None


@pytest.mark.parametrize("node_id", NODE_IDS)
def test_optional_inputs_come_last(node_id):
    """The frontend orders required inputs before optional ones; the table must agree."""
    flags = [item.optional for item in definitions.node_by_id(node_id).inputs]
    assert flags == sorted(flags)


@pytest.mark.parametrize("node_id", NODE_IDS)
def test_v3_schema_is_valid_and_matches_the_table(node_id, v3_classes, comfy):
    cls = v3_classes[node_id]
    spec = definitions.node_by_id(node_id)
    schema = cls.GET_SCHEMA()  # raises on repeated ids
    assert schema.category == spec.category and schema.display_name == spec.display_name
    assert [i.id for i in schema.inputs] == [i.name for i in spec.inputs]
    assert list(cls.RETURN_TYPES) == [o.type for o in spec.outputs]
    assert list(cls.RETURN_NAMES) == [o.name for o in spec.outputs]
    assert cls.OUTPUT_NODE is spec.output_node
    assert cls.FUNCTION == "EXECUTE_NORMALIZED"
    info = cls.GET_NODE_INFO_V1()
    for item in spec.inputs:
        category = "optional" if item.optional else "required"
        kind, opts = info["input"][category][item.name]
        assert opts["tooltip"] == item.tooltip
        assert kind == item.type
        if item.is_widget:
            assert opts["default"] == item.default
        if item.type == "COMBO":
            assert opts["options"] == item.choices()
    if spec.output_node:
        assert set(info["input"]["hidden"]) == {"prompt", "extra_pnginfo"}


@pytest.mark.parametrize("node_id", NODE_IDS)
def test_v1_class_matches_the_table_and_its_defaults_validate(node_id, comfy):
    cls = v1.node_class_mappings()[node_id]
    spec = definitions.node_by_id(node_id)
    types = cls.INPUT_TYPES()
    assert list(types["required"]) + list(types.get("optional", {})) == [i.name for i in spec.inputs]
    assert cls.RETURN_TYPES == tuple(o.type for o in spec.outputs)
    assert cls.CATEGORY == spec.category and cls.OUTPUT_NODE is spec.output_node
    assert callable(getattr(cls(), cls.FUNCTION))
    for item in spec.widgets:  # ComfyUI's own validation accepts every default
        assert comfy.execution.validate_constant(cls, item.name, item.default) == item.default
    if any(i.type in ("INT", "FLOAT") for i in spec.widgets):
        number = next(i for i in spec.widgets if i.type in ("INT", "FLOAT"))
        with pytest.raises(ValueError, match="bigger than max"):
            comfy.execution.validate_constant(cls, number.name, number.maximum + 1)


def test_seed_has_control_after_generate(comfy, v3_classes):
    layout = widget_layout(v3_classes["RealESRGANKitDegrade"].INPUT_TYPES())
    names = [slot.name for slot in layout]
    assert names[:3] == ["seed", "seed.control_after_generate", "scale"]
    assert "randomize" in CONTROL_VALUES


def _snapshot(v3_classes) -> dict:
    snap = {}
    for node_id in NODE_IDS:
        spec = definitions.node_by_id(node_id)
        snap[node_id] = {
            "inputs": [f"{i.name}:{i.type}{' (optional)' if i.optional else ''}" for i in spec.inputs],
            "widgets_values": [slot.name for slot in widget_layout(v3_classes[node_id].INPUT_TYPES())],
            "outputs": [f"{o.name}:{o.type}" for o in spec.outputs],
        }
    return snap


def test_input_order_snapshot(v3_classes):
    """Saved workflows store widget values by position: changing this order breaks users' graphs.

    Adding inputs at the end is fine: regenerate with REALESRGAN_KIT_UPDATE_SNAPSHOTS=1 and
    review the diff. Reordering or renaming is not.
    """
    current = _snapshot(v3_classes)
    if os.environ.get("REALESRGAN_KIT_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(json.dumps(current, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    saved = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert set(saved) <= set(current), "a node disappeared"
    for node_id, expected in saved.items():
        for key in ("inputs", "widgets_values", "outputs"):
            now = current[node_id][key]
            assert now[: len(expected[key])] == expected[key], f"{node_id} {key} changed order or names"


def test_degrade_toggles_match_the_pipeline():
    """The node's step toggles and presets are fixed for workflow stability; they must still
    name exactly the pipeline's steps and presets."""
    from realesrgan_kit.core import degrade
    from realesrgan_kit.nodes import degrade_node

    assert tuple(degrade.STEPS) == degrade_node.STEPS
    assert set(degrade.PRESETS) == set(degrade_node.PRESETS)


def test_degrade_scale_range_is_the_pipelines():
    """The widget must not offer a scale the pipeline refuses (it takes 1 to 4)."""
    from realesrgan_kit.core.degrade.sampling import check_scale
    from realesrgan_kit.core.errors import InvalidParameterError

    scale = next(i for i in definitions.node_by_id("RealESRGANKitDegrade").inputs if i.name == "scale")
    assert check_scale(scale.minimum) == scale.minimum and check_scale(scale.maximum) == scale.maximum
    assert scale.maximum is not None and scale.step is not None
    with pytest.raises(InvalidParameterError):
        check_scale(scale.maximum + scale.step)
