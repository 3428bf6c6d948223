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
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import nn

from .paper import ETA_L1, LAMBDA_ADV, PERCEPTUAL_LAYER

__all__ = [
    "ETA_L1",
    "LAMBDA_ADV",
    "GANLoss",
    "PerceptualLoss",
    "PixelLoss",
    "pixel_loss",
    "ragan_d_loss",
    "ragan_g_loss",
    "standard_d_loss",
    "standard_g_loss",
]

Criterion = Literal["l1", "l2"]
GANType = Literal["standard", "ragan"]


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


class PerceptualLoss(nn.Module):
    """Feature-space distance ``criterion(phi(pred), phi(target))`` (ESRGAN Sec. 3.3).

    Args:
        layer: the feature layer read out, e.g. ``"conv5_4"`` (ESRGAN: before
            ReLU) or ``"relu5_4"`` (SRGAN: after ReLU). With a custom
            ``feature_extractor`` that returns a dict, the key to use; ignored
            when it returns a tensor.
        arch: VGG architecture when no extractor is given (``vgg19``/``vgg16``).
        weights: VGG weights, see :class:`~esrgan_lesson.models.VGGFeatureExtractor`;
            the default ``"imagenet"`` raises its clear
            :class:`~esrgan_lesson.errors.CheckpointError` when the file is not
            on disk (nothing is downloaded).
        criterion: ``"l1"`` (ESRGAN) or ``"l2"`` (SRGAN).
        feature_extractor: any frozen ``nn.Module`` mapping (N, 3, H, W) images
            in [0, 1] to a tensor or to ``{name: tensor}``. Its parameters are
            frozen here (``requires_grad=False``) and it is kept in eval mode.

    ``forward(pred, target)``: (N, 3, H, W) in [0, 1] -> 0-dim tensor. The
    target's features are computed without gradient.
    """

    def __init__(
        self,
        layer: str = PERCEPTUAL_LAYER,
        arch: str = "vgg19",
        weights: str | Path | None = "imagenet",
        criterion: Criterion = "l1",
        feature_extractor: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.layer = layer
        self._criterion_name = criterion
        self._criterion = _criterion(criterion)
        if feature_extractor is None:
            from .models.vgg import VGGFeatureExtractor

            feature_extractor = VGGFeatureExtractor((layer,), arch=arch, weights=weights)
        for p in feature_extractor.parameters():
            p.requires_grad_(False)
        self.extractor = feature_extractor.eval()

    def train(self, mode: bool = True) -> "PerceptualLoss":
        """The feature network never leaves eval mode (its BN/dropout stay fixed)."""
        super().train(mode)
        self.extractor.eval()
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The chosen layer's features of ``x``: (N, C', H', W')."""
        out = self.extractor(x)
        if isinstance(out, dict):
            if self.layer not in out:
                raise KeyError(f"feature network returned layers {sorted(out)}, not {self.layer!r}")
            return out[self.layer]
        return out

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target_feat = self.features(target)
        return self._criterion(self.features(pred), target_feat.detach())


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
