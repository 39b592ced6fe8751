"""The one table of our ComfyUI nodes: ids, inputs (name, type, default, range, tooltip) in
order, outputs, and the function each node calls.

Saved workflows store widget values by position, so the order of inputs here is a promise to
users: append new inputs at the end (optional sockets last), never reorder or rename.
``tests/snapshots/node_inputs.json`` guards it.
"""

from __future__ import annotations

from ..core.options import (
    DEFAULT_BATCH_TEMPORAL,
    DEFAULT_TEMPORAL,
    INT8_QUALITY,
    TEMPORAL_HELP,
    TILE_HELP,
    UpscaleOptions,
)
from ..core.zoo import DEFAULT_MODEL
from .compare_node import SIZE_MISMATCH, compare_node
from .degrade_node import PRESETS, RESIZE_BACK, SEED_MAX, STEPS, degrade_node
from .load_node import NO_SECOND_MODEL, load_model_node, model_choices, second_model_choices
from .node_spec import InputSpec, NodeSpec, OutputSpec
from .upscale_node import ALPHA_MODES, RESIZE_MODES, upscale_node
from .video_node import (
    AUTO_CRF,
    CONTAINERS,
    DEFAULT_PREFIX,
    NO_FILE,
    codec_choices,
    upscale_video_node,
    video_file_choices,
)

__all__ = ["CATEGORY", "MODEL_TYPE", "MAX_RESOLUTION", "NODES", "node_by_id"]

CATEGORY = "image/upscaling/Real-ESRGAN"
MODEL_TYPE = "REALESRGAN_KIT_MODEL"
# Our model, or core's UPSCALE_MODEL from "Load Upscale Model" (any spandrel architecture).
ANY_MODEL_TYPE = f"{MODEL_TYPE},UPSCALE_MODEL"
MAX_RESOLUTION = 16384  # core's limit for width/height widgets
# Inputs that are engine options take their default and choices from the option's definition
# (``core.options.UpscaleOptions``); their tooltips are the node's own words (a widget, not a flag).
_ENGINE_DEFAULTS = UpscaleOptions()

_STEP_TOOLTIPS = {
    "sharpen": "Sharpen the input first (unsharp mask), as the training pipeline does before degrading.",
    "blur1": "First stage: blur with a random Gaussian, generalized, plateau or sinc kernel.",
    "resize1": "First stage: random down/up-scale with area, bilinear or bicubic interpolation.",
    "noise1": "First stage: Gaussian or Poisson noise, in color or gray.",
    "jpeg1": "First stage: JPEG compression at a random quality.",
    "blur2": "Second stage: a milder random blur.",
    "resize2": "Second stage: another random resize.",
    "noise2": "Second stage: more Gaussian or Poisson noise.",
    "final_sinc": "Final stage: sinc filter that imitates ringing and overshoot artifacts.",
    "jpeg_final": "Final stage: JPEG compression at a random quality.",
}


def _load_model_spec() -> NodeSpec:
    return NodeSpec(
        node_id="RealESRGANKitLoadModel",
        display_name="Load Real-ESRGAN Model",
        category=CATEGORY,
        description=(
            "Loads a Real-ESRGAN (or compatible ESRGAN / SRVGG) model safely from ComfyUI's upscale_models folders or "
            "a built-in name; the default RealESRGAN_x4plus works offline. Optionally blends two models of the same "
            "architecture (network interpolation)."
        ),
        inputs=(
            InputSpec(
                "model_name",
                "COMBO",
                default=DEFAULT_MODEL,
                options=model_choices,
                tooltip="Built-in models (embedded ones first, they work offline), then the files in "
                "ComfyUI/models/upscale_models (.pth, .safetensors, ncnn .param), then built-in names "
                "whose file you still need to download.",
            ),
            InputSpec(
                "second_model",
                "COMBO",
                default=NO_SECOND_MODEL,
                options=second_model_choices,
                tooltip="Optional second model to blend with (same architecture and size), e.g. "
                "realesr-general-x4v3 with realesr-general-wdn-x4v3 for denoise strength. "
                "'none' uses model_name alone.",
            ),
            InputSpec(
                "second_model_strength",
                "FLOAT",
                default=0.5,
                minimum=0.0,
                maximum=1.0,
                step=0.01,
                tooltip="Share of second_model in the blend: every weight = (1 − s)·model + s·second_model. "
                "0 = only model_name, 1 = only second_model. Ignored when second_model is 'none'.",
            ),
        ),
        outputs=(
            OutputSpec(
                "model",
                ANY_MODEL_TYPE,
                "The loaded model, for 'Upscale Image (Real-ESRGAN)', 'Upscale Video (Real-ESRGAN)' or core's "
                "'Upscale Image (using Model)'.",
            ),
            OutputSpec(
                "info",
                "STRING",
                "What was loaded, as JSON: architecture, scale, channels, parameters, source.",
            ),
        ),
        run=load_model_node,
    )


