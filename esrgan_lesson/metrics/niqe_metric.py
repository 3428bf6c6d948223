"""NIQE, the Natural Image Quality Evaluator (Mittal, Soundararajan & Bovik 2013).

A no-reference ("completely blind") score: lower means the image's local
statistics are closer to those of pristine natural photos. It is the
no-reference half of the PIRM-SR Perceptual Index, ``PI = ((10 - Ma) + NIQE) / 2``;
Ma's score needs Ma et al.'s trained regression forests, which are not
available offline, so this package computes NIQE only.

The steps follow LIVE's official MATLAB release (``computequality.m``,
``computefeature.m``, ``estimateaggdparam.m``), because the pristine model
shipped beside this file (``niqe_pristine.npz``, see ``NIQE_LICENSE.txt``) was
fitted with exactly those features:

1. **Luminance.** The BT.601 Y of MATLAB's ``rgb2ycbcr`` in 0-255 units,
   rounded to integers (as ``rgb2ycbcr`` on uint8 images returns them, and as
   BasicSR and the PIRM scripts do); one-channel input is used as it is.
   The image is cropped (bottom/right) to whole 96x96 blocks.
2. **MSCN coefficients.** ``(I - mu) / (sigma + 1)``, with ``mu`` and
   ``sigma`` the local mean and standard deviation under a 7x7 Gaussian
   window of sigma 7/6 (``fspecial``), borders replicated. In a flat region
   ``I - mu`` is 0 in exact arithmetic but rounding residue (~1e-13) in floats,
   and its arbitrary sign would decide whether the block's AGGD fit counts
   those pixels as left or right samples (scores of images with flat areas
   then depend on the filter's summation order: BasicSR's float32 and float64
   runs differ by 0.03 on scikit-image's astronaut). Here ``|I - mu| < 1e-8``
   is set to exactly 0, the exact-arithmetic value; real local contrast of
   integer images is orders of magnitude larger.
3. **Features per block** (96x96 non-overlapping blocks; the same blocks,
   48x48, at scale 1/2), 18 per scale:

   * the MSCN coefficients' shape ``alpha`` and scale ``(beta_l + beta_r)/2``
     (the paper calls this a GGD fit of shape and variance; the release fits
     it with the asymmetric estimator below and averages the two scales, and
     the pristine model uses those numbers);
   * for each of the products of neighbouring coefficients, horizontal
     ``(0, 1)``, vertical ``(1, 0)`` and the two diagonals ``(1, 1)``,
     ``(1, -1)`` (circular shifts within the block, as MATLAB's
     ``circshift``): the AGGD shape, mean ``(beta_r - beta_l) G(2/a)/G(1/a)``,
     left scale and right scale.
4. **Scale 1/2** is MATLAB bicubic with antialiasing
   (:func:`esrgan_lesson.data.imresize.imresize`) of the cropped luminance.
5. **Distance.** With ``mu``, ``S`` the mean and covariance of the block
   features (blocks with an undefined feature, e.g. perfectly flat ones, are
   dropped from ``S`` and ignored per feature in ``mu``, like MATLAB's
   ``nanmean``/``nancov``), ``NIQE = sqrt((mu_p - mu)^T ((S_p + S)/2)^+ (mu_p - mu))``.

How many blocks are enough: the sample covariance of ``n`` blocks needs
``n >= 2`` and has rank at most ``n - 1``, so it is full rank (36x36) only
from 37 blocks. The pristine covariance keeps ``(S_p + S)/2`` invertible, so
the score is defined from 2 blocks, but with few blocks it is a noisy
estimate. :data:`NIQE_MIN_BLOCKS` (16, e.g. a 384x384 image) is the default
floor; pass ``min_blocks`` (>= 2) to change it, and report the count
(:attr:`NiqeResult.blocks`) beside the score.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError
from esrgan_lesson.data.imresize import imresize
from ..paper import (NIQE_BLOCK, NIQE_C, NIQE_SHAPE_MAX, NIQE_SHAPE_MIN, NIQE_SHAPE_STEP, NIQE_SIGMA, NIQE_WINDOW,
                     YCBCR_MATRIX, YCBCR_OFFSET)
from .psnr_ssim import _as_nchw, _y255

#: Default floor on the number of 96x96 blocks (course choice, see the module docstring).
NIQE_MIN_BLOCKS = 16
#: Below 2 blocks the sample covariance does not exist.
NIQE_HARD_MIN_BLOCKS = 2
#: Features per scale and in all.
FEATURES_PER_SCALE = 18
NUM_FEATURES = 2 * FEATURES_PER_SCALE
#: Neighbour offsets (rows, cols) of the pairwise products: H, V, D1, D2.
PAIR_SHIFTS: tuple[tuple[int, int], ...] = ((0, 1), (1, 0), (1, 1), (1, -1))
_PRISTINE_FILE = "niqe_pristine.npz"
#: |I - mu| below this (0-255 units) is float rounding in a flat region and is set to 0 (module docstring).
FLAT_TOL = 1e-8
#: Float Y within this of a .5 tie rounds up, as exact arithmetic would (see :func:`niqe_luma`).
_TIE_TOL = 1e-9


class NiqeSizeError(DataError):
    """The image gives too few 96x96 blocks for NIQE's feature covariance."""


