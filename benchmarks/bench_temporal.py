"""Temporal stability benchmark (issue 21): frame-wise, stabilised and bicubic on generated clips.

    python benchmarks/bench_temporal.py             # quality table, all clips (~5 min on 2 cores)
    python benchmarks/bench_temporal.py --quick     # tiny smoke run
    python benchmarks/bench_temporal.py --write     # also write benchmarks/temporal_results.md
    python benchmarks/bench_temporal.py --overhead  # only the overhead row: 480p → ×2 timing
    python benchmarks/bench_temporal.py --sweep     # the parameter study behind the defaults

Clips are generated, never read from files: pans and zooms over the repository's test images
(``tests/data``: the comic and flat-colour drawings are *anime-like*, the photos *photo-like*), a
flat-colour sprite moving over the comic (ghosting), a hard cut between two pans, and variants
with per-frame noise or JPEG compression on the input. Each frame of a clip is the ground truth
(GT); its area downscale ×2 (then degraded) is the model's input. The model is
``realesr-animevideov3`` with ``outscale 2``, as ``realesrgan-kit upscale --model
realesr-animevideov3 --outscale 2`` runs it (the ×4 network, then a resize to ×2).

Per clip, for frame-wise, stabilised (``--temporal auto``) and bicubic output:

- E_t = mean |(SR_t − SR_t−1) − (GT_t − GT_t−1)| (0-255) and its ratio to bicubic's
  (floor: stabilised ≤ 1.5×);
- warped error: mean |SR_t − warp(SR_t−1)| with the flow of the GT frames (lower is steadier);
- PSNR against the GT (floor: stabilised ≥ frame-wise − 0.1 dB);
- sharpness: mean gradient magnitude, as % of frame-wise's (floor: ≥ 95 %);
- ghosting: mean |SR − GT| in a band around the moving sprite, and over the 4 frames after the
  cut (floor: stabilised ≤ frame-wise), and whether the first frame after the cut equals the
  frame-wise output;
- the stabiliser's time per frame against the model's at that size (measured on a busy machine
  unless said otherwise; ``--overhead`` is the figure for the floor).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import cpu_class, import_package

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
RESULTS = Path(__file__).resolve().parent / "temporal_results.md"
MODEL = "realesr-animevideov3"
OUTSCALE = 2
CUT_TAIL = 4  # frames after a cut whose error counts as "across the cut"


@dataclass
class Clip:
    """Ground-truth frames (RGB uint8), the model's inputs, and what to look at."""

    name: str
    kind: str  # "anime" or "photo"
    truth: list[np.ndarray]
    inputs: list[np.ndarray]
    band: list[np.ndarray] | None = None  # per-frame masks around the moving sprite
    cut: int | None = None  # index of the first frame after a hard cut
    velocity: tuple[float, float] | None = None  # content motion of a pan, GT px a frame


@dataclass
class Outputs:
    frames: list[np.ndarray]
    seconds: float = 0.0  # time to make them (model, stabiliser or resize)
    extra: dict[str, float] = field(default_factory=dict)


