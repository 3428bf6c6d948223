"""One training step as plain functions: the G step (ESRGAN Eq. 3), then the D step (Eq. 1).

Notation (Wang et al. 2018, Sec. 3.2-3.3): ``x_r`` a real HR patch,
``x_f = G(x_LR)`` the generator's output, ``C`` the discriminator's raw
output and ``D_Ra(x_r, x_f) = sigmoid(C(x_r) - E_xf[C(x_f)])``::

    Eq. 1   L_D^Ra = -E_xr[log D_Ra(x_r, x_f)] - E_xf[log(1 - D_Ra(x_f, x_r))]
    Eq. 2   L_G^Ra = -E_xr[log(1 - D_Ra(x_r, x_f))] - E_xf[log D_Ra(x_f, x_r)]
    Eq. 3   L_G    = L_percep + lambda * L_G^Ra + eta * L_1

(:mod:`esrgan_lesson.losses.adversarial` returns half of Eq. 1 and 2, as the
authors' code does.) :func:`generator_loss` is Eq. 3 (stage ``psnr``: only the ``eta * L_1`` term),
:func:`discriminator_loss` is Eq. 1. :func:`generator_step` and
:func:`discriminator_step` add the backward pass and a guarded optimiser step;
:func:`train_step` runs G step, D step and the EMA, in that order. The
:class:`~esrgan_lesson.training.Trainer`, the CUDA-graph capture
(:mod:`.graphs`) and ``benchmarks/train_step.py`` all call :func:`train_step`.

Each optimiser step reports a status (:class:`StepStatus` codes) as a 0-dim
float32 tensor *on the device*, so nothing here waits for the GPU:

* ``APPLIED`` (0): the update was made.
* ``SCALER_SKIP`` (1): fp16 only. The loss was finite but the *scaled*
  gradients overflowed; the GradScaler skipped the update and lowered its
  scale. This is the scaler working as designed, not a failure.
* ``NONFINITE`` (2): the loss, or the gradients without any scaling, were not
  finite (also an overflow while the scale is already below 1). The update was
  skipped; ``engine.nan_patience`` of these in a row stop the run.

Without a GradScaler the skip is decided on the device: a fused optimiser
(Adam ``fused=True``, the default on CUDA) reads the flag as ``found_inf`` and
leaves parameters, moments and step count untouched; any other optimiser
reads the flag once on the host (free on a CPU). The EMA follows G only when
G's step was applied, also decided on the device. The fp16 GradScaler keeps
its own host reads (its policy is the scaler's, see :func:`guarded_update`).
"""
from __future__ import annotations

import contextlib
import enum
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..losses import GANLoss, PerceptualLoss, pixel_loss
from .config import StageConfig
from .ema import ModelEMA


class StepStatus(enum.IntEnum):
    """What happened to one optimiser step (ordered: the worse status is the larger)."""

    APPLIED = 0
    SCALER_SKIP = 1
    NONFINITE = 2


def grads_finite_flag(params: list[nn.Parameter]) -> torch.Tensor:
    """0-dim bool tensor: every gradient is finite (multi-tensor norms per device/dtype, no host sync).

    Parameters without a gradient are ignored; with none at all the flag is a
    CPU ``True``.
    """
    groups: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
    for p in params:
        if p.grad is not None:
            groups.setdefault((p.grad.device, p.grad.dtype), []).append(p.grad)
    if not groups:
        return torch.tensor(True)
    norms = [torch.stack(torch._foreach_norm(g)).float().sum() for g in groups.values()]
    total = norms[0]
    for norm in norms[1:]:
        total = total + norm.to(total.device)
    return torch.isfinite(total)


