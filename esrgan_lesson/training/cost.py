"""FLOPs and memory of one training step of a config, counted on PyTorch's ``meta`` device.

:func:`training_step_cost` builds the config's networks on ``meta`` tensors
(shapes, no data) and runs :func:`~.step.train_step` on them, the step
``esrgan-lesson train`` runs, so the count follows the step's own order and
losses (G step: Eq. 3 with D as a frozen critic; then D step: Eq. 1). No data
and no GPU are needed: the paper's batch 16 at HR 128 counts in seconds on a
CPU. Chapter 7 and ``benchmarks/train_step.py`` both count a step here.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable, overload

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..errors import ESRGANError
from ..losses import GANLoss, PerceptualLoss
from ..models.params import count_params
from .builders import build_discriminator, build_feature_network, build_generator
from .config import PerceptualConfig, TrainConfig
from .step import StepParts, train_step

#: Bytes per fp32 value.
FP32_BYTES = 4
#: Adam keeps two moments per parameter, the gradient is a third copy: weights
#: + gradient + exp_avg + exp_avg_sq = 4 fp32 values per trainable parameter.
ADAM_COPIES = 4


@dataclass(frozen=True)
class StepCost:
    """FLOPs and memory of one training step (see :func:`training_step_cost`).

    ``flops``: forward + backward of every network in the step, as counted by
    ``torch.utils.flop_counter`` (matrix products and convolutions; a
    multiply-add is 2 FLOPs). ``activation_bytes``: the most bytes of tensors
    autograd holds for a backward pass at one time (the G step's or the D
    step's), fp32, deduplicated by storage, weights left out.
    ``state_bytes``: weights, gradients and Adam moments of the trained
    networks plus the weights of the frozen feature network.
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


class _Held:
    """A tensor autograd saved for backward; dies when autograd frees it, and tells its counter."""

    __slots__ = ("tensor", "key", "counter")

    def __init__(self, tensor: torch.Tensor, key: int, counter: "_SavedBytes") -> None:
        self.tensor, self.key, self.counter = tensor, key, counter
        counter.hold(key, tensor.untyped_storage().nbytes())

    def __del__(self) -> None:
        self.counter.free(self.key)


class _SavedBytes:
    """Context: the peak bytes of distinct storages that autograd holds for backward at one time.

    Saved tensors pass through a pack hook that wraps them (:class:`_Held`);
    autograd drops the wrapper when a backward pass frees what it saved, so
    the running total follows what is alive. Storages of ``exclude`` (the
    weights, counted as state) are left out.
    """

    def __init__(self, exclude: Iterable[torch.Tensor]) -> None:
        self.exclude = {t.untyped_storage()._cdata for t in exclude}
        self.refs: dict[int, int] = {}
        self.sizes: dict[int, int] = {}
        self.live = self.peak = 0
        self._ctx = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)

    def _pack(self, t: torch.Tensor) -> Any:
        key = t.untyped_storage()._cdata
        return t if key in self.exclude else _Held(t, key, self)

    @staticmethod
    def _unpack(packed: Any) -> torch.Tensor:
        return packed.tensor if isinstance(packed, _Held) else packed

    def hold(self, key: int, nbytes: int) -> None:
        if key not in self.refs:
            self.refs[key], self.sizes[key] = 0, nbytes
            self.live += nbytes
            self.peak = max(self.peak, self.live)
        self.refs[key] += 1

    def free(self, key: int) -> None:
        self.refs[key] -= 1
        if not self.refs[key]:
            del self.refs[key]
            self.live -= self.sizes.pop(key)

    def __enter__(self) -> "_SavedBytes":
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


