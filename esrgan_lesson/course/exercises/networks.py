"""Network cases: batch norm in training mode (chapter 2), the residual dense block (chapter 3), network interpolation (chapter 6)."""
from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from esrgan_lesson.models.rrdbnet import ResidualDenseBlock, RRDBNet
from esrgan_lesson.models.srresnet import SRResNet
from esrgan_lesson.weights.interpolation import interpolate_state_dicts


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


__all__ = ["batch_norm_cases", "bn_train_forward", "flat_answer", "flat_state_dict", "interpolation_cases",
           "interpolation_reference", "rdb_cases"]
