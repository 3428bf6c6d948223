"""The training engine: one :class:`Trainer` for both ESRGAN stages.

Stage ``psnr`` minimises the L1 loss with Adam (ESRGAN Sec. 4.1). Stage
``gan`` starts G from the PSNR model and alternates a G step on
``L_G = w_p * L_percep + lambda * L_G^Ra + eta * L1`` (Eq. 3) with a D step
on ``L_D^Ra`` (Eq. 1), each with its own Adam and MultiStepLR. Both stages go
through the same :func:`~.step.train_step` (the equations are in
:mod:`.step`); the GAN terms are simply absent in stage ``psnr``. The
:class:`Trainer` keeps the loop, the state (:mod:`.state`) and the I/O.

Engineering switches (``engine`` section): device auto-selection, AMP (bf16
autocast, or fp16 autocast with a GradScaler per optimiser), channels_last,
``torch.compile`` (whole model, or one RRDB: ``compile_blocks``), an EMA of
G, a non-finite-gradient guard decided on the device, cuDNN autotuning unless
``deterministic``, the step as one CUDA graph (``cuda_graph``, see
:mod:`.graphs`), and torchrun data parallelism (see :mod:`.distributed`).
Each step's status and logged terms are read back once, one step late on
CUDA (:mod:`.readout`).
"""
from __future__ import annotations

import contextlib
import random
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import nn

from .config import TrainConfig, load_config, save_config
from ..device import select_device
from ..errors import CheckpointError, ESRGANError
from ..losses import GANLoss
from . import builders
from .checkpoint import step_checkpoint_path
from .distributed import (DistInfo, any_flag, barrier, broadcast_buffers, dist_info_from_env, init_distributed,
                          rank_device)
from .ema import ModelEMA
from .evaluation import evaluate_generator
from .logger import RunLogger
from .graphs import check_cuda_graph_config, configure_backends
from .readout import StepReadout, StepRecord
from .state import CheckpointMixin
from .step import StepParts, StepStatus, train_step

if TYPE_CHECKING:
    from .graphs import GraphedStep


class TrainingError(ESRGANError):
    """Training cannot go on (e.g. gradients stayed non-finite for too many steps)."""


@dataclass
class TrainResult:
    """What a finished :func:`train` call produced.

    ``stopped_by`` is ``"iterations"`` or ``"max_seconds"``; ``history`` holds
    the logged training rows (dicts with ``step``, ``loss``...), ``val`` the
    validation rows; paths are ``None`` on non-zero ranks. ``skipped_steps``
    counts steps skipped for non-finite losses/gradients, ``scaler_skips`` the
    optimiser steps fp16's GradScaler skipped on an overflow (see :mod:`.step`).
    """

    output_dir: Path
    steps: int
    elapsed_s: float
    stopped_by: str
    generator_path: Path | None
    ema_path: Path | None
    checkpoint_path: Path | None
    best_psnr: float | None
    skipped_steps: int
    history: list[dict[str, float]] = field(default_factory=list)
    val: list[dict[str, float]] = field(default_factory=list)
    scaler_skips: int = 0


def _unwrap(model: nn.Module) -> nn.Module:
    model = getattr(model, "_orig_mod", model)  # torch.compile
    return getattr(model, "module", model)  # DDP


