"""Inference: super-resolving images with a generator.

- :mod:`.tiled`: :func:`upscale` (the one function every caller uses to
  super-resolve an image: the CLI, training validation, ``evaluate``, the
  benchmarks and the chapters), whole or in overlapping tiles, with alpha, grey
  and bit depth carried through;
- :mod:`.tiles`: the tile grid and one tile's guarded forward pass, shared by
  :mod:`.tiled` and :mod:`.bands`;
- :mod:`.bands`: :func:`iter_upscaled_bands`, the same tiles streamed one band
  of tile rows at a time for images too large to hold;
- :mod:`.large_images`: planning memory and streaming outputs too large to hold
  in memory into PNG or TIFF files, tile row by tile row.
"""
from __future__ import annotations

from esrgan_lesson.inference.bands import iter_upscaled_bands
from esrgan_lesson.inference.tiled import is_binary_alpha, upscale, upscale_alpha, upscale_tensor
from esrgan_lesson.inference.tiles import DEFAULT_TILE_OVERLAP, Progress, model_scale, tile_grid

__all__ = [
    "DEFAULT_TILE_OVERLAP", "Progress", "is_binary_alpha", "iter_upscaled_bands", "model_scale", "tile_grid",
    "upscale", "upscale_alpha", "upscale_tensor",
]
