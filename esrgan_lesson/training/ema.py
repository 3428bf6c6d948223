"""Exponential moving average of the generator's weights (BasicSR ``net_g_ema``)."""
from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEMA:
    """``ema = decay * ema + (1 - decay) * model`` after each optimiser step.

    Floating-point parameters and buffers are averaged; integer buffers are
    copied. The EMA copy is frozen and kept in eval mode.

    The parameter lists the multi-tensor kernel works on are built once, on
    the first :meth:`update` (and again only if a different model is passed).
    They hold the ``Parameter`` objects, which stay the same for the whole run
    even when ``module.to(...)`` gives them new storage; buffers are looked up
    on each update.

    Args:
        model: the network being trained (an unwrapped module).
        decay: in [0, 1); BasicSR uses 0.999 (``paper.EMA_DECAY``).
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)
        self._source_id: int | None = None
        self._targets: list[torch.Tensor] = []
        self._sources: list[torch.Tensor] = []
        self._weights: list[torch.Tensor] = []  # views into one buffer, for the device-flag update
        self._weight_flat: torch.Tensor | None = None
        self._rate: torch.Tensor | None = None  # 1 - decay, on the device

    def _bind(self, model: nn.Module) -> None:
        """Build the (EMA parameter, model parameter) lists for ``model`` once.

        The lists hold the ``Parameter`` objects themselves, not ``state_dict()``
        aliases of their storage: ``module.to(...)`` (a layout or device
        change, e.g. during validation) swaps a parameter's ``.data`` for a new
        tensor, and an alias of the old storage would silently stop following
        the module. Buffers are looked up afresh on every update for the same
        reason (``to()`` replaces buffer objects).
        """
        ema_params = dict(self.module.named_parameters())
        self._targets, self._sources = [], []
        for name, value in model.named_parameters():
            target = ema_params.get(name)
            if target is None:
                raise ValueError(f"EMA: the model has a parameter {name} the average lacks")
            if value.dtype != target.dtype or not value.dtype.is_floating_point:
                raise ValueError(f"EMA: {name} is {value.dtype} in the model but {target.dtype} in the average")
            self._targets.append(target)
            self._sources.append(value)
        self._weights, self._weight_flat = [], None
        self._source_id = id(model)

    def _buffer_pairs(self, model: nn.Module) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
        """``(name, EMA buffer, model buffer)`` for every buffer, looked up now."""
        ema_buffers = dict(self.module.named_buffers())
        pairs = []
        for name, value in model.named_buffers():
            target = ema_buffers[name]
            if target.dtype != value.dtype:
                raise ValueError(f"EMA: {name} is {value.dtype} in the model but {target.dtype} in the average")
            pairs.append((name, target, value))
        return pairs

    def _weight_views(self) -> list[torch.Tensor]:
        """One weight tensor per averaged tensor (views of one buffer), made on first use."""
        if self._weight_flat is None and self._targets:
            by_key: dict[tuple[torch.device, torch.dtype], int] = {}
            for t in self._targets:
                by_key[(t.device, t.dtype)] = by_key.get((t.device, t.dtype), 0) + t.numel()
            if len(by_key) != 1:
                raise ValueError("EMA: the device-flag update needs every averaged tensor on one device and dtype")
            (device, dtype), total = next(iter(by_key.items()))
            self._weight_flat = torch.empty(total, device=device, dtype=dtype)
            self._rate = torch.full((), 1.0 - self.decay, device=device, dtype=dtype)
            offset = 0
            for t in self._targets:
                self._weights.append(self._weight_flat[offset:offset + t.numel()].view(t.shape))
                offset += t.numel()
        return self._weights

    @torch.no_grad()
    def update(self, model: nn.Module, applied: torch.Tensor | None = None) -> None:
        """Move the average towards ``model``'s current weights.

        Args:
            model: the trained network (the one the EMA was made from).
            applied: optional 0-dim bool tensor on the model's device, true when the
                optimiser step was applied and false when it was skipped. With it
                the update is ``lerp(ema, model, (1 - decay) * applied)``: a
                skipped step leaves the average exactly unchanged, decided on
                the device without reading the flag on the host (CUDA graphs,
                no sync); integer buffers are then copied only when applied.
                ``None``: the step was applied.
        """
        if self._source_id != id(model):
            self._bind(model)
        rate = 1.0 - self.decay
        for _, target, value in self._buffer_pairs(model):
            if not target.dtype.is_floating_point:
                target.copy_(value if applied is None else torch.where(applied, value, target))
            elif applied is None:
                target.lerp_(value, rate)
            else:
                target.lerp_(value, (rate * applied).to(target.dtype))
        if not self._targets:
            return
        if applied is None:
            # One multi-tensor kernel instead of one lerp per tensor (~700 for the paper G).
            torch._foreach_lerp_(self._targets, self._sources, rate)
            return
        views = self._weight_views()
        assert self._weight_flat is not None and self._rate is not None
        self._weight_flat.fill_(self._rate * applied.to(self._rate.dtype))
        # Full-size weights keep the multi-tensor fast path on CUDA (0-dim weights would not).
        torch._foreach_lerp_(self._targets, self._sources, views)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.module.load_state_dict(state)
