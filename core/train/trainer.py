"""The training loop of both stages, with checkpoints, resume, validation and export.

One iteration (Real-ESRGAN's ``optimize_parameters``): the generator maps the LQ batch; its
loss is L1 (and, in the GAN stage, perceptual + GAN against the discriminator, whose weights
are frozen for that step); one Adam step; then, in the GAN stage, one discriminator step on the
real ground truth and the detached output; then the EMA update of the generator.

Randomness: sample numbers decide the data (see ``data``); the pair pool and the
discriminator's initial weights draw from ``torch.Generator`` objects seeded from the run's
seed, whose states are saved in each checkpoint. Nothing touches the global RNGs, so a resumed
run on the same machine, device, precision and thread count repeats the uninterrupted run's
losses bit for bit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional as F

from ..degrade import settings_from
from ..engine.precision import DTYPES, cpu_has_fast_bf16, resolve_device
from ..errors import InvalidParameterError, RunFolderMismatchError
from ..fileio import atomic_output
from ..load.descriptor import ModelDescriptor
from ..load.registry import get_spec
from ..load.save import save_safetensors
from .checkpoint import (
    latest_checkpoint,
    load_optimizer,
    optimizer_tensors,
    prune_checkpoints,
    read_state,
    write_checkpoint,
)
from .data import (
    AlignedPairs,
    DegradedCrops,
    ValidationSample,
    scan_hr_folder,
    scan_pair_folder,
    validation_samples,
)
from .finetune_settings import EXPORT_CHOICES, TrainSettings
from .losses import PerceptualLoss, gan_loss
from .networks import (
    check_trainable,
    new_discriminator,
    trainable_copy,
    update_ema,
    weights_digest,
    without_inference_tensors,
)
from .pool import PairPoolSampler
from .run_folder import RUN_FILE, LossLog, check_resumable, setup_record, start_run_folder

__all__ = [
    "TrainProgress",
    "ValidationReport",
    "TrainResult",
    "finetune",
    "resolve_training_precision",
    "export_generator",
    "export_run",
    "MODEL_FILE",
]

log = logging.getLogger(__name__)

MODEL_FILE = "model.safetensors"
VALIDATION_DIR = "validation"


@dataclass(frozen=True)
class TrainProgress:
    """Sent after every iteration."""

    iteration: int
    iterations: int
    losses: Mapping[str, float]
    iterations_per_second: float
    eta_seconds: float


@dataclass(frozen=True)
class ValidationReport:
    """PSNR (dB, RGB, 8-bit) on the validation set of the starting, current raw and EMA generators.

    ``image``: uint8 H×W×3 strip of the first sample — LQ (nearest), start, current (EMA), GT.
    """

    iteration: int
    psnr_start: float
    psnr_raw: float
    psnr_ema: float
    image: np.ndarray
    path: Path | None


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    iteration: int
    stopped: bool
    """True when the cancel hook stopped the run (a checkpoint was written at that iteration)."""
    model_path: Path
    losses: list[dict[str, float]]
    validations: list[ValidationReport]


def resolve_training_precision(precision: str, device: torch.device) -> str:
    """``auto``: bf16 on CUDA GPUs that have it, else fp16; bf16 on CPUs with native bf16, else
    fp32; fp32 on MPS (its autocast does not cover every backward op)."""
    if precision == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        if device.type == "cpu":
            return "bf16" if cpu_has_fast_bf16() else "fp32"
        return "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise InvalidParameterError(
            f"fp16 training needs a CUDA GPU (loss scaling); on {device.type} use bf16 or fp32"
        )
    if precision == "bf16" and device.type == "cpu" and not cpu_has_fast_bf16():
        log.warning("bf16 on this CPU is emulated (no AVX-512-BF16/AMX): training will be slower than fp32")
    return precision


def _autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[Any]:
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=DTYPES[precision])


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    array = image.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    return array.permute(1, 2, 0).cpu().numpy()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(255.0**2 / mse))


class _Validator:
    """Fixed samples; PSNR of start/raw/EMA generators; a strip image per validation."""

    def __init__(self, samples: list[ValidationSample], start: nn.Module, device: torch.device, scale: int):
        self.samples, self.device, self.scale = samples, device, scale
        self.targets = [(s.gt * 255).round().astype(np.uint8) for s in samples]
        self.start_outputs = self._run(start)
        self.psnr_start = self._score(self.start_outputs)

    @torch.no_grad()
    def _run(self, network: nn.Module) -> list[np.ndarray]:
        was_training = network.training
        network.eval()
        try:
            outputs = []
            for sample in self.samples:
                x = torch.from_numpy(sample.lq.transpose(2, 0, 1)).unsqueeze(0).to(self.device)
                outputs.append(_to_uint8(network(x)[0]))
            return outputs
        finally:
            network.train(was_training)

    def _score(self, outputs: list[np.ndarray]) -> float:
        return float(np.mean([_psnr(o, t) for o, t in zip(outputs, self.targets, strict=True)]))

    def __call__(
        self, iteration: int, raw: nn.Module, ema: nn.Module, folder: Path | None
    ) -> ValidationReport:
        raw_out, ema_out = self._run(raw), self._run(ema)
        lq = (self.samples[0].lq * 255).round().astype(np.uint8)
        lq_big = np.repeat(np.repeat(lq, self.scale, axis=0), self.scale, axis=1)
        strip = np.concatenate([lq_big, self.start_outputs[0], ema_out[0], self.targets[0]], axis=1)
        path = None
        if folder is not None:
            from ..imagefile.arrays import write_image

            path = write_image(folder / f"iter_{iteration:08d}.png", strip, overwrite=True)
        return ValidationReport(
            iteration, self.psnr_start, self._score(raw_out), self._score(ema_out), strip, path
        )


def _generator_metadata(settings: TrainSettings, iteration: int, base: str) -> dict[str, str]:
    return {
        "training": json.dumps(
            {"base_model": base, "iteration": iteration, "settings": settings.to_dict()}, sort_keys=True
        )
    }


def export_generator(
    descriptor: ModelDescriptor[nn.Module],
    module: nn.Module,
    path: str | os.PathLike[str],
    *,
    metadata: Mapping[str, str] | None = None,
    overwrite: bool = True,
) -> Path:
    """Write a trained generator as a model file every loader of this package reads."""
    trained = dataclasses.replace(descriptor, module=module, source=str(path), format="safetensors")
    return save_safetensors(trained, path, overwrite=overwrite, extra_metadata=metadata)


def export_run(
    run_dir: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    which: str = "ema",
    overwrite: bool = False,
) -> Path:
    """Copy the generator (``ema`` or ``raw``) of a run's last checkpoint to ``path``, atomically."""
    if which not in EXPORT_CHOICES:
        raise InvalidParameterError(f"which must be one of {', '.join(EXPORT_CHOICES)}; got {which!r}")
    found = latest_checkpoint(run_dir)
    if found is None:
        raise RunFolderMismatchError(
            f"{run_dir} holds no checkpoint yet; train first (or wait for the first one)"
        )
    source = found[1] / ("generator_ema.safetensors" if which == "ema" else "generator.safetensors")
    target = Path(path)
    with atomic_output(target, overwrite=overwrite) as tmp:
        shutil.copyfile(source, tmp)
    return target


