"""Device selection. Nothing in the package calls ``.cuda()`` directly."""
from __future__ import annotations

import torch

from .errors import ESRGANError


def select_device(name: str | torch.device | None = None) -> torch.device:
    """Return the requested device, or the best available one for ``None``/"auto".

    Order for "auto": CUDA, then Apple MPS, then CPU. An explicit request for
    an unavailable device is an :class:`ESRGANError` (not a silent fallback).
    """
    if isinstance(name, torch.device):
        return name
    if name is None or name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ESRGANError(f"unknown device {name!r}: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ESRGANError(f"device {name!r} requested but CUDA is not available")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ESRGANError(f"device {name!r} requested but MPS is not available")
    return device
