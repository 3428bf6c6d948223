"""Image-quality metrics as super-resolution papers report them.

* :mod:`.psnr_ssim`: the full-reference PSNR and SSIM on the Y channel
  (and MATLAB's ``rgb2ycbcr``).

Everything public is re-exported here, so ``from esrgan_lesson.metrics import
psnr, ssim`` keeps working.
"""
from __future__ import annotations

from .psnr_ssim import PEAK, gaussian_window, psnr, rgb2ycbcr, ssim

__all__ = ["PEAK", "gaussian_window", "psnr", "rgb2ycbcr", "ssim"]
