"""Chapter 7: FLOPs and memory of one training step of a config, counted on PyTorch's ``meta`` device.

No data and no GPU are needed: :func:`training_step_cost` builds the config's
networks on the meta device and counts one step.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import torch
from torch import nn

from esrgan_lesson.training.config import TrainConfig
from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.models.params import count_params

# --------------------------------------------------------------------------- #
# Chapter 7: cost of one training step, counted on the meta device
# --------------------------------------------------------------------------- #
#: Bytes per fp32 value.
FP32_BYTES = 4
#: Adam keeps two moments per parameter, the gradient is a third copy: weights
#: + gradient + exp_avg + exp_avg_sq = 4 fp32 values per trainable parameter.
ADAM_COPIES = 4


@dataclass(frozen=True)
class StepCost:
    """FLOPs and memory of one training step (see :func:`training_step_cost`).

    ``flops``: forward + backward of every network in the step, as counted by
    ``torch.utils.flop_counter`` (a multiply-add is 2 FLOPs). ``activation_bytes``:
    the largest set of tensors autograd saves for one backward pass (G step or
    D step), fp32, deduplicated by storage. ``state_bytes``: weights, gradients
    and Adam moments of the trained networks plus the frozen feature net.
    """

    stage: str
    batch: int
    hr_patch: int
    flops: float
    params_g: int
    params_d: int
    activation_bytes: int
    state_bytes: int

    @property
    def memory_bytes(self) -> int:
        """Lower bound of the training memory: activations + network state."""
        return self.activation_bytes + self.state_bytes


class _SavedBytes:
    """Context that sums the bytes of distinct storages autograd saves for backward."""

    def __init__(self, exclude: Iterable[torch.Tensor]) -> None:
        self.exclude = {p.untyped_storage()._cdata for p in exclude}
        self.seen: dict[int, int] = {}
        self._ctx = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)

    def _pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage._cdata not in self.exclude:
            self.seen[storage._cdata] = storage.nbytes()
        return t

    @property
    def total(self) -> int:
        return sum(self.seen.values())

    def __enter__(self) -> "_SavedBytes":
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


def _count(model: nn.Module | None) -> int:
    return count_params(model)


def training_step_cost(cfg: TrainConfig, batch: int | None = None, hr_patch: int | None = None) -> StepCost:
    """Count FLOPs and memory of one training step of ``cfg`` on the ``meta`` device.

    Builds the config's generator (and, for the GAN stage, its discriminator
    and perceptual feature network with random weights: cost does not depend
    on the weights) on ``meta`` tensors, which have shapes but no data, and
    runs the step's forward and backward passes exactly as
    :meth:`esrgan_lesson.training.Trainer._step` orders them: G step (L1,
    perceptual, RaGAN), then D step. ``batch``/``hr_patch`` default to the
    config's. Nothing is allocated, so the paper's batch 16 at HR 128 counts
    in a second on a CPU.
    """
    from torch.utils.flop_counter import FlopCounterMode

    from esrgan_lesson.losses import GANLoss
    from esrgan_lesson.models import VGGFeatureExtractor
    from esrgan_lesson.training.builders import build_discriminator, build_generator

    t, m = cfg.train, cfg.model
    batch = batch or t.batch_size
    hr_patch = hr_patch or t.hr_patch
    if hr_patch % m.scale:
        raise ESRGANError(f"hr_patch {hr_patch} is not a multiple of the scale {m.scale}")
    gan = t.stage == "gan"
    percep_on = gan and t.perceptual.weight > 0 and t.perceptual.network in ("vgg19", "vgg16")
    with torch.device("meta"):
        g = build_generator(m)
        d = build_discriminator(cfg) if gan else None
        vgg = VGGFeatureExtractor((t.perceptual.layer,), arch=t.perceptual.network, weights=None) if percep_on else None
        lr = torch.empty(batch, 3, hr_patch // m.scale, hr_patch // m.scale)
        hr = torch.empty(batch, 3, hr_patch, hr_patch)
    frozen = list(vgg.parameters()) if vgg is not None else []
    params = list(g.parameters()) + (list(d.parameters()) if d is not None else []) + frozen
    gan_loss = GANLoss(t.gan_type, t.gan_weight)
    with FlopCounterMode(display=False) as counter:
        with _SavedBytes(params) as g_saved:
            sr = g(lr)
            loss = t.pixel_weight * (sr - hr).abs().mean()
            if vgg is not None:
                layer = t.perceptual.layer
                with torch.no_grad():
                    target = vgg(hr)[layer]
                loss = loss + t.perceptual.weight * (vgg(sr)[layer] - target).abs().mean()
            if d is not None:
                for p in d.parameters():
                    p.requires_grad_(False)
                with torch.no_grad():
                    real = d(hr)
                loss = loss + gan_loss.g_loss(real, d(sr))
                for p in d.parameters():
                    p.requires_grad_(True)
        loss.backward()
        d_bytes = 0
        if d is not None:
            with _SavedBytes(params) as d_saved:
                l_d = gan_loss.d_loss(d(hr), d(sr.detach()))
            l_d.backward()
            d_bytes = d_saved.total
    trainable = _count(g) + _count(d)
    state = trainable * FP32_BYTES * ADAM_COPIES + count_params(frozen) * FP32_BYTES
    return StepCost(stage=t.stage, batch=batch, hr_patch=hr_patch, flops=float(counter.get_total_flops()),
                    params_g=_count(g), params_d=_count(d), activation_bytes=max(g_saved.total, d_bytes),
                    state_bytes=state)


