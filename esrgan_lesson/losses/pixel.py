"""The L1/L2 content loss: the PSNR stage's objective and the ``eta * L1`` term of ESRGAN Eq. 3.

Images are (N, C, H, W) in [0, 1]; losses are 0-dim tensors (batch mean).
"""
from __future__ import annotations

from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import nn

Criterion = Literal["l1", "l2"]
def _criterion(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    if name == "l1":
        return F.l1_loss
    if name in ("l2", "mse"):
        return F.mse_loss
    raise ValueError(f"criterion must be 'l1' or 'l2', got {name!r}")


def pixel_loss(pred: torch.Tensor, target: torch.Tensor, criterion: Criterion = "l1") -> torch.Tensor:
    """Mean absolute (``l1``) or squared (``l2``) error over all elements.

    ``pred`` and ``target``: (N, C, H, W) in [0, 1], same shape. Returns a 0-dim tensor.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pixel loss needs equal shapes, got {tuple(pred.shape)} and {tuple(target.shape)}")
    return _criterion(criterion)(pred, target)


class PixelLoss(nn.Module):
    """:func:`pixel_loss` as a module, with a weight (``eta`` in ESRGAN Eq. 3)."""

    def __init__(self, weight: float = 1.0, criterion: Criterion = "l1") -> None:
        super().__init__()
        _criterion(criterion)
        self.weight = weight
        self.criterion = criterion

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.weight * pixel_loss(pred, target, self.criterion)


