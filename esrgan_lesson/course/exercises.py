"""Checkers for the chapters' "implement it yourself" exercises.

A learner writes a function; :func:`check_against` runs it and the package's
own function on the same inputs and says, in one line, whether they agree.
It never raises for a wrong or unfinished answer (a notebook cell that checks
an exercise should not stop the notebook): it returns ``False`` and says why.

Cases for the chapters' exercises: :func:`logit_cases` (the GAN losses,
chapter 4), :func:`sr_cases` (Y-PSNR, chapter 1), :func:`rdb_cases` (the
residual dense block, chapter 3), :func:`perceptual_cases` with its reference
:func:`perceptual_reference` (the perceptual loss before and after the
activation, chapter 5), :func:`schedule_cases` with its reference
:func:`scheduled_lr` (the learning-rate schedule, chapter 7),
:func:`batch_norm_cases` with its reference :func:`bn_train_forward`
(batch normalisation in training mode, chapter 2) and
:func:`interpolation_cases` with its reference :func:`interpolation_reference`
and the adapter :func:`flat_answer` (network interpolation of two state
dicts, chapter 6), and :func:`ssim_cases` (SSIM on Y, chapter 8, checked
against the package's :func:`esrgan_lesson.metrics.ssim` itself).
"""
from __future__ import annotations

import bisect
import copy
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from esrgan_lesson.course import texture
from esrgan_lesson.course.sr_problem import upscale_bicubic
from esrgan_lesson.data.demo import VAL_NAMES, demo_images
from esrgan_lesson.data.pairs import make_pairs
from esrgan_lesson.losses import PerceptualLoss
from esrgan_lesson.models.rrdbnet import ResidualDenseBlock, RRDBNet
from esrgan_lesson.models.srresnet import SRResNet
from esrgan_lesson.models.texture_vgg import FEATURE_LAYER, FEATURE_LAYER_POST
from esrgan_lesson.training.builders import build_scheduler
from esrgan_lesson.training.config import StageConfig, TrainConfig
from esrgan_lesson.weights.interpolation import interpolate_state_dicts


