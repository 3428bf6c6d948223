"""Exponential moving average of the generator's weights (BasicSR ``net_g_ema``)."""
from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEMA:
    """``ema = decay * ema + (1 - decay) * model`` after each optimiser step.

    Floating-point parameters and buffers are averaged; integer buffers are
    copied. The EMA copy is frozen and kept in eval mode.

    Args:
        model: the network being trained (an unwrapped module).
        decay: in [0, 1); BasicSR uses 0.999 (``paper.EMA_DECAY``).
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average towards ``model``'s current weights."""
        ema_state = self.module.state_dict()
        targets, sources = [], []
        for name, value in model.state_dict().items():
            target = ema_state[name]
            if target.dtype.is_floating_point:
                targets.append(target)
                sources.append(value.to(target.dtype))
            else:
                target.copy_(value)
        if targets:
            # One multi-tensor kernel instead of one lerp per tensor (~700 for the paper G).
            torch._foreach_lerp_(targets, sources, 1.0 - self.decay)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.module.load_state_dict(state)