@dataclass(frozen=True)
class NiqeResult:
    """A NIQE score and the evidence behind it.

    Attributes:
        score: NIQE (>= 0, lower is better; natural photos score about 2-6).
        blocks: 96x96 blocks per scale (the image is cropped to whole blocks).
        used_blocks: blocks whose 36 features are all defined; the covariance
            is fitted on these.
    """

    score: float
    blocks: int
    used_blocks: int

    def __float__(self) -> float:
        return self.score


class AggdFit(NamedTuple):
    """Moment-matching fit of an asymmetric generalised Gaussian.

    Density ``~ exp(-(-x/beta_l)^shape)`` for ``x < 0`` and
    ``~ exp(-(x/beta_r)^shape)`` for ``x > 0``. Arrays shaped like the input
    without its last axis (floats for 1-D input); NaN where a side has no
    samples (the shape then falls back to the grid's first value, 0.2, as
    MATLAB's ``min`` over NaNs returns index 1).
    """

    shape: np.ndarray | float
    left_scale: np.ndarray | float
    right_scale: np.ndarray | float
    mean: np.ndarray | float


@lru_cache(maxsize=1)
def shape_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The fit's shape grid and per-shape constants, float64 arrays of equal length.

    Returns ``(shapes, ratio, scale_factor, mean_factor)``: ``shapes`` is
    0.2, 0.201, ..., 10; ``ratio = G(2/a)^2 / (G(1/a) G(3/a))`` (strictly
    increasing, 2/pi at a = 2, 1/2 at a = 1); ``scale_factor = sqrt(G(1/a)/G(3/a))``
    turns a standard deviation into the GGD scale; ``mean_factor = G(2/a)/G(1/a)``.
    """
    n = int(round((NIQE_SHAPE_MAX - NIQE_SHAPE_MIN) / NIQE_SHAPE_STEP)) + 1
    shapes = NIQE_SHAPE_MIN + NIQE_SHAPE_STEP * np.arange(n, dtype=np.float64)
    g1 = np.array([math.gamma(1.0 / a) for a in shapes])
    g2 = np.array([math.gamma(2.0 / a) for a in shapes])
    g3 = np.array([math.gamma(3.0 / a) for a in shapes])
    return shapes, g2 * g2 / (g1 * g3), np.sqrt(g1 / g3), g2 / g1


def _nearest_shape(r: np.ndarray) -> np.ndarray:
    """Index of the grid ratio closest to ``r`` (first on ties; 0 for NaN)."""
    _, ratio, _, _ = shape_grid()
    r = np.asarray(r, dtype=np.float64)
    hi = np.clip(np.searchsorted(ratio, np.nan_to_num(r, nan=-np.inf)), 1, len(ratio) - 1)
    lo = hi - 1
    take_hi = (ratio[hi] - r) ** 2 < (ratio[lo] - r) ** 2
    idx = np.where(take_hi, hi, lo)
    return np.where(np.isnan(r), 0, idx)


def fit_aggd(samples: np.ndarray) -> AggdFit:
    """Fit an AGGD to each row of ``samples`` by moment matching (Lasmar et al. 2009).

    Args:
        samples: float array (..., m); one fit per vector along the last axis.

    Returns:
        :class:`AggdFit`. On symmetric samples this is the GGD fit: a Gaussian
        gives shape ~2 and both scales ~ sigma*sqrt(2), a Laplacian of scale
        ``b`` gives shape ~1 and scales ~ b. The shape is picked from the grid
        of :func:`shape_grid`, so it is exact to 0.001 at best.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise DataError(f"fit_aggd: need at least one sample along the last axis, got shape {x.shape}")
    sq = x * x
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt(np.where(x < 0, sq, 0.0).sum(-1) / (x < 0).sum(-1))
        right = np.sqrt(np.where(x > 0, sq, 0.0).sum(-1) / (x > 0).sum(-1))
        g = left / right
        r_hat = np.abs(x).mean(-1) ** 2 / sq.mean(-1)
        r_norm = r_hat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    idx = _nearest_shape(r_norm)
    shapes, _, scale_factor, mean_factor = shape_grid()
    beta_l, beta_r = left * scale_factor[idx], right * scale_factor[idx]
    fit = AggdFit(shapes[idx], beta_l, beta_r, (beta_r - beta_l) * mean_factor[idx])
    return AggdFit(*(float(v) for v in fit)) if x.ndim == 1 else fit