def _upscale_spec() -> NodeSpec:
    return NodeSpec(
        node_id="RealESRGANKitUpscale",
        display_name="Upscale Image (Real-ESRGAN)",
        category=CATEGORY,
        description=(
            "Upscales images with a Real-ESRGAN model (ours or core's Load Upscale Model): seamless tiles sized to free "
            "memory, fp16/bf16, alpha kept (from the image or a MASK), any output size, batches one image at a time."
        ),
        inputs=(
            InputSpec(
                "image", "IMAGE", tooltip="The images to upscale (a batch is processed one image at a time)."
            ),
            InputSpec(
                "model",
                ANY_MODEL_TYPE,
                tooltip="A model from 'Load Real-ESRGAN Model', or core's 'Load Upscale Model' "
                "(any architecture spandrel loads).",
            ),
            InputSpec(
                "resize_mode",
                "COMBO",
                default="model scale",
                options=RESIZE_MODES,
                tooltip="'model scale': the model's own factor (×4 for x4plus). 'outscale': any factor, e.g. ×2 "
                "with a ×4 model. 'target size': the width and/or height below.",
            ),
            InputSpec(
                "outscale",
                "FLOAT",
                default=2.0,
                minimum=0.25,
                maximum=16.0,
                step=0.05,
                tooltip="Output size as a multiple of the input size; used when resize_mode is 'outscale'.",
            ),
            InputSpec(
                "width",
                "INT",
                default=0,
                minimum=0,
                maximum=MAX_RESOLUTION,
                step=1,
                tooltip="Output width in pixels for resize_mode 'target size'; 0 = follow the height, keeping "
                "the aspect ratio.",
            ),
            InputSpec(
                "height",
                "INT",
                default=0,
                minimum=0,
                maximum=MAX_RESOLUTION,
                step=1,
                tooltip="Output height in pixels for resize_mode 'target size'; 0 = follow the width, keeping "
                "the aspect ratio.",
            ),
            InputSpec(
                "tile",
                "STRING",
                default=_ENGINE_DEFAULTS.tile,
                tooltip=f"Tile: {TILE_HELP}. Smaller tiles need less memory; each tile sees tile_pad pixels of "
                "context that are cropped away, so there are no seams. Workflows saved when this was a number "
                "load with their value: 0 (the old 'auto') becomes auto.",
            ),
            InputSpec(
                "tile_pad",
                "INT",
                default=0,
                minimum=0,
                maximum=1024,
                step=1,
                tooltip="Context pixels around each tile; 0 = auto (from the model's receptive field).",
            ),
            InputSpec(
                "precision",
                "COMBO",
                default=_ENGINE_DEFAULTS.precision,
                options=UpscaleOptions.choices("precision"),
                tooltip="Number format of the computation. 'auto' picks the fastest one the device runs well "
                "and the model supports; fp32 is the exact reference; bf16/fp16 are faster and "
                f"need half the memory. int8 (OpenVINO, CPU) is a preview-quality mode: {INT8_QUALITY}.",
            ),
            InputSpec(
                "tta",
                "BOOLEAN",
                default=_ENGINE_DEFAULTS.tta,
                tooltip="Test-time augmentation: average the 8 flips/rotations. Slightly cleaner, 8× slower.",
            ),
            InputSpec(
                "alpha_mode",
                "COMBO",
                default=_ENGINE_DEFAULTS.alpha,
                options=ALPHA_MODES,  # the field's choices less 'drop': the node outputs alpha as a MASK
                tooltip="How the alpha channel (a 4-channel IMAGE or the mask) is upscaled: 'model' runs it "
                "through the model, 'resize' uses a smooth resize (faster).",
            ),
            InputSpec(
                "mask",
                "MASK",
                optional=True,
                tooltip="Optional MASK used as alpha (ComfyUI convention: 1 = transparent, as Load Image "
                "gives). The upscaled mask comes out of the MASK output.",
            ),
            InputSpec(
                "backend",
                "COMBO",
                default=_ENGINE_DEFAULTS.backend,
                options=UpscaleOptions.choices("backend"),
                optional=True,
                tooltip="Who runs the network. 'auto' picks the fastest that keeps quality on this machine "
                "and model (measured once, stored in the user model folder); 'openvino' needs "
                "pip install 'realesrgan-kit[openvino]' and runs on the CPU.",
            ),
            InputSpec(
                "temporal",
                "STRING",
                default=str(DEFAULT_BATCH_TEMPORAL),
                optional=True,
                tooltip=f"For a batch that is a video clip (frames in order): {TEMPORAL_HELP}. Leave it 'off' "
                "for a batch of unrelated images; the stabiliser also starts afresh at every scene cut.",
            ),
        ),
        outputs=(
            OutputSpec("image", "IMAGE", "The upscaled images (4 channels if the input had 4)."),
            OutputSpec(
                "mask", "MASK", "The upscaled mask (1 = transparent); all zeros when there was no alpha."
            ),
        ),
        run=upscale_node,
    )


