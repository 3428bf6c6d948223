"""The super-resolution problem: degradations, baselines, metric conventions, ambiguity.

Helpers for chapter 1 of the course. Images are numpy arrays shaped (H, W, 3)
(or (H, W) for one channel), float in [0, 1], unless a docstring says otherwise.

* :func:`downscale` makes a low-resolution (LR) image with one of several
  "bicubic" resizers (MATLAB's, PIL's, torch's, OpenCV's), which do not agree;
* :func:`degrade` is the general degradation model ``y = (x * k) downsampled + n``
  with a Gaussian blur ``k`` and Gaussian noise ``n``;
* :func:`upscale_bicubic` is the bicubic baseline (MATLAB ``imresize`` upwards);
* :class:`LinearSR` / :func:`fit_linear_sr` is a tiny learned super-resolver
  (one linear filter per output sub-pixel, fitted by least squares), used to
  show what a kernel mismatch between training and test costs a learned model;
* :func:`metric_conventions` computes PSNR under the four RGB/Y x crop/no-crop
  conventions that papers and repositories mix up;
* :func:`resize_matrix`, :func:`project_to_lr` and :func:`lr_consistent_candidates`
  build many high-resolution images that all downscale to *exactly* the same LR
  image, to show why the pixel-wise (MSE-optimal) answer is blurry.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from esrgan_lesson.errors import DataError
from esrgan_lesson.imageio import quantize
from esrgan_lesson.data.imresize import imresize, resize_weights
from esrgan_lesson.data.pairs import downscale_lr
from esrgan_lesson.metrics import plane_gradient_energy, psnr

#: The resizers :func:`downscale` knows. "matlab" is the one SR benchmarks use
#: (ESRGAN Sec. 4.1: LR images are made with MATLAB's bicubic kernel).
DownscaleMethod = Literal["matlab", "pil", "torch", "opencv"]
DOWNSCALE_METHODS: tuple[str, ...] = ("matlab", "pil", "torch", "opencv")


def _check_image(img: np.ndarray, name: str = "image") -> np.ndarray:
    arr = np.asarray(img)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise DataError(f"{name}: expected (H, W) or (H, W, 3), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.floating):
        raise DataError(f"{name}: expected float values in [0, 1], got dtype {arr.dtype}")
    return arr


def _check_scale(hr: np.ndarray, scale: int) -> None:
    if int(scale) != scale or scale < 1:
        raise DataError(f"scale must be a positive integer, got {scale}")
    h, w = hr.shape[:2]
    if h % scale or w % scale:
        raise DataError(f"HR size {h}x{w} is not divisible by the scale {scale}; mod-crop it first")


def downscale(hr: np.ndarray, scale: int, method: str = "matlab", quantized: bool = True) -> np.ndarray:
    """Shrink ``hr`` by the integer ``scale`` with one library's "bicubic" resize.

    Args:
        hr: (H, W, 3) or (H, W) float in [0, 1]; H and W divisible by ``scale``.
        scale: integer factor, e.g. 4.
        method: ``"matlab"`` (:func:`esrgan_lesson.data.imresize.imresize`: cubic
            a = -0.5, kernel widened by ``scale`` to antialias, symmetric borders),
            ``"pil"`` (Pillow ``Image.resize(..., BICUBIC)``, per channel on
            32-bit float images: a = -0.5, antialiased, but the border is not
            mirrored as in MATLAB),
            ``"torch"`` (``F.interpolate(mode="bicubic", antialias=False)``:
            a = -0.75, no antialiasing) or ``"opencv"`` (``cv2.resize`` with
            ``INTER_CUBIC``: a = -0.75, no antialiasing).
        quantized: round the result to 8 bits, as a stored LR PNG is.

    Returns:
        float32 array (H/scale, W/scale[, 3]) in [0, 1].
    """
    hr = _check_image(hr, "hr")
    _check_scale(hr, scale)
    h, w = hr.shape[0] // scale, hr.shape[1] // scale
    x = hr.astype(np.float32)
    if method == "matlab" and quantized:
        return downscale_lr(x, scale)  # the one pair maker's LR (rounded in float64)
    if method == "matlab":
        lr = imresize(x.astype(np.float64), scale=1.0 / scale)
    elif method == "pil":
        from PIL import Image

        chans = x[:, :, None] if x.ndim == 2 else x
        planes = [np.asarray(Image.fromarray(np.ascontiguousarray(chans[:, :, c]), mode="F")
                             .resize((w, h), Image.Resampling.BICUBIC)) for c in range(chans.shape[2])]
        lr = np.stack(planes, axis=2)
        lr = lr[:, :, 0] if x.ndim == 2 else lr
    elif method == "torch":
        t = torch.from_numpy(x[:, :, None] if x.ndim == 2 else x).permute(2, 0, 1)[None]
        out = F.interpolate(t, size=(h, w), mode="bicubic", align_corners=False, antialias=False)
        lr = out[0].permute(1, 2, 0).numpy()
        lr = lr[:, :, 0] if x.ndim == 2 else lr
    elif method == "opencv":
        import cv2

        lr = cv2.resize(x, (w, h), interpolation=cv2.INTER_CUBIC)
    else:
        raise DataError(f"unknown downscale method {method!r}; choose one of {', '.join(DOWNSCALE_METHODS)}")
    lr = np.clip(np.asarray(lr, dtype=np.float32), 0.0, 1.0)
    return quantize(lr) if quantized else lr


def upscale_bicubic(lr: np.ndarray, scale: int) -> np.ndarray:
    """The bicubic baseline: MATLAB ``imresize(lr, scale)``, clipped and rounded to 8 bits.

    (h, w[, 3]) float in [0, 1] -> (h*scale, w*scale[, 3]) float32 in [0, 1].
    """
    lr = _check_image(lr, "lr")
    return quantize(imresize(lr.astype(np.float64), scale=float(scale)))


def gaussian_kernel(size: int, sigma: float) -> np.ndarray:
    """Isotropic Gaussian blur kernel, float64 (size, size), summing to 1 (``size`` odd)."""
    if size < 1 or size % 2 == 0:
        raise DataError(f"kernel size must be a positive odd integer, got {size}")
    if not sigma > 0:
        raise DataError(f"kernel sigma must be positive, got {sigma}")
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(r**2) / (2.0 * sigma**2))
    k = np.outer(g, g)
    return k / k.sum()


def degrade(hr: np.ndarray, scale: int, kernel: np.ndarray, noise_sigma: float = 0.0,
            seed: int = 0, quantized: bool = True) -> np.ndarray:
    """The classical degradation model ``y = (x conv k) subsampled by s + n``.

    Args:
        hr: (H, W, 3) or (H, W) float in [0, 1], H and W divisible by ``scale``.
        scale: the subsampling factor ``s`` (keep every ``s``-th pixel, starting at
            ``s // 2`` so the samples sit near block centres).
        kernel: blur kernel ``k``, (k, k) with odd ``k``, e.g. :func:`gaussian_kernel`.
            Borders are reflected.
        noise_sigma: standard deviation of the additive Gaussian noise ``n``,
            in [0, 1] units (e.g. 5/255).
        seed: seed of the noise generator.
        quantized: round to 8 bits at the end.

    Returns:
        float32 (H/scale, W/scale[, 3]) in [0, 1].
    """
    hr = _check_image(hr, "hr")
    _check_scale(hr, scale)
    k = np.asarray(kernel, dtype=np.float64)
    if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] % 2 == 0:
        raise DataError(f"kernel must be square with an odd size, got shape {k.shape}")
    if noise_sigma < 0:
        raise DataError(f"noise_sigma must be >= 0, got {noise_sigma}")
    x = torch.from_numpy(np.ascontiguousarray(hr[:, :, None] if hr.ndim == 2 else hr)).double()
    x = x.permute(2, 0, 1)[:, None]  # (C, 1, H, W)
    pad = k.shape[0] // 2
    blurred = F.conv2d(F.pad(x, (pad, pad, pad, pad), mode="reflect"), torch.from_numpy(k)[None, None])
    start = scale // 2
    lr = blurred[:, 0, start::scale, start::scale].permute(1, 2, 0).numpy()
    if noise_sigma > 0:
        lr = lr + np.random.default_rng(seed).normal(0.0, noise_sigma, size=lr.shape)
    lr = lr[:, :, 0] if hr.ndim == 2 else lr
    lr = np.clip(lr, 0.0, 1.0).astype(np.float32)
    return quantize(lr) if quantized else lr


# --- metric conventions ----------------------------------------------------------


def metric_conventions(sr: np.ndarray, hr: np.ndarray, scale: int) -> dict[str, float]:
    """PSNR (dB) of ``sr`` against ``hr`` under the four common conventions.

    Keys: ``"RGB"``, ``"RGB, crop"``, ``"Y"``, ``"Y, crop"``, where "crop" drops
    ``scale`` pixels from each border and "Y" is MATLAB's BT.601 luma, the
    convention of SR papers (see :mod:`esrgan_lesson.metrics`). (H, W, 3) floats in [0, 1].
    """
    return {
        "RGB": psnr(sr, hr, crop_border=0, y_channel=False),
        "RGB, crop": psnr(sr, hr, crop_border=scale, y_channel=False),
        "Y": psnr(sr, hr, crop_border=0, y_channel=True),
        "Y, crop": psnr(sr, hr, crop_border=scale, y_channel=True),
    }


# --- a tiny learned super-resolver --------------------------------------------------


def _lr_patches(lr: np.ndarray, radius: int) -> np.ndarray:
    """(h, w) LR plane -> (h*w, (2r+1)^2 + 1) neighbourhoods (reflect-padded) plus a bias 1."""
    t = torch.from_numpy(np.ascontiguousarray(lr, dtype=np.float64))[None, None]
    t = F.pad(t, (radius, radius, radius, radius), mode="reflect")
    cols = F.unfold(t, kernel_size=2 * radius + 1)[0].T.numpy()  # (h*w, k*k)
    return np.concatenate([cols, np.ones((cols.shape[0], 1))], axis=1)


def _hr_blocks(hr: np.ndarray, scale: int) -> np.ndarray:
    """(H, W) HR plane -> (h*w, scale*scale): the HR block under each LR pixel."""
    h, w = hr.shape[0] // scale, hr.shape[1] // scale
    return hr.reshape(h, scale, w, scale).transpose(0, 2, 1, 3).reshape(h * w, scale * scale)


@dataclass(frozen=True)
class LinearSR:
    """A learned linear super-resolver: one (2r+1)x(2r+1) filter (plus bias) per HR sub-pixel.

    ``weights`` is float64 ((2r+1)^2 + 1, scale^2). Each LR pixel's neighbourhood
    predicts the ``scale x scale`` HR block under it; channels are treated alike.
    """

    weights: np.ndarray
    scale: int
    radius: int

    def __call__(self, lr: np.ndarray) -> np.ndarray:
        """(h, w[, 3]) float in [0, 1] -> (h*scale, w*scale[, 3]) float32, clipped and 8-bit rounded."""
        lr = _check_image(lr, "lr")
        chans = lr[:, :, None] if lr.ndim == 2 else lr
        h, w = chans.shape[:2]
        s = self.scale
        if min(h, w) <= self.radius:
            raise DataError(f"LR image {h}x{w} is too small for a filter of radius {self.radius}")
        planes = []
        for c in range(chans.shape[2]):
            blocks = _lr_patches(chans[:, :, c], self.radius) @ self.weights  # (h*w, s*s)
            planes.append(blocks.reshape(h, w, s, s).transpose(0, 2, 1, 3).reshape(h * s, w * s))
        out = np.stack(planes, axis=2)
        return quantize(out[:, :, 0] if lr.ndim == 2 else out)


def fit_linear_sr(hr_images: Sequence[np.ndarray], scale: int,
                  method: str | Callable[[np.ndarray], np.ndarray] = "matlab", radius: int = 3,
                  samples_per_image: int = 4000, ridge: float = 1e-3, seed: int = 0) -> LinearSR:
    """Fit :class:`LinearSR` by ridge-regularised least squares on pairs made with ``method``.

    Args:
        hr_images: training HR images, (H, W[, 3]) float in [0, 1]; they are
            mod-cropped to ``scale`` here, and every channel is a training plane.
        scale: integer SR factor.
        method: the degradation the model learns to invert: a :func:`downscale`
            method name, or a function mapping an HR image (H, W[, 3]) to its LR
            image (H/scale, W/scale[, 3]), e.g. a :func:`degrade` with fixed arguments.
        radius: filter radius in LR pixels (the filter is (2r+1) x (2r+1)).
        samples_per_image: LR pixels drawn at random from each plane.
        ridge: Tikhonov weight added to the normal equations' diagonal.
        seed: seed for the pixel sampling.
    """
    if not hr_images:
        raise DataError("fit_linear_sr needs at least one training image")
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for img in hr_images:
        img = _check_image(img, "hr")
        hh, ww = img.shape[0] - img.shape[0] % scale, img.shape[1] - img.shape[1] % scale
        hr = img[:hh, :ww]
        lr = downscale(hr, scale, method) if isinstance(method, str) else np.asarray(method(hr))
        if lr.shape[:2] != (hh // scale, ww // scale):
            raise DataError(f"the degradation returned shape {lr.shape} for an HR image of {hr.shape}")
        hr_c = hr[:, :, None] if hr.ndim == 2 else hr
        lr_c = lr[:, :, None] if lr.ndim == 2 else lr
        for c in range(hr_c.shape[2]):
            x = _lr_patches(lr_c[:, :, c], radius)
            y = _hr_blocks(hr_c[:, :, c].astype(np.float64), scale)
            pick = rng.choice(x.shape[0], size=min(samples_per_image, x.shape[0]), replace=False)
            xs.append(x[pick])
            ys.append(y[pick])
    x, y = np.concatenate(xs), np.concatenate(ys)
    gram = x.T @ x + ridge * np.eye(x.shape[1])
    weights = np.linalg.solve(gram, x.T @ y)
    return LinearSR(weights=weights, scale=int(scale), radius=int(radius))


# --- the ambiguity of super-resolution ------------------------------------------------


def resize_matrix(in_len: int, scale: int) -> np.ndarray:
    """MATLAB bicubic downscaling of one axis as a matrix, float64 (in_len // scale, in_len).

    ``resize_matrix(H, s) @ column`` equals ``imresize`` of that column by ``1/s``
    (the weights and symmetric border indices of :func:`esrgan_lesson.data.imresize.resize_weights`).
    """
    if in_len % scale:
        raise DataError(f"length {in_len} is not divisible by the scale {scale}")
    out_len = in_len // scale
    w, idx = resize_weights(in_len, out_len, 1.0 / scale, True)
    mat = np.zeros((out_len, in_len))
    rows = np.repeat(np.arange(out_len), w.shape[1])
    np.add.at(mat, (rows, idx.ravel()), w.ravel())
    return mat


def project_to_lr(x: np.ndarray, lr: np.ndarray, scale: int) -> np.ndarray:
    """The image nearest to ``x`` (in MSE) whose MATLAB-bicubic downscale is exactly ``lr``.

    With the separable downscaling ``D x = A x B^T`` this is ``x + D^+(lr - D x)``,
    ``D^+ y = A^+ y (B^+)^T``: ``x`` keeps everything the downscale cannot see and
    takes its visible part from ``lr``. Values are not clipped.

    Args:
        x: (..., H, W) float; ``lr``: (..., H/scale, W/scale) float, same leading shape.
    Returns:
        float64 (..., H, W).
    """
    x = np.asarray(x, dtype=np.float64)
    lr = np.asarray(lr, dtype=np.float64)
    h, w = x.shape[-2:]
    if lr.shape[-2:] != (h // scale, w // scale) or h % scale or w % scale:
        raise DataError(f"LR shape {lr.shape} does not match HR shape {x.shape} at scale {scale}")
    a, b = resize_matrix(h, scale), resize_matrix(w, scale)
    a_pinv, b_pinv = np.linalg.pinv(a), np.linalg.pinv(b)
    residual = lr - a @ x @ b.T
    return x + a_pinv @ residual @ b_pinv.T


def downscale_plane(x: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB-bicubic downscale of (..., H, W) planes by matrix products (no clipping), float64."""
    x = np.asarray(x, dtype=np.float64)
    a, b = resize_matrix(x.shape[-2], scale), resize_matrix(x.shape[-1], scale)
    return a @ x @ b.T


def random_crops(image: np.ndarray, size: int, count: int, seed: int = 0) -> np.ndarray:
    """``count`` random ``size x size`` crops of a (H, W) plane, float64 (count, size, size)."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise DataError(f"random_crops needs a (H, W) plane, got shape {image.shape}")
    h, w = image.shape
    if size > min(h, w):
        raise DataError(f"crop size {size} exceeds the image size {h}x{w}")
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, h - size + 1, size=count)
    xs = rng.integers(0, w - size + 1, size=count)
    return np.stack([image[y:y + size, x:x + size] for y, x in zip(ys, xs)])


def lr_consistent_candidates(textures: np.ndarray, lr: np.ndarray, scale: int) -> np.ndarray:
    """Plausible HR images for one LR image: each texture's detail, the LR's content.

    Every texture crop (count, H, W) is projected with :func:`project_to_lr`, so
    each candidate keeps the fine detail of its own crop but downscales to
    exactly ``lr`` (H/scale, W/scale). Returns float64 (count, H, W).
    """
    textures = np.asarray(textures, dtype=np.float64)
    if textures.ndim != 3:
        raise DataError(f"textures must be (count, H, W), got shape {textures.shape}")
    return project_to_lr(textures, np.broadcast_to(lr, (textures.shape[0], *np.shape(lr))), scale)


def gradient_energy(x: np.ndarray) -> np.ndarray:
    """Mean squared horizontal + vertical finite difference of (..., H, W) planes, float64 (...).

    A sharpness measure: fine detail and edges have large neighbour differences,
    blur removes them. The numpy face of
    :func:`esrgan_lesson.metrics.plane_gradient_energy` (the same sum).
    """
    return plane_gradient_energy(torch.from_numpy(np.asarray(x, dtype=np.float64))).numpy()


def pairwise_mse(x: np.ndarray) -> np.ndarray:
    """MSE between every pair of (count, H, W) planes, float64 (count, count), zero diagonal.

    Uses ``|a - b|^2 = |a|^2 + |b|^2 - 2 a.b`` (one matrix product), so memory
    grows with ``count^2``, not ``count^2 * H * W``.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 3:
        raise DataError(f"pairwise_mse needs (count, H, W), got shape {x.shape}")
    flat = x.reshape(x.shape[0], -1)
    sq = (flat**2).sum(axis=1)
    d = sq[:, None] + sq[None, :] - 2.0 * flat @ flat.T
    d = np.maximum(d, 0.0) / flat.shape[1]
    np.fill_diagonal(d, 0.0)
    return d


def mse(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean squared error over the last two axes (broadcasting), float64."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return (d**2).mean(axis=(-2, -1))


__all__ = [
    "DOWNSCALE_METHODS",
    "LinearSR",
    "degrade",
    "downscale",
    "downscale_plane",
    "fit_linear_sr",
    "gaussian_kernel",
    "gradient_energy",
    "lr_consistent_candidates",
    "metric_conventions",
    "mse",
    "pairwise_mse",
    "project_to_lr",
    "random_crops",
    "resize_matrix",
    "upscale_bicubic",
]
