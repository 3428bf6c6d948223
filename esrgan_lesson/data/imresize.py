"""MATLAB-compatible bicubic ``imresize`` in PyTorch.

Super-resolution benchmarks make their low-resolution inputs with MATLAB's
``imresize(hr, 1/scale, 'bicubic')``. PyTorch's and OpenCV's bicubic resizers
differ from it (other cubic coefficient, no antialiasing when shrinking, other
border handling), and the difference is large enough to cost a model
tenths of a dB. This module reproduces MATLAB's definition:

* cubic kernel with ``a = -0.5`` and support 4 (Keys 1981);
* when shrinking by ``s < 1`` with ``antialias=True`` the kernel is stretched
  to ``4 / s`` taps and scaled by ``s`` (a low-pass filter: antialiasing);
* output pixel ``i`` (1-based) samples input coordinate
  ``u = i / s + 0.5 * (1 - 1 / s)``; each row of weights is normalised to sum 1;
* out-of-range input indices are mirrored symmetrically
  (``..., 2, 1, 1, 2, ..., n, n, n-1, ...``);
* the output length is ``ceil(in * s)``; the height is resized first when
  both scales are equal (MATLAB resizes the dimension with the smaller scale
  first).

Weights are computed once per (length, scale) and applied along each axis as
a matmul with a dense (out, in) matrix, or, for very long axes, as a gather of
the taps and a weighted sum; either runs on whatever device the input is on.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import TypeVar, overload

import numpy as np
import torch

from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.paper import BICUBIC_A, BICUBIC_SUPPORT

ArrayLike = TypeVar("ArrayLike", np.ndarray, torch.Tensor)


def cubic(x: np.ndarray, a: float = BICUBIC_A) -> np.ndarray:
    """Keys' cubic convolution kernel (float64), zero outside ``|x| < 2``."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (a + 2.0) * ax3 - (a + 3.0) * ax2 + 1.0
    far = a * ax3 - 5.0 * a * ax2 + 8.0 * a * ax - 4.0 * a
    return np.where(ax <= 1.0, near, np.where(ax < 2.0, far, 0.0))