def _degrade_spec() -> NodeSpec:
    steps = tuple(InputSpec(name, "BOOLEAN", default=True, tooltip=_STEP_TOOLTIPS[name]) for name in STEPS)
    return NodeSpec(
        node_id="RealESRGANKitDegrade",
        display_name="Degrade Image (Real-ESRGAN pipeline)",
        category=CATEGORY,
        description=(
            "Applies Real-ESRGAN's second-order training degradation (blur, resize, noise, JPEG, twice, plus sinc) "
            "with a seed, to preview what the model was trained to undo. Outputs the sampled parameters as JSON."
        ),
        inputs=(
            InputSpec("image", "IMAGE", tooltip="The clean (high-resolution) images to degrade."),
            InputSpec(
                "seed",
                "INT",
                default=0,
                minimum=0,
                maximum=SEED_MAX,
                step=1,
                control_after_generate=True,
                tooltip="Random seed; the same seed gives the same degradation. Image i of a batch uses seed + i.",
            ),
            InputSpec(
                "scale",
                "FLOAT",
                default=4.0,
                minimum=1.0,
                maximum=4.0,
                step=0.5,
                tooltip="Down-scaling factor of the result (4 matches the ×4 models).",
            ),
            InputSpec(
                "preset",
                "COMBO",
                default="realesrgan",
                options=PRESETS,
                tooltip="'realesrgan': the training defaults of RealESRGAN_x4plus. 'light' / 'heavy': milder or "
                "stronger ranges.",
            ),
            *steps,
            InputSpec(
                "resize_to_input",
                "COMBO",
                default="off",
                options=RESIZE_BACK,
                tooltip="Resize the degraded image back to the input size for side-by-side viewing: 'nearest' "
                "shows the low-resolution pixels, 'bicubic' a smooth view. 'off' keeps the small size.",
            ),
        ),
        outputs=(
            OutputSpec("image", "IMAGE", "The degraded images."),
            OutputSpec(
                "parameters", "STRING", "The sampled degradation parameters as JSON (a list for a batch)."
            ),
        ),
        run=degrade_node,
    )


