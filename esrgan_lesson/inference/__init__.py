"""Inference: super-resolving images with a generator.

- :mod:`.tiled`: :func:`upscale` (the one function every caller uses to
  super-resolve an image: the CLI, training validation, ``evaluate``, the
  benchmarks and the chapters), whole or in overlapping tiles, with alpha, grey
  and bit depth carried through;
- :mod:`.large_images`: planning memory and streaming outputs too large to hold
  in memory into PNG or TIFF files, tile row by tile row.
"""
from __future__ import annotations

from esrgan_lesson.inference.tiled import (
    DEFAULT_TILE_OVERLAP,
    Progress,
    is_binary_alpha,
    iter_upscaled_bands,
    model_scale,
    tile_grid,
    upscale,
    upscale_alpha,
    upscale_tensor,
)

__all__ = [
    "DEFAULT_TILE_OVERLAP", "Progress", "is_binary_alpha", "iter_upscaled_bands", "model_scale", "tile_grid",
    "upscale", "upscale_alpha", "upscale_tensor",
]
