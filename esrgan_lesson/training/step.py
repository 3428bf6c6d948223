"""One training step of the :class:`~esrgan_lesson.training.Trainer`: the G step, then the D step.

G minimises ``L_G = w_p * L_percep + lambda * L_G^Ra + eta * L1`` (ESRGAN
Eq. 3; only the L1 term in stage ``psnr``), D minimises ``L_D^Ra`` (Eq. 1).
Each optimiser step is guarded and reports a :class:`StepStatus`:

* ``APPLIED``: the update was made.
* ``SCALER_SKIP``: fp16 only. The loss was finite but the *scaled* gradients
  overflowed; the GradScaler skipped the update and lowered its scale. This is
  the scaler working as designed, not a failure.
* ``NONFINITE``: the loss, or the gradients without any scaling, were not
  finite (also an overflow while the scale is already below 1). The update was
  skipped; ``engine.nan_patience`` of these in a row stop the run.
"""
from __future__ import annotations

import contextlib
import enum

import torch
from torch import nn

from ..losses import pixel_loss


class StepStatus(enum.IntEnum):
    """What happened to one optimiser step (ordered: the worse status is the larger)."""

    APPLIED = 0
    SCALER_SKIP = 1
    NONFINITE = 2


def grads_finite(params: list[nn.Parameter]) -> bool:
    """True when every gradient is finite (one host sync; multi-tensor norms per dtype)."""
    groups: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
    for p in params:
        if p.grad is not None:
            groups.setdefault((p.grad.device, p.grad.dtype), []).append(p.grad)
    if not groups:
        return True
    total = sum(torch.stack(torch._foreach_norm(g)).float().sum().cpu() for g in groups.values())
    return bool(torch.isfinite(total))


def apply_update(loss: torch.Tensor, opt: torch.optim.Optimizer, params: list[nn.Parameter],
                 scaler: torch.amp.GradScaler | None) -> StepStatus:
    """Backward of ``loss`` and a guarded step of ``opt``; see the module docstring."""
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
    else:
        loss.backward()
    finite_grads = grads_finite(params)
    finite_loss = bool(torch.isfinite(loss.detach()))
    status = StepStatus.APPLIED
    if not finite_loss:
        status = StepStatus.NONFINITE
    elif not finite_grads:
        overflow = scaler is not None and scaler.get_scale() >= 1.0
        status = StepStatus.SCALER_SKIP if overflow else StepStatus.NONFINITE
    if scaler is not None:
        scaler.step(opt)  # skips by itself on inf/NaN
        scaler.update()
    elif status == StepStatus.APPLIED:
        opt.step()
    opt.zero_grad(set_to_none=True)
    return status


class StepMixin:
    """``_autocast`` / ``_apply`` / ``_step`` for :class:`~esrgan_lesson.training.Trainer`."""

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _apply(self, loss: torch.Tensor, opt: torch.optim.Optimizer, params: list[nn.Parameter],
               scaler: torch.amp.GradScaler | None) -> StepStatus:
        """Backward + guarded optimiser step (:func:`apply_update`)."""
        return apply_update(loss, opt, params, scaler)

    def _step(self, lr: torch.Tensor, hr: torch.Tensor) -> tuple[dict[str, torch.Tensor], StepStatus]:
        t = self.cfg.train
        lr = lr.contiguous(memory_format=self.memory_format)
        hr = hr.contiguous(memory_format=self.memory_format)
        logs: dict[str, torch.Tensor] = {}
        if self.gan:
            for p in self.net_d.parameters():
                p.requires_grad_(False)
        with self._autocast():
            sr = self.g_train(lr)
            loss = t.pixel_weight * pixel_loss(sr.float(), hr, t.pixel_criterion)
            logs["l_pix"] = loss.detach()
            if self.percep is not None:
                l_per = t.perceptual.weight * self.percep(sr, hr)
                logs["l_percep"] = l_per.detach()
                loss = loss + l_per
            if self.gan:
                with torch.no_grad():
                    real_pred = self.net_d(hr)
                l_adv = self.gan_loss.g_loss(real_pred.float(), self.net_d(sr).float())
                logs["l_g_gan"] = l_adv.detach()
                loss = loss + l_adv
        logs["loss_g"] = loss.detach()
        status = g_status = self._apply(loss, self.opt_g, list(self.net_g.parameters()), self.scaler_g)
        if self.gan:
            for p in self.net_d.parameters():
                p.requires_grad_(True)
            with self._autocast():
                real = self.d_train(hr).float()
                fake = self.d_train(sr.detach()).float()
                l_d = self.gan_loss.d_loss(real, fake)
            logs["l_d"] = l_d.detach()
            logs["d_real"] = real.detach().mean()
            logs["d_fake"] = fake.detach().mean()
            status = max(status, self._apply(l_d, self.opt_d, list(self.net_d.parameters()), self.scaler_d))
        if g_status == StepStatus.APPLIED and self.ema is not None:
            self.ema.update(self.net_g)  # the EMA follows G's updates
        return logs, StepStatus(status)
