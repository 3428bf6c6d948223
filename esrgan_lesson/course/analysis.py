"""Measurements the chapters make on networks: signal growth through depth,
batch-norm statistics, and the cost of a network.

These functions only observe a model (hooks, forward/backward passes); they
never change its weights. The batch-norm chapter and the RRDB chapter call them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from esrgan_lesson.models.params import count_params


@dataclass(frozen=True)
class DepthStat:
    """Signal size at one block of a deep network.

    Attributes:
        index: position of the block in the trunk (0-based).
        activation_std: standard deviation of the block's output features.
        gradient_norm: L2 norm of d(loss)/d(block output) for the probe loss.
    """

    index: int
    activation_std: float
    gradient_norm: float


def signal_through_depth(blocks: nn.Sequential, model: nn.Module, x: torch.Tensor) -> list[DepthStat]:
    """Activation std and gradient norm after every block of ``blocks``.

    ``blocks`` must be a submodule of ``model`` (e.g. ``RRDBNet.body``). The
    probe loss is ``model(x).square().mean()``, so the gradients are those a
    pixel loss would send back at initialisation.

    Args:
        x: (N, C, H, W) input batch in [0, 1].
    Returns:
        one :class:`DepthStat` per block, in order.
    """
    outputs: list[torch.Tensor] = []

    def keep(_module: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        out.retain_grad()
        outputs.append(out)

    handles = [b.register_forward_hook(keep) for b in blocks]
    try:
        model.zero_grad(set_to_none=True)
        model(x).square().mean().backward()
    finally:
        for h in handles:
            h.remove()
    return [
        DepthStat(i, float(o.detach().std()), float(o.grad.norm()) if o.grad is not None else 0.0)
        for i, o in enumerate(outputs)
    ]


def batch_norm_layers(model: nn.Module) -> list[tuple[str, nn.BatchNorm2d]]:
    """All ``BatchNorm2d`` layers of ``model`` with their qualified names."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]


@torch.no_grad()
def batch_dependence(model: nn.Module, image: torch.Tensor, companions: torch.Tensor) -> float:
    """How much a train-mode output of ``image`` depends on the rest of its batch.

    Runs ``model`` in training mode (BN uses the batch's statistics) on
    ``image`` alone and on ``image`` stacked with ``companions``, and returns
    the largest absolute difference between the two outputs for ``image``.
    A network without BN returns 0 (up to float rounding). The model's mode and
    BN running statistics are restored afterwards.

    Args:
        image: (1, C, H, W) in [0, 1]; companions: (K, C, H, W) in [0, 1].
    """
    was_training = model.training
    saved = {n: (m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone())
             for n, m in batch_norm_layers(model) if m.running_mean is not None}
    try:
        model.train()
        alone = model(image)
        together = model(torch.cat([image, companions]))[:1]
        return float((alone - together).abs().max())
    finally:
        for n, m in batch_norm_layers(model):
            if n in saved:
                m.running_mean.copy_(saved[n][0])
                m.running_var.copy_(saved[n][1])
                m.num_batches_tracked.copy_(saved[n][2])
        model.train(was_training)


