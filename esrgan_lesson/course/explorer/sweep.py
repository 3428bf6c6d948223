"""Measuring an alpha sweep: Y-PSNR, sharpness, and noise in the flat regions of the ground truth.

Each output is scored by the package's one score function,
:func:`esrgan_lesson.metrics.score_image`, with the flat-region energy added.

Also why the two endpoints must be relatives (:func:`weight_distance`,
:func:`permute_upsampler_channels`). Images are (3, H, W) tensors in [0, 1].
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from esrgan_lesson.course.explorer.frames import (
    DEFAULT_ALPHAS,
    MODES,
    InterpolatedGenerator,
    Mode,
    check_alphas,
)
from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.metrics import ImageScores, gradient_energy, gradient_energy_map, score_image, scored_output
from esrgan_lesson.weights import interpolate_images, interpolate_state_dicts

#: Side (HR pixels) of the box over which :func:`flat_mask` averages the local gradient energy.
FLAT_WINDOW = 9
#: :func:`flat_mask` keeps the pixels whose local gradient energy is in this lowest fraction.
FLAT_FRACTION = 0.3


# --------------------------------------------------------------------------- #
# Why the two endpoints must be relatives
# --------------------------------------------------------------------------- #
def weight_distance(a: nn.Module, b: nn.Module) -> float:
    """Relative distance ``||theta_b - theta_a|| / ||theta_a||`` over all floating-point weights.

    Small when ``b`` was fine-tuned from ``a`` (as ESRGAN's GAN model is from
    its PSNR model); the two must have the same keys and shapes.
    """
    sa, sb = a.state_dict(), b.state_dict()
    interpolate_state_dicts(sa, sb, 0.0)  # same keys and shapes, or a CheckpointError naming them
    num = sum(float((sb[k].double() - sa[k].double()).pow(2).sum()) for k in sa if sa[k].is_floating_point())
    den = sum(float(sa[k].double().pow(2).sum()) for k in sa if sa[k].is_floating_point())
    return (num / den) ** 0.5 if den > 0 else float("inf")


@torch.no_grad()
def permute_upsampler_channels(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy of an RRDBNet whose upsampler's hidden channels are shuffled.

    The output channels of ``conv_up1``, ``conv_up2``, ... and ``conv_hr`` are
    permuted, and the input channels of the conv after each are permuted the
    same way. LeakyReLU and nearest-neighbour upsampling act on each channel
    alone, so the copy computes *exactly the same function* -- yet its weights
    sit elsewhere, and interpolating it with the original breaks the output.
    """
    names = [f"conv_up{i}" for i in range(1, 4) if hasattr(model, f"conv_up{i}")] + ["conv_hr", "conv_last"]
    try:
        for name in names:
            getattr(model, name)
    except AttributeError as exc:
        raise ESRGANError(f"not an RRDBNet (needs conv_up*/conv_hr/conv_last): {exc}") from None
    out = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    for this, nxt in zip(names, names[1:]):
        a, b = getattr(out, this), getattr(out, nxt)
        perm = torch.randperm(a.out_channels, generator=gen).to(a.weight.device)
        a.weight.copy_(a.weight[perm])
        if a.bias is not None:
            a.bias.copy_(a.bias[perm])
        b.weight.copy_(b.weight[:, perm])
    return out


# --------------------------------------------------------------------------- #
# Measuring an alpha sweep (fidelity, sharpness, noise in flat regions)
# --------------------------------------------------------------------------- #
def _chw(img: torch.Tensor) -> torch.Tensor:
    """One image (3, H, W) on the CPU (a (1, 3, H, W) batch is unwrapped), or a one-line error."""
    if img.ndim == 4 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 3 or img.shape[0] != 3:
        raise ESRGANError(f"expected an image tensor (3, H, W), got {tuple(img.shape)}")
    return img.detach().cpu()


