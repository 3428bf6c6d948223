"""Training cases: the GAN losses' logits (chapter 4) and the learning-rate schedule (chapter 7)."""
from __future__ import annotations

import bisect
import warnings
from collections.abc import Mapping

import torch

from esrgan_lesson.training.builders import build_scheduler
from esrgan_lesson.training.config import StageConfig, TrainConfig


def logit_cases(n: int = 5, batch: int = 16, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` pairs of (real, fake) discriminator logits of shape (batch, 1), spread widening with k (within about ±10)."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for k in range(n):
        spread = 1.0 + 0.5 * k
        cases.append((torch.randn(batch, 1, generator=g) * spread + 1.0,
                      torch.randn(batch, 1, generator=g) * spread - 1.0))
    return cases


class _ScheduleRun:
    """The package's scheduler for one schedule, stepped forward on demand; it keeps only where the rate changed."""

    def __init__(self, train: StageConfig) -> None:
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=train.lr_g)
        self.sched = build_scheduler(opt, train)
        self.done = 0                                   # scheduler steps taken so far
        self.changes = [(0, float(train.lr_g))]         # (step, rate from that step on), steps increasing

    def rate(self, step: int) -> float:
        with warnings.catch_warnings():  # no optimiser step is taken: only the schedule is read
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler", UserWarning)
            while self.done < step:
                self.sched.step()
                self.done += 1
                lr = float(self.sched.get_last_lr()[0])
                if lr != self.changes[-1][1]:
                    self.changes.append((self.done, lr))
        return self.changes[bisect.bisect_right([c[0] for c in self.changes], step) - 1][1]


#: One run per schedule: (lr, milestones, halving period, gamma) -> its run.
_RUNS: dict[tuple[float, tuple[int, ...], int, float], _ScheduleRun] = {}


def scheduled_lr(train: StageConfig, step: int) -> float:
    """The generator's learning rate after ``step`` iterations of a stage, from the package's own scheduler.

    ``train``: a config's ``train`` section (``lr_g``, ``milestones``,
    ``halving_period``, ``gamma``); ``step`` >= 0. The value is what the
    trainer's optimiser holds once its step counter reads ``step`` (the
    scheduler is stepped once per iteration), i.e. the rate the next iteration
    uses. :func:`~esrgan_lesson.training.builders.build_scheduler` is stepped
    ``step`` times on a one-parameter SGD; each schedule is run once and only
    forward, so asking for steps in increasing order costs about 4 µs per step in all.
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    key = (float(train.lr_g), tuple(train.milestones), int(train.halving_period), float(train.gamma))
    if key not in _RUNS:
        _RUNS[key] = _ScheduleRun(train)
    return _RUNS[key].rate(step)


def schedule_cases(configs: Mapping[str, TrainConfig]) -> list[tuple[StageConfig, int]]:
    """``(train section, step)`` cases for a learning-rate answer: each config at steps 0 and 1 and around each change.

    ``configs``: name -> :class:`~esrgan_lesson.training.config.TrainConfig`.
    Around each change means at every milestone and the step before it
    (MultiStepLR), or at the first two multiples of ``halving_period`` and the
    steps before them (StepLR, ``halving_period`` > 0).
    """
    cases = []
    for cfg in configs.values():
        t = cfg.train
        changes = [t.halving_period, 2 * t.halving_period] if t.halving_period > 0 else list(t.milestones)
        steps = {0, 1} | set(changes) | {c - 1 for c in changes}
        cases += [(t, s) for s in sorted(steps)]
    return cases


__all__ = ["logit_cases", "schedule_cases", "scheduled_lr"]