def _describe(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _float64(value: Any) -> torch.Tensor:
    """``value`` (tensor, NumPy array or number) as a float64 tensor; a Python float keeps its 53 bits (not float32's 24)."""
    if isinstance(value, torch.Tensor):
        return value.detach().double()
    return torch.as_tensor(value, dtype=torch.float64)


def check_against(answer: Callable[..., Any], reference: Callable[..., Any], cases: Iterable[Sequence[Any]],
                  atol: float = 1e-6, rtol: float = 1e-5) -> bool:
    """Compare ``answer(*case)`` with ``reference(*case)`` for every case; print one verdict line.

    Both must return tensors (or numbers) of the same shape; values must agree
    within ``atol + rtol * |reference|``. A function that raises, returns
    ``None`` (an unfinished stub), the wrong shape or the wrong values gives
    ``False`` with the first failing case; otherwise ``True``.
    """
    worst, n = 0.0, 0
    for n, case in enumerate(cases, start=1):
        expected = _float64(reference(*case))
        try:
            got = answer(*case)
        except Exception as exc:  # a learner's bug is reported, not raised
            print(f"✗ case {n}: your function raised {type(exc).__name__}: {exc}")
            return False
        if got is None:
            print("✗ not implemented yet: your function returned None")
            return False
        try:
            got_t = _float64(got)
        except (TypeError, ValueError, RuntimeError):
            print(f"✗ case {n}: your function returned a {type(got).__name__}, not a number, array or tensor")
            return False
        if got_t.shape != expected.shape:
            print(f"✗ case {n}: shape {tuple(got_t.shape)}, expected {tuple(expected.shape)}")
            return False
        gap = (got_t - expected).abs()
        if not bool((gap <= atol + rtol * expected.abs()).all()):
            print(f"✗ case {n}: differs from {_describe(reference)} by up to {float(gap.max()):.3g}")
            return False
        worst = max(worst, float(gap.max()) if gap.numel() else 0.0)
    if n == 0:
        raise ValueError("check_against needs at least one case")
    print(f"✓ matches {_describe(reference)} on {n} cases (largest difference {worst:.1e})")
    return True


def logit_cases(n: int = 5, batch: int = 16, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` pairs of (real, fake) discriminator logits of shape (batch, 1), spread widening with k (within about ±10)."""
    g = torch.Generator().manual_seed(seed)
    cases = []
    for k in range(n):
        spread = 1.0 + 0.5 * k
        cases.append((torch.randn(batch, 1, generator=g) * spread + 1.0,
                      torch.randn(batch, 1, generator=g) * spread - 1.0))
    return cases


def sr_cases(scales: Sequence[int] = (4, 3, 2), names: Sequence[str] = VAL_NAMES
             ) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """``(sr, hr, scale)`` cases for a PSNR/SSIM answer: the bicubic baseline of each held-out demo image.

    For every scale and name, the HR and its LR come from the package's pair
    maker (:func:`esrgan_lesson.data.pairs.make_pairs`: HR mod-cropped to the
    scale, LR = MATLAB bicubic, 8-bit), and ``sr`` is the LR upscaled by MATLAB
    bicubic and rounded to 8 bits (:func:`~esrgan_lesson.course.sr_problem.upscale_bicubic`).
    ``sr`` and ``hr`` are float32 (H, W, 3) arrays in [0, 1] of the same shape;
    ``scale`` is the border a paper crops.
    """
    images = demo_images(tuple(names))
    cases = []
    for scale in scales:
        for _, lr, hr in make_pairs(images, scale):
            cases.append((upscale_bicubic(lr.permute(1, 2, 0).numpy(), scale), hr.permute(1, 2, 0).numpy(), scale))
    return cases


class _ScheduleRun:
    """The package's scheduler for one schedule, stepped forward on demand; it keeps only where the rate changed."""

    def __init__(self, train: StageConfig) -> None:
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=train.lr_g)
        self.sched = build_scheduler(opt, train)
        self.done = 0                                   # scheduler steps taken so far
        self.changes = [(0, float(train.lr_g))]         # (step, rate from that step on), steps increasing

    def rate(self, step: int) -> float:
        with warnings.catch_warnings():  # no optimiser step is taken: only the schedule is read
            warnings.filterwarnings("ignore", "Detected call of `lr_scheduler", UserWarning)
            while self.done < step:
                self.sched.step()
                self.done += 1
                lr = float(self.sched.get_last_lr()[0])
                if lr != self.changes[-1][1]:
                    self.changes.append((self.done, lr))
        return self.changes[bisect.bisect_right([c[0] for c in self.changes], step) - 1][1]


#: One run per schedule: (lr, milestones, halving period, gamma) -> its run.
_RUNS: dict[tuple[float, tuple[int, ...], int, float], _ScheduleRun] = {}


def scheduled_lr(train: StageConfig, step: int) -> float:
    """The generator's learning rate after ``step`` iterations of a stage, from the package's own scheduler.

    ``train``: a config's ``train`` section (``lr_g``, ``milestones``,
    ``halving_period``, ``gamma``); ``step`` >= 0. The value is what the
    trainer's optimiser holds once its step counter reads ``step`` (the
    scheduler is stepped once per iteration), i.e. the rate the next iteration
    uses. :func:`~esrgan_lesson.training.builders.build_scheduler` is stepped
    ``step`` times on a one-parameter SGD; each schedule is run once and only
    forward, so asking for steps in increasing order costs about 4 µs per step in all.
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    key = (float(train.lr_g), tuple(train.milestones), int(train.halving_period), float(train.gamma))
    if key not in _RUNS:
        _RUNS[key] = _ScheduleRun(train)
    return _RUNS[key].rate(step)


def schedule_cases(configs: Mapping[str, TrainConfig]) -> list[tuple[StageConfig, int]]:
    """``(train section, step)`` cases for a learning-rate answer: each config at steps 0 and 1 and around each change.

    ``configs``: name -> :class:`~esrgan_lesson.training.config.TrainConfig`.
    Around each change means at every milestone and the step before it
    (MultiStepLR), or at the first two multiples of ``halving_period`` and the
    steps before them (StepLR, ``halving_period`` > 0).
    """
    cases = []
    for cfg in configs.values():
        t = cfg.train
        changes = [t.halving_period, 2 * t.halving_period] if t.halving_period > 0 else list(t.milestones)
        steps = {0, 1} | set(changes) | {c - 1 for c in changes}
        cases += [(t, s) for s in sorted(steps)]
    return cases


def rdb_cases(seed: int = 0) -> list[tuple[ResidualDenseBlock, torch.Tensor]]:
    """Four ``(rdb, x)`` cases for a residual-dense-block answer (chapter 3).

    Each block is small (nf 8, gc 4) with PyTorch's default random weights (not
    the ×0.1 init, so that every conv visibly matters); the last uses a residual
    scale of 0.5 instead of 0.2, so an answer must read ``rdb.residual_scale``.
    ``x``: (2, 8, 12, 12) features, standard normal. The global RNG is left as it was.
    """
    cases = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for k in range(4):
            rdb = ResidualDenseBlock(num_feat=8, num_grow_ch=4, residual_scale=0.5 if k == 3 else 0.2,
                                     small_init=False).eval()
            cases.append((rdb, torch.randn(2, 8, 12, 12)))
    return cases


def perceptual_cases(names: Sequence[str] = VAL_NAMES, size: int = 64, seed: int = 0
                     ) -> list[tuple[torch.Tensor, torch.Tensor, bool]]:
    """``(sr, hr, after)`` cases for a perceptual-loss answer (chapter 5).

    ``hr``: the central ``size``×``size`` crop of each held-out demo image, a
    (1, 3, size, size) batch in [0, 1]; ``sr``: that crop with Gaussian noise
    (sd 0.05) and a brightness offset of +0.03, clipped to [0, 1]. Every pair is
    given twice, with ``after`` False (features before the activation) and True.
    """
    g = torch.Generator().manual_seed(seed)
    cases = []
    for img in demo_images(tuple(names)).values():
        t = torch.as_tensor(np.ascontiguousarray(img), dtype=torch.float32).permute(2, 0, 1)
        top, left = (t.shape[1] - size) // 2, (t.shape[2] - size) // 2
        hr = t[:, top:top + size, left:left + size].unsqueeze(0).contiguous()
        sr = (hr + 0.05 * torch.randn(hr.shape, generator=g) + 0.03).clamp(0, 1)
        cases += [(sr, hr, False), (sr, hr, True)]
    return cases


#: The package's perceptual loss on the texture network, by read-out layer (built once each).
_PERCEPTUAL: dict[str, PerceptualLoss] = {}


@torch.no_grad()
def perceptual_reference(sr: torch.Tensor, hr: torch.Tensor, after: bool) -> torch.Tensor:
    """The package's :class:`~esrgan_lesson.losses.PerceptualLoss` (L1) on the course texture network.

    ``after`` False reads ``conv4_2`` (before the activation, ESRGAN), True
    ``relu4_2`` (after it, SRGAN). ``sr``, ``hr``: (N, 3, H, W) in [0, 1].
    Returns a 0-dim tensor.
    """
    layer = FEATURE_LAYER_POST if after else FEATURE_LAYER
    if layer not in _PERCEPTUAL:
        _PERCEPTUAL[layer] = PerceptualLoss(layer=layer, feature_extractor=texture.feature_extractor("texture", [layer]))
    return _PERCEPTUAL[layer](sr, hr)


#: (N, C, H, W, eps) of each batch-norm case; the third has a batch of one image (statistics over its pixels only).
_BN_SHAPES = ((4, 3, 6, 6, 1e-5), (2, 5, 4, 7, 1e-3), (1, 6, 5, 5, 1e-5), (8, 8, 3, 3, 0.1), (3, 4, 2, 9, 1e-2))


def batch_norm_cases(seed: int = 0) -> list[tuple[torch.Tensor, nn.BatchNorm2d]]:
    """Five ``(x, bn)`` cases for a train-mode batch-norm answer (chapter 2).

    ``bn``: an ``nn.BatchNorm2d`` with C = 3 to 8 channels, in training mode,
    with random affine parameters (``weight`` of either sign, 0.5 ≤ |γ| ≤ 2;
    ``bias`` β in [-1, 1]) and ``eps`` 1e-5, 1e-3 or larger (0.01, 0.1), so an
    answer must read ``bn.eps``. Its running statistics are set as if it had
    been trained on similar but not identical data (running mean within about
    ±1 of the batch's channel means, running variance 0.25 to 4 times the
    channel's), so an answer that normalises with them (evaluation mode) fails.
    ``x``: (N, C, H, W) with channel c drawn as mean_c + sd_c · N(0, 1),
    mean_c in [-2, 2], sd_c in [0.3, 3]; shapes (4, 3, 6, 6), (2, 5, 4, 7),
    (1, 6, 5, 5) (one image: its own pixels give the statistics), (8, 8, 3, 3)
    and (3, 4, 2, 9). Everything is float64, so that rounding cannot blur the
    verdict (a right float32 answer already differs from PyTorch's by up to
    about 1e-6). The global RNG is left as it was.
    """
    cases = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for n, c, h, w, eps in _BN_SHAPES:
            bn = nn.BatchNorm2d(c, eps=eps).double()
            mean = torch.empty(c, dtype=torch.float64).uniform_(-2.0, 2.0)
            sd = torch.empty(c, dtype=torch.float64).uniform_(0.3, 3.0)
            with torch.no_grad():
                sign = torch.where(torch.rand(c) < 0.3, -1.0, 1.0).double()
                bn.weight.copy_(torch.empty(c, dtype=torch.float64).uniform_(0.5, 2.0) * sign)
                bn.bias.copy_(torch.empty(c, dtype=torch.float64).uniform_(-1.0, 1.0))
                bn.running_mean.copy_(mean + 0.5 * torch.randn(c, dtype=torch.float64))
                bn.running_var.copy_((sd * torch.empty(c, dtype=torch.float64).uniform_(0.5, 2.0)) ** 2)
                bn.num_batches_tracked.fill_(1000)
            x = torch.randn(n, c, h, w, dtype=torch.float64) * sd.view(1, c, 1, 1) + mean.view(1, c, 1, 1)
            cases.append((x, bn.train()))
    return cases


@torch.no_grad()
def bn_train_forward(x: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    """What PyTorch's ``bn(x)`` returns in training mode, leaving ``bn`` itself untouched.

    ``x``: (N, C, H, W); ``bn``: an ``nn.BatchNorm2d`` over C channels. The
    layer is run on a deep copy set to training mode: each channel is
    normalised by the mean and biased variance of ``x`` over N, H and W, then
    scaled by ``bn.weight`` and shifted by ``bn.bias``. The copy's running
    statistics take the update, so ``bn``'s stay as they were however often a
    check runs. Returns (N, C, H, W), the dtype of ``x``.
    """
    return copy.deepcopy(bn).train()(x)


def _as_if_trained(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached copy of ``model``'s state dict with its BatchNorm layers given trained-looking values."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0.0, 0.1)
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(1000)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _fine_tuned(psnr: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``psnr`` moved as if by further training: every float entry by noise of half its mean size (+0.01), counters +500."""
    gan = {}
    for k, v in psnr.items():
        if v.is_floating_point():
            gan[k] = v + (0.5 * v.abs().mean() + 0.01) * torch.randn_like(v)
        else:
            gan[k] = v + 500
    return gan


#: The alphas of each interpolation case: five for the RRDBNet pair, three for the SRResNet pair.
_RRDB_ALPHAS = (0.0, 0.2, 0.5, 0.8, 1.0)
_SRRESNET_ALPHAS = (0.3, 0.7, 1.0)


def interpolation_cases(seed: int = 0) -> list[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], float]]:
    """Eight ``(psnr, gan, alpha)`` cases for a network-interpolation answer (chapter 6).

    ``psnr`` and ``gan`` are state dicts (key -> tensor) of the same small
    architecture, ``alpha`` in [0, 1]. Cases 1-5: an RRDBNet (x4, nf 8, one
    RRDB, gc 4, PyTorch's default init so that biases are not zero), alpha 0,
    0.2, 0.5, 0.8 and 1; all its entries are float32. Cases 6-8: an SRResNet
    with batch norm (x4, nf 8, two blocks), alpha 0.3, 0.7 and 1; its BN layers
    hold trained-looking statistics and an int64 ``num_batches_tracked`` of
    1000, so an answer must tell float entries from the others. In each pair
    ``gan`` is ``psnr`` moved as if by further training: every float entry
    plus Gaussian noise of sd 0.5·mean|entry| + 0.01 (so every entry, biases
    and BN statistics too, differs), every counter plus 500. The two dicts of
    a pair are shared by its cases; an answer must not change them in place.
    The global RNG is left as it was.
    """
    cases: list[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], float]] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        pairs = []
        for model, alphas in ((RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4, small_init=False), _RRDB_ALPHAS),
                              (SRResNet(num_feat=8, num_block=2, scale=4, use_bn=True), _SRRESNET_ALPHAS)):
            psnr = _as_if_trained(model)
            pairs.append((psnr, _fine_tuned(psnr), alphas))
        for psnr, gan, alphas in pairs:
            cases += [(psnr, gan, a) for a in alphas]
    return cases


