"""The example workflows against the node schemas, read the way ComfyUI's frontend reads them:
every node type exists (ours or core's), every widget value fits its input by position, every
link joins compatible sockets, and the API prompt they become is complete."""

from __future__ import annotations

from pathlib import Path

import pytest

from realesrgan_kit.nodes import definitions, v1, v3
from support.comfy_env import comfy_env
from support.workflows import CONTROL_VALUES, load, socket_inputs, to_prompt, widget_layout

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / "example_workflows").glob("*.json"))


@pytest.fixture(params=["v3", "v1"])
def classes(request, tmp_path):
    with comfy_env(tmp_path / "ComfyUI", v3=True) as env:
        import nodes as core

        # What the examples expect on the user's machine: core's sample image and an SD1.5 checkpoint.
        input_dir = Path(env.folder_paths.get_input_directory())
        input_dir.mkdir(parents=True, exist_ok=True)
        (input_dir / "example.png").write_bytes(b"placeholder")
        (input_dir / "example.mp4").write_bytes(b"placeholder")  # the clip the video examples name
        checkpoints = Path(env.folder_paths.get_folder_paths("checkpoints")[0])
        checkpoints.mkdir(parents=True, exist_ok=True)
        (checkpoints / "v1-5-pruned-emaonly-fp16.safetensors").write_bytes(b"placeholder")

        ours = (
            {spec.node_id: v3.build_v3_class(spec, env.io) for spec in definitions.NODES}
            if request.param == "v3"
            else v1.node_class_mappings()
        )
        env.classes = {**core.NODE_CLASS_MAPPINGS, **ours}
        env.ours = set(ours)
        yield env


def _accepts(input_type: str, output_type: str) -> bool:
    """ComfyUI's validate_node_input: "*" matches anything, "A,B" unions must overlap."""
    if "*" in (input_type, output_type):
        return True
    return bool({t.strip() for t in input_type.split(",")} & {t.strip() for t in output_type.split(",")})


def test_the_examples_exist():
    names = {p.name for p in WORKFLOWS}
    assert names == {
        "upscale_image_realesrgan.json",
        "txt2img_then_realesrgan_x2.json",
        "degrade_upscale_compare.json",
        "upscale_video_realesrgan.json",
        "upscale_video_file_realesrgan.json",
    }
    for path in WORKFLOWS:  # the template browser shows a same-name thumbnail
        assert path.with_suffix(".jpg").stat().st_size > 5000


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_every_node_type_exists_and_every_widget_value_fits(path, classes):
    workflow = load(path)
    used_ours = set()
    for node in workflow["nodes"]:
        assert node["type"] in classes.classes, f"{path.name}: unknown node type {node['type']}"
        cls = classes.classes[node["type"]]
        layout = widget_layout(cls.INPUT_TYPES())
        values = node.get("widgets_values") or []
        if node["type"] in classes.ours:
            used_ours.add(node["type"])
            assert len(values) == len(layout), (
                f"{node['type']}: {len(values)} values for {[s.name for s in layout]}"
            )
        else:  # the frontend may append display-only widgets (nulls) to core nodes
            assert len(values) >= len(layout) and all(v is None for v in values[len(layout) :]), node["type"]
        for slot, value in zip(layout, values, strict=False):
            if slot.kind == "control":
                assert value in CONTROL_VALUES, (node["type"], slot.name, value)
            elif slot.kind == "upload":
                assert value == "image"
            else:
                assert classes.execution.validate_constant(cls, slot.name, value) == value, (
                    node["type"],
                    slot.name,
                )
                if node["type"] in classes.ours:
                    spec = definitions.node_by_id(node["type"]).input(slot.name)
                    if spec.type == "COMBO":  # V3 combos are not checked by ComfyUI: we do it
                        assert value in spec.choices(), (node["type"], slot.name, value)
                    assert type(value) is type(spec.default), (node["type"], slot.name, value)
    assert used_ours, f"{path.name} uses none of our nodes"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_links_join_compatible_sockets(path, classes):
    workflow = load(path)
    by_id = {node["id"]: node for node in workflow["nodes"]}
    for link_id, source, slot, target, target_slot, link_type in workflow["links"]:
        out_node, in_node = by_id[source], by_id[target]
        out_cls, in_cls = classes.classes[out_node["type"]], classes.classes[in_node["type"]]
        output_type = list(out_cls.RETURN_TYPES)[slot]
        assert out_node["outputs"][slot]["type"] == output_type == link_type
        assert link_id in out_node["outputs"][slot]["links"]
        declared = dict(socket_inputs(in_cls.INPUT_TYPES()))
        entry = in_node["inputs"][target_slot]
        assert entry["link"] == link_id and entry["name"] in declared
        assert entry["type"] == declared[entry["name"]]
        assert _accepts(declared[entry["name"]], output_type), (in_node["type"], entry["name"], output_type)
    for node in workflow["nodes"]:  # saved sockets follow the node's declared order
        declared = socket_inputs(classes.classes[node["type"]].INPUT_TYPES())
        assert [(i["name"], i["type"]) for i in node["inputs"]] == declared[: len(node["inputs"])]
        assert [o["type"] for o in node["outputs"]] == list(classes.classes[node["type"]].RETURN_TYPES)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_the_api_prompt_is_complete(path, classes):
    prompt = to_prompt(load(path), classes.classes)
    for node_id, node in prompt.items():
        required = classes.classes[node["class_type"]].INPUT_TYPES()["required"]
        missing = set(required) - set(node["inputs"])
        assert not missing, f"node {node_id} ({node['class_type']}) lacks {missing}"


def test_upscale_x2_after_vae_decode():
    workflow = load(ROOT / "example_workflows" / "txt2img_then_realesrgan_x2.json")
    upscale = next(n for n in workflow["nodes"] if n["type"] == "RealESRGANKitUpscale")
    assert upscale["widgets_values"][:2] == ["outscale", 2.0]
    source = next(link for link in workflow["links"] if link[3] == upscale["id"] and link[4] == 0)
    assert next(n for n in workflow["nodes"] if n["id"] == source[1])["type"] == "VAEDecode"


def test_the_video_examples_cover_both_inputs():
    """One example feeds a VIDEO from core's Load Video, one names a file from the input folder."""
    with_socket = load(ROOT / "example_workflows" / "upscale_video_realesrgan.json")
    node = next(n for n in with_socket["nodes"] if n["type"] == "RealESRGANKitUpscaleVideo")
    video_input = next(i for i in node["inputs"] if i["name"] == "video")
    source = next(link for link in with_socket["links"] if link[0] == video_input["link"])
    assert next(n for n in with_socket["nodes"] if n["id"] == source[1])["type"] == "LoadVideo"
    assert node["widgets_values"][0] == "none"
    from_file = load(ROOT / "example_workflows" / "upscale_video_file_realesrgan.json")
    node = next(n for n in from_file["nodes"] if n["type"] == "RealESRGANKitUpscaleVideo")
    assert node["widgets_values"][0] == "example.mp4"
    assert all(i["link"] is None for i in node["inputs"] if i["name"] == "video")