def step_unless(opt: torch.optim.Optimizer, skip: torch.Tensor) -> None:
    """``opt.step()`` unless ``skip`` (0-dim bool tensor) is true.

    A fused optimiser takes the flag as ``found_inf`` (the GradScaler's
    protocol): its kernels skip every update and roll the step count back on
    the device. Any other optimiser reads the flag on the host (one sync).
    """
    if opt.defaults.get("fused"):
        opt.found_inf = skip.to(torch.float32)  # type: ignore[attr-defined]
        opt.grad_scale = None  # type: ignore[attr-defined]
        try:
            opt.step()
        finally:
            del opt.found_inf, opt.grad_scale  # type: ignore[attr-defined]
    elif not bool(skip):
        opt.step()


def guarded_update(loss: torch.Tensor, opt: torch.optim.Optimizer, params: list[nn.Parameter],
                   scaler: torch.amp.GradScaler | None) -> torch.Tensor:
    """Backward of ``loss`` and a guarded step of ``opt``; returns the status code (0-dim float32, on the device).

    With an fp16 ``scaler`` the GradScaler unscales, skips on inf/NaN and
    updates its scale as usual; telling a scaler skip from a failure reads
    the scale on the host (that path keeps the scaler's syncs).
    """
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
    else:
        loss.backward()
    grads_ok = grads_finite_flag(params).to(loss.device)
    loss_ok = torch.isfinite(loss.detach())
    if scaler is not None:
        overflow_code = float(StepStatus.SCALER_SKIP if scaler.get_scale() >= 1.0 else StepStatus.NONFINITE)
        status = torch.where(loss_ok, torch.where(grads_ok, 0.0, overflow_code), float(StepStatus.NONFINITE))
        scaler.step(opt)  # skips by itself on inf/NaN
        scaler.update()
    else:
        bad = ~(loss_ok & grads_ok)
        status = bad.to(torch.float32) * float(StepStatus.NONFINITE)
        step_unless(opt, bad)
    opt.zero_grad(set_to_none=True)
    return status


def apply_update(loss: torch.Tensor, opt: torch.optim.Optimizer, params: list[nn.Parameter],
                 scaler: torch.amp.GradScaler | None) -> StepStatus:
    """:func:`guarded_update`, with the status read on the host."""
    return StepStatus(int(guarded_update(loss, opt, params, scaler)))


@dataclass
class StepParts:
    """Everything one training step touches.

    ``g``/``d`` are the networks as trained (possibly DDP- or compile-wrapped),
    ``net_g``/``net_d`` the plain modules (parameters, EMA source, and the
    critic in G's step). ``d``/``net_d`` are ``None`` in stage ``psnr``. ``autocast`` returns the mixed-precision
    context (or a null context). Inputs are (N, 3, h, w) LR and
    (N, 3, h*scale, w*scale) HR batches in [0, 1].
    """

    g: nn.Module
    net_g: nn.Module
    opt_g: torch.optim.Optimizer
    stage: StageConfig
    gan_loss: GANLoss
    autocast: Callable[[], contextlib.AbstractContextManager]
    d: nn.Module | None = None
    net_d: nn.Module | None = None
    opt_d: torch.optim.Optimizer | None = None
    percep: PerceptualLoss | None = None
    scaler_g: torch.amp.GradScaler | None = None
    scaler_d: torch.amp.GradScaler | None = None
    ema: ModelEMA | None = None
    memory_format: torch.memory_format = torch.contiguous_format


