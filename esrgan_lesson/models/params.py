"""The one parameter count of the package."""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn


def count_params(model: nn.Module | Iterable[torch.Tensor] | None, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model`` (a module, or an iterable of parameter tensors).

    ``None`` counts 0 (an absent network); ``trainable_only`` counts only
    tensors with ``requires_grad``. Works on ``meta`` tensors (shapes only).
    """
    if model is None:
        return 0
    params = model.parameters() if isinstance(model, nn.Module) else model
    return sum(p.numel() for p in params if p.requires_grad or not trainable_only)


__all__ = ["count_params"]
