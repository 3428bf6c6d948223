"""Chapter helpers for the full-size pretrained generator: a held-out photo, outputs side by side, detail scores.

The offline full-size model is the catalogue's ``realesrgan-x4plus``
(:mod:`esrgan_lesson.weights.catalogue`): Real-ESRGAN's retraining of the
ESRGAN generator (Wang et al., ICCVW 2021), *not* the paper's model. These
helpers score it, bicubic and the lesson models on one footing:

* the LR input is the clean degradation ESRGAN trains on: MATLAB bicubic
  x1/4 of an 8-bit HR image, rounded to 8 bits (``data.pairs.downscale_lr``);
* every network output comes from the package's one ``inference.upscale``;
* :func:`detail_scores` gives the package's one score record
  (:func:`esrgan_lesson.metrics.score_image`: Y-PSNR of the 8-bit output,
  ``scale`` border crop, gradient energy relative to the ground truth over the
  whole image), NIQE where the output is large enough, and the gradient energy
  ratio in the truth's flat regions and its textured regions (the masks of
  :func:`esrgan_lesson.course.explorer.flat_mask`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from esrgan_lesson.errors import DataError
from esrgan_lesson.course.explorer import flat_mask, masked_gradient_energy
from esrgan_lesson.imageio import read_image, to_uint
from esrgan_lesson.inference import upscale
from esrgan_lesson.metrics import ImageScores, NiqeSizeError, niqe, niqe_blocks, score_image, scored_output
from esrgan_lesson.course.sr_problem import upscale_bicubic
from esrgan_lesson.data.pairs import downscale_lr
from esrgan_lesson.imageio import quantize

#: A photo that is in no part of the demo set: matplotlib's sample image of Grace Hopper
#: (a U.S. Navy portrait, public domain), 512 x 600.
HELD_OUT_PHOTO = "grace_hopper.jpg"
#: Share of the HR image counted as flat, and as textured (the other end of the same ranking).
FLAT_FRACTION, TEXTURED_FRACTION = 0.25, 0.25


def held_out_photo(top: int = 0, left: int = 0, side: int | None = None) -> np.ndarray:
    """The held-out photo as an (H, W, 3) float32 array on the 8-bit grid, optionally a square crop."""
    import matplotlib.cbook

    path = Path(matplotlib.cbook.get_sample_data(HELD_OUT_PHOTO, asfileobj=False))
    img = read_image(path).rgb
    if side is not None:
        if top + side > img.shape[0] or left + side > img.shape[1]:
            raise DataError(f"crop {side}px at ({top}, {left}) leaves the {img.shape[1]}x{img.shape[0]} photo")
        img = img[top:top + side, left:left + side]
    return quantize(img)


def clean_lr(hr: np.ndarray, scale: int = 4) -> np.ndarray:
    """The degradation ESRGAN trains on: MATLAB bicubic 1/``scale``, rounded to 8 bits.

    :func:`esrgan_lesson.data.downscale_lr`, the LR of the one pair maker; ``hr``
    (H, W, 3) float in [0, 1] with sides multiples of ``scale``.
    """
    return downscale_lr(np.asarray(hr, dtype=np.float32), scale)


def super_resolve(models: dict[str, nn.Module | None], lr: np.ndarray, scale: int = 4,
                  tile: int | None = None) -> dict[str, np.ndarray]:
    """``{name: 8-bit output}``; a ``None`` model means MATLAB bicubic."""
    out = {}
    for name, model in models.items():
        if model is None:
            out[name] = upscale_bicubic(lr, scale)
        else:
            with torch.no_grad():
                out[name] = quantize(upscale(model, lr, tile=tile))
    return out


@dataclass(frozen=True)
class DetailScores:
    """One output against its ground truth: the package's score record plus NIQE and regional detail.

    ``scores``: :func:`esrgan_lesson.metrics.score_image` (8-bit output,
    ``scale`` border crop), e.g. ``scores.psnr`` (Y-PSNR, dB) and
    ``scores.grad_ratio`` (gradient energy over the whole image relative to the
    HR image's).
    ``niqe`` (lower = more natural) and the number of 96x96 blocks it used, or
    ``None`` when the output is too small; gradient energies relative to the
    HR image's (1 = as much local contrast as the truth): ``flat_ratio`` where
    the truth is flat, ``textured_ratio`` where it is most textured.
    """

    scores: ImageScores
    niqe: float | None
    niqe_blocks: int
    flat_ratio: float
    textured_ratio: float


def _chw(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1).double()


def detail_scores(sr: np.ndarray, hr: np.ndarray, scale: int = 4) -> DetailScores:
    """Score an (H, W, 3) output in [0, 1] against ``hr`` of the same shape (``sr`` rounded to 8 bits)."""
    if sr.shape != hr.shape:
        raise DataError(f"output {sr.shape} and ground truth {hr.shape} differ in shape")
    s, h = scored_output(sr), _chw(hr)
    flat = flat_mask(h, fraction=FLAT_FRACTION)
    textured = ~flat_mask(h, fraction=1.0 - TEXTURED_FRACTION)
    ratio = lambda m: masked_gradient_energy(s, m) / masked_gradient_energy(h, m)  # noqa: E731
    blocks = niqe_blocks(*sr.shape[:2])
    try:
        score: float | None = float(niqe(to_uint(sr, 8)))
    except NiqeSizeError:
        score = None
    return DetailScores(score_image(sr, hr, scale), score, blocks, ratio(flat), ratio(textured))


def format_scores(scores: dict[str, DetailScores]) -> str:
    """A text table of :func:`detail_scores` results, rounded for stable notebook output."""
    w = max(len("method"), *(len(n) for n in scores))
    lines = [f"{'method':{w}s} {'Y-PSNR dB':>9s} {'NIQE':>6s} {'blocks':>6s} {'grad':>6s} {'flat':>6s} {'textured':>8s}"]
    for name, sc in scores.items():
        nq = f"{sc.niqe:6.2f}" if sc.niqe is not None else f"{'n/a':>6s}"
        lines.append(f"{name:{w}s} {sc.scores.psnr:9.2f} {nq} {sc.niqe_blocks:6d} {sc.scores.grad_ratio:6.2f} "
                     f"{sc.flat_ratio:6.2f} {sc.textured_ratio:8.2f}")
    return "\n".join(lines)
