"""Image-quality metrics as super-resolution papers report them.

* :mod:`.psnr_ssim`: the full-reference PSNR and SSIM on the Y channel
  (and MATLAB's ``rgb2ycbcr``);
* :mod:`.niqe_metric`: the no-reference NIQE (Mittal et al. 2013) with LIVE's
  pristine model (package data, see ``NIQE_LICENSE.txt``).

Everything public is re-exported here, so ``from esrgan_lesson.metrics import
psnr, ssim, niqe`` works.
"""
from __future__ import annotations

from .niqe_metric import NIQE_MIN_BLOCKS, NiqeResult, NiqeSizeError, niqe, niqe_blocks
from .psnr_ssim import PEAK, gaussian_window, psnr, rgb2ycbcr, ssim

__all__ = ["NIQE_MIN_BLOCKS", "NiqeResult", "NiqeSizeError", "PEAK", "gaussian_window", "niqe", "niqe_blocks", "psnr",
           "rgb2ycbcr", "ssim"]
