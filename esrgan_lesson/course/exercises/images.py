"""Image cases: Y-PSNR (chapter 1), the perceptual loss before and after the activation (chapter 5), SSIM (chapter 8)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from esrgan_lesson.course import texture
from esrgan_lesson.course.sr_problem import upscale_bicubic
from esrgan_lesson.data.demo import VAL_NAMES, demo_images
from esrgan_lesson.data.pairs import make_pairs
from esrgan_lesson.imageio import quantize
from esrgan_lesson.losses import PerceptualLoss
from esrgan_lesson.models.texture_vgg import FEATURE_LAYER, FEATURE_LAYER_POST


def sr_cases(scales: Sequence[int] = (4, 3, 2), names: Sequence[str] = VAL_NAMES
             ) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """``(sr, hr, scale)`` cases for a PSNR/SSIM answer: the bicubic baseline of each held-out demo image.

    For every scale and name, the HR and its LR come from the package's pair
    maker (:func:`esrgan_lesson.data.pairs.make_pairs`: HR mod-cropped to the
    scale, LR = MATLAB bicubic, 8-bit), and ``sr`` is the LR upscaled by MATLAB
    bicubic and rounded to 8 bits (:func:`~esrgan_lesson.course.sr_problem.upscale_bicubic`).
    ``sr`` and ``hr`` are float32 (H, W, 3) arrays in [0, 1] of the same shape;
    ``scale`` is the border a paper crops.
    """
    images = demo_images(tuple(names))
    cases = []
    for scale in scales:
        for _, lr, hr in make_pairs(images, scale):
            cases.append((upscale_bicubic(lr.permute(1, 2, 0).numpy(), scale), hr.permute(1, 2, 0).numpy(), scale))
    return cases


def perceptual_cases(names: Sequence[str] = VAL_NAMES, size: int = 64, seed: int = 0
                     ) -> list[tuple[torch.Tensor, torch.Tensor, bool]]:
    """``(sr, hr, after)`` cases for a perceptual-loss answer (chapter 5).

    ``hr``: the central ``size``×``size`` crop of each held-out demo image, a
    (1, 3, size, size) batch in [0, 1]; ``sr``: that crop with Gaussian noise
    (sd 0.05) and a brightness offset of +0.03, clipped to [0, 1]. Every pair is
    given twice, with ``after`` False (features before the activation) and True.
    """
    g = torch.Generator().manual_seed(seed)
    cases = []
    for img in demo_images(tuple(names)).values():
        t = torch.as_tensor(np.ascontiguousarray(img), dtype=torch.float32).permute(2, 0, 1)
        top, left = (t.shape[1] - size) // 2, (t.shape[2] - size) // 2
        hr = t[:, top:top + size, left:left + size].unsqueeze(0).contiguous()
        sr = (hr + 0.05 * torch.randn(hr.shape, generator=g) + 0.03).clamp(0, 1)
        cases += [(sr, hr, False), (sr, hr, True)]
    return cases


#: The package's perceptual loss on the texture network, by read-out layer (built once each).
_PERCEPTUAL: dict[str, PerceptualLoss] = {}


@torch.no_grad()
def perceptual_reference(sr: torch.Tensor, hr: torch.Tensor, after: bool) -> torch.Tensor:
    """The package's :class:`~esrgan_lesson.losses.PerceptualLoss` (L1) on the course texture network.

    ``after`` False reads ``conv4_2`` (before the activation, ESRGAN), True
    ``relu4_2`` (after it, SRGAN). ``sr``, ``hr``: (N, 3, H, W) in [0, 1].
    Returns a 0-dim tensor.
    """
    layer = FEATURE_LAYER_POST if after else FEATURE_LAYER
    if layer not in _PERCEPTUAL:
        _PERCEPTUAL[layer] = PerceptualLoss(layer=layer, feature_extractor=texture.feature_extractor("texture", [layer]))
    return _PERCEPTUAL[layer](sr, hr)


def ssim_cases(scales: Sequence[int] = (4, 3, 2), names: Sequence[str] = VAL_NAMES, noise: float = 0.05,
               seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """``(sr, hr, scale)`` cases for an SSIM-on-Y answer (chapter 8), checked against
    ``esrgan_lesson.metrics.ssim(sr, hr, scale)``.

    First :func:`sr_cases` of ``scales`` and ``names`` (the bicubic baseline,
    SSIM about 0.6-0.9), then, at the first scale, each HR with Gaussian
    noise of standard deviation ``noise`` added (clipped to [0, 1], rounded to
    8 bits): an output wrong by added noise instead of blur. ``sr`` and
    ``hr``: float32 (H, W, 3) arrays in [0, 1] of the same shape, H and W
    multiples of ``scale``; ``scale``: the border to crop. ``seed`` fixes the
    noise.
    """
    cases = sr_cases(scales, names)
    rng = np.random.default_rng(seed)
    noisy = []
    for _, hr, scale in cases[:len(names)]:
        out = np.clip(hr.astype(np.float64) + rng.normal(0.0, noise, hr.shape), 0.0, 1.0)
        noisy.append((quantize(out).astype(np.float32), hr, scale))
    return cases + noisy


__all__ = ["perceptual_cases", "perceptual_reference", "sr_cases", "ssim_cases"]
