"""Fine-tuning benchmark: one command, one table (also written to benchmarks/train_results.md).

    python benchmarks/bench_train.py --quick          # end-to-end check, about a minute
    python benchmarks/bench_train.py --minutes 20     # the real measurement (≈ 30 min in all)

(a) throughput: iterations/s of ``finetune`` (net stage, realesr-animevideov3, on-the-fly
    degradation in DataLoader workers, pair pool, EMA, loss logging) against a bare torch loop
    doing the same forward, L1, backward and Adam step on one fixed batch of the same shape, in
    the same process and precision. Floor: ≥ 80 %.
(b) learning: a net-stage fine-tune of realesr-animevideov3 on one domain (comic/illustration:
    crops of tests/data/gt/comic.png and tests/data/0014.jpg; their bottom parts are held out as
    the validation set, degraded with Real-ESRGAN's pipeline under a fixed seed) for
    ``--minutes`` of wall time; validation PSNR of the raw and EMA generators at every
    checkpoint, against the starting model. Floor: ≥ +0.5 dB after a 20-minute CPU run.
(c) resume: a run stopped half-way and resumed against the uninterrupted run: the losses at
    every iteration, compared bit for bit (CPU, fp32, same seed and threads).

Rows are labelled with the CPU class (AVX-512-BF16 / AVX-512 / AVX2) from /proc/cpuinfo.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _support import ROOT, cpu_class, import_package

DATA = ROOT / "tests" / "data"


def make_domain(folder: Path) -> tuple[Path, Path]:
    """Comic/illustration crops: top parts for training, bottom parts held out for validation."""
    from realesrgan_kit.core.imagefile.arrays import read_image, write_image

    comic = read_image(DATA / "gt" / "comic.png")  # 360×240 illustration
    cat = read_image(DATA / "0014.jpg")  # 179×179 cartoon
    train, val = folder / "train", folder / "val"
    write_image(train / "comic_top.png", comic[:240])
    write_image(train / "cat_top.png", cat[:112])
    for i, left in enumerate((0, 120)):
        write_image(val / f"comic_bottom_{i}.png", comic[240:360, left : left + 120])
    for i, left in enumerate((0, 89)):
        write_image(val / f"cat_bottom_{i}.png", cat[112:179, left : left + 89])
    return train, val


def bare_loop(model, batch, precision: str, warm: int, count: int) -> float:
    """Iterations/s of forward, L1, backward and Adam step on one fixed batch: the reference."""
    import contextlib

    import torch
    from torch.nn import functional as F

    from realesrgan_kit.core.train.networks import trainable_copy

    net = trainable_copy(model.module)
    opt = torch.optim.Adam(net.parameters(), lr=2e-4, betas=(0.9, 0.99))
    lq, _, gt_usm = batch
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    autocast = torch.autocast("cpu", dtype=dtype) if dtype else contextlib.nullcontext()
    times = []
    for _ in range(warm + count):
        opt.zero_grad(set_to_none=True)
        with autocast:
            loss = F.l1_loss(net(lq).float(), gt_usm)
        loss.backward()
        opt.step()
        float(loss.detach())
        times.append(time.perf_counter())
    return count / (times[-1] - times[warm - 1])


def throughput(args: argparse.Namespace, train: Path, work: Path, workers: int) -> dict:
    """Ours with ``workers`` DataLoader workers between two bare-loop measurements (their mean
    is the reference: load drifts)."""
    import torch

    from realesrgan_kit.core.imagefile.arrays import image_files
    from realesrgan_kit.core.load import load_model
    from realesrgan_kit.core.train import TrainSettings, finetune, resolve_training_precision
    from realesrgan_kit.core.train.data import DegradedCrops

    model = load_model("realesr-animevideov3")
    warm, count = args.warmup, args.iters
    precision = resolve_training_precision(args.precision, torch.device("cpu"))
    samples = DegradedCrops(image_files(train), scale=model.scale, patch_size=args.patch, seed=0)
    batch = tuple(torch.stack(parts) for parts in zip(*(samples[i] for i in range(args.batch)), strict=True))
    before = bare_loop(model, batch, precision, warm, count)
    settings = TrainSettings(
        iterations=warm + count,
        batch_size=args.batch,
        patch_size=args.patch,
        num_workers=workers,
        precision=args.precision,
        checkpoint_every=10**9,
        val_every=10**9,
        seed=0,
    )
    stamps: list[float] = []
    finetune(
        model,
        work / f"throughput{workers}",
        hr_folder=train,
        settings=settings,
        val_count=1,
        progress=lambda p: stamps.append(time.perf_counter()),
    )
    ours = count / (stamps[-1] - stamps[warm - 1])
    after = bare_loop(model, batch, precision, warm, count)
    return {
        "ours": ours,
        "bare": (before + after) / 2,
        "bare_runs": (before, after),
        "precision": precision,
        "workers": workers,
    }


def learning(args: argparse.Namespace, train: Path, val: Path, work: Path) -> list[dict]:
    from realesrgan_kit.core.load import load_model
    from realesrgan_kit.core.train import TrainSettings, finetune

    deadline = time.monotonic() + args.minutes * 60
    settings = TrainSettings(
        iterations=10**7,
        batch_size=args.batch,
        patch_size=args.patch,
        num_workers=args.workers,
        precision=args.precision,
        checkpoint_every=args.checkpoint_every,
        val_every=args.checkpoint_every,
        seed=args.seed,
        l1_gt_usm=args.gt == "sharpened",
        lr=args.lr,
    )
    rows: list[dict] = []
    started = time.monotonic()

    def on_validation(report) -> None:
        rows.append(
            {
                "iteration": report.iteration,
                "minutes": (time.monotonic() - started) / 60,
                "start": report.psnr_start,
                "raw": report.psnr_raw,
                "ema": report.psnr_ema,
            }
        )
        print(
            f"  learning: iteration {report.iteration:5d}  {rows[-1]['minutes']:5.1f} min  "
            f"PSNR raw {report.psnr_raw:.3f}  EMA {report.psnr_ema:.3f}  (start {report.psnr_start:.3f})",
            file=sys.stderr,
        )

    result = finetune(
        load_model("realesr-animevideov3"),
        work / "learning",
        hr_folder=train,
        val_folder=val,
        val_count=16,
        settings=settings,
        on_validation=on_validation,
        cancel=lambda: time.monotonic() > deadline,
    )
    assert rows[-1]["iteration"] == result.iteration  # a stopped run validates where it stops
    return rows


def resume_check(args: argparse.Namespace, train: Path, work: Path) -> dict:
    import torch

    from realesrgan_kit.core.load import load_model
    from realesrgan_kit.core.train import TrainSettings, finetune

    model = load_model("realesr-animevideov3")
    n = args.resume_iters
    settings = TrainSettings(
        iterations=n,
        batch_size=max(2, args.batch // 2),
        patch_size=args.patch,
        pool_size=0,
        num_workers=args.workers,
        precision="fp32",
        checkpoint_every=n // 2,
        val_every=10**9,
        seed=1,
    )
    full = finetune(model, work / "resume_full", hr_folder=train, settings=settings, val_count=1)
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > n // 2

    finetune(model, work / "resume_part", hr_folder=train, settings=settings, val_count=1, cancel=stop)
    resumed = finetune(
        model, work / "resume_part", hr_folder=train, settings=settings, val_count=1, resume=True
    )
    same = [a == b for a, b in zip(full.losses, resumed.losses, strict=True)]
    return {
        "iterations": n,
        "stopped_at": n // 2,
        "identical": all(same),
        "first_difference": None if all(same) else same.index(False) + 1,
        "threads": torch.get_num_threads(),
    }


def render(
    args: argparse.Namespace, tputs: list[dict], learn: list[dict] | None, resumed: dict | None
) -> str:
    import torch

    label = cpu_class()
    lines = [
        f"# Fine-tuning benchmark ({'quick' if args.quick else 'full'})",
        "",
        f"{label}: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}; realesr-animevideov3, batch {args.batch}, GT patch {args.patch}, "
        f"{args.workers} DataLoader worker(s) in (b) and (c), precision {args.precision}, seed {args.seed}; "
        f"(b) trains L1 against the {args.gt} GT, "
        f"learning rate {args.lr if args.lr is not None else 'default (2e-4)'}.",
        "",
        "| check | CPU | ours | reference | ratio / result | floor |",
        "|---|---|---:|---:|---:|---|",
    ]
    for tput in tputs:
        lines.append(
            f"| (a) throughput, it/s, {tput['workers']} DataLoader worker(s) | {label} | {tput['ours']:.3f} | "
            f"{tput['bare']:.3f} (bare loop, runs "
            f"{tput['bare_runs'][0]:.3f} / {tput['bare_runs'][1]:.3f}) | "
            f"{tput['ours'] / tput['bare']:.0%} | ≥ 80 % |"
        )
    if learn:
        best = max(learn, key=lambda r: max(r["raw"], r["ema"]))
        last = learn[-1]
        lines.append(
            f"| (b) learning, validation PSNR after {last['minutes']:.1f} min ({last['iteration']} it) | {label} | "
            f"raw {last['raw']:.3f} / EMA {last['ema']:.3f} dB | {last['start']:.3f} dB (start) | "
            f"raw {last['raw'] - last['start']:+.3f} / EMA {last['ema'] - last['start']:+.3f} dB "
            f"(best {max(best['raw'], best['ema']) - best['start']:+.3f} at {best['iteration']}) | ≥ +0.5 dB after 20 min |"
        )
    if resumed:
        lines.append(
            f"| (c) resume at {resumed['stopped_at']} of {resumed['iterations']} | {label} | "
            f"{'identical' if resumed['identical'] else 'differs at ' + str(resumed['first_difference'])} | "
            f"uninterrupted run | {'bitwise equal' if resumed['identical'] else 'NOT equal'} | bitwise |"
        )
    if learn:
        lines += ["", "Validation PSNR per checkpoint (dB, RGB, held-out crops):", ""]
        lines += ["| iteration | minutes | start | raw | EMA |", "|---:|---:|---:|---:|---:|"]
        lines += [
            f"| {r['iteration']} | {r['minutes']:.1f} | {r['start']:.3f} | {r['raw']:.3f} | {r['ema']:.3f} |"
            for r in learn
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the script end to end")
    parser.add_argument(
        "--minutes", type=float, default=None, help="learning run length (default 20; quick 0.3)"
    )
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 8; quick 2)")
    parser.add_argument("--patch", type=int, default=None, help="GT patch side (default 96; quick 64)")
    parser.add_argument(
        "--workers", type=int, default=0, help="DataLoader workers in (b) and (c) (default 0, as finetune's)"
    )
    parser.add_argument("--precision", default="fp32", help="auto, fp32 or bf16 (default fp32)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--lr", type=float, default=None, help="(b) learning rate (default: the net stage's 2e-4)"
    )
    parser.add_argument(
        "--gt",
        choices=("plain", "sharpened"),
        default="plain",
        help="(b) L1 target: plain GT (default; validation PSNR is measured against plain GT) or "
        "the official USM-sharpened GT, which trades PSNR for crispness by design",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--parts", default="abc", help="which checks to run, e.g. 'b' (default abc)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "train_results.md")
    args = parser.parse_args(argv)
    quick = args.quick
    args.minutes = args.minutes if args.minutes is not None else (0.3 if quick else 20.0)
    args.batch = args.batch or (2 if quick else 8)
    args.patch = args.patch or 64 if quick else args.patch or 96
    args.warmup, args.iters = (
        (2, 4) if quick else (20, 150)
    )  # ~20 s per timed run: one burst does not decide it
    args.resume_iters = 4 if quick else 20
    args.checkpoint_every = 5 if quick else 100
    import_package()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="realesrgan-kit-bench-train-"))
    try:
        train, val = make_domain(work / "data")
        tputs: list[dict] = []
        learn = resumed = None
        if "a" in args.parts:
            print("(a) throughput …", file=sys.stderr)
            # 0 workers (finetune's default) degrades in the training process; 1 worker overlaps it,
            # but on a 2-core machine that worker takes CPU from the two training threads
            tputs = [throughput(args, train, work, workers) for workers in (0, 1)]
        if "b" in args.parts:
            print("(b) learning …", file=sys.stderr)
            learn = learning(args, train, val, work)
        if "c" in args.parts:
            print("(c) resume …", file=sys.stderr)
            resumed = resume_check(args, train, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = render(args, tputs, learn, resumed)
    print(table)
    if not quick and args.parts == "abc":
        args.output.write_text(table)
    return 0 if resumed is None or resumed["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