def generator_loss(sr: torch.Tensor, hr: torch.Tensor, stage: StageConfig, gan_loss: GANLoss,
                   percep: PerceptualLoss | None = None, d: nn.Module | None = None
                   ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """ESRGAN Eq. 3: ``L_G = w_p * L_percep + lambda * L_G^Ra + eta * L_1`` for G's output ``sr``.

    ``eta`` is ``stage.pixel_weight``, ``w_p`` ``stage.perceptual.weight`` and
    ``lambda`` the ``gan_loss`` weight. Terms whose module is ``None`` are
    absent (stage ``psnr``: ``eta * L_1`` alone). D scores the real batch
    without gradients (it is only the relativistic reference ``E[C(x_r)]``);
    D's own parameters must be frozen by the caller. Returns the 0-dim loss
    and the detached terms for logging.
    """
    loss = stage.pixel_weight * pixel_loss(sr.float(), hr, stage.pixel_criterion)
    logs = {"l_pix": loss.detach()}
    if percep is not None:
        l_per = stage.perceptual.weight * percep(sr, hr)
        logs["l_percep"] = l_per.detach()
        loss = loss + l_per
    if d is not None:
        with torch.no_grad():
            real_pred = d(hr)
        l_adv = gan_loss.g_loss(real_pred.float(), d(sr).float())
        logs["l_g_gan"] = l_adv.detach()
        loss = loss + l_adv
    logs["loss_g"] = loss.detach()
    return loss, logs


def discriminator_loss(d: nn.Module, hr: torch.Tensor, sr: torch.Tensor, gan_loss: GANLoss
                       ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """ESRGAN Eq. 1: ``L_D^Ra`` on the real batch ``hr`` and the (detached) fakes ``sr``.

    Returns the 0-dim loss and, for logging, it and the mean raw scores
    ``d_real = E[C(x_r)]``, ``d_fake = E[C(x_f)]``.
    """
    real = d(hr).float()
    fake = d(sr).float()
    l_d = gan_loss.d_loss(real, fake)
    return l_d, {"l_d": l_d.detach(), "d_real": real.detach().mean(), "d_fake": fake.detach().mean()}


def _set_requires_grad(net: nn.Module, flag: bool) -> None:
    for p in net.parameters():
        p.requires_grad_(flag)


def generator_step(parts: StepParts, lr: torch.Tensor, hr: torch.Tensor
                   ) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """Forward G, Eq. 3, backward, guarded Adam step of G. Returns ``(sr, logs, status)``."""
    if parts.net_d is not None:
        _set_requires_grad(parts.net_d, False)  # D is a fixed critic in the G step
    with parts.autocast():
        sr = parts.g(lr)
        # D as a plain module here (not DDP/compile-wrapped): G's step must not trigger D's gradient sync.
        loss, logs = generator_loss(sr, hr, parts.stage, parts.gan_loss, parts.percep, parts.net_d)
    status = guarded_update(loss, parts.opt_g, list(parts.net_g.parameters()), parts.scaler_g)
    return sr, logs, status


def discriminator_step(parts: StepParts, hr: torch.Tensor, sr: torch.Tensor
                       ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Eq. 1 on ``hr`` and ``sr.detach()``, backward, guarded Adam step of D. Returns ``(logs, status)``."""
    assert parts.d is not None and parts.net_d is not None and parts.opt_d is not None
    _set_requires_grad(parts.net_d, True)
    with parts.autocast():
        l_d, logs = discriminator_loss(parts.d, hr, sr.detach(), parts.gan_loss)
    status = guarded_update(l_d, parts.opt_d, list(parts.net_d.parameters()), parts.scaler_d)
    return logs, status


def train_step(parts: StepParts, lr: torch.Tensor, hr: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """One iteration: G step, D step (stage ``gan``), then the EMA if G's step was applied.

    Returns the logged terms (0-dim tensors on the device) and the worse of
    the two statuses (0-dim float32 tensor on the device; read it with
    ``StepStatus(int(status))``).
    """
    lr = lr.contiguous(memory_format=parts.memory_format)
    hr = hr.contiguous(memory_format=parts.memory_format)
    sr, logs, status = generator_step(parts, lr, hr)
    g_status = status
    if parts.d is not None:
        d_logs, d_status = discriminator_step(parts, hr, sr)
        logs.update(d_logs)
        status = torch.maximum(status, d_status)
    if parts.ema is not None:
        parts.ema.update(parts.net_g, applied=(g_status == float(StepStatus.APPLIED)))
    return logs, status