def flat_state_dict(state: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Every entry of a state dict, flattened and concatenated in sorted key order, as one float64 vector.

    Non-float entries (e.g. ``num_batches_tracked``) are included as their
    float64 values, so a dict that drops, interpolates or mixes them up
    differs from the package's in shape or in value. Raises ``TypeError`` for
    anything but a mapping of tensors.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"expected a dict of tensors (key -> tensor), got a {type(state).__name__}")
    parts = []
    for key in sorted(state):
        value = state[key]
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"entry {key!r} is a {type(value).__name__}, not a tensor")
        parts.append(value.detach().double().flatten().cpu())
    return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)


def flat_answer(answer: Callable[..., Any]) -> Callable[..., Any]:
    """``answer`` (returning a state dict) as a function returning :func:`flat_state_dict` of it, for :func:`check_against`.

    ``None`` (an unfinished stub) is passed through, so the checker can say so.
    """
    def flat(*case: Any) -> torch.Tensor | None:
        out = answer(*case)
        return None if out is None else flat_state_dict(out)
    flat.__qualname__ = getattr(answer, "__qualname__", "answer")
    return flat


def interpolation_reference(psnr: Mapping[str, torch.Tensor], gan: Mapping[str, torch.Tensor],
                            alpha: float) -> torch.Tensor:
    """The package's network interpolation (ESRGAN Eq. 4), as :func:`flat_state_dict` of its output.

    :func:`~esrgan_lesson.weights.interpolation.interpolate_state_dicts`:
    ``(1 - alpha) * psnr + alpha * gan`` for every float tensor (summed in
    float64, cast back to the tensor's dtype), non-float entries copied from
    ``psnr``. ``psnr``, ``gan``: state dicts with the same keys and shapes;
    ``alpha`` in [0, 1]. Returns a 1-D float64 tensor of the total number of
    entries; an answer's dict is compared through :func:`flat_answer`, key by
    key in sorted order, so the order of its keys does not matter.
    """
    return flat_state_dict(interpolate_state_dicts(psnr, gan, alpha))


