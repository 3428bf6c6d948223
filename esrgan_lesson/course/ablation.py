"""Ablations on trained course checkpoints: detail scores per model, and a verdict against the seed spread.

A chapter compares two *arms* (e.g. standard GAN and RaGAN fine-tunes), each
trained with several seeds. :func:`model_detail` scores one model on the
held-out pairs; :func:`seed_verdict` compares the arms' per-seed scores with
the rule the chapters pre-register: the effect ``mean(b) - mean(a)`` counts
only when it exceeds twice the larger of the two arms' seed standard
deviations.
"""
from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from esrgan_lesson.course.explorer.sweep import FLAT_FRACTION, FLAT_WINDOW, flat_mask
from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.inference import upscale
from esrgan_lesson.metrics import gradient_energy, niqe
from esrgan_lesson.metrics.scores import score_image, scored_output

#: How many standard deviations of the seed spread an effect must exceed (the chapters' rule).
SPREAD_FACTOR = 2.0
#: The metrics :func:`output_detail` returns, with what each means.
DETAIL_METRICS = {
    "texture": "gradient energy in the HR's most textured 30% of pixels / the HR's there",
    "edges": "whole-image gradient energy / the HR's",
    "flat": "gradient energy in the HR's flattest 30% of pixels (absolute: the HR's can be 0 there)",
    "psnr": "Y-PSNR in dB (crop = scale)",
    "brightness": "|mean over R, G, B of mean(SR_c) - mean(HR_c)| in grey levels (ImageScores.brightness_shift)",
    "colour": "mean over R, G, B of |shift_c - brightness shift| in grey levels (ImageScores.colour_cast)",
}


def region_masks(hr: torch.Tensor, window: int = FLAT_WINDOW, fraction: float = FLAT_FRACTION
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(textured, flat)`` boolean (H, W) masks of a ground truth (3, H, W) in [0, 1].

    ``flat``: the ``fraction`` of pixels with the lowest local HR gradient
    energy (``window`` x ``window`` mean), as in chapter 6; ``textured``: the
    same share with the highest.
    """
    return ~flat_mask(hr, window, 1.0 - fraction), flat_mask(hr, window, fraction)


def output_detail(sr: torch.Tensor, hr: torch.Tensor, scale: int) -> dict[str, float]:
    """:data:`DETAIL_METRICS` of one output ``sr`` (3, H, W) against ``hr`` (3, H, W), both in [0, 1].

    ``sr`` is rounded to 8 bits first (the output a reader sees).
    """
    if tuple(sr.shape) != tuple(hr.shape) or sr.ndim != 3:
        raise ESRGANError(f"SR {tuple(sr.shape)} and HR {tuple(hr.shape)} must be equal (3, H, W) shapes")
    scores = score_image(sr, hr, scale)  # the package's one score record (rounds sr to 8 bits)
    sr, hr = scored_output(sr), hr.detach().float().cpu()
    textured, flat = region_masks(hr)
    return {
        "texture": gradient_energy(sr, mask=textured) / gradient_energy(hr, mask=textured),
        "edges": scores.grad_ratio,
        "flat": gradient_energy(sr, mask=flat),
        "psnr": scores.psnr,
        "brightness": abs(scores.brightness_shift),
        "colour": scores.colour_cast,
    }


def model_detail(model: nn.Module, pairs: Iterable[tuple[str, torch.Tensor, torch.Tensor]], scale: int,
                 niqe_names: Sequence[str] = (), device: torch.device | str = "cpu") -> dict[str, float]:
    """Means of :func:`output_detail` over ``(name, lr (3,h,w), hr (3,H,W))`` pairs, plus ``"niqe"``.

    ``"niqe"`` is the mean NIQE (crop = scale) of the outputs of the images
    named in ``niqe_names`` (each must be in ``pairs``); absent when empty.
    """
    rows, niqes, seen = [], [], set()
    for name, lr, hr in pairs:
        sr = upscale(model, lr.float(), device=device)
        rows.append(output_detail(sr, hr, scale))
        if name in niqe_names:
            niqes.append(float(niqe(scored_output(sr), crop_border=scale)))
            seen.add(name)
    if not rows:
        raise ESRGANError("no evaluation pairs")
    missing = set(niqe_names) - seen
    if missing:
        raise ESRGANError(f"NIQE images {sorted(missing)} are not among the pairs")
    out = {k: statistics.fmean(r[k] for r in rows) for k in rows[0]}
    if niqes:
        out["niqe"] = statistics.fmean(niqes)
    return out


@dataclass(frozen=True)
class Verdict:
    """Arm ``b`` against arm ``a`` on one metric, over seeds.

    ``sd_*``: sample standard deviations over the seeds; ``bar`` =
    :data:`SPREAD_FACTOR` x the larger one; ``outcome``: ``"holds"`` (``delta``
    has the predicted sign and ``|delta| > bar``), ``"reversed"`` (the other
    sign, beyond the bar) or ``"no clear difference"``.
    """

    mean_a: float
    sd_a: float
    mean_b: float
    sd_b: float
    delta: float
    bar: float
    outcome: str


def seed_verdict(a: Sequence[float], b: Sequence[float], predicted_sign: int) -> Verdict:
    """Judge ``delta = mean(b) - mean(a)`` against the seed spread; ``predicted_sign`` is +1 or -1."""
    if predicted_sign not in (1, -1):
        raise ESRGANError(f"predicted_sign must be +1 or -1, got {predicted_sign}")
    if len(a) < 2 or len(b) < 2:
        raise ESRGANError(f"each arm needs at least 2 seeds for a spread, got {len(a)} and {len(b)}")
    mean_a, mean_b = statistics.fmean(a), statistics.fmean(b)
    sd_a, sd_b = statistics.stdev(a), statistics.stdev(b)
    delta, bar = mean_b - mean_a, SPREAD_FACTOR * max(sd_a, sd_b)
    if abs(delta) > bar:
        outcome = "holds" if delta * predicted_sign > 0 else "reversed"
    else:
        outcome = "no clear difference"
    return Verdict(mean_a, sd_a, mean_b, sd_b, delta, bar, outcome)


__all__ = ["DETAIL_METRICS", "SPREAD_FACTOR", "Verdict", "model_detail", "output_detail", "region_masks",
           "seed_verdict"]