class MetaSGD(torch.optim.Optimizer):
    """Plain SGD that takes its skip flag on the device: the optimiser of a step run on ``meta`` tensors.

    :func:`~.step.step_unless` reads the skip flag on the host unless the
    optimiser is fused, and a meta tensor has no value to read. Like a fused
    Adam, this optimiser declares ``defaults["fused"]`` and takes the flag as
    ``found_inf`` (no update when it is 1). Its update is elementwise, as
    Adam's is, so a step's FLOP count (matrix products and convolutions) is
    the same with either; Adam's memory is counted from the parameters
    (:data:`ADAM_COPIES`).
    """

    def __init__(self, params: Iterable[nn.Parameter], lr: float) -> None:
        super().__init__(params, {"lr": lr, "fused": True})

    @overload
    def step(self, closure: None = ...) -> None: ...

    @overload
    def step(self, closure: Callable[[], float]) -> float: ...

    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """``p -= lr * grad`` for every parameter with a gradient, unless ``found_inf`` is 1."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        found_inf: torch.Tensor | None = getattr(self, "found_inf", None)
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        keep = 1.0 if found_inf is None else 1.0 - found_inf
                        p.sub_(p.grad * keep, alpha=group["lr"])
        return loss


def _feature_loss(cfg: PerceptualConfig) -> PerceptualLoss | None:
    """The stage's perceptual loss on ``meta``: VGG with random weights, any other network as configured.

    Cost does not depend on the weights (and ImageNet's may be offline); a
    network that loads its own file is built on the CPU and moved to ``meta``.
    """
    if cfg.weight == 0 or cfg.network == "none":
        return None
    if cfg.network in ("vgg19", "vgg16"):
        from ..models import VGGFeatureExtractor

        with torch.device("meta"):
            net: nn.Module | None = VGGFeatureExtractor((cfg.layer,), arch=cfg.network, weights=None)
    else:
        net = build_feature_network(cfg)
    assert net is not None
    return PerceptualLoss(layer=cfg.layer, criterion=cfg.criterion, feature_extractor=net.to("meta"))


def _tensors(*modules: nn.Module | None) -> list[torch.Tensor]:
    return [t for m in modules if m is not None for t in [*m.parameters(), *m.buffers()]]


def training_step_cost(cfg: TrainConfig, batch: int | None = None, hr_patch: int | None = None) -> StepCost:
    """Count FLOPs and memory of one :func:`~.step.train_step` of ``cfg`` on the ``meta`` device.

    Builds the config's generator and, for the GAN stage, its discriminator
    and perceptual loss (random weights on ``meta``: cost does not depend on
    them), then runs one :func:`~.step.train_step` on meta LR (batch, 3,
    hr_patch/scale, hr_patch/scale) and HR (batch, 3, hr_patch, hr_patch)
    batches, with :class:`MetaSGD` in place of Adam and no EMA (elementwise
    updates add no counted FLOPs). ``batch``/``hr_patch`` default to the
    config's; the discriminator's ``network_d.input_size`` must match
    ``hr_patch``.
    """
    t, m = cfg.train, cfg.model
    batch = batch or t.batch_size
    hr_patch = hr_patch or t.hr_patch
    if hr_patch % m.scale:
        raise ESRGANError(f"hr_patch {hr_patch} is not a multiple of the scale {m.scale}")
    gan = t.stage == "gan"
    with torch.device("meta"):
        g = build_generator(m)
        d = build_discriminator(cfg) if gan else None
        lr = torch.empty(batch, 3, hr_patch // m.scale, hr_patch // m.scale)
        hr = torch.empty(batch, 3, hr_patch, hr_patch)
    percep = _feature_loss(t.perceptual) if gan else None
    parts = StepParts(g=g, net_g=g, opt_g=MetaSGD(g.parameters(), t.lr_g), stage=t,
                      gan_loss=GANLoss(t.gan_type, t.gan_weight), autocast=contextlib.nullcontext,
                      d=d, net_d=d, opt_d=MetaSGD(d.parameters(), t.lr_d) if d is not None else None,
                      percep=percep)
    with FlopCounterMode(display=False) as counter, _SavedBytes(_tensors(g, d, percep)) as saved:
        train_step(parts, lr, hr)
    trainable = count_params(g) + count_params(d)
    state = trainable * FP32_BYTES * ADAM_COPIES + count_params(percep) * FP32_BYTES
    return StepCost(stage=t.stage, batch=batch, hr_patch=hr_patch, flops=float(counter.get_total_flops()),
                    params_g=count_params(g), params_d=count_params(d), activation_bytes=saved.peak,
                    state_bytes=state)


__all__ = ["ADAM_COPIES", "FP32_BYTES", "MetaSGD", "StepCost", "training_step_cost"]