class Trainer(CheckpointMixin):
    """Builds everything a :class:`TrainConfig` describes and runs it.

    Args:
        cfg: the run's configuration.
        device: overrides ``engine.device`` (``None``: use the config).
        dist_info: the process's rank; by default read from torchrun's env.
    """

    def __init__(self, cfg: TrainConfig, device: str | torch.device | None = None,
                 dist_info: DistInfo | None = None) -> None:
        self.cfg = cfg
        t, e = cfg.train, cfg.engine
        self.info = dist_info or dist_info_from_env()
        self.device = rank_device(self.info, select_device(device if device is not None else e.device))
        init_distributed(self.info, self.device)
        if e.threads > 0:
            torch.set_num_threads(e.threads)
        configure_backends(self.device, e.deterministic)
        self.gan = t.stage == "gan"
        self.out = Path(cfg.paths.output_dir)
        self.ckpt_dir = self.out / "checkpoints"
        self.amp_dtype = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}[e.amp]
        self.memory_format = torch.channels_last if e.channels_last else torch.contiguous_format

        random.seed(e.seed)
        np.random.seed(e.seed)
        torch.manual_seed(e.seed)  # same initial weights on every rank
        self.net_g = builders.build_generator(cfg.model).to(self.device).to(memory_format=self.memory_format)
        if cfg.paths.pretrained_g:  # either stage: fine-tuning a pretrained model starts here
            self._load_pretrained(cfg.paths.pretrained_g)
        self.ema = ModelEMA(self.net_g, e.ema_decay) if e.ema_decay > 0 else None
        capturable = check_cuda_graph_config(e, self.device, self.info.enabled)
        self.opt_g = builders.build_optimizer(self.net_g.parameters(), t.lr_g, t, capturable)
        self.sched_g = builders.build_scheduler(self.opt_g, t)
        self.scaler_g = self._scaler()
        self.net_d = self.opt_d = self.sched_d = self.scaler_d = self.percep = None
        self.gan_loss = GANLoss(t.gan_type, t.gan_weight)
        if self.gan:
            self.net_d = builders.build_discriminator(cfg).to(self.device).to(memory_format=self.memory_format)
            self.opt_d = builders.build_optimizer(self.net_d.parameters(), t.lr_d, t, capturable)
            self.sched_d = builders.build_scheduler(self.opt_d, t)
            self.scaler_d = self._scaler()
            self.percep = builders.build_perceptual(t.perceptual)
            if self.percep is not None:
                self.percep = self.percep.to(self.device).to(memory_format=self.memory_format)
        self.sampler = builders.build_sampler(cfg, self.device, e.seed + self.info.rank)
        self.val_pairs = builders.build_val_pairs(cfg) if self.info.is_main else []
        self.g_train = self._wrap(self.net_g)
        self.d_train = self._wrap(self.net_d, broadcast_buffers=False) if self.net_d is not None else None
        self.graphed: GraphedStep | None = None  # made on the first step (after any resume)
        # Host reads of each step's status/logs run one step behind on CUDA (no stall per step).
        self.readout = StepReadout(self.device, lag=1 if self.device.type == "cuda" else 0)
        self._sums: dict[str, float] = {}
        self._n_sum = 0

        self.step = 0
        self.elapsed = 0.0
        self.best_psnr: float | None = None
        self.bad_streak = 0
        self.skipped = 0
        self.scaler_skips = 0
        self.history: list[dict[str, float]] = []
        self.val_rows: list[dict[str, float]] = []
        self.resumed_from: Path | None = None
        if cfg.paths.resume:
            self._resume(cfg.paths.resume)

    # --- construction helpers -------------------------------------------------
    def _scaler(self) -> torch.amp.GradScaler | None:
        return torch.amp.GradScaler(self.device.type) if self.amp_dtype == torch.float16 else None

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        # A CUDA graph must record the weight casts themselves, not reuse casts cached outside it.
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype,
                              cache_enabled=not self.cfg.engine.cuda_graph)

    @property
    def parts(self) -> StepParts:
        """What :func:`~.step.train_step` needs, from the trainer's current attributes."""
        return StepParts(self.g_train, self.net_g, self.opt_g, self.cfg.train, self.gan_loss, self._autocast,
                         self.d_train, self.net_d, self.opt_d, self.percep, self.scaler_g, self.scaler_d, self.ema,
                         self.memory_format)

    def _step(self, lr: torch.Tensor, hr: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """One :func:`~.step.train_step` (replayed from a CUDA graph with ``engine.cuda_graph``)."""
        if not self.cfg.engine.cuda_graph:
            return train_step(self.parts, lr, hr)
        if self.graphed is None:
            from .graphs import GraphedStep

            self.graphed = GraphedStep(self.parts)
        return self.graphed(lr, hr)

    def _wrap(self, net: nn.Module, broadcast_buffers: bool = True) -> nn.Module:
        """DDP (under torchrun) and/or ``torch.compile`` around ``net``.

        ``broadcast_buffers=False`` is for D, which runs forward twice per D
        step (real, then fake): DDP's per-forward in-place copy of rank 0's BN
        statistics would change tensors autograd saved for the first forward
        (an error seen on PyTorch 2.11, not on 2.14). D's BN running statistics are never used
        in training (D stays in train mode); ranks are synced at the end.
        """
        wrapped: nn.Module = net
        if self.info.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            wrapped = DDP(net, device_ids=ids, broadcast_buffers=broadcast_buffers)
        if self.cfg.engine.compile:
            wrapped = cast(nn.Module, torch.compile(wrapped))
        elif self.cfg.engine.compile_blocks and net is self.net_g:
            from .graphs import compile_repeated_blocks

            compile_repeated_blocks(net)
        return wrapped

    def _load_pretrained(self, path: str) -> None:
        from ..weights import load_state_dict_file, read_generator
        from ..weights.io import resolve_source

        try:  # a file, or a pretrained model's name (esrgan-lesson weights list)
            source = resolve_source(path)
        except CheckpointError as exc:
            raise CheckpointError(f"paths.pretrained_g: {exc}") from None
        if not source.is_file():
            raise CheckpointError(f"paths.pretrained_g: no file at {path} (train the PSNR stage first)")
        if self.cfg.model.type == "rrdbnet":
            sd, _ = read_generator(source, scale=self.cfg.model.scale)
        else:
            sd = load_state_dict_file(source)
        try:
            self.net_g.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"paths.pretrained_g: {path} does not fit model "
                                  f"{self.cfg.model} ({str(exc).splitlines()[0]})") from None

    # --- validation ---------------------------------------------------------------
    def validate(self) -> dict[str, float] | None:
        """PSNR/SSIM (Y, crop = scale) of ``logging.val_model`` (EMA, or G) on the val pairs; rank 0 only."""
        if not self.val_pairs or not self.info.is_main:
            return None
        model = self.ema.module if self.ema is not None and self.cfg.logging.val_model == "ema" else self.net_g
        k = self.cfg.logging.sample_images
        save = self.out / "samples" / f"step_{self.step:08d}" if k > 0 else None
        report = evaluate_generator(model, self.val_pairs[:k] if k > 0 else [], self.cfg.model.scale,
                                    self.device, save_dir=save)
        rest = evaluate_generator(model, self.val_pairs[k:] if k > 0 else self.val_pairs,
                                  self.cfg.model.scale, self.device)
        report.images += rest.images
        return report.summary()

    # --- the loop -----------------------------------------------------------------
    def run(self) -> TrainResult:
        cfg, t, lg = self.cfg, self.cfg.train, self.cfg.logging
        main = self.info.is_main
        logger = None
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
            save_config(cfg, self.out / "config.yaml")
            logger = RunLogger(self.out, lg.csv, lg.tensorboard,
                               self.step if self.resumed_from is not None else None)
        bar = None
        if main and lg.progress:
            from tqdm import tqdm

            bar = tqdm(total=t.iterations, initial=self.step, desc=cfg.name, mininterval=1.0, dynamic_ncols=True)
        stopped_by = "iterations"
        start, last_t, last_step = time.perf_counter(), time.perf_counter(), self.step
        base_elapsed = self.elapsed
        saved_at = self.step if self.resumed_from is not None else -1
        self._sums, self._n_sum = {}, 0
        try:
            while self.step < t.iterations:
                if t.max_seconds > 0 and any_flag(self.elapsed >= t.max_seconds, self.info, self.device):
                    stopped_by = "max_seconds"
                    break
                lr, hr = next(self.sampler)
                logs, status = self._step(lr, hr)
                with warnings.catch_warnings():
                    # The schedule counts iterations (BasicSR's): a step the fp16 scaler skipped still counts.
                    warnings.filterwarnings("ignore", "Detected call of `lr_scheduler", UserWarning)
                    for sched in (self.sched_g, self.sched_d):
                        if sched is not None:
                            sched.step()
                self.step += 1
                self.elapsed = base_elapsed + time.perf_counter() - start
                self.readout.push(self.step, status, logs)
                self._account(self.readout.ready())
                if bar is not None:
                    bar.update(1)
                log_due = main and lg.log_every > 0 and self.step % lg.log_every == 0
                save_due = lg.save_every > 0 and self.step % lg.save_every == 0
                val_due = lg.val_every > 0 and self.step % lg.val_every == 0
                if log_due or save_due or val_due:
                    self._account(self.readout.drain())  # counters and sums complete up to this step
                if log_due and self._n_sum:
                    now = time.perf_counter()
                    sums, n_sum = self._sums, self._n_sum
                    row = {k: v / n_sum for k, v in sums.items()}
                    row.update(lr_g=self.opt_g.param_groups[0]["lr"], it_s=(self.step - last_step) / (now - last_t),
                               elapsed=self.elapsed, skipped=self.skipped, scaler_skips=self.scaler_skips)
                    self.history.append({"step": self.step, **row})
                    assert logger is not None  # log_due implies the main rank, which has one
                    logger.log("train", self.step, row)
                    if bar is not None:
                        bar.set_postfix(loss=f"{row['loss_g']:.4g}", lr=f"{row['lr_g']:.2g}")
                    self._sums, self._n_sum, last_t, last_step = {}, 0, now, self.step
                is_best = False
                if val_due:
                    is_best = self._validate_and_log(logger)
                if save_due or is_best:
                    self.save(best=is_best, step_file=save_due)
                    saved_at = self.step if save_due else saved_at
            self._account(self.readout.drain())
        finally:
            if bar is not None:
                bar.close()
        for net in (self.net_g, self.net_d, self.ema.module if self.ema is not None else None):
            broadcast_buffers(net, self.info)
        is_best = False
        if lg.val_every > 0 and self.step % lg.val_every != 0:
            is_best = self._validate_and_log(logger)
        ckpt = step_checkpoint_path(self.ckpt_dir, self.step)
        if saved_at != self.step or is_best:
            self.save(best=is_best, step_file=saved_at != self.step)
        gen_path, ema_path = self.export() if main else (None, None)
        if logger is not None:
            logger.close()
        barrier(self.info)
        return TrainResult(self.out, self.step, self.elapsed, stopped_by, gen_path, ema_path,
                           ckpt if main else None, self.best_psnr, self.skipped, self.history, self.val_rows,
                           self.scaler_skips)

    def _account(self, records: list[StepRecord]) -> None:
        """Counters and log sums from steps read back from the device, in step order."""
        for rec in records:
            if rec.status != StepStatus.NONFINITE:
                self.bad_streak = 0
                self.scaler_skips += int(rec.status == StepStatus.SCALER_SKIP)
                for k, v in rec.logs.items():
                    self._sums[k] = self._sums.get(k, 0.0) + v
                self._n_sum += 1
                continue
            self.bad_streak += 1
            self.skipped += 1
            if self.info.is_main:
                print(f"[{self.cfg.name}] step {rec.step}: non-finite gradients, step skipped "
                      f"({self.bad_streak} in a row)", flush=True)
            if self.bad_streak >= self.cfg.engine.nan_patience:
                raise TrainingError(
                    f"gradients were non-finite for {self.bad_streak} consecutive steps (step {rec.step}); "
                    "lower train.lr_g/lr_d, use engine.amp=bf16 or none, or resume from an earlier checkpoint")

    def _validate_and_log(self, logger: RunLogger | None) -> bool:
        summary = self.validate()
        if summary is None or logger is None:
            return False
        self.val_rows.append({"step": self.step, **summary})
        logger.log("val", self.step, summary)
        best = self.best_psnr is None or summary["psnr"] > self.best_psnr
        if best:
            self.best_psnr = summary["psnr"]
        if self.cfg.logging.progress:
            print(f"\n[{self.cfg.name}] step {self.step}: val PSNR {summary['psnr']:.3f} dB "
                  f"(bicubic {summary['psnr_bicubic']:.3f}), SSIM {summary['ssim']:.4f}", flush=True)
        return best

    def export(self) -> tuple[Path, Path | None]:
        """Write ``generator.safetensors`` (and ``generator_ema.safetensors``) in ``output_dir``."""
        from .provenance import run_provenance

        meta = run_provenance(self.cfg.to_dict(), self.cfg.name, self.cfg.train.stage, self.cfg.engine.seed,
                              self.step)
        gen = _save_generator(self.net_g, self.out / "generator.safetensors", meta)
        ema = _save_generator(self.ema.module, self.out / "generator_ema.safetensors", meta) if self.ema else None
        return gen, ema


def _save_generator(model: nn.Module, path: Path, meta: dict[str, Any]) -> Path:
    from ..models import RRDBNet

    if isinstance(model, RRDBNet):
        from ..weights import save_generator

        return save_generator(model, path, meta)
    import json

    from safetensors.torch import save_file

    from ..fileio import atomic_path

    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()})
    return path


def train(config: TrainConfig | str | Path | dict[str, Any], overrides: list[str] | tuple[str, ...] = (),
          device: str | torch.device | None = None, resume: str | None = None) -> TrainResult:
    """Train from a config object, a named config, a YAML path or a dict.

    >>> result = train("lesson-psnr", ["train.iterations=200"])  # doctest: +SKIP
    """
    cfg = config if isinstance(config, TrainConfig) else load_config(config, overrides)
    if isinstance(config, TrainConfig) and overrides:
        cfg = load_config(config.to_dict(), overrides)
    if resume is not None:
        cfg = load_config(cfg.to_dict(), [f"paths.resume={resume}"])
    return Trainer(cfg, device=device).run()
