"""``fit_l1``: a light L1 training loop for chapters that compare networks.

The batch-norm and RRDB chapters train two generators under the same budget
(steps or seconds) without a YAML config; this helper is that loop.
"""
from __future__ import annotations

import time
from typing import Any, Iterable, Iterator

import torch
from torch import nn

from ..device import select_device
from ..losses import pixel_loss
from ..paper import ADAM_BETAS


def fit_l1(model: nn.Module, sampler: Iterable[tuple[torch.Tensor, torch.Tensor]] | Any,
           steps: int | None = None, seconds: float | None = None, lr: float = 1e-3,
           device: str | torch.device | None = None, betas: tuple[float, float] = ADAM_BETAS,
           log_every: int = 10) -> dict[str, list[float]]:
    """Train ``model`` with L1 and Adam until ``steps`` or ``seconds`` run out.

    Args:
        model: any generator mapping (N, 3, h, w) to (N, 3, h*s, w*s), [0, 1].
        sampler: yields ``(lr, hr)`` batches (e.g. a ``DevicePatchSampler``,
            whose ``sample()`` is used if it has one).
        steps / seconds: the budget; at least one must be given (both: whichever ends first).
        lr: Adam learning rate (the lesson uses 1e-3; the paper 2e-4 over 1M steps).
        device: where to train (``None``: :func:`select_device` auto).
        log_every: record the mean loss every this many steps.

    Returns:
        ``{"step": [...], "seconds": [...], "loss": [...]}`` (the mean L1 over
        each logging window, the wall time since the start).
    """
    if steps is None and seconds is None:
        raise ValueError("give steps or seconds (or both)")
    dev = select_device(device)
    model.to(dev).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas)
    it: Iterator = iter(sampler) if not hasattr(sampler, "sample") else iter(sampler.sample, None)
    history: dict[str, list[float]] = {"step": [], "seconds": [], "loss": []}
    start, step, window = time.perf_counter(), 0, 0.0
    while (steps is None or step < steps) and (seconds is None or time.perf_counter() - start < seconds):
        lr_b, hr_b = next(it)
        loss = pixel_loss(model(lr_b.to(dev)), hr_b.to(dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        window += float(loss.detach())
        if step % log_every == 0:
            history["step"].append(step)
            history["seconds"].append(time.perf_counter() - start)
            history["loss"].append(window / log_every)
            window = 0.0
    model.eval()
    return history