def _gaussian_1d() -> np.ndarray:
    x = np.arange(NIQE_WINDOW, dtype=np.float64) - (NIQE_WINDOW - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * NIQE_SIGMA**2))
    return g / g.sum()


def niqe_window() -> np.ndarray:
    """MATLAB's ``fspecial('gaussian', 7, 7/6)``: float64 (7, 7), summing to 1.

    It is separable (the outer product of a normalised 1-D Gaussian), which
    :func:`mscn` uses.
    """
    g = _gaussian_1d()
    return np.outer(g, g)


def _local_mean(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian filter of a (1, 1, H, W) tensor, borders replicated (imfilter 'replicate')."""
    p = NIQE_WINDOW // 2
    x = F.pad(x, (p, p, p, p), mode="replicate")
    return F.conv2d(F.conv2d(x, g.view(1, 1, -1, 1)), g.view(1, 1, 1, -1))


def mscn(y: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients ``(y - mu) / (sigma + 1)``.

    Args:
        y: luminance, (H, W) float in 0-255 units.

    Returns:
        float64 (H, W); a constant image gives zeros (to rounding).
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 2:
        raise DataError(f"mscn: need an (H, W) luminance image, got shape {y.shape}")
    g1 = torch.from_numpy(_gaussian_1d())
    t = torch.from_numpy(y).view(1, 1, *y.shape)
    mu = _local_mean(t, g1)
    sigma = torch.sqrt(torch.abs(_local_mean(t * t, g1) - mu * mu))
    centred = t - mu
    centred[centred.abs() < FLAT_TOL] = 0.0  # flat: exactly 0, not rounding residue of either sign
    return (centred / (sigma + NIQE_C))[0, 0].numpy()


def block_features(coeffs: np.ndarray, block: int) -> np.ndarray:
    """The 18 NIQE features of every ``block`` x ``block`` tile of MSCN coefficients.

    Args:
        coeffs: (H, W) MSCN coefficients, H and W multiples of ``block``.
        block: tile size (96 at scale 1, 48 at scale 1/2).

    Returns:
        float64 (n_blocks, 18), blocks in row-major order: shape and mean
        scale of the coefficients, then shape, mean, left and right scale of
        the H, V, D1 and D2 products.
    """
    h, w = coeffs.shape
    if h % block or w % block or h == 0 or w == 0:
        raise DataError(f"block_features: a {h}x{w} array does not tile into {block}x{block} blocks")
    tiles = coeffs.reshape(h // block, block, w // block, block).transpose(0, 2, 1, 3)
    tiles = tiles.reshape(-1, block, block)
    flat = tiles.reshape(len(tiles), -1)
    fit = fit_aggd(flat)
    cols = [fit.shape, (fit.left_scale + fit.right_scale) / 2.0]
    for shift in PAIR_SHIFTS:
        pair = (tiles * np.roll(tiles, shift, axis=(1, 2))).reshape(len(tiles), -1)
        fit = fit_aggd(pair)
        cols += [fit.shape, fit.mean, fit.left_scale, fit.right_scale]
    return np.stack(cols, axis=1)


def niqe_blocks(height: int, width: int, crop_border: int = 0) -> int:
    """How many 96x96 blocks NIQE gets from an image of ``height`` x ``width``."""
    h, w = height - 2 * crop_border, width - 2 * crop_border
    return max(h, 0) // NIQE_BLOCK * (max(w, 0) // NIQE_BLOCK)


def niqe_luma(img: np.ndarray | torch.Tensor) -> np.ndarray:
    """NIQE's input: the rounded luminance, float64 (H, W) with integer values in 0-255.

    Args:
        img: numpy (H, W, 3) RGB / (H, W) grey, or torch (3, H, W) / (1, H, W);
            uint8 in [0, 255] or float in [0, 1]. RGB becomes the BT.601 Y of
            MATLAB's ``rgb2ycbcr`` (values 16-235); grey is used as it is.
            Rounding is half away from zero, as MATLAB's: exact for uint8 RGB
            (integer arithmetic), and for floats up to a 1e-9 tolerance at
            ties (so float64 copies of 8-bit images agree with uint8; float32
            copies carry ~1e-5 error in Y and may round a rare tie the other way).
    """
    t, batched = _as_nchw(img, "niqe")
    if batched and t.shape[0] != 1:
        raise DataError(f"niqe: one image at a time, got a batch of {t.shape[0]}")
    c = t.shape[1]
    if c not in (1, 3):
        raise DataError(f"niqe: need 3 (RGB) or 1 (grey) channels, got {c}")
    if c == 1:
        return np.floor(t[0, 0].numpy() * 255.0 + 0.5)
    if img.dtype in (np.uint8, torch.uint8):
        # exact integer arithmetic: 1000 * 255 * Y = 16 * 255000 + 65481 R + 128553 G + 24966 B
        rgb = np.rint(t[0].numpy() * 255.0).astype(np.int64)
        coef = np.rint(np.asarray(YCBCR_MATRIX[0]) * 1000).astype(np.int64)
        num = int(round(YCBCR_OFFSET[0] * 255_000)) + np.tensordot(coef, rgb, axes=1)
        return ((num + 127_500) // 255_000).astype(np.float64)  # halves round up, like MATLAB's round
    y = _y255(t)[0, 0].numpy()
    return np.floor(y + 0.5 + _TIE_TOL)


@lru_cache(maxsize=1)
def pristine_model() -> tuple[np.ndarray, np.ndarray]:
    """LIVE's pristine model: mean (36,) and covariance (36, 36), float64 (read-only)."""
    with resources.files(__package__).joinpath(_PRISTINE_FILE).open("rb") as fh:
        with np.load(fh, allow_pickle=False) as data:
            mu, cov = data["mu_pris_param"].astype(np.float64), data["cov_pris_param"].astype(np.float64)
    mu.flags.writeable = cov.flags.writeable = False
    return mu, cov


def niqe_features(img: np.ndarray | torch.Tensor, crop_border: int = 0) -> np.ndarray:
    """The 36 features of every block: float64 (n_blocks, 36), scale 1 then scale 1/2.

    ``img`` as in :func:`niqe_luma`; ``crop_border`` pixels are dropped from
    every border first (papers use the SR scale). Raises :class:`NiqeSizeError`
    if not even one block fits.
    """
    y = niqe_luma(img)
    if crop_border < 0:
        raise DataError(f"crop_border must be >= 0, got {crop_border}")
    if crop_border:
        y = y[crop_border:-crop_border, crop_border:-crop_border]
    rows, cols = y.shape[0] // NIQE_BLOCK, y.shape[1] // NIQE_BLOCK
    if rows * cols == 0:
        raise NiqeSizeError(f"NIQE needs at least one {NIQE_BLOCK}x{NIQE_BLOCK} block; "
                            f"the image is {y.shape[0]}x{y.shape[1]} after the crop")
    y = y[: rows * NIQE_BLOCK, : cols * NIQE_BLOCK]
    half = imresize(y, scale=0.5)
    return np.concatenate([block_features(mscn(y), NIQE_BLOCK),
                           block_features(mscn(half), NIQE_BLOCK // 2)], axis=1)


def mvg_distance(features: np.ndarray) -> tuple[float, int]:
    """NIQE's distance between the block features' Gaussian and the pristine one.

    Args:
        features: float (n_blocks, 36), NaN where a feature is undefined.

    Returns:
        ``(score, used_blocks)``; raises :class:`NiqeSizeError` when fewer
        than 2 blocks have all features defined.
    """
    ok = ~np.isnan(features).any(axis=1)
    used = int(ok.sum())
    if used < NIQE_HARD_MIN_BLOCKS:
        raise NiqeSizeError(f"NIQE: only {used} of {len(features)} blocks have defined features "
                            "(flat blocks have none); need at least 2 for the covariance")
    mu_p, cov_p = pristine_model()
    mu = np.nanmean(features, axis=0)  # every column has >= 2 defined values here
    cov = np.cov(features[ok], rowvar=False)
    d = mu_p - mu
    return float(np.sqrt(d @ np.linalg.pinv((cov_p + cov) / 2.0) @ d)), used


def niqe(img: np.ndarray | torch.Tensor, crop_border: int = 0, min_blocks: int = NIQE_MIN_BLOCKS) -> NiqeResult:
    """NIQE of one image (see the module docstring); lower is better.

    Args:
        img: numpy (H, W, 3) RGB / (H, W) grey or torch (3, H, W) / (1, H, W),
            uint8 in [0, 255] or float in [0, 1]. Round float outputs to 8
            bits first to score what a reader would see.
        crop_border: pixels dropped from every border first.
        min_blocks: refuse images with fewer 96x96 blocks than this (>= 2).

    Returns:
        :class:`NiqeResult` (``float(result)`` is the score).

    Raises:
        NiqeSizeError: fewer than ``min_blocks`` blocks, or fewer than 2 with
            defined features (e.g. a flat image).
    """
    if min_blocks < NIQE_HARD_MIN_BLOCKS:
        raise DataError(f"min_blocks must be >= {NIQE_HARD_MIN_BLOCKS} (a covariance needs 2 samples), "
                        f"got {min_blocks}")
    shape = tuple(img.shape[:2]) if isinstance(img, np.ndarray) else tuple(img.shape[-2:])
    blocks = niqe_blocks(shape[0], shape[1], crop_border)
    if blocks < min_blocks:
        raise NiqeSizeError(f"NIQE needs >= {min_blocks} blocks of {NIQE_BLOCK}x{NIQE_BLOCK}; a {shape[0]}x{shape[1]} "
                            f"image (crop {crop_border}) gives {blocks}")
    score, used = mvg_distance(niqe_features(img, crop_border))
    return NiqeResult(score, blocks, used)


__all__ = ["AggdFit", "NIQE_MIN_BLOCKS", "NiqeResult", "NiqeSizeError", "block_features", "fit_aggd", "mscn",
           "mvg_distance", "niqe", "niqe_blocks", "niqe_features", "niqe_luma", "niqe_window", "pristine_model",
           "shape_grid"]