@torch.no_grad()
def running_stat_mismatch(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Distance between each BN layer's running statistics and those of ``x``.

    For every ``BatchNorm2d``, the input's own per-channel mean and variance
    (over N, H, W) are compared with the stored running estimates used in eval
    mode: ``mean(|mu_x - mu_run| / sqrt(var_run + eps))``, i.e. the average
    shift, in running standard deviations, that eval-mode BN fails to remove.

    Args:
        x: (N, C, H, W) in [0, 1]; the model is run in eval mode.
    Returns:
        ``{layer name: mismatch}`` in network order.
    """
    found: dict[str, float] = {}

    def measure(name: str, bn: nn.BatchNorm2d):
        def hook(_m: nn.Module, inp: tuple, _out: torch.Tensor) -> None:
            feat = inp[0]
            mu = feat.mean(dim=(0, 2, 3))
            shift = (mu - bn.running_mean).abs() / torch.sqrt(bn.running_var + bn.eps)
            found[name] = float(shift.mean())

        return hook

    was_training = model.training
    model.eval()
    handles = [m.register_forward_hook(measure(n, m)) for n, m in batch_norm_layers(model)]
    try:
        model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return found


@dataclass(frozen=True)
class NetworkCost:
    """What one training step of a network costs.

    Attributes:
        params: number of parameters.
        flops: forward FLOPs for the probe input (torch's FLOP counter).
        activation_bytes: bytes of tensors autograd saves for the backward pass.
        step_seconds: median wall time of forward + backward on the probe input.
    """

    params: int
    flops: int
    activation_bytes: int
    step_seconds: float


def network_cost(model: nn.Module, x: torch.Tensor, repeats: int = 5) -> NetworkCost:
    """Measure parameters, FLOPs, saved-activation memory and step time.

    The activation memory is counted with ``saved_tensors_hooks`` (the bytes of
    every tensor kept for backward, each storage counted once), so it works on
    any device. ``x``: (N, C, H, W) probe batch.
    """
    params = count_params(model)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    flops = counter.get_total_flops()

    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x).mean().backward()
    model.zero_grad(set_to_none=True)

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(x).mean().backward()
        times.append(time.perf_counter() - start)
    model.zero_grad(set_to_none=True)
    times.sort()
    return NetworkCost(params, int(flops), int(sum(seen.values())), times[len(times) // 2])


@dataclass(frozen=True)
class EffectiveField:
    """Where the gradient of one output pixel lands in the input.

    Attributes:
        radius: the smallest Chebyshev radius (LR pixels) around the input
            pixel under the probed output pixel that holds ``fraction`` of
            the total |d output / d input|; a square of side ``2 * radius + 1``.
        fraction: the share of the gradient mass the radius holds (e.g. 0.95).
        max_radius: the largest radius the input allows (its border); a
            ``radius`` equal to it means the field may reach beyond the input.
        grad_map: (H, W) float64 map of |d output / d input| summed over channels.
    """

    radius: int
    fraction: float
    max_radius: int
    grad_map: torch.Tensor


def chebyshev_rings(grad_map: torch.Tensor, centre: tuple[int, int] | None = None) -> torch.Tensor:
    """(H, W) long tensor: each pixel's Chebyshev distance to ``centre`` (default: the middle pixel)."""
    h, w = grad_map.shape[-2:]
    cy, cx = centre if centre is not None else (h // 2, w // 2)
    return torch.maximum((torch.arange(h) - cy).abs().view(-1, 1), (torch.arange(w) - cx).abs().view(1, -1))


def effective_receptive_field(model: nn.Module, x: torch.Tensor, fraction: float = 0.95) -> EffectiveField:
    """Gradient probe of the central output pixel of ``model(x)``.

    Back-propagates the sum over channels of the output pixel at the centre of
    the (upscaled) output to the input ``x`` (1, C, H, W) in [0, 1], and finds
    the radius around the corresponding input pixel that holds ``fraction``
    of the absolute gradient. The theoretical receptive field
    (:func:`esrgan_lesson.models.receptive_field`) bounds where the gradient
    *can* be non-zero; this measures where it is large.
    """
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"x must be one image (1, C, H, W), got {tuple(x.shape)}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    x = x.detach().clone().requires_grad_(True)
    model.zero_grad(set_to_none=True)
    out = model(x)
    s = out.shape[-1] // x.shape[-1]
    cy, cx = out.shape[-2] // 2, out.shape[-1] // 2
    out[0, :, cy, cx].sum().backward()
    grad = x.grad.detach().abs().sum(dim=(0, 1)).double()
    ring = chebyshev_rings(grad, (cy // s, cx // s))
    max_radius = int(ring.max())
    mass = torch.bincount(ring.flatten(), weights=grad.flatten(), minlength=max_radius + 1).cumsum(0)
    radius = int((mass >= fraction * mass[-1]).nonzero()[0])
    model.zero_grad(set_to_none=True)
    return EffectiveField(radius, fraction, max_radius, grad)