# -- the session's parts that need no session state ------------------------------------------
def _check_patch(settings: TrainSettings, descriptor: ModelDescriptor[nn.Module]) -> None:
    """The patch size fits the model's scale and size multiple (and the discriminator's halvings)."""
    p, scale = settings.patch_size, descriptor.scale
    multiple = scale * descriptor.size_requirements.multiple_of
    if settings.uses_gan:
        multiple = int(np.lcm(multiple, 8))  # the U-Net discriminator halves the GT three times
    if p % multiple:
        raise InvalidParameterError(
            f"patch size {p} must be a multiple of {multiple} for this model (scale ×{scale}"
            f"{', and the discriminator needs multiples of 8' if settings.uses_gan else ''})"
        )


def _training_data(
    s: TrainSettings,
    scale: int,
    hr_folder: str | os.PathLike[str] | None,
    pairs: str | os.PathLike[str] | None,
) -> tuple[torch.utils.data.Dataset, dict[str, Any], list[Any]]:
    """The training dataset (HR crops degraded on the fly, or aligned pairs), its record for the
    run's setup (file names and sizes) and its items."""
    if (hr_folder is None) == (pairs is None):
        raise InvalidParameterError(
            "give exactly one of an HR folder (degraded on the fly) or a pairs folder"
        )
    if pairs is not None:
        items = scan_pair_folder(pairs, scale, s.patch_size)
        # The ground truth is sharpened as the degradation settings say, as for HR folders.
        d = settings_from(s.degradation_preset, s.degradation_overrides)
        usm = {
            "weight": d.usm_weight,
            "kernel_size": d.usm_kernel_size,
            "sigma": d.usm_sigma,
            "threshold": d.usm_threshold,
        }
        dataset = AlignedPairs(
            items, scale=scale, patch_size=s.patch_size, seed=s.seed, hflip=s.hflip, usm=usm
        )
        record = {
            "kind": "pairs",
            "files": [[h.name, h.stat().st_size, lr.stat().st_size] for h, lr in items],
        }
        return dataset, record, list(items)
    assert hr_folder is not None
    files = scan_hr_folder(hr_folder, s.patch_size)
    dataset = DegradedCrops(
        files,
        scale=scale,
        patch_size=s.patch_size,
        seed=s.seed,
        hflip=s.hflip,
        degradation=s.degradation_preset,
        overrides=s.degradation_overrides,
    )
    record = {"kind": "hr", "files": [[f.name, f.stat().st_size] for f in files]}
    return dataset, record, list(files)


