"""Sharpness figures: how much fine detail an image has (higher = more).

Both are computed on the one luma of the package, :func:`.psnr_ssim.luma`
(MATLAB's BT.601 Y rescaled to [0, 1]):

- :func:`gradient_energy`: mean squared forward difference, horizontal plus
  vertical, i.e. the mean of ``|grad Y|^2``; :func:`plane_gradient_energy` is
  the same sum on planes that already are one channel, and
  :func:`gradient_energy_map` its per-pixel form (for masks of flat regions).
- :func:`high_frequency_energy`: share of the luma's spectral energy (DC
  removed) above a normalised radial frequency ``cutoff`` (0.5 = Nyquist),
  i.e. what a GAN adds and an L1 model smooths away.

These measure sharpness, not correctness: noise also raises them, so a
chapter must show the images too.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError
from .psnr_ssim import luma

#: Default cut-off of :func:`high_frequency_energy` (a quarter of the sampling rate).
HF_CUTOFF = 0.25


def _squared_differences(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward differences squared of (..., H, W): (..., H, W-1) horizontal, (..., H-1, W) vertical."""
    return (y[..., :, 1:] - y[..., :, :-1]).pow(2), (y[..., 1:, :] - y[..., :-1, :]).pow(2)


def plane_gradient_energy(y: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of ``dy/dx^2`` plus mean of ``dy/dy^2`` per (..., H, W) plane: float64 (...).

    ``mask`` (H, W) bool restricts the means to the differences that start at
    a pixel where it is True (an all-True mask gives the unmasked value).
    """
    y = y.to(torch.float64)
    if y.ndim < 2 or y.shape[-1] < 2 or y.shape[-2] < 2:
        raise DataError(f"gradient energy needs (..., H, W) planes with H, W >= 2, got {tuple(y.shape)}")
    dx, dy = _squared_differences(y)
    if mask is None:
        return dx.mean(dim=(-2, -1)) + dy.mean(dim=(-2, -1))
    mask = mask.to(device=y.device, dtype=torch.bool)
    if tuple(mask.shape) != tuple(y.shape[-2:]):
        raise DataError(f"mask {tuple(mask.shape)} does not match the image {tuple(y.shape[-2:])}")
    mx, my = mask[:, :-1], mask[:-1, :]
    if not bool(mx.any()) or not bool(my.any()):
        raise DataError("the mask selects no pixel pairs")
    return dx[..., mx].mean(dim=-1) + dy[..., my].mean(dim=-1)


def gradient_energy(img: torch.Tensor | np.ndarray, mask: torch.Tensor | None = None) -> float:
    """Mean ``|grad Y|^2`` of RGB ``img`` ((3, H, W) / (N, 3, H, W) tensor or (H, W, 3) array, [0, 1]).

    Y is :func:`~esrgan_lesson.metrics.luma` in [0, 1]; a batch gives the mean
    over its images; ``mask`` (H, W) as in :func:`plane_gradient_energy`.
    """
    return float(plane_gradient_energy(luma(img), mask).mean())


def gradient_energy_map(img: torch.Tensor | np.ndarray) -> torch.Tensor:
    """Per-pixel ``|grad Y|^2`` of one RGB image: float64 (H, W), the last row/column repeated."""
    y = luma(img)
    if y.shape[0] != 1:
        raise DataError(f"gradient_energy_map takes one image, got a batch of {y.shape[0]}")
    dx, dy = _squared_differences(y[0])
    return (F.pad(dx[None, None], (0, 1, 0, 0), mode="replicate")[0, 0]
            + F.pad(dy[None, None], (0, 0, 0, 1), mode="replicate")[0, 0])


def high_frequency_energy(img: torch.Tensor | np.ndarray, cutoff: float = HF_CUTOFF) -> float:
    """Fraction in [0, 1] of luma spectral power above radial frequency ``cutoff`` (0 for a flat image)."""
    y = luma(img)
    y = y - y.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(y).abs().pow(2)
    fy = torch.fft.fftfreq(y.shape[-2]).view(-1, 1)
    fx = torch.fft.fftfreq(y.shape[-1]).view(1, -1)
    high = (fy.pow(2) + fx.pow(2)).sqrt() > cutoff
    total = power.sum()
    return float(power[..., high].sum() / total) if total > 0 else 0.0


__all__ = ["HF_CUTOFF", "gradient_energy", "gradient_energy_map", "high_frequency_energy", "plane_gradient_energy"]
