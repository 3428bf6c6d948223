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
    (``benchmarks/upscale_vs_spandrel.py``). Afterwards the model
    holds exactly the tensors it held before (same objects, same storage), so
    references to them, such as an EMA's, stay valid. Elsewhere (CUDA, MPS) and for
    models without 2-D convolutions nothing changes.
    """
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if device.type != "cpu" or not convs:
        yield torch.contiguous_format
        return
    # Keep the very tensors the model holds now and put them back afterwards: ``to()``
    # gives parameters new storage and buffers new objects, and anything that
    # aliases them (an EMA's lists, an optimiser's fused buffers, a caller's
    # ``state_dict()``) must still see the model's weights after this call.
    params = [(m, name, p, p.data) for m in model.modules() for name, p in m._parameters.items() if p is not None]
    buffers = [(m, name, b) for m in model.modules() for name, b in m._buffers.items() if b is not None]
    model.to(memory_format=torch.channels_last)
    try:
        yield torch.channels_last
    finally:
        for m, name, p, data in params:
            p.data = data
            m._parameters[name] = p
        for m, name, b in buffers:
            m._buffers[name] = b
