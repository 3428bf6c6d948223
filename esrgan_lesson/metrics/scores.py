"""The one score record: an SR output against its HR image, as SR papers score it.

:func:`score_image` is the only place the package turns an ``(sr, hr, scale)``
triple into numbers; training validation, ``esrgan-lesson evaluate`` and the
chapters all call it and read an :class:`ImageScores`. The conventions:

* ``sr`` is rounded to 8 bits first (:func:`esrgan_lesson.imageio.quantize`),
  as the saved output file the papers score is; ``hr`` is used as given (it
  comes from an 8-bit file, so it already lies on the 8-bit grid);
* ``psnr``/``ssim``: :func:`~esrgan_lesson.metrics.psnr` /
  :func:`~esrgan_lesson.metrics.ssim` on the BT.601 Y channel (MATLAB's
  ``rgb2ycbcr``) with ``scale`` pixels cropped from every border;
* ``rmse``: RMSE of the RGB values in 0-255 units over the same cropped region
  (the PIRM challenge's distortion axis);
* ``gradient_energy`` / ``hf_energy``: the sharpness figures of
  :mod:`.sharpness` on the whole output, and ``grad_ratio`` / ``hf_ratio`` the
  same divided by the HR image's (1 = as much fine detail as the ground
  truth; ``nan`` when the HR image is flat);
* ``colour_shift``: ``mean(sr - hr)`` per RGB channel over the whole image, in
  8-bit grey levels (:func:`mean_colour_shift`).

A chapter that needs more (flat-region energy, an interpolation weight) wraps
an :class:`ImageScores` in its own record; it does not recompute these.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import DataError
from ..imageio import quantize
from .psnr_ssim import PEAK, psnr, ssim
from .sharpness import gradient_energy, high_frequency_energy


@dataclass(frozen=True)
class ImageScores:
    """Scores of one SR output against its HR image (see the module docstring for conventions).

    ``psnr`` dB (``inf`` for a perfect output), ``ssim`` in [-1, 1], ``rmse`` in
    0-255 units, ``gradient_energy`` / ``hf_energy`` of the 8-bit output,
    ``grad_ratio`` / ``hf_ratio`` relative to the HR image, ``colour_shift``
    (R, G, B) grey levels.
    """

    name: str
    psnr: float
    ssim: float
    rmse: float
    gradient_energy: float
    hf_energy: float
    grad_ratio: float
    hf_ratio: float
    colour_shift: tuple[float, float, float]

    @property
    def brightness_shift(self) -> float:
        """Mean of ``colour_shift`` over R, G, B in grey levels (signed): how much brighter the output is."""
        return sum(self.colour_shift) / 3

    @property
    def colour_cast(self) -> float:
        """Mean over R, G, B of ``|colour_shift_c - brightness_shift|`` in grey levels: the cast left
        once the brightness shift is removed (0 when every channel moved alike)."""
        b = self.brightness_shift
        return sum(abs(v - b) for v in self.colour_shift) / 3

    @property
    def colour_error(self) -> float:
        """Mean of ``|colour_shift|`` over the channels, in [0, 1] units (a brightness/colour cast)."""
        return sum(abs(v) for v in self.colour_shift) / (3 * PEAK)


def _as_chw(img: torch.Tensor | np.ndarray, what: str) -> torch.Tensor:
    """One RGB image as a float32 (3, H, W) CPU tensor: from (3, H, W) / (1, 3, H, W) tensors or (H, W, 3) arrays.

    float32 because images read from files are float32: an 8-bit value then
    has one representation, so an output equal to its HR image scores ``inf``.
    """
    if isinstance(img, np.ndarray):
        if img.ndim != 3 or img.shape[2] != 3:
            raise DataError(f"{what}: expected an (H, W, 3) array, got {img.shape}")
        t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)
    elif isinstance(img, torch.Tensor):
        t = img.detach().cpu()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim != 3 or t.shape[0] != 3:
            raise DataError(f"{what}: expected an image tensor (3, H, W), got {tuple(img.shape)}")
    else:
        raise DataError(f"{what}: expected a numpy array or torch tensor, got {type(img).__name__}")
    if t.dtype == torch.uint8:
        return t.to(torch.float32) / PEAK
    if not t.is_floating_point():
        raise DataError(f"{what}: unsupported dtype {t.dtype}; use uint8 or float in [0, 1]")
    return t.to(torch.float32)


def scored_output(sr: torch.Tensor | np.ndarray) -> torch.Tensor:
    """The output as :func:`score_image` scores it: float32 (3, H, W) on the CPU, rounded to 8 bits.

    ``sr`` as for :func:`score_image`. A chapter that adds its own figure of an
    output (e.g. detail in flat regions) computes it on this.
    """
    return quantize(_as_chw(sr, "sr"))


def mean_colour_shift(sr: torch.Tensor | np.ndarray, hr: torch.Tensor | np.ndarray) -> torch.Tensor:
    """``mean(sr - hr)`` per RGB channel in 8-bit grey levels: a float64 (3,) tensor.

    Both RGB images of one shape ((3, H, W) tensors or (H, W, 3) arrays, [0, 1]).
    A faithful model gives values near 0; a colour cast (e.g. a GAN drifting
    warmer) shows as a consistent sign per channel.
    """
    a, b = _as_chw(sr, "sr").clamp(0, 1).double(), _as_chw(hr, "hr").clamp(0, 1).double()
    if a.shape != b.shape:
        raise DataError(f"SR {tuple(a.shape)} and HR {tuple(b.shape)} differ in shape")
    return (a - b).mean(dim=(1, 2)) * PEAK


def score_image(sr: torch.Tensor | np.ndarray, hr: torch.Tensor | np.ndarray, scale: int,
                name: str = "") -> ImageScores:
    """The :class:`ImageScores` of one output ``sr`` against ``hr`` for an x``scale`` model.

    ``sr``, ``hr``: one RGB image each, (3, H, W) or (1, 3, H, W) tensors or
    (H, W, 3) arrays, float in [0, 1] (or uint8), of the same size; any device.
    ``scale`` (>= 0) is the border crop of PSNR, SSIM and RMSE (0 = none).
    """
    if int(scale) != scale or scale < 0:
        raise DataError(f"scale must be a non-negative integer, got {scale}")
    c = int(scale)
    out, ref = scored_output(sr), _as_chw(hr, "hr")
    if out.shape != ref.shape:
        raise DataError(f"SR {tuple(out.shape)} and HR {tuple(ref.shape)} differ in shape")
    crop = (slice(None), slice(c, -c or None), slice(c, -c or None))
    rmse = float(((out[crop].double() - ref[crop].double()) * PEAK).pow(2).mean().sqrt())
    ge, hf = gradient_energy(out), high_frequency_energy(out)
    ge_hr, hf_hr = gradient_energy(ref), high_frequency_energy(ref)
    shift = mean_colour_shift(out, ref).tolist()
    return ImageScores(
        name=name, psnr=float(psnr(out, ref, crop_border=c)), ssim=float(ssim(out, ref, crop_border=c)),
        rmse=rmse, gradient_energy=ge, hf_energy=hf,
        grad_ratio=ge / ge_hr if ge_hr > 0 else math.nan, hf_ratio=hf / hf_hr if hf_hr > 0 else math.nan,
        colour_shift=(shift[0], shift[1], shift[2]),
    )


__all__ = ["ImageScores", "mean_colour_shift", "score_image", "scored_output"]