def _read_rgb(name: str) -> np.ndarray:
    image = cv2.imread(str(DATA / name), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FileNotFoundError(f"benchmark image {DATA / name} is missing")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:  # over white, as a viewer shows it
        alpha = image[:, :, 3:].astype(np.float32) / 255.0
        image = (image[:, :, :3].astype(np.float32) * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _camera(source: np.ndarray, size: tuple[int, int], frames: int, path: Callable[[float], tuple]) -> list:
    """Frames seen by a camera over ``source``: ``path(u)`` for u in [0, 1] gives the view's
    centre (x, y) and zoom; sampled with Lanczos, as an optical camera would see fine detail."""
    width, height = size
    out = []
    for t in range(frames):
        cx, cy, zoom = path(t / max(frames - 1, 1))
        matrix = np.array(
            [[1 / zoom, 0, cx - width / (2 * zoom)], [0, 1 / zoom, cy - height / (2 * zoom)]], np.float32
        )
        out.append(
            cv2.warpAffine(
                source,
                matrix,
                (width, height),
                flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REFLECT,
            )
        )
    return out


def _pan(source: np.ndarray, size: tuple[int, int], frames: int, speed: float, zoom: float = 1.0) -> list:
    """A diagonal pan at ``speed`` GT pixels a frame through the image's centre (sub-pixel
    steps are the hard case: the GAN redraws detail at every new phase); 0 is a still camera."""
    h, w = source.shape[:2]
    vx, vy = _pan_velocity(source, size, frames, speed, zoom)
    dx, dy = vx * (frames - 1) / zoom, vy * (frames - 1) / zoom  # the path in source pixels
    return _camera(source, size, frames, lambda u: (w / 2 + dx * (u - 0.5), h / 2 + dy * (u - 0.5), zoom))


def _pan_velocity(source: np.ndarray, size: tuple[int, int], frames: int, speed: float, zoom: float = 1.0):
    """The camera's motion of :func:`_pan` in GT pixels a frame (the content moves the other way)."""
    width, height = size
    h, w = source.shape[:2]
    span = max(frames - 1, 1)
    dx = max(0.0, min(speed * (frames - 1), w * zoom - width - 8))
    dy = max(0.0, min(0.4 * speed * (frames - 1), h * zoom - height - 8))
    return dx / span, dy / span


def _zoom(source: np.ndarray, size: tuple[int, int], frames: int, factor: float, zoom: float = 1.0) -> list:
    h, w = source.shape[:2]
    return _camera(source, size, frames, lambda u: (w / 2, h / 2, zoom * (1.0 + (factor - 1.0) * u)))


def _cel(width: int, height: int, seed: int) -> np.ndarray:
    """A flat-colour drawing, as anime cels are: a soft sky gradient, flat shapes with dark
    anti-aliased outlines, a few thin lines."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    top, bottom = np.array([120, 170, 235], np.float32), np.array([235, 225, 200], np.float32)
    image = np.ascontiguousarray(
        np.broadcast_to(top + (bottom - top) * ramp, (height, width, 3)).astype(np.uint8)
    )
    for _ in range(28):
        colour = tuple(int(c) for c in rng.integers(30, 250, 3))
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        if rng.random() < 0.5:
            axes = (int(rng.integers(8, width // 6)), int(rng.integers(8, height // 6)))
            angle = float(rng.uniform(0, 180))
            cv2.ellipse(image, centre, axes, angle, 0, 360, colour, -1, cv2.LINE_AA)
            cv2.ellipse(image, centre, axes, angle, 0, 360, (25, 20, 30), 2, cv2.LINE_AA)
        else:
            points = (np.array(centre) + rng.integers(-width // 8, width // 8, (5, 2))).astype(np.int32)
            cv2.fillPoly(image, [points], colour, cv2.LINE_AA)
            cv2.polylines(image, [points], True, (25, 20, 30), 2, cv2.LINE_AA)
    for _ in range(12):
        start = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        end = (start[0] + int(rng.integers(-60, 60)), start[1] + int(rng.integers(-60, 60)))
        cv2.line(image, start, end, (40, 30, 40), 1, cv2.LINE_AA)
    return image


def _sprite(background: np.ndarray, size: tuple[int, int], frames: int) -> tuple[list, list]:
    """A flat-colour sprite with a dark outline moving 3 GT px a frame over a still
    background; returns the frames and per-frame masks of a 6 px band around its edge."""
    width, height = size
    still = _pan(background, size, 1, 0.0, zoom=2)[0]
    frames_out, bands = [], []
    for t in range(frames):
        frame = still.copy()
        centre = (int(width * 0.2 + 3 * t), height // 2)
        axes = (width // 8, height // 5)
        cv2.ellipse(frame, centre, axes, 0, 0, 360, (250, 200, 60), -1, cv2.LINE_AA)
        cv2.ellipse(frame, centre, axes, 0, 0, 360, (30, 20, 20), 2, cv2.LINE_AA)
        mask = np.zeros((height, width), np.uint8)
        cv2.ellipse(mask, centre, axes, 0, 0, 360, 255, 1)
        bands.append(cv2.dilate(mask, np.ones((13, 13), np.uint8)) > 0)
        frames_out.append(frame)
    return frames_out, bands


def _degrade(frames: list, kind: str, seed: int) -> list:
    """The model's inputs: area ×1/2, then per-frame noise or JPEG as a camera/encoder adds."""
    rng = np.random.default_rng(seed)
    out = []
    for frame in frames:
        small = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
        if kind in ("noise", "mild noise"):
            sigma = 3.0 if kind == "noise" else 1.0
            small = np.clip(small + rng.normal(0, sigma, small.shape) + 0.5, 0, 255).astype(np.uint8)
        elif kind in ("jpeg", "mild jpeg"):
            quality = int(rng.integers(70, 86) if kind == "jpeg" else rng.integers(90, 96))
            ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
            small = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if ok else small
        out.append(small)
    return out


def make_clips(width: int, height: int, frames: int) -> list[Clip]:
    """The benchmark's clips; ``width``×``height`` is the GT size (the input is half)."""
    size = (width, height)
    comic = np.ascontiguousarray(np.rot90(_read_rgb("gt/comic.png")))  # landscape: room to pan
    cel = _cel(width, height, seed=7)  # seen at ×2-×3: smooth lines, as HD animation is
    baboon = _read_rgb("gt/baboon.png")
    gray = _read_rgb("00017_gray.png")
    children = _read_rgb("children-alpha.png")
    clips = [
        _clip(
            "cel slow pan ×3",
            "anime",
            _pan(cel, size, frames, 0.3, zoom=3),
            "clean",
            velocity=_pan_velocity(cel, size, frames, 0.3, 3),
        ),
        _clip("cel pan ×2, mild JPEG", "anime", _pan(cel, size, frames, 0.7, zoom=2), "mild jpeg"),
        _clip("cel still ×2, mild noise", "anime", _pan(cel, size, frames, 0.0, zoom=2), "mild noise"),
        _clip(
            "comic slow pan ×2",
            "anime",
            _pan(comic, size, frames, 0.3, zoom=2),
            "clean",
            velocity=_pan_velocity(comic, size, frames, 0.3, 2),
        ),
        _clip("comic zoom ×2, mild noise", "anime", _zoom(comic, size, frames, 1.15, zoom=2), "mild noise"),
        _clip("comic pan ×1.5, JPEG", "anime", _pan(comic, size, frames, 1.2, zoom=1.5), "jpeg"),
        _clip(
            "baboon slow pan ×3",
            "photo",
            _pan(baboon, size, frames, 0.3, zoom=3),
            "clean",
            velocity=_pan_velocity(baboon, size, frames, 0.3, 3),
        ),
        _clip("baboon still ×2, mild noise", "photo", _pan(baboon, size, frames, 0.0, zoom=2), "mild noise"),
        _clip(
            "children zoom ×2, mild JPEG", "photo", _zoom(children, size, frames, 1.15, zoom=2), "mild jpeg"
        ),
        _clip("grey photo pan ×2, JPEG", "photo", _pan(gray, size, frames, 0.8, zoom=2), "jpeg"),
        _clip("baboon pan, noise", "photo", _pan(baboon, size, frames, 1.0), "noise"),
    ]
    sprite_frames, bands = _sprite(cel, size, frames)
    clips.append(_clip("sprite over cel ×2", "anime", sprite_frames, "clean", band=bands))
    half = frames // 2
    cut_frames = _pan(cel, size, half, 0.5, zoom=2) + _pan(comic, size, frames - half, 0.5, zoom=2)
    clips.append(_clip("cut cel → comic ×2", "anime", cut_frames, "clean", cut=half))
    return clips


def _clip(name: str, kind: str, truth: list, degradation: str, **extra) -> Clip:
    inputs = _degrade(truth, degradation, seed=len(name))
    return Clip(name, kind, truth, inputs, **extra)


def frame_wise(clip: Clip, model) -> Outputs:
    from realesrgan_kit.core.engine import prepare_frame_upscaler

    h, w = clip.inputs[0].shape[:2]
    upscaler = prepare_frame_upscaler(model, h, w, outscale=OUTSCALE)
    upscaler(clip.inputs[0])  # warm-up, not timed
    started = time.perf_counter()
    frames = [upscaler(frame) for frame in clip.inputs]
    return Outputs(frames, time.perf_counter() - started)


def bicubic(clip: Clip) -> Outputs:
    h, w = clip.truth[0].shape[:2]
    started = time.perf_counter()
    frames = [cv2.resize(frame, (w, h), interpolation=cv2.INTER_CUBIC) for frame in clip.inputs]
    return Outputs(frames, time.perf_counter() - started)


def stabilised(clip: Clip, upscaled: Sequence[np.ndarray], settings) -> Outputs:
    from realesrgan_kit.core.video.temporal import TemporalStabilizer

    stabilizer = TemporalStabilizer(settings)
    started = time.perf_counter()
    frames = [stabilizer.push(low, high) for low, high in zip(clip.inputs, upscaled, strict=True)]
    return Outputs(frames, time.perf_counter() - started)


def _psnr(frames: Sequence[np.ndarray], truth: Sequence[np.ndarray]) -> float:
    mse = np.mean(
        [
            np.mean((f.astype(np.float64) - g.astype(np.float64)) ** 2)
            for f, g in zip(frames, truth, strict=True)
        ]
    )
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def _band_error(clip: Clip, frames: Sequence[np.ndarray]) -> float | None:
    if clip.band is None:
        return None
    errors = [
        np.abs(f.astype(np.float32) - g.astype(np.float32))[m].mean()
        for f, g, m in zip(frames, clip.truth, clip.band, strict=True)
    ]
    return float(np.mean(errors[1:]))


def _cut_error(clip: Clip, frames: Sequence[np.ndarray]) -> float | None:
    if clip.cut is None:
        return None
    span = slice(clip.cut, clip.cut + CUT_TAIL)
    return float(
        np.mean(
            [
                np.abs(f.astype(np.float32) - g.astype(np.float32)).mean()
                for f, g in zip(frames[span], clip.truth[span], strict=True)
            ]
        )
    )


def measure(clip: Clip, out: Outputs) -> dict[str, float | None]:
    from realesrgan_kit.core.video.temporal_metrics import sharpness, temporal_error, warped_error

    return {
        "E_t": temporal_error(out.frames, clip.truth),
        "warped": warped_error(out.frames, clip.truth),
        "psnr": _psnr(out.frames, clip.truth),
        "sharp": sharpness(out.frames),
        "band": _band_error(clip, out.frames),
        "cut": _cut_error(clip, out.frames),
        "seconds": out.seconds / len(out.frames),
    }


def evaluate(clips: Sequence[Clip], model, settings) -> list[dict]:
    """Every clip through the three methods; one dict of figures per clip."""
    rows = []
    for clip in clips:
        fw = frame_wise(clip, model)
        rows.append(_evaluate_clip(clip, fw, settings))
        print(f"  {clip.name}: done", file=sys.stderr)
    return rows


def _evaluate_clip(clip: Clip, fw: Outputs, settings) -> dict:
    st = stabilised(clip, fw.frames, settings)
    first_after_cut = None
    if clip.cut is not None:
        first_after_cut = bool(np.array_equal(st.frames[clip.cut], fw.frames[clip.cut]))
    return {
        "clip": clip,
        "oracle": _oracle(clip, fw.frames, st.frames),
        "bicubic": measure(clip, bicubic(clip)),
        "frame-wise": measure(clip, fw),
        "stabilised": measure(clip, st),
        "cut_equal": first_after_cut,
    }


def _oracle(clip: Clip, fw: Sequence[np.ndarray], st: Sequence[np.ndarray]) -> dict[str, float] | None:
    """For a pan: E_t (÷ bicubic's) of outputs that cannot flicker, frame 0 moved along the
    known camera path: the GT's own frame 0 (what the resampling alone costs) and the
    frame-wise output's frame 0 (a perfectly stable upscale with the model's detail). Measured
    12 px inside the border, where the shifted frame has no edge to invent."""
    from realesrgan_kit.core.video.temporal_metrics import temporal_error

    if clip.velocity is None:
        return None
    vx, vy = clip.velocity

    def moved(first: np.ndarray) -> list[np.ndarray]:
        h, w = first.shape[:2]
        shifts = [np.array([[1, 0, -vx * t], [0, 1, -vy * t]], np.float32) for t in range(len(clip.truth))]
        return [
            cv2.warpAffine(first, m, (w, h), flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT)
            for m in shifts
        ]

    def inner(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [f[12:-12, 12:-12] for f in frames]

    truth = inner(clip.truth)
    base = temporal_error(inner(bicubic(clip).frames), truth)
    return {
        name: temporal_error(inner(frames), truth) / base
        for name, frames in (
            ("GT frame 0 moved", moved(clip.truth[0])),
            ("frame-wise frame 0 moved", moved(fw[0])),
            ("frame-wise", fw),
            ("stabilised", st),
        )
    }


def oracle_table(rows: Sequence[dict]) -> list[str]:
    names = ["GT frame 0 moved", "frame-wise frame 0 moved", "frame-wise", "stabilised"]
    lines = [
        "| pan (E_t ÷ bicubic's, inner crop) | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for row in rows:
        if row["oracle"] is not None:
            lines.append(
                f"| {row['clip'].name} | " + " | ".join(f"{row['oracle'][n]:.2f}×" for n in names) + " |"
            )
    return lines


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "–" if value is None else pattern.format(value)


def clip_table(rows: Sequence[dict]) -> list[str]:
    lines = [
        "| clip | kind | E_t bicubic | E_t frame-wise (× bic.) | E_t stabilised (× bic.) | warped error fw → st "
        "| PSNR fw → st (dB) | sharpness st % of fw | sprite band error fw → st | cut error fw → st "
        "| st ms/frame (model ms/frame) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        b, f, s = row["bicubic"], row["frame-wise"], row["stabilised"]
        cut = "–"
        if row["cut_equal"] is not None:
            cut = f"{f['cut']:.2f} → {s['cut']:.2f} (first frame {'=' if row['cut_equal'] else '≠'} fw)"
        band = "–" if f["band"] is None else f"{f['band']:.2f} → {s['band']:.2f}"
        lines.append(
            f"| {row['clip'].name} | {row['clip'].kind} | {b['E_t']:.3f} "
            f"| {f['E_t']:.3f} ({f['E_t'] / b['E_t']:.2f}×) | {s['E_t']:.3f} ({s['E_t'] / b['E_t']:.2f}×) "
            f"| {f['warped']:.2f} → {s['warped']:.2f} | {f['psnr']:.2f} → {s['psnr']:.2f} ({s['psnr'] - f['psnr']:+.2f}) "
            f"| {100 * s['sharp'] / f['sharp']:.1f} | {band} | {cut} "
            f"| {1000 * s['seconds']:.1f} ({1000 * f['seconds']:.0f}) |"
        )
    return lines


def kind_table(rows: Sequence[dict]) -> list[str]:
    """Per content kind: the worst clip against each floor, and whether all floors hold."""
    lines = [
        "| content | clips | E_t fw × bic. (mean) | E_t st × bic. (mean, worst) | ΔPSNR st − fw (worst) "
        "| sharpness st % (worst) | ghosting st ≤ fw | floors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind in ("anime", "photo"):
        mine = [r for r in rows if r["clip"].kind == kind]
        if not mine:
            continue
        fw_ratio = [r["frame-wise"]["E_t"] / r["bicubic"]["E_t"] for r in mine]
        st_ratio = [r["stabilised"]["E_t"] / r["bicubic"]["E_t"] for r in mine]
        dpsnr = min(r["stabilised"]["psnr"] - r["frame-wise"]["psnr"] for r in mine)
        sharp = min(100 * r["stabilised"]["sharp"] / r["frame-wise"]["sharp"] for r in mine)
        ghosts = _ghosting_ok(mine)
        holds = max(st_ratio) <= 1.5 and dpsnr >= -0.1 and sharp >= 95 and ghosts is not False
        lines.append(
            f"| {kind}-like | {len(mine)} | {np.mean(fw_ratio):.2f}× | {np.mean(st_ratio):.2f}×, {max(st_ratio):.2f}× "
            f"| {dpsnr:+.2f} dB | {sharp:.1f} % | {_fmt(ghosts, '{}')} | {'hold' if holds else 'FAIL'} |"
        )
    return lines


def _ghosting_ok(rows: Sequence[dict]) -> bool | None:
    checks = []
    for r in rows:
        f, s = r["frame-wise"], r["stabilised"]
        if f["band"] is not None:
            checks.append(s["band"] <= f["band"] + 1e-9)
        if f["cut"] is not None:
            checks.append(s["cut"] <= f["cut"] + 1e-9 and bool(r["cut_equal"]))
    return None if not checks else all(checks)


def overhead(frames: int, model) -> list[str]:
    """Stabiliser time against the model's at 854×480 → ×2 (the issue's floor: ≤ 15 %)."""
    from realesrgan_kit.core.video.temporal import AUTO_SETTINGS

    width, height = 854, 480
    source = _read_rgb("gt/baboon.png")
    truth = _pan(
        cv2.resize(source, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC),
        (2 * width, 2 * height),
        frames + 1,
        1.3,
    )
    clip = Clip("480p", "photo", truth, _degrade(truth, "clean", 0))
    fw = frame_wise(clip, model)
    stabilised(
        Clip("warm", "photo", truth[:2], clip.inputs[:2]), fw.frames[:2], AUTO_SETTINGS
    )  # load DIS once
    st = stabilised(clip, fw.frames, AUTO_SETTINGS)
    model_ms, st_ms = 1000 * fw.seconds / len(fw.frames), 1000 * st.seconds / len(st.frames)
    return [
        "| input → output | frames | model ms/frame | stabiliser ms/frame | overhead |",
        "|---|---|---|---|---|",
        f"| {width}×{height} → {2 * width}×{2 * height} | {len(fw.frames)} | {model_ms:.0f} | {st_ms:.0f} | {100 * st_ms / model_ms:.1f} % |",
    ]


SWEEP = {
    "auto": {},
    "window 1": {"window": 1},
    "window 3": {"window": 3},
    "window 5": {"window": 5},
    "strength 0.5": {"strength": 0.5},
    "no clamp": {"clamp_radius": -1},
    "clamp radius 2": {"clamp_radius": 2},
    "no confidence erode": {"confidence_erode": 0},
    "tolerance 3": {"match_tolerance": 3.0},
    "tolerance 12": {"match_tolerance": 12.0},
    "DIS ultrafast": {"flow_preset": 0},
    "DIS medium": {"flow_preset": 2},
}


def sweep(clips: Sequence[Clip], model) -> list[str]:
    """Each variant of the defaults on every clip (frame-wise output computed once)."""
    from realesrgan_kit.core.video.temporal import AUTO_SETTINGS

    framewise = [frame_wise(clip, model) for clip in clips]
    lines = [
        "| variant | E_t st ÷ fw, anime (mean) | E_t st ÷ fw, photo (mean) | E_t st × bic., worst anime / photo "
        "| ΔPSNR (worst) | sharpness % (worst) | ghosting ok | ms/frame |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, change in SWEEP.items():
        settings = replace(AUTO_SETTINGS, **change)
        rows = [_evaluate_clip(clip, fw, settings) for clip, fw in zip(clips, framewise, strict=True)]
        lines.append(_sweep_row(name, rows))
        print(lines[-1], file=sys.stderr)
    return lines


def _sweep_row(name: str, rows: Sequence[dict]) -> str:
    def of(kind: str) -> list[dict]:
        return [r for r in rows if r["clip"].kind == kind]

    gain = {
        k: np.mean([r["stabilised"]["E_t"] / r["frame-wise"]["E_t"] for r in of(k)])
        for k in ("anime", "photo")
    }
    worst = {k: max(r["stabilised"]["E_t"] / r["bicubic"]["E_t"] for r in of(k)) for k in ("anime", "photo")}
    dpsnr = min(r["stabilised"]["psnr"] - r["frame-wise"]["psnr"] for r in rows)
    sharp = min(100 * r["stabilised"]["sharp"] / r["frame-wise"]["sharp"] for r in rows)
    ms = 1000 * np.mean([r["stabilised"]["seconds"] for r in rows])
    return (
        f"| {name} | {gain['anime']:.2f} | {gain['photo']:.2f} | {worst['anime']:.2f}× / {worst['photo']:.2f}× "
        f"| {dpsnr:+.2f} dB | {sharp:.1f} % | {_ghosting_ok(rows)} | {ms:.1f} |"
    )


def save_profile(path: Path, clips: Sequence[Clip], model) -> None:
    """A picture of one row of pixels over time (time downwards) for bicubic, frame-wise and
    stabilised output of each clip, side by side and labelled: the 80 px of the row where the
    frame-wise output changes most over time, magnified ×3 (×6 in time)."""
    from realesrgan_kit.core.video.temporal import AUTO_SETTINGS
    from realesrgan_kit.core.video.temporal_metrics import temporal_error, temporal_profile

    blocks = []
    for clip in clips:
        fw = frame_wise(clip, model)
        outputs = {
            "bicubic": bicubic(clip).frames,
            "frame-wise": fw.frames,
            "stabilised": stabilised(clip, fw.frames, AUTO_SETTINGS).frames,
        }
        row = clip.truth[0].shape[0] // 2
        change = np.abs(np.diff(temporal_profile(fw.frames, row=row).astype(np.float32), axis=0)).mean(
            axis=(0, 2)
        )
        left = int(np.argmax(np.convolve(change, np.ones(80), mode="valid")))
        panels = [
            _profile_panel(
                f"{name}, E_t {temporal_error(frames, clip.truth):.2f}",
                temporal_profile(frames, row=row)[:, left : left + 80],
            )
            for name, frames in outputs.items()
        ]
        title = np.full((18, sum(p.shape[1] for p in panels), 3), 255, np.uint8)
        cv2.putText(
            title,
            f"{clip.name}, row {row}, x {left}-{left + 79}",
            (3, 13),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
        blocks.append(np.vstack([title, np.hstack(panels)]))
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(np.vstack(blocks), cv2.COLOR_RGB2BGR))
    print(f"saved {path}")


def _profile_panel(label: str, profile: np.ndarray) -> np.ndarray:
    big = cv2.resize(profile, None, fx=3, fy=6, interpolation=cv2.INTER_NEAREST)
    header = np.full((16, big.shape[1], 3), 255, np.uint8)
    cv2.putText(header, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1, cv2.LINE_AA)
    margin = np.full((header.shape[0] + big.shape[0] + 6, 6, 3), 255, np.uint8)
    body = np.vstack([header, big, np.full((6, big.shape[1], 3), 255, np.uint8)])
    return np.hstack([body, margin])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny clips, few frames: checks that it runs")
    parser.add_argument("--frames", type=int, default=None, help="frames per clip (default 24, quick 6)")
    parser.add_argument("--size", type=str, default=None, help="GT size WxH (default 256x160, quick 96x64)")
    parser.add_argument("--overhead", action="store_true", help="only the 480p → ×2 timing row")
    parser.add_argument("--sweep", action="store_true", help="the parameter study instead of the table")
    parser.add_argument("--model", default=MODEL, help=f"zoo model for the quality table (default {MODEL})")
    parser.add_argument(
        "--kind", choices=("anime", "photo"), default=None, help="only clips of this content kind"
    )
    parser.add_argument("--write", action="store_true", help=f"also write {RESULTS.relative_to(ROOT)}")
    parser.add_argument(
        "--profile", type=Path, default=None, help="only save a temporal-profile picture (PNG) here"
    )
    args = parser.parse_args(argv)
    import_package()
    from realesrgan_kit import load_model
    from realesrgan_kit.core.video.temporal import AUTO_SETTINGS

    cv2.setRNGSeed(0)
    model = load_model(MODEL if args.overhead else args.model)
    frames = args.frames or (6 if args.quick else 24)
    width, height = (int(v) for v in (args.size or ("96x64" if args.quick else "256x160")).split("x"))
    stamp = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, CPU class {cpu_class()}"
    if args.profile is not None:
        clips = make_clips(width, height, frames)
        save_profile(
            args.profile, [c for c in clips if c.name.startswith(("cel still", "comic slow pan"))], model
        )
        return 0
    if args.overhead:
        lines = [f"### Overhead ({stamp})", "", *overhead(4 if args.quick else frames // 2, model)]
    elif args.sweep:
        lines = [
            f"### Parameter study ({stamp}, GT {width}×{height}, {frames} frames)",
            "",
            *sweep(make_clips(width, height, frames), model),
        ]
    else:
        clips = [c for c in make_clips(width, height, frames) if args.kind in (None, c.kind)]
        rows = evaluate(clips, model, AUTO_SETTINGS)
        lines = [
            f"### Quality ({stamp}; {args.model} outscale {OUTSCALE}; GT {width}×{height}, input {width // 2}×{height // 2}, {frames} frames; settings {AUTO_SETTINGS})",
            "",
            *kind_table(rows),
            "",
            *clip_table(rows),
            "",
            "Why the E_t floor fails on slow pans: outputs that cannot flicker at all, frame 0 moved along the "
            "known camera path, against the same clips:",
            "",
            *oracle_table(rows),
            "",
            "Timing columns were measured while other jobs shared the 2 cores; see the overhead row for the floor.",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        quality = (
            "quality"
            if (args.model, args.kind) == (MODEL, None)
            else f"quality {args.model} {args.kind or ''}"
        )
        _write(text, "overhead" if args.overhead else "sweep" if args.sweep else quality.strip())
    return 0


def _write(text: str, section: str) -> None:
    """Replace this section of temporal_results.md (quality, sweep, overhead), keep the others."""
    marker_start, marker_end = f"<!-- {section} -->", f"<!-- /{section} -->"
    old = (
        RESULTS.read_text()
        if RESULTS.exists()
        else "# Temporal stabilisation benchmark\n\nMade by `benchmarks/bench_temporal.py`.\n"
    )
    block = f"{marker_start}\n{text}{marker_end}"
    if marker_start in old and marker_end in old:
        head, rest = old.split(marker_start, 1)
        new = head + block + rest.split(marker_end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(new)


if __name__ == "__main__":
    raise SystemExit(main())
