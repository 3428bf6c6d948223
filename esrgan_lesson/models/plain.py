"""A plain residual SR network (EDSR-style blocks, no BN) with exactly RRDBNet's head and upsampler.

Chapter 3 compares it with RRDBNet at an equal parameter count: only the trunk's
blocks differ, so the comparison isolates the RRDB. A training config names it
``model.type: plain_resnet`` (:mod:`.tables`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..paper import LEAKY_SLOPE

#: Upscale factors the nearest-neighbour x2 upsampler supports.
PLAIN_SCALES = (2, 4, 8)


class PlainResBlock(nn.Module):
    """EDSR-style residual block without BN: ``x + res_scale * conv(lrelu(conv(x)))``.

    Shape: (N, nf, H, W) -> (N, nf, H, W).
    """

    def __init__(self, num_feat: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(LEAKY_SLOPE, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.conv2(self.lrelu(self.conv1(x)))


class PlainResNet(nn.Module):
    """A plain residual SR network with exactly RRDBNet's head and upsampler.

    ``fea = conv_first(x)``; ``fea = fea + conv_body(body(fea))`` where ``body``
    is ``num_block`` :class:`PlainResBlock`; then nearest x2 + conv + LReLU per
    stage, ``conv_hr``, LReLU, ``conv_last`` (as :class:`~esrgan_lesson.models.RRDBNet`).
    Only the trunk's blocks differ from RRDBNet, so a comparison isolates them.

    Input (N, 3, H, W) in [0, 1]; output (N, 3, H*scale, W*scale), scale 2, 4 or 8.
    """

    def __init__(self, num_in_ch: int = 3, num_out_ch: int = 3, scale: int = 4, num_feat: int = 64,
                 num_block: int = 16, res_scale: float = 1.0) -> None:
        super().__init__()
        if scale not in PLAIN_SCALES:
            raise ValueError(f"PlainResNet supports scales 2, 4 and 8, got {scale}")
        self.scale = scale
        self.stages = int(round(math.log2(scale)))
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[PlainResBlock(num_feat, res_scale) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up = nn.ModuleList(nn.Conv2d(num_feat, num_feat, 3, 1, 1) for _ in range(self.stages))
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(LEAKY_SLOPE, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for conv in self.conv_up:
            feat = self.lrelu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))
