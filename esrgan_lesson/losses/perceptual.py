"""The perceptual loss: a distance between feature maps of a frozen network (ESRGAN Sec. 3.3).

By default VGG19 ``conv5_4`` before its ReLU with an L1 criterion. Any
``nn.Module`` returning a tensor or a dict of tensors can be plugged in instead
(the lesson uses :mod:`esrgan_lesson.models.texture_vgg`, because ImageNet VGG19
cannot be downloaded offline). Images are (N, 3, H, W) in [0, 1].
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from esrgan_lesson.losses.pixel import Criterion, _criterion
from esrgan_lesson.paper import PERCEPTUAL_LAYER


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
            from esrgan_lesson.models.vgg import VGGFeatureExtractor

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


