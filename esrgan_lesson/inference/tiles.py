"""The tile grid and one tile's forward pass: what the in-memory and the streamed upscale share.

:func:`~esrgan_lesson.inference.tiled.upscale` (whole images in memory) and
:func:`~esrgan_lesson.inference.bands.iter_upscaled_bands` (images too large to
hold, band by band) cut the LR image with the same :func:`tile_grid`, pad to the
same input multiple, run each tile through :func:`tile_core` with the same
precision guard (:func:`forward_guarded`), so both give the same pixels. Why
tiles and overlaps work is explained in :mod:`esrgan_lesson.inference.tiled`.
"""
from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, Union

import torch
from torch import nn

from esrgan_lesson.device import select_device
from esrgan_lesson.errors import ESRGANError

#: Default LR-pixel context added around every tile (see :mod:`esrgan_lesson.inference.tiled`).
DEFAULT_TILE_OVERLAP = 16

#: A tqdm-like bar (``reset(total=)``, ``update(1)``), a callable ``(done, total)``, or ``None``.
Progress = Union[Callable[[int, int], Any], Any, None]


def model_scale(model: nn.Module) -> int:
    """The model's upscaling factor (its ``scale`` attribute)."""
    scale = getattr(model, "scale", None)
    if not isinstance(scale, int) or scale < 1:
        raise ESRGANError(f"{type(model).__name__} has no integer 'scale' attribute")
    return scale


def model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters are (CPU for a model without parameters)."""
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def tile_grid(size: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Split ``range(size)`` into cores of ``tile`` and their context windows.

    Returns ``(core_start, core_end, win_start, win_end)`` per tile, where the
    window is the core widened by ``overlap`` on both sides and clipped to
    ``[0, size)``. Cores cover ``range(size)`` exactly once.
    """
    if tile < 1 or overlap < 0:
        raise ValueError(f"tile must be >= 1 and overlap >= 0, got {tile}, {overlap}")
    out = []
    for start in range(0, size, tile):
        end = min(start + tile, size)
        out.append((start, end, max(0, start - overlap), min(size, end + overlap)))
    return out


def round_up(value: int, multiple: int) -> int:
    """``value`` rounded up to a multiple of ``multiple``."""
    return int(math.ceil(value / multiple) * multiple)


def progress_start(progress: Progress, total: int) -> None:
    """Tell a tqdm-like ``progress`` how many tiles there are."""
    if progress is not None and hasattr(progress, "reset"):
        progress.reset(total=total)


def progress_step(progress: Progress, done: int, total: int) -> None:
    """One more tile done: ``progress.update(1)`` or ``progress(done, total)``."""
    if progress is None:
        return
    if hasattr(progress, "update"):
        progress.update(1)
    elif callable(progress):
        progress(done, total)


def forward_guarded(model: nn.Module, x: torch.Tensor, amp_dtype: torch.dtype | None) -> torch.Tensor:
    """Run ``model(x)``, under autocast to ``amp_dtype`` if given; fp32 retry if not finite.

    Returns float32 output (not clamped).
    """
    if amp_dtype is None:
        return model(x).float()
    with torch.autocast(device_type=x.device.type, dtype=amp_dtype):
        y = model(x)
    if not torch.isfinite(y).all():
        warnings.warn(
            f"{amp_dtype} inference gave inf/NaN for a tile of shape {tuple(x.shape)}; recomputed it in float32",
            RuntimeWarning,
            stacklevel=3,
        )
        y = model(x)
    return y.float()


def resolve_amp(dtype: torch.dtype | None, device: torch.device) -> torch.dtype | None:
    """The autocast dtype to use: ``None`` for fp32, and on any device but CUDA (with a warning)."""
    if dtype is None or dtype == torch.float32:
        return None
    if dtype not in (torch.float16, torch.bfloat16):
        raise ESRGANError(f"dtype must be float32, float16 or bfloat16, got {dtype}")
    if device.type != "cuda":
        warnings.warn(f"{dtype} autocast is only used on CUDA; running float32 on {device}", RuntimeWarning, stacklevel=3)
        return None
    return dtype


def check_size(h: int, w: int, scale: int, multiple: int, tile: int | None, tile_overlap: int) -> None:
    """An (h, w) LR image at least one input multiple large, and non-negative tile sizes."""
    if h < multiple or w < multiple or h < 1 or w < 1:
        raise ESRGANError(f"image is {h}x{w} pixels; this x{scale} model needs at least {multiple}x{multiple}")
    if tile is not None and tile < 0 or tile_overlap < 0:
        raise ESRGANError(f"tile and tile_overlap must be >= 0, got {tile} and {tile_overlap}")


def tile_core(model: nn.Module, patch: torch.Tensor, rows: tuple[int, int, int], cols: tuple[int, int, int],
               scale: int, amp_dtype: torch.dtype | None) -> torch.Tensor:
    """The output of one tile's core: ``patch`` is the LR window starting at (rows[2], cols[2]);
    rows/cols are (core_start, core_end, window_start) in LR pixels."""
    (r0, r1, wr0), (c0, c1, wc0) = rows, cols
    out = forward_guarded(model, patch, amp_dtype)
    return out[:, :, (r0 - wr0) * scale : (r1 - wr0) * scale, (c0 - wc0) * scale : (c1 - wc0) * scale]


def prepare_run(model: nn.Module, device: str | torch.device | None,
                dtype: torch.dtype | None) -> tuple[torch.device, torch.dtype | None]:
    """The device to run on (``device``, else where the model is; the model is moved there) and the autocast dtype."""
    run_device = select_device(device) if device is not None else model_device(model)
    if model_device(model) != run_device:
        model.to(run_device)
    return run_device, resolve_amp(dtype, run_device)
