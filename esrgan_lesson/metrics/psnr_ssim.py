"""PSNR and SSIM as super-resolution papers report them.

Input convention (both images alike):

* numpy arrays shaped (H, W, 3) (RGB) or (H, W) (one channel), or torch
  tensors shaped (3, H, W) / (N, 3, H, W) (or one channel: (1, H, W) /
  (N, 1, H, W));
* ``uint8`` in [0, 255] or floating point in [0, 1]. Floats are **not**
  quantised: published numbers come from 8-bit outputs, so round to uint8
  first (``esrgan_lesson.imageio.to_uint``) to reproduce them.

Everything is computed in float64 on the CPU in 0-255 units:

* ``y_channel=True`` (default): the BT.601 luma of MATLAB's ``rgb2ycbcr``,
  ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` for RGB in [0, 1] (so Y lies in
  [16, 235]), without rounding — the convention of BasicSR and most SR papers.
  Needs 3-channel input.
* ``crop_border=k`` drops ``k`` pixels from every border first (papers use
  ``k = scale``).
* PSNR ``= 10 log10(255^2 / MSE)``; identical images give ``inf``.
* SSIM (Wang et al. 2004): 11x11 Gaussian window with sigma 1.5,
  ``C1 = (0.01*255)^2``, ``C2 = (0.03*255)^2``, averaged over the *valid*
  region (window centres at least 5 pixels from the border, no padding); with
  ``y_channel=False`` the per-channel SSIMs are averaged.

Batched torch input returns a float64 tensor of shape (N,); everything else
returns a Python float.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError
from ..paper import SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WINDOW, YCBCR_MATRIX, YCBCR_OFFSET

#: Peak value of the 0-255 units the metrics are computed in.
PEAK = 255.0
#: Y of white RGB (MATLAB ``rgb2ycbcr``): BT.601 studio swing puts Y in [16, 235].
PEAK_Y = YCBCR_OFFSET[0] + sum(YCBCR_MATRIX[0])
#: Slack allowed above 1 / below 0 for float input (rounding of resamplers).
_RANGE_SLACK = 1e-3


def _as_nchw(img: np.ndarray | torch.Tensor, name: str) -> tuple[torch.Tensor, bool]:
    """float64 (N, C, H, W) tensor in [0, 1] on the CPU, and whether input was batched."""
    if isinstance(img, np.ndarray):
        if img.ndim == 2:
            img = img[:, :, None]
        if img.ndim != 3:
            raise DataError(f"{name}: numpy images must be (H, W) or (H, W, C), got shape {img.shape}")
        t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)
        batched = False
    elif isinstance(img, torch.Tensor):
        t = img.detach().cpu()
        if t.ndim == 3:
            batched = False
        elif t.ndim == 4:
            batched = True
        else:
            raise DataError(f"{name}: tensors must be (C, H, W) or (N, C, H, W), got shape {tuple(t.shape)}")
    else:
        raise DataError(f"{name}: expected a numpy array or torch tensor, got {type(img).__name__}")
    if t.ndim == 3:
        t = t.unsqueeze(0)
    if t.dtype == torch.uint8:
        return t.to(torch.float64) / 255.0, batched
    if not t.is_floating_point():
        raise DataError(f"{name}: unsupported dtype {t.dtype}; use uint8 [0, 255] or float [0, 1]")
    t = t.to(torch.float64)
    lo, hi = float(t.min()), float(t.max())
    if lo < -_RANGE_SLACK or hi > 1.0 + _RANGE_SLACK:
        raise DataError(f"{name}: float images must be in [0, 1] (got values in [{lo:.3g}, {hi:.3g}]); "
                        "divide 0-255 floats by 255 or pass uint8")
    return t, batched


def rgb2ycbcr(img: np.ndarray | torch.Tensor, y_only: bool = True) -> np.ndarray | torch.Tensor:
    """MATLAB's ``rgb2ycbcr`` (ITU-R BT.601) in 0-255 units.

    Args:
        img: RGB, numpy (H, W, 3) or torch (3, H, W)/(N, 3, H, W); uint8 in
            [0, 255] or float in [0, 1].
        y_only: return only Y.

    Returns:
        float64, same kind as the input: Y shaped (H, W) / (1, H, W) /
        (N, 1, H, W) with values in [16, 235], or YCbCr with 3 channels
        (Cb, Cr in [16, 240]). Not rounded.
    """
    t, batched = _as_nchw(img, "rgb2ycbcr")
    if t.shape[1] != 3:
        raise DataError(f"rgb2ycbcr: need 3 RGB channels, got {t.shape[1]}")
    mat = torch.tensor(YCBCR_MATRIX, dtype=torch.float64)
    off = torch.tensor(YCBCR_OFFSET, dtype=torch.float64)
    if y_only:
        mat, off = mat[:1], off[:1]
    out = torch.einsum("kc,nchw->nkhw", mat, t) + off.view(1, -1, 1, 1)
    if isinstance(img, np.ndarray):
        arr = out[0].permute(1, 2, 0).numpy()
        return np.ascontiguousarray(arr[..., 0] if y_only else arr)
    return out if batched else out[0]


def _y255(t: torch.Tensor) -> torch.Tensor:
    """BT.601 Y of float64 (N, 3, H, W) RGB in [0, 1]: (N, 1, H, W) in 0-255 units ([16, 235])."""
    mat = torch.tensor(YCBCR_MATRIX[0], dtype=torch.float64, device=t.device).view(1, 3, 1, 1)
    return (t * mat).sum(1, keepdim=True) + YCBCR_OFFSET[0]


def luma(img: np.ndarray | torch.Tensor) -> torch.Tensor:
    """The metrics' BT.601 Y rescaled to [0, 1]: ``(Y - 16) / 219``, float64 (N, H, W) on the CPU.

    The one luma of the package (the sharpness figures use it too). ``img``:
    RGB as for :func:`rgb2ycbcr` -- numpy (H, W, 3), torch (3, H, W) or
    (N, 3, H, W); uint8 or float in [0, 1] (float input is clamped to [0, 1]
    first, so resampler overshoot is allowed). ``(Y - 16) / 219`` has the
    weights 0.299 R + 0.587 G + 0.114 B exactly, so white is 1 and black 0.
    """
    if isinstance(img, torch.Tensor) and img.is_floating_point():
        img = img.detach().cpu().to(torch.float64).clamp(0, 1)
    elif isinstance(img, np.ndarray) and np.issubdtype(img.dtype, np.floating):
        img = np.clip(img.astype(np.float64), 0.0, 1.0)
    t, _ = _as_nchw(img, "luma")
    if t.shape[1] != 3:
        raise DataError(f"luma: need 3 RGB channels, got {t.shape[1]}")
    return (_y255(t)[:, 0] - YCBCR_OFFSET[0]) / (PEAK_Y - YCBCR_OFFSET[0])


def _prepare(img, ref, crop_border: int, y_channel: bool) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Both images as float64 (N, C, H, W) in 0-255 units, converted and cropped."""
    a, batched_a = _as_nchw(img, "img")
    b, batched_b = _as_nchw(ref, "ref")
    if a.shape != b.shape:
        raise DataError(f"image shapes differ: img {tuple(a.shape)} vs ref {tuple(b.shape)}")
    if crop_border < 0:
        raise DataError(f"crop_border must be >= 0, got {crop_border}")
    if y_channel:
        if a.shape[1] != 3:
            raise DataError(f"y_channel=True needs RGB input, got {a.shape[1]} channel(s)")
        a, b = _y255(a), _y255(b)
    else:
        a, b = a * PEAK, b * PEAK
    if crop_border:
        k = crop_border
        if a.shape[-1] <= 2 * k or a.shape[-2] <= 2 * k:
            raise DataError(f"crop_border={k} leaves nothing of a {a.shape[-2]}x{a.shape[-1]} image")
        a, b = a[..., k:-k, k:-k], b[..., k:-k, k:-k]
    return a, b, batched_a or batched_b