def _compare_spec() -> NodeSpec:
    return NodeSpec(
        node_id="RealESRGANKitCompare",
        display_name="Compare Images (PSNR / SSIM)",
        category=CATEGORY,
        description="Measures PSNR (dB) and SSIM between a reference and an image, e.g. original vs degrade → upscale.",
        inputs=(
            InputSpec("reference", "IMAGE", tooltip="The reference (ground-truth) images."),
            InputSpec(
                "image",
                "IMAGE",
                tooltip="The images to measure against the reference (a batch of one is "
                "compared with every reference image, and vice versa).",
            ),
            InputSpec(
                "crop_border",
                "INT",
                default=0,
                minimum=0,
                maximum=256,
                step=1,
                tooltip="Pixels excluded at every edge (SR benchmarks exclude the scale factor, e.g. 4).",
            ),
            InputSpec(
                "size_mismatch",
                "COMBO",
                default="error",
                options=SIZE_MISMATCH,
                tooltip="When sizes differ: 'error'; 'crop to common' for a few pixels lost to rounding "
                "(degrade → upscale); 'resize image to reference'.",
            ),
        ),
        outputs=(
            OutputSpec("psnr", "FLOAT", "Mean PSNR in dB (inf for identical images)."),
            OutputSpec("ssim", "FLOAT", "Mean SSIM (1 = identical)."),
            OutputSpec("report", "STRING", "Both values as text, per image for a batch."),
        ),
        run=compare_node,
        output_node=True,
    )


# The engine settings the video node shares with the image node (same names, ranges, tooltips).
_SHARED_ENGINE_INPUTS = ("resize_mode", "outscale", "width", "height", "tile", "tile_pad", "precision", "tta")


def _upscale_video_spec() -> NodeSpec:
    image_node = _upscale_spec()
    return NodeSpec(
        node_id="RealESRGANKitUpscaleVideo",
        display_name="Upscale Video (Real-ESRGAN)",
        category=CATEGORY,
        description=(
            "Upscales a video file into a new video in the output folder, frame by frame as a stream (memory "
            "stays flat whatever the clip's length), keeping audio, subtitles, timestamps and colour settings. "
            "Takes a VIDEO (from Load Video) or a file from the input folder."
        ),
        inputs=(
            image_node.input("model"),
            InputSpec(
                "file",
                "COMBO",
                default=NO_FILE,
                options=video_file_choices,
                tooltip="A video in ComfyUI's input folder; 'none' when the clip comes through the video "
                "socket (which wins when connected).",
            ),
            *(image_node.input(name) for name in _SHARED_ENGINE_INPUTS),
            InputSpec(
                "container",
                "COMBO",
                default="mp4",
                options=CONTAINERS,
                tooltip="File type of the result. mp4 plays everywhere; mkv keeps any audio or subtitle "
                "stream; webm for the web (VP9).",
            ),
            InputSpec(
                "codec",
                "COMBO",
                default="auto",
                options=codec_choices,
                tooltip="Video encoder; 'auto' picks the best this installation has for the container "
                "(libx264 for mp4/mkv/mov, VP9 for webm). ffv1 is lossless (mkv).",
            ),
            InputSpec(
                "crf",
                "INT",
                default=AUTO_CRF,
                minimum=AUTO_CRF,
                maximum=63,
                step=1,
                tooltip="Constant quality: lower is better and larger. -1 = the codec's near-transparent "
                "default (x264 18, x265 20, VP9 24).",
            ),
            InputSpec(
                "filename_prefix",
                "STRING",
                default=DEFAULT_PREFIX,
                tooltip="Where the result goes in the output folder; a number is added, as Save Video does.",
            ),
            InputSpec(
                "video",
                "VIDEO",
                optional=True,
                tooltip="ComfyUI's VIDEO (Load Video). Read as a file stream, never decoded whole.",
            ),
            InputSpec(
                "temporal",
                "STRING",
                default=str(DEFAULT_TEMPORAL),
                optional=True,
                tooltip=f"Flicker reduction: {TEMPORAL_HELP}. Static areas stop shimmering; motion, "
                "occlusions and scene cuts keep the frame-wise result.",
            ),
        ),
        outputs=(
            OutputSpec("video", "VIDEO", "The upscaled video (empty on a ComfyUI without the VIDEO type)."),
            OutputSpec("path", "STRING", "The written file's full path."),
            OutputSpec("report", "STRING", "Frames, sizes, codec, speed and the streams kept."),
        ),
        run=upscale_video_node,
        output_node=True,
    )


NODES: tuple[NodeSpec, ...] = (
    _load_model_spec(),
    _upscale_spec(),
    _degrade_spec(),
    _compare_spec(),
    _upscale_video_spec(),
)


def node_by_id(node_id: str) -> NodeSpec:
    for spec in NODES:
        if spec.node_id == node_id:
            return spec
    raise KeyError(node_id)