def _discriminator(source: Any, rng: torch.Generator) -> nn.Module:
    """A new U-Net discriminator drawn from ``rng``, or a copy of the given one (descriptor or file)."""
    if source is None:
        return new_discriminator(rng)
    from ..load.loader import load_model

    loaded = source if isinstance(source, ModelDescriptor) else load_model(source)
    if loaded.architecture != "UNetDiscriminatorSN":
        raise InvalidParameterError(
            f"the discriminator must be a UNetDiscriminatorSN (e.g. RealESRGAN_x4plus_netD.pth); got {loaded.architecture}"
        )
    return trainable_copy(loaded.module)


def _perceptual(
    s: TrainSettings, features: nn.Module | None, vgg_weights: Any, device: torch.device
) -> PerceptualLoss | None:
    """The VGG perceptual loss on ``device`` when the stage uses one (``features``: a given VGG)."""
    if not s.uses_perceptual:
        return None
    if features is None:
        from .vgg import load_vgg19_features

        features = load_vgg19_features(dict(s.perceptual_layers), vgg_weights)
    return PerceptualLoss(without_inference_tensors(features), s.perceptual_layers).to(device)


class _Session:
    """Everything one call of ``finetune`` builds; ``run`` drives the iterations."""

    def __init__(
        self,
        descriptor: ModelDescriptor[nn.Module],
        run_dir: Path,
        settings: TrainSettings,
        *,
        hr_folder: str | os.PathLike[str] | None,
        pairs: str | os.PathLike[str] | None,
        val_folder: str | os.PathLike[str] | None,
        val_count: int,
        resume: bool,
        device: Any,
        perceptual_features: nn.Module | None,
        vgg_weights: str | os.PathLike[str] | None,
        discriminator: Any,
    ) -> None:
        self.descriptor = check_trainable(descriptor)
        self.settings = s = settings
        self.run_dir = run_dir
        self.device = resolve_device(None if device in (None, "auto") else device)
        self.precision = resolve_training_precision(s.precision, self.device)
        self.scale = descriptor.scale
        _check_patch(s, descriptor)
        self.dataset, data_record, train_items = _training_data(s, self.scale, hr_folder, pairs)
        self.generator = trainable_copy(descriptor.module).to(self.device)
        start_digest = weights_digest(descriptor.module)
        setup = setup_record(
            s,
            {
                "architecture": descriptor.architecture,
                "hyperparameters": dict(descriptor.hyperparameters),
                "weights_sha256": start_digest,
            },
            data_record,
            self.precision,
        )
        if resume:
            check_resumable(run_dir, setup, s)
        elif (run_dir / RUN_FILE).exists():
            start_run_folder(run_dir, setup, s)  # refuses with OutputExistsError before any work
        self._build_networks(discriminator)
        self.perceptual = _perceptual(s, perceptual_features, vgg_weights, self.device)
        self.scaler = torch.amp.GradScaler("cuda") if self.precision == "fp16" else None
        self.sampler = PairPoolSampler(s.batch_size, s.pool_samples, seed=s.seed + 1)
        self.iteration = 0
        if resume:
            self._restore()
        self.validator = self._validator(val_folder, train_items, val_count)
        if not resume:
            start_run_folder(run_dir, setup, s)  # only now: a setup that failed leaves no run behind
        self.loss_log = LossLog(run_dir, self.iteration if resume else None)

    # -- setup helpers -------------------------------------------------------------------------
    def _build_networks(self, discriminator: Any) -> None:
        """The EMA and start copies of the generator, its optimizer, the run's RNG and, for GAN
        stages, the discriminator (new ones are drawn from that RNG) and its optimizer."""
        s, descriptor = self.settings, self.descriptor
        self.ema = trainable_copy(descriptor.module).to(self.device).requires_grad_(False)
        self.start = trainable_copy(descriptor.module).to(self.device).requires_grad_(False).eval()
        self.opt_g = torch.optim.Adam(
            self.generator.parameters(),
            lr=s.generator_lr,
            betas=(float(s.betas[0]), float(s.betas[1])),
            weight_decay=s.weight_decay,
        )
        self.rng = torch.Generator().manual_seed(s.seed)
        self.discriminator: nn.Module | None = None
        self.opt_d: torch.optim.Optimizer | None = None
        if s.uses_gan:
            self.discriminator = _discriminator(discriminator, self.rng).to(self.device)
            self.opt_d = torch.optim.Adam(
                self.discriminator.parameters(),
                lr=s.discriminator_lr,
                betas=(float(s.betas[0]), float(s.betas[1])),
                weight_decay=s.weight_decay,
            )

    def _validator(
        self, val_folder: str | os.PathLike[str] | None, train_items: list[Any], val_count: int
    ) -> _Validator:
        """Fixed validation samples from ``val_folder`` (default: the training data), scored against the start."""
        s, scale = self.settings, self.scale
        val_source = scan_hr_folder(val_folder, 8 * scale) if val_folder is not None else train_items
        return _Validator(
            validation_samples(
                val_source,
                scale=scale,
                size=s.patch_size,
                seed=s.seed,
                count=val_count,
                degradation=s.degradation_preset,
                overrides=s.degradation_overrides,
            ),
            self.start,
            self.device,
            scale,
        )

    def _restore(self) -> None:
        found = latest_checkpoint(self.run_dir)
        if found is None:
            log.warning("%s has no checkpoint yet; starting from iteration 0", self.run_dir)
            return
        iteration, folder = found
        tensors, meta = read_state(folder)
        try:
            self.generator.load_state_dict(load_file(str(folder / "generator.safetensors")), strict=True)
            self.ema.load_state_dict(load_file(str(folder / "generator_ema.safetensors")), strict=True)
            load_optimizer(self.opt_g, tensors, meta["optimizer_g"], "g")
            if self.discriminator is not None and self.opt_d is not None:
                self.discriminator.load_state_dict(
                    load_file(str(folder / "discriminator.safetensors")), strict=True
                )
                load_optimizer(self.opt_d, tensors, meta["optimizer_d"], "d")
        except (RuntimeError, KeyError, OSError) as exc:
            raise RunFolderMismatchError(f"the checkpoint {folder} does not fit this setup: {exc}") from exc
        self.rng.set_state(tensors["rng/run"])
        self.sampler.load_state(meta["sampler"])
        if self.scaler is not None and meta.get("scaler"):
            self.scaler.load_state_dict(meta["scaler"])
        self.iteration = iteration
        log.info("resumed %s at iteration %d", self.run_dir, iteration)

    # -- checkpoints and export ----------------------------------------------------------------
    def _save(self) -> None:
        s = self.settings
        meta = _generator_metadata(s, self.iteration, self.descriptor.name or self.descriptor.source)
        g_tensors, g_groups = optimizer_tensors(self.opt_g, "g")
        state: dict[str, Any] = {
            "iteration": self.iteration,
            "optimizer_g": g_groups,
            "sampler": self.sampler.state_before(self.iteration),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "settings": s.to_dict(),
            "precision": self.precision,
            "device": str(self.device),
        }
        tensors = {**g_tensors, "rng/run": self.rng.get_state()}
        files: dict[str, tuple[dict[str, torch.Tensor], dict[str, str]]] = {}
        files["generator.safetensors"] = (self.generator.state_dict(), {**self._model_meta(), **meta})
        files["generator_ema.safetensors"] = (self.ema.state_dict(), {**self._model_meta(), **meta})
        if self.discriminator is not None and self.opt_d is not None:
            d_tensors, d_groups = optimizer_tensors(self.opt_d, "d")
            tensors.update(d_tensors)
            state["optimizer_d"] = d_groups
            d_state = self.discriminator.state_dict()
            d_hyperparameters = get_spec("UNetDiscriminatorSN").hyperparameters(d_state, {})
            files["discriminator.safetensors"] = (
                d_state,
                {
                    "format": "realesrgan-kit",
                    "architecture": "UNetDiscriminatorSN",
                    "hyperparameters": json.dumps(dict(d_hyperparameters), sort_keys=True),
                    "scale": "1",
                    **meta,
                },
            )
        files["state.safetensors"] = (tensors, {k: json.dumps(v, sort_keys=True) for k, v in state.items()})
        self.loss_log.flush()
        write_checkpoint(self.run_dir, self.iteration, files)
        prune_checkpoints(self.run_dir, s.keep_checkpoints)
        self.sampler.forget_before(self.iteration)

    def _model_meta(self) -> dict[str, str]:
        d = self.descriptor
        return {
            "format": "realesrgan-kit",
            "architecture": d.architecture,
            "hyperparameters": json.dumps(dict(d.hyperparameters), sort_keys=True),
            "scale": str(d.scale),
            "name": f"{d.name or 'model'}-finetuned",
        }

    def export(self, path: Path | None = None, which: str | None = None) -> Path:
        which = which or self.settings.export
        module = self.ema if which == "ema" else self.generator
        target = path or self.run_dir / MODEL_FILE
        meta = _generator_metadata(
            self.settings, self.iteration, self.descriptor.name or self.descriptor.source
        )
        copy = dataclasses.replace(self.descriptor, name=f"{self.descriptor.name or 'model'}-finetuned")
        return export_generator(copy, module, target, metadata={**meta, "generator": which})

    # -- the loop ------------------------------------------------------------------------------
    def _batches(self) -> Iterator[tuple[torch.Tensor, ...]]:
        loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_sampler=self.sampler,  # type: ignore[arg-type]  (an endless batch sampler)
            num_workers=self.settings.num_workers,
            pin_memory=self.device.type == "cuda",
            generator=torch.Generator(),  # the loader's base seed must not come from the global RNG
        )
        return iter(loader)

    def _step(self, lq: torch.Tensor, gt: torch.Tensor, gt_usm: torch.Tensor) -> dict[str, float]:
        s, dev = self.settings, self.device
        lr_g = s.lr_at(s.generator_lr, self.iteration)
        for group in self.opt_g.param_groups:
            group["lr"] = lr_g
        losses: dict[str, float] = {}
        d = self.discriminator
        if d is not None:
            d.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        with _autocast(dev, self.precision):
            output = self.generator(lq)
            l_pix = s.l1_weight * F.l1_loss(output.float(), gt_usm if s.l1_gt_usm else gt)
            total = l_pix
            losses["l1"] = float(l_pix.detach())
            if self.perceptual is not None:
                l_percep = s.perceptual_weight * self.perceptual(
                    output, gt_usm if s.perceptual_gt_usm else gt
                )
                total = total + l_percep
                losses["perceptual"] = float(l_percep.detach())
            if d is not None:
                l_gan = s.gan_weight * gan_loss(d(output), real=True)
                total = total + l_gan
                losses["gan"] = float(l_gan.detach())
        self._backward_step(total, self.opt_g)
        if d is not None and self.opt_d is not None:
            lr_d = s.lr_at(s.discriminator_lr, self.iteration)
            for group in self.opt_d.param_groups:
                group["lr"] = lr_d
            d.requires_grad_(True)
            self.opt_d.zero_grad(set_to_none=True)
            real_target = gt_usm if s.gan_gt_usm else gt
            with _autocast(dev, self.precision):
                l_real = gan_loss(d(real_target), real=True)
            self._backward(l_real)
            with _autocast(dev, self.precision):
                l_fake = gan_loss(d(output.detach().clone()), real=False)
            self._backward(l_fake)
            self._optimizer_step(self.opt_d)
            losses["d_real"], losses["d_fake"] = float(l_real.detach()), float(l_fake.detach())
        update_ema(self.ema, self.generator, s.ema_decay)
        losses["total"] = float(total.detach())
        return losses

    def _backward(self, loss: torch.Tensor) -> None:
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()

    def _optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()

    def _backward_step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        self._backward(loss)
        self._optimizer_step(optimizer)

    def run(
        self,
        progress: Callable[[TrainProgress], None] | None,
        on_validation: Callable[[ValidationReport], None] | None,
        cancel: Callable[[], bool] | None,
    ) -> TrainResult:
        s = self.settings
        validations: list[ValidationReport] = []
        val_dir = self.run_dir / VALIDATION_DIR

        def validate() -> None:
            report = self.validator(self.iteration, self.generator, self.ema, val_dir)
            validations.append(report)
            log.info(
                "iteration %d: validation PSNR %.3f dB (EMA %.3f, start %.3f)",
                self.iteration,
                report.psnr_raw,
                report.psnr_ema,
                report.psnr_start,
            )
            if on_validation is not None:
                on_validation(report)

        if self.iteration == 0:
            validate()
        batches = self._batches()
        times: deque[float] = deque(maxlen=20)
        last = time.perf_counter()
        stopped = False
        try:
            while self.iteration < s.iterations:
                if cancel is not None and cancel():
                    stopped = True
                    break
                lq, gt, gt_usm = (t.to(self.device, non_blocking=True) for t in next(batches))
                losses = self._step(lq, gt, gt_usm)
                self.iteration += 1
                self.loss_log.add({"iteration": self.iteration, **losses})
                now = time.perf_counter()
                times.append(now - last)
                last = now
                rate = len(times) / sum(times) if sum(times) > 0 else 0.0
                if progress is not None:
                    eta = (s.iterations - self.iteration) / rate if rate > 0 else float("inf")
                    progress(TrainProgress(self.iteration, s.iterations, losses, rate, eta))
                if self.iteration % s.checkpoint_every == 0 or self.iteration == s.iterations:
                    self._save()
                if self.iteration % s.val_every == 0 or self.iteration == s.iterations:
                    validate()
        finally:
            del batches  # shuts the loader's workers down, on success and on a crash alike
        if stopped:
            latest = latest_checkpoint(self.run_dir)
            if latest is None or latest[0] != self.iteration:
                self._save()
            if not validations or validations[-1].iteration != self.iteration:
                validate()  # the state the run stops with is what the user sees last
            log.info("stopped at iteration %d; resume with the same command and --resume", self.iteration)
        model_path = self.export()
        return TrainResult(
            self.run_dir, self.iteration, stopped, model_path, list(self.loss_log.entries), validations
        )


