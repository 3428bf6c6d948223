"""Upscaling images with a generator, whole or in overlapping tiles.

Tiling
------
A large image may not fit through the network at once: at x4 every
64-channel fp32 feature map after upsampling takes 16 * 64 * 4 bytes = 4 KB
per LR pixel, and several are alive at once. :func:`upscale` then cuts the LR image into a grid of ``tile``
x ``tile`` *cores*; each core is run with ``tile_overlap`` extra LR pixels of
real image context on every side, and only the core's part of the output is
kept. Where the overlap covers the network's receptive field radius, the
tiled result equals the untiled one to float rounding; no blending is needed
and there can be no seam.

Why the default overlap is :data:`DEFAULT_TILE_OVERLAP` (16 LR pixels):
RRDBNet nf64 nb23 has 349 stacked 3x3 convs, so its *theoretical* receptive
field (:func:`esrgan_lesson.models.receptive_field`) is about 700 LR pixels
wide: an overlap that covers it would make each 256-pixel tile cost
(256 + 2*350)^2 / 256^2, about 14 times the untiled work. The *effective*
receptive field is far smaller because each RDB and RRDB adds its residual
scaled by 0.2 (ESRGAN Sec. 3.1) so distant pixels contribute through long
products of small factors. With 16 pixels of overlap a 256-pixel tile costs
(288/256)^2 = 1.27x, and the tests and ``benchmarks/inference.py`` measure
the remaining difference from untiled output on a real photo; in the cases
measured so far (random-weight networks) it stays far below one 8-bit level.
Trained networks may have a wider effective field and have not been measured. Use a larger overlap when that
matters more than time.

Input multiple
--------------
Real-ESRGAN's x2 and x1 RRDBNets pixel-unshuffle their input by 2 or 4, so H
and W must be multiples of ``model.input_multiple``. The LR image is padded
on the bottom/right by reflection up to that multiple (once, before tiling;
tiles and overlaps are rounded to the same multiple so every tile is valid),
and the output is cropped back to ``scale`` times the original size.

Precision
---------
fp32 by default. ``dtype=torch.float16`` or ``torch.bfloat16`` runs the model
under autocast on CUDA only (on other devices the request is ignored with a
warning). fp16 overflows in deep residual nets can give inf/NaN ("black
images"); any tile whose output is not finite is recomputed in fp32, with a
warning. The output is clamped to [0, 1].

Alpha and grey
--------------
For a :class:`~esrgan_lesson.imageio.LoadedImage` the colour channels go
through the model. The alpha channel is upscaled with bicubic interpolation
(clamped to [0, 1]), not by the model: alpha is usually a smooth or binary
mask where GAN texture would be wrong, and it costs nothing. A binary mask
(only 0 and 1, as palette and GIF transparency are) is cut at 0.5 after the
bicubic step, so it stays binary (:func:`upscale_alpha`). A grey source
gives an output whose three channels are replaced by their mean, so the
result is exactly grey (no colour cast) and keeps ``grey=True``. The bit depth
is carried through so a 16-bit PNG is written back at 16 bits.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TypeVar, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.imageio import LoadedImage
from esrgan_lesson.inference.layout import cpu_channels_last as _cpu_channels_last
from esrgan_lesson.inference.tiles import (
    DEFAULT_TILE_OVERLAP,
    Progress,
    check_size,
    forward_guarded,
    model_scale,
    prepare_run,
    progress_start,
    progress_step,
    round_up,
    tile_core,
    tile_grid,
)

ImageLike = Union[np.ndarray, torch.Tensor, LoadedImage]
#: :func:`upscale` returns the kind of image it is given.
ImageT = TypeVar("ImageT", np.ndarray, torch.Tensor, LoadedImage)


def upscale_tensor(
    model: nn.Module,
    x: torch.Tensor,
    tile: int | None = None,
    tile_overlap: int = DEFAULT_TILE_OVERLAP,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    progress: Progress = None,
) -> torch.Tensor:
    """Upscale a batch ``x`` of shape (N, C, H, W), values in [0, 1].

    Returns a float32 (N, C_out, H*scale, W*scale) tensor in [0, 1] on ``x``'s
    device. ``tile=None`` (or 0, or a tile at least as large as the image)
    runs the whole image at once. The model runs on ``device`` (default: the
    device its parameters are on) and is moved there if needed.
    """
    if x.ndim != 4:
        raise ESRGANError(f"expected an (N, C, H, W) tensor, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ESRGANError(f"expected a float tensor in [0, 1], got {x.dtype}")
    scale = model_scale(model)
    multiple = int(getattr(model, "input_multiple", 1))
    n_in = getattr(model, "num_in_ch", None)
    if n_in is not None and x.shape[1] != n_in:
        raise ESRGANError(f"the model takes {n_in} channels, the image has {x.shape[1]}")
    n, _, h, w = x.shape
    check_size(h, w, scale, multiple, tile, tile_overlap)
    run_device, amp_dtype = prepare_run(model, device, dtype)
    out_device = x.device

    # Pad bottom/right by reflection to the model's input multiple.
    ph, pw = round_up(h, multiple) - h, round_up(w, multiple) - w
    xp = x.detach().float()
    if ph or pw:
        xp = F.pad(xp, (0, pw, 0, ph), mode="reflect")
    hp, wp = xp.shape[-2:]

    was_training = model.training
    model.eval()
    try:
        with _cpu_channels_last(model, run_device) as layout, torch.inference_mode():  # weights stay ordinary
            if not tile or (tile >= hp and tile >= wp):
                progress_start(progress, 1)
                xin = xp.to(run_device).contiguous(memory_format=layout)
                y = forward_guarded(model, xin, amp_dtype).to(out_device)
                progress_step(progress, 1, 1)
            else:
                t = round_up(tile, multiple)
                o = round_up(tile_overlap, multiple)
                rows, cols = tile_grid(hp, t, o), tile_grid(wp, t, o)
                total = len(rows) * len(cols)
                progress_start(progress, total)
                y = None
                done = 0
                for r0, r1, wr0, wr1 in rows:
                    for c0, c1, wc0, wc1 in cols:
                        patch = xp[:, :, wr0:wr1, wc0:wc1].to(run_device).contiguous(memory_format=layout)
                        out = tile_core(model, patch, (r0, r1, wr0), (c0, c1, wc0), scale, amp_dtype)
                        if y is None:
                            y = torch.empty(n, out.shape[1], hp * scale, wp * scale, device=out_device)
                        y[:, :, r0 * scale : r1 * scale, c0 * scale : c1 * scale] = out.to(out_device)
                        done += 1
                        progress_step(progress, done, total)
    finally:
        model.train(was_training)
    assert y is not None
    return y[:, :, : h * scale, : w * scale].clamp(0.0, 1.0).contiguous()  # out of place: an ordinary tensor


def is_binary_alpha(alpha: np.ndarray) -> bool:
    """Whether an alpha mask holds only 0 and 1 (palette/GIF transparency, 1-bit masks)."""
    return bool(np.isin(alpha, (0.0, 1.0)).all())


def upscale_alpha(alpha: np.ndarray, scale: int, binary: bool | None = None) -> np.ndarray:
    """Upscale an (H, W) alpha mask in [0, 1] by ``scale`` (see "Alpha and grey" above).

    Bicubic, clamped to [0, 1]; a ``binary`` mask (only 0 and 1; found from
    ``alpha`` when ``None``) is then cut at 0.5, so it stays binary with edges
    that follow the bicubic contour instead of nearest-neighbour steps.
    """
    binary = is_binary_alpha(alpha) if binary is None else binary
    if scale == 1:
        return alpha.astype(np.float32, copy=True)
    a = torch.from_numpy(np.ascontiguousarray(alpha, dtype=np.float32))[None, None]
    up = F.interpolate(a, scale_factor=scale, mode="bicubic", align_corners=False)[0, 0].clamp_(0.0, 1.0).numpy()
    return (up >= 0.5).astype(np.float32) if binary else up


def _check_hwc(image: np.ndarray) -> np.ndarray:
    if image.ndim != 3 or image.shape[2] != 3:
        raise ESRGANError(f"expected an (H, W, 3) array, got shape {image.shape}")
    if not np.issubdtype(image.dtype, np.floating):
        raise ESRGANError(f"expected float values in [0, 1], got dtype {image.dtype}")
    return np.ascontiguousarray(image, dtype=np.float32)


def upscale(
    model: nn.Module,
    image: ImageT,
    tile: int | None = None,
    tile_overlap: int = DEFAULT_TILE_OVERLAP,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    progress: Progress = None,
) -> ImageT:
    """Super-resolve ``image`` with ``model`` (see the module docstring for tiling/precision).

    Args:
        model: a generator with an integer ``scale`` attribute (RRDBNet, SRResNet).
        image: one of
            * (H, W, 3) float numpy array in [0, 1] -> (H*s, W*s, 3) float32 array;
            * (3, H, W) or (N, 3, H, W) float tensor in [0, 1] -> tensor of the
              same rank on the same device, float32;
            * :class:`LoadedImage` -> :class:`LoadedImage` with upscaled colour,
              upscaled alpha (:func:`upscale_alpha`), the same ``grey`` flag,
              ``bit_depth`` and ``note``.
        tile: LR tile size in pixels; ``None``/0 for the whole image at once.
        tile_overlap: LR pixels of context around each tile.
        device: where to run the model (default: where its parameters are).
        dtype: ``torch.float16``/``torch.bfloat16`` for CUDA autocast, else fp32.
        progress: a tqdm-like bar (``reset(total=)``/``update(1)``) or a
            callable ``(tiles_done, tiles_total)``.

    Returns:
        The upscaled image, clamped to [0, 1].
    """
    def run(x: torch.Tensor) -> torch.Tensor:
        return upscale_tensor(model, x, tile=tile, tile_overlap=tile_overlap, device=device, dtype=dtype,
                              progress=progress)

    if isinstance(image, LoadedImage):
        rgb = _check_hwc(image.rgb)
        y = run(torch.from_numpy(rgb).permute(2, 0, 1)[None])
        out = y[0].permute(1, 2, 0).cpu().numpy()
        if image.grey:
            out = np.repeat(out.mean(axis=2, keepdims=True), 3, axis=2)
        alpha = upscale_alpha(image.alpha, model_scale(model)) if image.alpha is not None else None
        return replace(image, rgb=np.ascontiguousarray(out), alpha=alpha)
    if isinstance(image, np.ndarray):
        rgb = _check_hwc(image)
        y = run(torch.from_numpy(rgb).permute(2, 0, 1)[None])
        return np.ascontiguousarray(y[0].permute(1, 2, 0).cpu().numpy())
    if isinstance(image, torch.Tensor):
        if image.ndim == 3:
            return run(image[None])[0]
        return run(image)
    raise ESRGANError(f"cannot upscale a {type(image).__name__}; pass a numpy array, a tensor or a LoadedImage")


__all__ = ["DEFAULT_TILE_OVERLAP", "ImageLike", "Progress", "is_binary_alpha", "model_scale", "tile_grid", "upscale",
           "upscale_alpha", "upscale_tensor"]
