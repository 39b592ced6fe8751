"""ipywidgets front end: controls plus a worker thread calling ``core``. No image math here.

from realesrgan_kit.widgets import UpscaleTuner, DegradationExplorer
UpscaleTuner("photo.jpg")            # tile size, outscale, precision; before/after view
DegradationExplorer("photo.png")     # Real-ESRGAN's training degradations, and what a model recovers
VideoTuner("clip.mp4")               # tune on a frame, upscale the whole clip, compare and play
FineTuner("my_hr_images/")           # fine-tune a model on your images: live losses, validation, export
"""

from .compare import CompareView
from .explorer import DegradationExplorer
from .finetune import FineTuner
from .sweep import SweepPoint, SweepResult, TileSweepPanel, fastest_fitting, run_tile_sweep
from .tuner import UpscaleSettings, UpscaleTuner
from .video import VideoTuner
from .worker import InlineExecutor, JobContext, JobOutcome, Worker

__all__ = [
    "UpscaleTuner",
    "UpscaleSettings",
    "VideoTuner",
    "DegradationExplorer",
    "FineTuner",
    "CompareView",
    "TileSweepPanel",
    "run_tile_sweep",
    "fastest_fitting",
    "SweepPoint",
    "SweepResult",
    "Worker",
    "JobContext",
    "JobOutcome",
    "InlineExecutor",
]