@lru_cache(maxsize=256)
def resize_weights(in_len: int, out_len: int, scale: float, antialias: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's contributions for one axis.

    Args:
        in_len: input length (pixels).
        out_len: output length (pixels).
        scale: ``out / in`` ratio used for the coordinate mapping.
        antialias: widen the kernel when ``scale < 1``.

    Returns:
        ``(weights, indices)``, both shaped ``(out_len, taps)``: float64 weights
        whose rows sum to 1 and int64 0-based input indices (already mirrored
        into ``[0, in_len)``). Taps whose weight is zero for every output are
        dropped, as MATLAB does.
    """
    if in_len < 1 or out_len < 1:
        raise ESRGANError(f"imresize: lengths must be positive, got {in_len} -> {out_len}")
    width = float(BICUBIC_SUPPORT)
    shrink = antialias and scale < 1.0
    if shrink:
        width = width / scale
    i = np.arange(1, out_len + 1, dtype=np.float64)
    u = i / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based
    dist = u[:, None] - idx
    w = scale * cubic(dist * scale) if shrink else cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    # symmetric mirroring of 1-based indices: 1..n, n..1, repeated
    period = 2 * in_len
    m = np.mod(idx.astype(np.int64) - 1, period)
    m = np.where(m < in_len, m, period - 1 - m)
    keep = np.any(w != 0.0, axis=0)
    return np.ascontiguousarray(w[:, keep]), np.ascontiguousarray(m[:, keep])


def output_size(in_size: tuple[int, int], scale: float) -> tuple[int, int]:
    """``(ceil(H * scale), ceil(W * scale))``, as MATLAB computes it."""
    return tuple(int(math.ceil(float(n) * scale - 1e-9)) for n in in_size)  # type: ignore[return-value]


#: Axes with in_len * out_len up to this use a dense (out, in) matrix and a
#: BLAS matmul (fast for patches and typical images); longer ones gather taps.
DENSE_LIMIT = 1 << 22


@lru_cache(maxsize=256)
def _dense_matrix(in_len: int, out_len: int, scale: float, antialias: bool) -> np.ndarray:
    """(out_len, in_len) float64 matrix with MATLAB's weights (mirrored taps summed)."""
    w, idx = resize_weights(in_len, out_len, scale, antialias)
    m = np.zeros((out_len, in_len), dtype=np.float64)
    np.add.at(m, (np.repeat(np.arange(out_len), w.shape[1]), idx.ravel()), w.ravel())
    return m


#: Dense matrices up to this many entries are also kept on their device (the
#: training sampler's patch sizes), so a batch makes no host-to-device copy.
DEVICE_CACHE_LIMIT = 1 << 20


@lru_cache(maxsize=16)
def _device_matrix_t(in_len: int, out_len: int, scale: float, antialias: bool, device: torch.device,
                     dtype: torch.dtype) -> torch.Tensor:
    """:func:`_dense_matrix` transposed to (in_len, out_len), on ``device`` in ``dtype``, made once."""
    return torch.from_numpy(_dense_matrix(in_len, out_len, scale, antialias)).to(device=device, dtype=dtype).T


def _resize_axis(x: torch.Tensor, dim: int, out_len: int, scale: float, antialias: bool) -> torch.Tensor:
    in_len = x.shape[dim]
    x = x.movedim(dim, -1)
    if in_len * out_len <= DEVICE_CACHE_LIMIT:
        out = torch.matmul(x, _device_matrix_t(in_len, out_len, float(scale), antialias, x.device, x.dtype))
    elif in_len * out_len <= DENSE_LIMIT:
        m = torch.from_numpy(_dense_matrix(in_len, out_len, float(scale), antialias))
        out = torch.matmul(x, m.to(device=x.device, dtype=x.dtype).T)
    else:
        w_np, idx_np = resize_weights(in_len, out_len, float(scale), antialias)
        idx = torch.from_numpy(idx_np).to(x.device)
        w = torch.from_numpy(w_np).to(device=x.device, dtype=x.dtype)
        out = (x[..., idx] * w).sum(dim=-1)  # (..., out_len, taps) -> (..., out_len)
    return out.movedim(-1, dim)


def _scales(in_hw: tuple[int, int], scale: float | tuple[float, float] | None,
            size: tuple[int, int] | None) -> tuple[tuple[float, float], tuple[int, int]]:
    if (scale is None) == (size is None):
        raise ESRGANError("imresize: give exactly one of scale= or size=")
    if size is not None:
        oh, ow = (int(size[0]), int(size[1]))
        if oh < 1 or ow < 1:
            raise ESRGANError(f"imresize: output size must be positive, got {size}")
        return (oh / in_hw[0], ow / in_hw[1]), (oh, ow)
    assert scale is not None  # exactly one of scale/size was given
    if isinstance(scale, (int, float, np.number)):  # what np.isscalar accepted here, but typed
        sh = sw = float(scale)
    else:
        sh, sw = float(scale[0]), float(scale[1])
    if not (sh > 0 and sw > 0):
        raise ESRGANError(f"imresize: scale must be positive, got {scale}")
    oh, _ = output_size((in_hw[0], 1), sh)
    _, ow = output_size((1, in_hw[1]), sw)
    return (float(sh), float(sw)), (oh, ow)


def _imresize_torch(x: torch.Tensor, scale, size, antialias: bool) -> torch.Tensor:
    if x.ndim < 2:
        raise ESRGANError(f"imresize: need at least a (H, W) tensor, got shape {tuple(x.shape)}")
    in_dtype = x.dtype
    work = x if x.dtype in (torch.float32, torch.float64) else x.to(torch.float32)
    (sh, sw), (oh, ow) = _scales((x.shape[-2], x.shape[-1]), scale, size)
    # MATLAB resizes the dimension with the smaller scale first (stable order).
    order = [(-2, oh, sh), (-1, ow, sw)]
    if sw < sh:
        order.reverse()
    for dim, n, s in order:
        if n == work.shape[dim] and s == 1.0:
            continue  # exact identity
        work = _resize_axis(work, dim, n, s, antialias)
    if in_dtype == torch.uint8:
        return work.round().clamp(0, 255).to(torch.uint8)
    if in_dtype != work.dtype:
        return work.to(in_dtype)
    return work


@overload
def imresize(x: torch.Tensor, scale: float | tuple[float, float] | None = ..., size: tuple[int, int] | None = ...,
             antialias: bool = ...) -> torch.Tensor: ...
@overload
def imresize(x: np.ndarray, scale: float | tuple[float, float] | None = ..., size: tuple[int, int] | None = ...,
             antialias: bool = ...) -> np.ndarray: ...


def imresize(x, scale=None, size=None, antialias=True):
    """Resize like MATLAB's ``imresize(x, scale, 'bicubic')``.

    Args:
        x: a torch tensor shaped (..., H, W) — e.g. (C, H, W) or (N, C, H, W) —
            on any device, or a numpy array shaped (H, W, C) or (H, W).
            float32/float64 are computed in their own precision (values are not
            clipped, so they may overshoot [0, 1] slightly at edges, as in
            MATLAB); uint8 is computed in float32 and returned as uint8,
            rounded and clipped to [0, 255], as MATLAB does; other types
            (float16, bfloat16) are computed in float32 and cast back.
        scale: a factor (e.g. ``0.25`` to shrink by 4), or ``(sh, sw)``.
        size: ``(out_h, out_w)`` instead of ``scale``; each axis then uses
            ``out / in`` as its scale, like MATLAB's ``[rows cols]`` form.
        antialias: widen the kernel when shrinking (MATLAB's default ``true``).

    Returns:
        The same kind of object, shaped (..., ceil(H*sh), ceil(W*sw)) (torch) or
        (ceil(H*sh), ceil(W*sw)[, C]) (numpy), same dtype as ``x``.
    """
    if isinstance(x, torch.Tensor):
        return _imresize_torch(x, scale, size, antialias)
    if isinstance(x, np.ndarray):
        if x.ndim not in (2, 3):
            raise ESRGANError(f"imresize: numpy input must be (H, W) or (H, W, C), got shape {x.shape}")
        if x.dtype == np.bool_ or not (np.issubdtype(x.dtype, np.floating) or x.dtype == np.uint8):
            raise ESRGANError(f"imresize: unsupported numpy dtype {x.dtype}; use uint8, float32 or float64")
        t = torch.from_numpy(np.ascontiguousarray(x))
        t = t.unsqueeze(0) if x.ndim == 2 else t.permute(2, 0, 1)
        out = _imresize_torch(t, scale, size, antialias)
        out = out[0] if x.ndim == 2 else out.permute(1, 2, 0)
        return np.ascontiguousarray(out.numpy())
    raise ESRGANError(f"imresize: expected a torch.Tensor or numpy array, got {type(x).__name__}")
