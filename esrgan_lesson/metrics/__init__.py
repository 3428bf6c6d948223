"""Image-quality metrics as super-resolution papers report them.

* :mod:`.psnr_ssim`: the full-reference PSNR and SSIM on the Y channel
  (and MATLAB's ``rgb2ycbcr``);
* :mod:`.sharpness`: gradient energy and high-frequency share on the one
  luma (:func:`luma`), the sharpness figures of validation and the chapters;
* :mod:`.scores`: the one score record (:class:`ImageScores`) of an SR
  output against its HR image and the one function that fills it
  (:func:`score_image`), used by validation, ``evaluate`` and the chapters;
* :mod:`.niqe_metric`: the no-reference NIQE (Mittal et al. 2013) with LIVE's
  pristine model (package data, see ``NIQE_LICENSE.txt``).

Everything public is re-exported here, so ``from esrgan_lesson.metrics import
psnr, ssim, niqe`` works.
"""
from __future__ import annotations

from .niqe_metric import NIQE_MIN_BLOCKS, NiqeResult, NiqeSizeError, niqe, niqe_blocks
from .psnr_ssim import PEAK, PEAK_Y, gaussian_window, luma, psnr, rgb2ycbcr, ssim
from .scores import ImageScores, mean_colour_shift, score_image, scored_output
from .sharpness import HF_CUTOFF, gradient_energy, gradient_energy_map, high_frequency_energy, plane_gradient_energy

__all__ = ["HF_CUTOFF", "ImageScores", "NIQE_MIN_BLOCKS", "NiqeResult", "NiqeSizeError", "PEAK", "PEAK_Y",
           "gaussian_window", "gradient_energy", "gradient_energy_map", "high_frequency_energy", "luma",
           "mean_colour_shift", "niqe", "niqe_blocks", "plane_gradient_energy", "psnr", "rgb2ycbcr", "score_image",
           "scored_output", "ssim"]
