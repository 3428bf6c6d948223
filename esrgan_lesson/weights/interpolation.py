"""Network interpolation (ESRGAN Sec. 3.4, Eq. 4) and its pixel-space baseline.

``theta = (1 - alpha) * theta_PSNR + alpha * theta_GAN``; alpha = 0 is the
PSNR-oriented model and alpha = 1 the GAN model.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError, ESRGANError
from .layouts import _MAX_KEYS_SHOWN, StateDict, _show_keys


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ESRGANError(f"alpha must be in [0, 1] (0 = PSNR model, 1 = GAN model), got {alpha}")
    return alpha


def interpolate_state_dicts(
    psnr: Mapping[str, torch.Tensor], gan: Mapping[str, torch.Tensor], alpha: float
) -> StateDict:
    """``(1 - alpha) * psnr + alpha * gan`` for every floating-point tensor (ESRGAN Eq. 4).

    Both dicts must have the same keys and shapes (mismatches are named in a
    :class:`CheckpointError`). The sum is taken in float64 and cast back, so
    alpha = 0 returns the PSNR tensors and alpha = 1 the GAN tensors exactly.
    Non-float tensors (e.g. BatchNorm ``num_batches_tracked``) are copied
    from ``psnr``.
    """
    alpha = _check_alpha(alpha)
    only_psnr = sorted(set(psnr) - set(gan))
    only_gan = sorted(set(gan) - set(psnr))
    if only_psnr or only_gan:
        parts = []
        if only_psnr:
            parts.append(f"only in the PSNR model: {_show_keys(only_psnr)}")
        if only_gan:
            parts.append(f"only in the GAN model: {_show_keys(only_gan)}")
        raise CheckpointError("cannot interpolate, keys differ; " + "; ".join(parts))
    shapes = [f"{k} {tuple(psnr[k].shape)} vs {tuple(gan[k].shape)}" for k in psnr if psnr[k].shape != gan[k].shape]
    if shapes:
        raise CheckpointError("cannot interpolate, shapes differ: " + ", ".join(shapes[:_MAX_KEYS_SHOWN]))
    out: StateDict = {}
    for key, a in psnr.items():
        b = gan[key]
        if a.is_floating_point():
            mixed = (1.0 - alpha) * a.detach().double() + alpha * b.detach().to(a.device).double()
            out[key] = mixed.to(a.dtype)
        else:
            out[key] = a.detach().clone()
    return out


def interpolate_generators(psnr_model: nn.Module, gan_model: nn.Module, alpha: float) -> nn.Module:
    """A copy of ``psnr_model`` holding the interpolated weights (ESRGAN Eq. 4)."""
    mixed = interpolate_state_dicts(psnr_model.state_dict(), gan_model.state_dict(), alpha)
    model = copy.deepcopy(psnr_model)
    model.load_state_dict(mixed, strict=True)
    return model


def interpolate_images(img_psnr: Any, img_gan: Any, alpha: float) -> Any:
    """Pixel-space blend ``(1 - alpha) * img_psnr + alpha * img_gan``.

    The paper's baseline for network interpolation (ESRGAN Fig. 9). Accepts
    numpy arrays or tensors of equal shape (any layout, values in [0, 1]);
    returns the same kind.
    """
    alpha = _check_alpha(alpha)
    if tuple(img_psnr.shape) != tuple(img_gan.shape):
        raise ESRGANError(f"images differ in shape: {tuple(img_psnr.shape)} vs {tuple(img_gan.shape)}")
    if isinstance(img_psnr, torch.Tensor):
        return (1.0 - alpha) * img_psnr + alpha * img_gan.to(img_psnr)
    a = np.asarray(img_psnr)
    return ((1.0 - alpha) * a + alpha * np.asarray(img_gan)).astype(a.dtype, copy=False)