def finetune(
    model: ModelDescriptor[nn.Module],
    run_dir: str | os.PathLike[str],
    *,
    hr_folder: str | os.PathLike[str] | None = None,
    pairs: str | os.PathLike[str] | None = None,
    settings: TrainSettings | None = None,
    resume: bool = False,
    device: Any = None,
    val_folder: str | os.PathLike[str] | None = None,
    val_count: int = 4,
    perceptual_features: nn.Module | None = None,
    vgg_weights: str | os.PathLike[str] | None = None,
    discriminator: Any = None,
    progress: Callable[[TrainProgress], None] | None = None,
    on_validation: Callable[[ValidationReport], None] | None = None,
    cancel: Callable[[], bool] | None = None,
) -> TrainResult:
    """Fine-tune ``model`` (from ``load_model``) on ``hr_folder`` or ``pairs``; see the module docs.

    Writes into ``run_dir``: ``run.json`` (the setup), ``checkpoints/iter_N/`` (every
    ``checkpoint_every`` iterations and at the end), ``losses.jsonl``, ``validation/iter_N.png``
    and ``model.safetensors`` (the exported generator). ``resume=True`` continues the run in
    ``run_dir`` from its last checkpoint (a folder of another setup raises
    RunFolderMismatchError). ``cancel()`` returning True stops after the current iteration,
    saving a checkpoint; ``perceptual_features`` replaces VGG19 (tests use a small stand-in);
    ``discriminator``: initial discriminator weights (a path, zoo name or descriptor), else a
    new one. The caller's model is never modified.

    Works whatever autograd mode the caller is in: training needs gradients, so the session is
    built and run with inference mode off and gradients on (both are thread-local and restored
    on return). Built there, the trainable copies are normal tensors even when ``model`` was
    loaded inside ``torch.inference_mode()`` (as ComfyUI loads models).
    """
    with torch.inference_mode(False), torch.enable_grad():
        session = _Session(
            model,
            Path(run_dir),
            settings or TrainSettings(),
            hr_folder=hr_folder,
            pairs=pairs,
            val_folder=val_folder,
            val_count=val_count,
            resume=resume,
            device=device,
            perceptual_features=perceptual_features,
            vgg_weights=vgg_weights,
            discriminator=discriminator,
        )
        return session.run(progress, on_validation, cancel)
