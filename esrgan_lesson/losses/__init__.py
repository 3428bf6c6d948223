"""Losses of ESRGAN's two training stages (ESRGAN Sec. 3.2-3.3, Eq. 1-3).

- :func:`pixel_loss` / :class:`PixelLoss`: the L1 content loss (PSNR stage,
  and the ``eta * L1`` term of the GAN stage).
- :class:`PerceptualLoss`: distance between feature maps of a frozen feature
  network, by default VGG19 ``conv5_4`` before its ReLU with an L1 criterion
  (ESRGAN Sec. 3.3). Any ``nn.Module`` returning a tensor or a dict of
  tensors can be plugged in instead (the lesson uses a small texture
  classifier because ImageNet VGG19 cannot be downloaded offline).
- :class:`GANLoss`: the standard GAN loss of SRGAN (binary cross-entropy on
  raw logits) and the relativistic average GAN of ESRGAN (Sec. 3.2).

All losses take raw tensors and return a 0-dim tensor (the mean over the
batch); images are (N, C, H, W) in [0, 1], discriminator outputs are raw
logits C(x) of shape (N, 1) or (N,).

Modules: :mod:`.pixel`, :mod:`.perceptual`, :mod:`.adversarial`.
"""
from __future__ import annotations

from esrgan_lesson.losses.adversarial import (
    GANLoss,
    GANType,
    ragan_d_loss,
    ragan_g_loss,
    standard_d_loss,
    standard_g_loss,
)
from esrgan_lesson.losses.perceptual import PerceptualLoss
from esrgan_lesson.losses.pixel import Criterion, PixelLoss, pixel_loss

__all__ = [
    "Criterion",
    "GANLoss",
    "GANType",
    "PerceptualLoss",
    "PixelLoss",
    "pixel_loss",
    "ragan_d_loss",
    "ragan_g_loss",
    "standard_d_loss",
    "standard_g_loss",
]
