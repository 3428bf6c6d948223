"""``DevicePatchSampler``: training batches made on the device itself.

A ``DataLoader`` decodes, crops and degrades images on CPU workers and copies
every batch to the accelerator; on a fast GPU (or on a 2-core laptop, where
worker processes cost more than they save) that pipeline is the bottleneck.
This sampler keeps the full HR images on the device once and, per batch,

1. picks an image (uniformly) and an LR-grid-aligned square crop per sample,
2. flips/rotates the HR crop (ESRGAN Sec. 4.1 augmentation),
3. makes the LR patch with MATLAB bicubic (:func:`esrgan_lesson.data.imresize`)
   on the device, optionally rounded to 8 bits like a saved LR PNG.

Exactness: each image is padded once by ``2 * scale`` pixels with MATLAB's
symmetric mirroring and every crop carries that margin into the downscale,
so an (unaugmented) LR patch equals the same crop of ``imresize`` applied to
the *whole* image — the same data as a pre-made LR folder, without border
artefacts at patch edges.

All random draws come from one CPU ``torch.Generator``, so a seed fixes the
batch sequence on every device, and :meth:`state_dict` /
:meth:`load_state_dict` let training resume exactly.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch

from ..errors import DataError
from esrgan_lesson.data.imresize import imresize
from esrgan_lesson.imageio import quantize
from .augment import NUM_AUGMENTS, augment_torch


def _symmetric_pad(x: torch.Tensor, m: int) -> torch.Tensor:
    """Pad (C, H, W) by ``m`` on every side, mirroring with the edge repeated (MATLAB 'symmetric')."""
    if m > x.shape[-2] or m > x.shape[-1]:
        raise DataError(f"image {x.shape[-2]}x{x.shape[-1]} is too small to pad by {m}")
    x = torch.cat([x[..., :m, :].flip(-2), x, x[..., -m:, :].flip(-2)], dim=-2)
    return torch.cat([x[..., :m].flip(-1), x, x[..., -m:].flip(-1)], dim=-1)


class DevicePatchSampler:
    """Infinite iterator of ``(lr, hr)`` batches built on ``device``.

    Args:
        images: HR images, each numpy (H, W, 3) (uint8, or float in [0, 1]) or
            a torch (3, H, W) tensor. uint8 images stay uint8 on the device
            (a quarter of the memory); floats are stored as float32. Each is
            mod-cropped to ``scale`` and must be at least ``hr_patch`` square.
        scale: integer downscaling factor.
        hr_patch: HR patch size, a multiple of ``scale``.
        batch_size: patches per batch.
        device: where images live and batches are made.
        generator: CPU ``torch.Generator`` for all random draws, or ``None``
            for one seeded with ``seed``.
        seed: used when ``generator`` is ``None``.
        augment: random flips and 90-degree rotations.
        quantize_lr: round LR to multiples of 1/255 (clipped to [0, 1]), as an
            8-bit LR file would be.

    Yields:
        ``(lr, hr)``: float32 tensors on ``device``, shaped
        (B, 3, hr_patch/scale, hr_patch/scale) and (B, 3, hr_patch, hr_patch),
        values in [0, 1] (LR may overshoot slightly when ``quantize_lr`` is off).
    """

    def __init__(self, images: Sequence[np.ndarray | torch.Tensor], scale: int = 4, hr_patch: int = 128,
                 batch_size: int = 16, device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None, seed: int = 0, augment: bool = True,
                 quantize_lr: bool = True) -> None:
        if int(scale) != scale or scale < 1:
            raise DataError(f"scale must be a positive integer, got {scale}")
        if hr_patch < scale or hr_patch % scale:
            raise DataError(f"hr_patch={hr_patch} must be a positive multiple of scale={scale}")
        if batch_size < 1:
            raise DataError(f"batch_size must be >= 1, got {batch_size}")
        if len(images) == 0:
            raise DataError("DevicePatchSampler needs at least one image")
        self.scale, self.hr_patch, self.batch_size = int(scale), int(hr_patch), int(batch_size)
        self.device = torch.device(device)
        self.augment, self.quantize_lr = augment, quantize_lr
        self.margin = 2 * self.scale  # HR pixels of context the x`scale` bicubic kernel reaches
        if generator is None:
            generator = torch.Generator().manual_seed(seed)
        if generator.device.type != "cpu":
            raise DataError("DevicePatchSampler needs a CPU torch.Generator (draws are device-independent)")
        self.generator = generator
        self.images: list[torch.Tensor] = []
        self.lr_sizes: list[tuple[int, int]] = []
        for k, img in enumerate(images):
            t = self._to_chw(img, k)
            h, w = t.shape[-2] - t.shape[-2] % self.scale, t.shape[-1] - t.shape[-1] % self.scale
            if min(h, w) < self.hr_patch:
                raise DataError(f"image {k} is {t.shape[-2]}x{t.shape[-1]}, smaller than hr_patch={self.hr_patch}")
            t = t[:, :h, :w].to(self.device)
            self.images.append(_symmetric_pad(t, self.margin).contiguous())
            self.lr_sizes.append((h // self.scale, w // self.scale))

    @staticmethod
    def _to_chw(img: np.ndarray | torch.Tensor, k: int) -> torch.Tensor:
        if isinstance(img, np.ndarray):
            if img.ndim != 3 or img.shape[2] != 3:
                raise DataError(f"image {k}: numpy images must be (H, W, 3), got shape {img.shape}")
            t = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)
        elif isinstance(img, torch.Tensor):
            if img.ndim != 3 or img.shape[0] != 3:
                raise DataError(f"image {k}: tensors must be (3, H, W), got shape {tuple(img.shape)}")
            t = img.detach()
        else:
            raise DataError(f"image {k}: expected numpy array or tensor, got {type(img).__name__}")
        if t.dtype == torch.uint8:
            return t
        if not t.is_floating_point():
            raise DataError(f"image {k}: unsupported dtype {t.dtype}")
        return t.to(torch.float32)

    def state_dict(self) -> dict:
        """The random generator's state (a CPU uint8 tensor under ``"generator"``)."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`; the next batch is the one that followed the save."""
        self.generator.set_state(state["generator"])

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One ``(lr, hr)`` batch (see the class docstring)."""
        g, s, p, m = self.generator, self.scale, self.hr_patch, self.margin
        lp = p // s
        idx = torch.randint(len(self.images), (self.batch_size,), generator=g).tolist()
        u = torch.rand(self.batch_size, 2, generator=g, dtype=torch.float64)
        codes = torch.randint(NUM_AUGMENTS, (self.batch_size,), generator=g).tolist()
        crops = []
        for b, i in enumerate(idx):
            lh, lw = self.lr_sizes[i]
            y = int(u[b, 0] * (lh - lp + 1)) * s
            x = int(u[b, 1] * (lw - lp + 1)) * s
            crop = self.images[i][:, y:y + p + 2 * m, x:x + p + 2 * m]
            crop = crop.to(torch.float32) / 255.0 if crop.dtype == torch.uint8 else crop
            crops.append(augment_torch(crop, codes[b]) if self.augment else crop)
        big = torch.stack(crops)
        lr = imresize(big, scale=1.0 / s)[..., 2:-2, 2:-2]  # margin 2s HR px == 2 LR px
        if self.quantize_lr:
            lr = quantize(lr)
        hr = big[..., m:m + p, m:m + p].contiguous()
        return lr.contiguous(), hr

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        while True:
            yield self.sample()
