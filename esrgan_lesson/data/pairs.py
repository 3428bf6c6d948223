"""The one LR/HR pair maker: ESRGAN's degradation for evaluation and display.

ESRGAN (Sec. 4.1) makes LR images with MATLAB's bicubic ``imresize(hr, 1/s)``;
published numbers come from LR files stored as 8-bit PNGs. So a pair is:

* HR cropped from the bottom/right to a multiple of ``scale``
  (:func:`mod_crop`) and otherwise used as given;
* LR = :func:`~esrgan_lesson.data.imresize.imresize` of that HR by
  ``1/scale`` (in float64), clipped to [0, 1] and rounded to 8 bits with
  :func:`esrgan_lesson.imageio.quantize` (:func:`downscale_lr`).

Training validation, ``esrgan-lesson evaluate``, the benchmarks and every
chapter build their pairs here, so a Y-PSNR printed in one place is comparable
with one printed in another.
"""
from __future__ import annotations

from typing import Mapping, TypeVar

import numpy as np
import torch

from ..errors import DataError
from ..imageio import quantize
from .imresize import imresize

ImageT = TypeVar("ImageT", np.ndarray, torch.Tensor)


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop (H, W, ...) from the bottom/right so H and W are multiples of ``scale``."""
    h, w = img.shape[0] - img.shape[0] % scale, img.shape[1] - img.shape[1] % scale
    if h == 0 or w == 0:
        raise DataError(f"image of size {img.shape[0]}x{img.shape[1]} is smaller than the scale {scale}")
    return img[:h, :w]


def _check_scale(scale: int) -> int:
    if int(scale) != scale or scale < 1:
        raise DataError(f"scale must be a positive integer, got {scale}")
    return int(scale)


def downscale_lr(hr: ImageT, scale: int) -> ImageT:
    """ESRGAN's LR of an HR whose sides are multiples of ``scale``: MATLAB bicubic, 8-bit.

    ``hr``: numpy (H, W[, C]) or torch (C, H, W) / (N, C, H, W), float in [0, 1].
    Returns numpy float32 (H/s, W/s[, C]) or a float32 tensor (.., H/s, W/s)
    on ``hr``'s device, clipped to [0, 1] and rounded to the 8-bit grid.
    """
    scale = _check_scale(scale)
    h, w = (hr.shape[0], hr.shape[1]) if isinstance(hr, np.ndarray) else tuple(hr.shape[-2:])
    if h % scale or w % scale:
        raise DataError(f"HR {h}x{w} is not a multiple of the scale {scale}; mod_crop it first")
    if isinstance(hr, torch.Tensor):
        return quantize(imresize(hr.detach().to(torch.float64), scale=1.0 / scale)).float()
    return quantize(imresize(np.asarray(hr, dtype=np.float64), scale=1.0 / scale))


def make_pair(hr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lr, hr)`` float32 (h, w, 3) / (h*s, w*s, 3) arrays from an (H, W, 3) float image in [0, 1].

    HR is mod-cropped to ``scale`` and otherwise kept; LR is :func:`downscale_lr` of it.
    """
    hr = np.ascontiguousarray(mod_crop(np.asarray(hr, dtype=np.float32), _check_scale(scale)))
    return downscale_lr(hr, scale), hr


def make_pairs(images: Mapping[str, np.ndarray], scale: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """``(name, lr, hr)`` evaluation pairs of :func:`make_pair` as float32 (3, h, w) / (3, H, W) tensors."""
    out = []
    for name, img in images.items():
        lr, hr = make_pair(img, scale)
        out.append((name, torch.from_numpy(lr).permute(2, 0, 1).contiguous(),
                    torch.from_numpy(hr).permute(2, 0, 1).contiguous()))
    return out


__all__ = ["downscale_lr", "make_pair", "make_pairs", "mod_crop"]
