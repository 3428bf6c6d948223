"""Adversarial losses: SRGAN's standard GAN and ESRGAN's relativistic average GAN (Sec. 3.2, Eq. 1-2).

Discriminator outputs are raw logits C(x) of shape (N, 1) or (N,); every loss
returns a 0-dim tensor (the batch mean).
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from esrgan_lesson.paper import LAMBDA_ADV

GANType = Literal["standard", "ragan"]
# --- GAN losses ---------------------------------------------------------------
def _bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits.float(), target.float())


def standard_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """SRGAN discriminator loss ``BCE(C(x_r), 1) + BCE(C(x_f), 0)`` (means over the batch)."""
    return _bce(real_logits, True) + _bce(fake_logits, False)


def standard_g_loss(real_logits: torch.Tensor | None, fake_logits: torch.Tensor) -> torch.Tensor:
    """SRGAN (non-saturating) generator loss ``BCE(C(x_f), 1)``.

    ``real_logits`` is accepted for a common signature and not used: the
    generator gets no gradient from real data (contrast :func:`ragan_g_loss`).
    """
    return _bce(fake_logits, True)


def ragan_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Relativistic average discriminator loss (ESRGAN Eq. 1), averaged over its two terms.

    ``D_Ra(a, b) = sigmoid(C(a) - E[C(b)])``; the paper writes
    ``L_D = -E[log D_Ra(x_r, x_f)] - E[log(1 - D_Ra(x_f, x_r))]``. Like the
    authors' code (and BasicSR) this returns half of that sum:
    ``(BCE(C(x_r) - E[C(x_f)], 1) + BCE(C(x_f) - E[C(x_r)], 0)) / 2``, the scale
    at which ``LAMBDA_ADV`` was tuned.
    """
    real_rel = real_logits - fake_logits.mean()
    fake_rel = fake_logits - real_logits.mean()
    return 0.5 * (_bce(real_rel, True) + _bce(fake_rel, False))


def ragan_g_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Relativistic average generator loss (ESRGAN Eq. 2), the symmetric form, averaged.

    ``L_G^Ra = -E[log(1 - D_Ra(x_r, x_f))] - E[log D_Ra(x_f, x_r)]``, returned
    as ``(BCE(C(x_r) - E[C(x_f)], 0) + BCE(C(x_f) - E[C(x_r)], 1)) / 2``. Both
    terms depend on the fake logits, so the generator learns from real and
    fake data; the value also depends on the real logits (nonzero gradient).
    """
    real_rel = real_logits - fake_logits.mean()
    fake_rel = fake_logits - real_logits.mean()
    return 0.5 * (_bce(real_rel, False) + _bce(fake_rel, True))


class GANLoss(nn.Module):
    """Adversarial losses of either type behind one interface.

    Args:
        gan_type: ``"ragan"`` (ESRGAN) or ``"standard"`` (SRGAN).
        weight: multiplies the generator loss only (``lambda`` in ESRGAN Eq. 3);
            the discriminator loss is returned unweighted.

    Logits are raw discriminator outputs (N, 1) or (N,); losses are 0-dim.
    """

    def __init__(self, gan_type: GANType = "ragan", weight: float = LAMBDA_ADV) -> None:
        super().__init__()
        if gan_type not in ("standard", "ragan"):
            raise ValueError(f"gan_type must be 'standard' or 'ragan', got {gan_type!r}")
        self.gan_type = gan_type
        self.weight = weight

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """Discriminator loss; ``fake_logits`` should come from detached generator output."""
        fn = ragan_d_loss if self.gan_type == "ragan" else standard_d_loss
        return fn(real_logits, fake_logits)

    def g_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """Weighted generator loss ``weight * L_G^adv``."""
        fn = ragan_g_loss if self.gan_type == "ragan" else standard_g_loss
        return self.weight * fn(real_logits, fake_logits)