def _result(values: torch.Tensor, batched: bool) -> float | torch.Tensor:
    return values if batched else float(values[0])


def psnr(img: np.ndarray | torch.Tensor, ref: np.ndarray | torch.Tensor, crop_border: int = 0,
         y_channel: bool = True) -> float | torch.Tensor:
    """Peak signal-to-noise ratio in dB (see the module docstring for conventions).

    Returns ``inf`` for identical images (MSE = 0); a float, or a float64
    tensor (N,) for batched torch input.
    """
    a, b, batched = _prepare(img, ref, crop_border, y_channel)
    mse = ((a - b) ** 2).mean(dim=(1, 2, 3))
    values = 10.0 * torch.log10(PEAK**2 / mse)  # torch gives inf where mse == 0
    return _result(values, batched)


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> torch.Tensor:
    """Normalised 1-D Gaussian, float64 of shape (size,), summing to 1."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def _filter_valid(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter of (N*C, 1, H, W), 'valid' region only."""
    x = F.conv2d(x, g.view(1, 1, -1, 1))
    return F.conv2d(x, g.view(1, 1, 1, -1))


def ssim(img: np.ndarray | torch.Tensor, ref: np.ndarray | torch.Tensor, crop_border: int = 0,
         y_channel: bool = True) -> float | torch.Tensor:
    """Structural similarity (see the module docstring for conventions).

    Returns a float in [-1, 1] (1 for identical images), or a float64 tensor
    (N,) for batched torch input. Images must be at least 11x11 after cropping.
    """
    a, b, batched = _prepare(img, ref, crop_border, y_channel)
    n, c, h, w = a.shape
    if h < SSIM_WINDOW or w < SSIM_WINDOW:
        raise DataError(f"SSIM needs at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels after cropping, got {h}x{w}")
    g = gaussian_window()
    a = a.reshape(n * c, 1, h, w)
    b = b.reshape(n * c, 1, h, w)
    c1 = (SSIM_K1 * PEAK) ** 2
    c2 = (SSIM_K2 * PEAK) ** 2
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    var_a = _filter_valid(a * a, g) - mu_a**2
    var_b = _filter_valid(b * b, g) - mu_b**2
    cov = _filter_valid(a * b, g) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    per_channel = (num / den).mean(dim=(1, 2, 3)).view(n, c)
    return _result(per_channel.mean(dim=1), batched)


__all__ = ["PEAK", "PEAK_Y", "gaussian_window", "luma", "psnr", "rgb2ycbcr", "ssim"]