def ssim_cases(scales: Sequence[int] = (4, 3, 2), names: Sequence[str] = VAL_NAMES, noise: float = 0.05,
               seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """``(sr, hr, scale)`` cases for an SSIM-on-Y answer (chapter 8), checked against
    ``esrgan_lesson.metrics.ssim(sr, hr, scale)``.

    First :func:`sr_cases` of ``scales`` and ``names`` (the bicubic baseline,
    SSIM about 0.6-0.9), then, at the first scale, each HR with Gaussian
    noise of standard deviation ``noise`` added (clipped to [0, 1], rounded to
    8 bits): an output wrong by added noise instead of blur. ``sr`` and
    ``hr``: float32 (H, W, 3) arrays in [0, 1] of the same shape, H and W
    multiples of ``scale``; ``scale``: the border to crop. ``seed`` fixes the
    noise.
    """
    cases = sr_cases(scales, names)
    rng = np.random.default_rng(seed)
    noisy = []
    for _, hr, scale in cases[:len(names)]:
        out = np.clip(hr.astype(np.float64) + rng.normal(0.0, noise, hr.shape), 0.0, 1.0)
        noisy.append(((np.round(out * 255) / 255).astype(np.float32), hr, scale))
    return cases + noisy


__all__ = ["batch_norm_cases", "bn_train_forward", "check_against", "flat_answer", "flat_state_dict",
           "interpolation_cases", "interpolation_reference", "logit_cases", "perceptual_cases",
           "perceptual_reference", "rdb_cases", "schedule_cases", "scheduled_lr", "sr_cases",
           "ssim_cases"]
