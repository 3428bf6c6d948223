"""The memory layout ``upscale`` runs a network's forward in (one job: faster fp32 convolutions on a CPU)."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


@contextlib.contextmanager
def cpu_channels_last(model: nn.Module, device: torch.device) -> Iterator[torch.memory_format]:
    """Run a conv net's forward in channels_last on a CPU; yields the input memory format to use.

    oneDNN's fp32 convolutions are faster on NHWC data: for the full-size
    RRDBNet at 64x64 LR, 1 thread, 1.13-1.18x in CPU time against spandrel's
    NCHW call on the same weights, with outputs within 1e-5
    (``benchmarks/upscale_vs_spandrel.py``). The model's weights
    go back to their own layout afterwards. Elsewhere (CUDA, MPS) and for
    models without 2-D convolutions nothing changes.
    """
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if device.type != "cpu" or not convs:
        yield torch.contiguous_format
        return
    weight = convs[0].weight
    was_cl = weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    model.to(memory_format=torch.channels_last)
    try:
        yield torch.channels_last
    finally:
        if not was_cl:
            model.to(memory_format=torch.contiguous_format)
