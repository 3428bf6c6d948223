"""Streaming the upscale of an image too large to hold: one band of tile rows at a time.

:func:`iter_upscaled_bands` is the streamed partner of
:func:`~esrgan_lesson.inference.tiled.upscale` with a tile size: the same grid,
padding and per-tile computation (:mod:`.tiles`), so the bands put together equal
its output while only one band of output exists at once.
:mod:`.large_images` writes the bands into PNG or TIFF files.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import nn

from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.inference.layout import cpu_channels_last
from esrgan_lesson.inference import tiles


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """Indices past the end mirrored back, as ``F.pad(mode="reflect")`` pads the bottom/right."""
    return np.where(index < size, index, 2 * (size - 1) - index)


def iter_upscaled_bands(
    model: nn.Module,
    fetch: Callable[[np.ndarray, np.ndarray], np.ndarray],
    size: tuple[int, int],
    tile: int,
    tile_overlap: int = tiles.DEFAULT_TILE_OVERLAP,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    progress: tiles.Progress = None,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Upscale an image too large to hold, yielding one band of tile rows at a time.

    The streaming partner of :func:`~.tiled.upscale` with ``tile=tile``: the same
    tile grid, padding and per-tile computation, so the bands put together
    equal its output, while only one band of output exists at once.

    Args:
        fetch: ``fetch(rows, cols)`` returns the LR pixels at the integer
            index arrays ``rows`` and ``cols`` as float32 (len(rows),
            len(cols), 3) in [0, 1].
        size: the LR (height, width).
        tile, tile_overlap, device, dtype, progress: as for :func:`~.tiled.upscale`.

    Yields:
        ``(r0, r1, band)``: LR rows r0 to r1 and their output, float32
        ((r1-r0)*scale, width*scale, 3) in [0, 1], top to bottom.
    """
    scale = tiles.model_scale(model)
    multiple = int(getattr(model, "input_multiple", 1))
    h, w = size
    tiles.check_size(h, w, scale, multiple, tile, tile_overlap)
    if not tile or tile < 1:
        raise ESRGANError("streaming needs a tile size >= 1")
    run_device, amp_dtype = tiles.prepare_run(model, device, dtype)
    hp, wp = tiles.round_up(h, multiple), tiles.round_up(w, multiple)
    t, o = tiles.round_up(tile, multiple), tiles.round_up(tile_overlap, multiple)
    rows, cols = tiles.tile_grid(hp, t, o), tiles.tile_grid(wp, t, o)
    total, done = len(rows) * len(cols), 0
    tiles.progress_start(progress, total)
    was_training = model.training
    model.eval()
    try:
        with cpu_channels_last(model, run_device) as layout:  # the layout upscale_tensor uses: same pixels
            for r0, r1, wr0, wr1 in rows:
                if r0 >= h:  # only padding rows left
                    break
                band = None
                for c0, c1, wc0, wc1 in cols:
                    patch = fetch(_reflect(np.arange(wr0, wr1), h), _reflect(np.arange(wc0, wc1), w))
                    x = torch.from_numpy(np.ascontiguousarray(patch, dtype=np.float32)).permute(2, 0, 1)[None]
                    with torch.no_grad():
                        x = x.to(run_device).contiguous(memory_format=layout)
                        out = tiles.tile_core(model, x, (r0, r1, wr0), (c0, c1, wc0), scale, amp_dtype)
                    core = out[0].permute(1, 2, 0).cpu().numpy()
                    if band is None:
                        band = np.empty(((r1 - r0) * scale, wp * scale, core.shape[2]), dtype=np.float32)
                    band[:, c0 * scale : c1 * scale] = core
                    done += 1
                    tiles.progress_step(progress, done, total)
                assert band is not None
                r1 = min(r1, h)
                band = band[: (r1 - r0) * scale, : w * scale]
                yield r0, r1, np.clip(band, 0.0, 1.0, out=band)
    finally:
        model.train(was_training)