def flat_mask(hr: torch.Tensor, window: int = FLAT_WINDOW, fraction: float = FLAT_FRACTION) -> torch.Tensor:
    """Boolean (H, W) mask of the *flat* regions of a ground-truth image (3, H, W) in [0, 1].

    A pixel is flat when the gradient energy of the HR luma, averaged over a
    ``window`` x ``window`` box around it, is among the lowest ``fraction`` of
    the image. There the true image has (almost) no detail, so detail that a
    model adds there is noise or artefact, not recovered texture.
    """
    if window < 1 or window % 2 == 0:
        raise ESRGANError(f"window must be a positive odd number, got {window}")
    if not 0 < fraction < 1:
        raise ESRGANError(f"fraction must be in (0, 1), got {fraction}")
    energy = gradient_energy_map(_chw(hr))
    local = F.avg_pool2d(F.pad(energy[None, None], (window // 2,) * 4, mode="replicate"), window, stride=1)[0, 0]
    return local <= torch.quantile(local.flatten().float(), fraction).double()


def masked_gradient_energy(img: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean |grad Y|^2 of ``img`` (3, H, W) over the pixels where ``mask`` (H, W) is True.

    :func:`esrgan_lesson.metrics.gradient_energy` with a mask: the differences
    that start inside the region (an all-True mask gives the unmasked value).
    """
    img = _chw(img)
    if tuple(mask.shape) != tuple(img.shape[-2:]):
        raise ESRGANError(f"mask {tuple(mask.shape)} does not match the image {tuple(img.shape[-2:])}")
    if not bool(mask.any()):
        raise ESRGANError("the mask selects no pixels")
    return gradient_energy(img, mask=mask)


@dataclass(frozen=True)
class SweepPoint:
    """One SR output at one alpha (one image, one interpolation mode).

    ``scores``: the package's one score record of the output
    (:func:`esrgan_lesson.metrics.score_image`: 8-bit output, Y-PSNR with
    ``scale`` border pixels cropped, the sharpness figures of the whole
    output); ``flat_energy``: mean |grad Y|^2 of the same 8-bit output inside
    the HR image's flat regions (:func:`flat_mask`). The image's name is
    ``scores.name``, its Y-PSNR (dB) ``scores.psnr``; :meth:`value` reads any
    figure by name.
    """

    mode: str
    alpha: float
    scores: ImageScores
    flat_energy: float

    def value(self, key: str) -> float:
        """``key`` of this point: ``alpha``, ``flat_energy``, ``psnr_y`` (``scores.psnr``, dB) or a
        numeric :class:`ImageScores` field."""
        if key in ("alpha", "flat_energy"):
            return float(getattr(self, key))
        if key == "psnr_y":
            return float(self.scores.psnr)
        if key not in ImageScores.__dataclass_fields__ or key in ("name", "colour_shift"):
            raise ESRGANError(f"a sweep point has no figure {key!r}")
        return float(getattr(self.scores, key))


def score_output(name: str, mode: str, alpha: float, sr: torch.Tensor, hr: torch.Tensor, scale: int,
                 mask: torch.Tensor | None = None) -> SweepPoint:
    """Score one SR output (3, H, W) against ``hr`` (3, H, W), both in [0, 1].

    :func:`esrgan_lesson.metrics.score_image` (``sr`` rounded to 8 bits), plus
    the gradient energy of the rounded output inside ``mask`` (default: :func:`flat_mask` of ``hr``).
    """
    if tuple(sr.shape) != tuple(hr.shape):
        raise ESRGANError(f"SR output {tuple(sr.shape)} and HR {tuple(hr.shape)} differ in shape")
    mask = flat_mask(hr) if mask is None else mask
    return SweepPoint(mode=mode, alpha=float(alpha), scores=score_image(sr, hr, scale, name),
                      flat_energy=masked_gradient_energy(scored_output(sr), mask))


def sweep(psnr_model: nn.Module, gan_model: nn.Module,
          pairs: Iterable[tuple[str, torch.Tensor, torch.Tensor]],
          alphas: Iterable[float] = DEFAULT_ALPHAS, modes: Sequence[Mode] = MODES) -> list[SweepPoint]:
    """Score network and image interpolation at every alpha on ``(name, lr, hr)`` pairs.

    ``lr`` (3, h, w) and ``hr`` (3, h*s, w*s) in [0, 1], s = ``psnr_model.scale``.
    Returns one :class:`SweepPoint` per (image, mode, alpha), in that order.
    """
    alphas = check_alphas(alphas)
    scale = int(getattr(psnr_model, "scale", 1) or 1)
    gen = InterpolatedGenerator(psnr_model, gan_model)
    points: list[SweepPoint] = []
    for name, lr, hr in pairs:
        hr = hr.detach().float().cpu()
        mask = flat_mask(hr)
        ends = (gen(lr, 0.0), gen(lr, 1.0))
        for mode in modes:
            if mode not in MODES:
                raise ESRGANError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
            for a in alphas:
                sr = gen(lr, a) if mode == "network" else interpolate_images(ends[0], ends[1], a)
                points.append(score_output(name, mode, a, sr, hr, scale, mask))
    return points


def mean_curve(points: Sequence[SweepPoint], mode: str, key: str) -> dict[float, float]:
    """``{alpha: mean of key over images}`` for one mode (``key``: see :meth:`SweepPoint.value`)."""
    sums: dict[float, list[float]] = {}
    for p in points:
        if p.mode == mode:
            sums.setdefault(p.alpha, []).append(p.value(key))
    if not sums:
        raise ESRGANError(f"no sweep points for mode {mode!r}")
    return {a: sum(v) / len(v) for a, v in sorted(sums.items())}
