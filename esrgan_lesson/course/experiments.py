"""Building blocks for the architecture chapters' experiments (batch norm, RRDB).

- :class:`PlainResNet` (from :mod:`esrgan_lesson.models.plain`): a plain
  residual network with RRDBNet's head and upsampler, so that a comparison
  with RRDBNet changes only the blocks.
- :func:`blocks_for_params`: the block count that brings a network closest to a
  parameter budget (to compare networks "of similar size").
- :func:`lr_hr_pairs`: held-out evaluation pairs made with MATLAB bicubic.
- :data:`SHIFTS` / :func:`shift_image`: test images whose statistics differ
  from the training images (dark, flat, high-contrast).
- :func:`gains_vs_bicubic`: Y-PSNR gain over bicubic per image.
- :func:`companion_psnr`: PSNR of one image's *train-mode* output next to
  different batch companions (what batch norm does to a single image).
- :func:`loss_summary`: first/max/last loss and NaN count of a training curve.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import math

import numpy as np
import torch
from torch import nn

from esrgan_lesson.data.pairs import make_pairs
from esrgan_lesson.imageio import quantize
from esrgan_lesson.metrics import score_image
from esrgan_lesson.models.params import count_params as _count_params
from esrgan_lesson.models.plain import PlainResBlock, PlainResNet
from esrgan_lesson.training.evaluation import evaluate_generator


def count_params(model: nn.Module) -> int:
    """Number of parameters of ``model`` (:func:`esrgan_lesson.models.count_params`)."""
    return _count_params(model)


def blocks_for_params(build: Callable[[int], nn.Module], target: int, max_blocks: int = 256) -> int:
    """The block count ``n`` in [1, max_blocks] whose ``build(n)`` has the parameter count closest to ``target``.

    ``build`` maps a block count to a network; parameter counts must grow with ``n``
    (the search stops once they pass ``target``).
    """
    if target < 1:
        raise ValueError(f"target must be positive, got {target}")
    best, best_gap = 1, None
    for n in range(1, max_blocks + 1):
        params = count_params(build(n))
        gap = abs(params - target)
        if best_gap is None or gap < best_gap:
            best, best_gap = n, gap
        if params > target:
            break
    return best


def lr_hr_pairs(images: Mapping[str, np.ndarray], scale: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Evaluation pairs ``(name, lr, hr)`` from (H, W, 3) float images in [0, 1].

    HR is rounded to 8-bit levels, then :func:`esrgan_lesson.data.make_pairs`
    (the one pair maker): HR mod-cropped to ``scale``, LR its MATLAB bicubic
    downscale, clipped and rounded to 8 bits as an LR PNG would be.
    Tensors are float32 (3, h, w) / (3, h*scale, w*scale) in [0, 1].
    """
    return make_pairs({name: quantize(np.asarray(img, dtype=np.float32)) for name, img in images.items()}, scale)


#: Test-time intensity changes that move an image's statistics away from the
#: training photos': each maps an (H, W, 3) array in [0, 1] to one in [0, 1].
SHIFTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "original": lambda x: x,
    "dark": lambda x: 0.2 * x,                                 # a fifth of the brightness
    "flat": lambda x: 0.6 + 0.15 * x,                          # bright, low contrast
    "contrast": lambda x: np.clip(2.0 * (x - 0.5) + 0.5, 0, 1),  # contrast doubled, clipped
}


def shift_image(img: np.ndarray, kind: str) -> np.ndarray:
    """Apply the :data:`SHIFTS` entry ``kind`` to an (H, W, 3) image in [0, 1]."""
    if kind not in SHIFTS:
        raise ValueError(f"unknown shift {kind!r}; choose from {', '.join(SHIFTS)}")
    return np.ascontiguousarray(SHIFTS[kind](np.asarray(img, dtype=np.float32)).astype(np.float32))


def gains_vs_bicubic(model: nn.Module, pairs: Iterable[tuple[str, torch.Tensor, torch.Tensor]], scale: int,
                     device: torch.device | str = "cpu") -> dict[str, float]:
    """Y-PSNR of ``model`` minus Y-PSNR of MATLAB bicubic, in dB, per image (eval mode, crop = scale)."""
    report = evaluate_generator(model, pairs, scale, device)
    return {s.model.name: s.gain_db for s in report.images}


@torch.no_grad()
def companion_psnr(model: nn.Module, lr: torch.Tensor, hr: torch.Tensor, companions: torch.Tensor | None,
                   scale: int) -> float:
    """Y-PSNR (crop = scale) of ``lr``'s *train-mode* output when batched with ``companions``.

    Scored as validation scores an eval-mode output (:func:`esrgan_lesson.metrics.score_image`:
    the output rounded to 8 bits), so the two are comparable.

    In train mode a BN layer normalises with the statistics of the whole batch,
    so the same image comes out differently next to different companions. BN
    running statistics and the model's mode are restored afterwards.

    Args:
        lr: (3, h, w) in [0, 1]; hr: (3, h*scale, w*scale) in [0, 1].
        companions: (K, 3, h, w) in [0, 1], or ``None`` for the image alone.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
             for m in bns if m.running_mean is not None]
    was_training = model.training
    try:
        model.train()
        batch = lr.unsqueeze(0) if companions is None else torch.cat([lr.unsqueeze(0), companions])
        dev = next(model.parameters()).device
        out = model(batch.to(dev))[0].clamp(0, 1).float().cpu()
    finally:
        for m, (mean, var, count) in zip([m for m in bns if m.running_mean is not None], saved):
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            m.num_batches_tracked.copy_(count)
        model.train(was_training)
    return score_image(out, hr, scale).psnr


@dataclass(frozen=True)
class LossSummary:
    """Shape of an early training curve.

    Attributes:
        first: the first logged loss; max: the largest finite logged loss
        (``inf`` if none is finite); last: the last logged loss;
        non_finite: how many logged losses are NaN or infinite.
    """

    first: float
    max: float
    last: float
    non_finite: int


def loss_summary(losses: Sequence[float]) -> LossSummary:
    """Summarise a logged loss curve (see :class:`LossSummary`)."""
    if not losses:
        raise ValueError("no losses to summarise")
    finite = [v for v in losses if math.isfinite(v)]
    return LossSummary(first=float(losses[0]), max=max(finite) if finite else math.inf,
                       last=float(losses[-1]), non_finite=len(losses) - len(finite))


def center_crops(pairs: Sequence[tuple[str, torch.Tensor, torch.Tensor]], lr_size: int,
                 scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack the central ``lr_size`` x ``lr_size`` LR crop of every pair with its HR crop.

    Returns ``(lr, hr)`` shaped (N, 3, lr_size, lr_size) and
    (N, 3, lr_size*scale, lr_size*scale), values in [0, 1].
    """
    lrs, hrs = [], []
    for name, lr, hr in pairs:
        h, w = lr.shape[-2:]
        if min(h, w) < lr_size:
            raise ValueError(f"{name}: LR image {h}x{w} is smaller than the crop {lr_size}")
        y, x = (h - lr_size) // 2, (w - lr_size) // 2
        lrs.append(lr[:, y:y + lr_size, x:x + lr_size])
        hrs.append(hr[:, y * scale:(y + lr_size) * scale, x * scale:(x + lr_size) * scale])
    return torch.stack(lrs), torch.stack(hrs)
