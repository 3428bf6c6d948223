"""The ESRGAN generator: RRDBNet (ESRGAN Sec. 3.1, Fig. 3-4).

Parameter names follow BasicSR (``conv_first``, ``body.N.rdb1.conv1``,
``conv_body``, ``conv_up1``, ``conv_hr``, ``conv_last``) so that BasicSR and
Real-ESRGAN checkpoints load with ``strict=True``; :mod:`esrgan_lesson.weights`
converts the two older ESRGAN layouts to these names.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..paper import GROWTH_CHANNELS, INIT_SCALE, LEAKY_SLOPE, NUM_BLOCKS, NUM_FEAT, RESIDUAL_SCALE

#: Scales RRDBNet supports, and how each is realised.
SUPPORTED_SCALES = (1, 2, 3, 4, 8)


@torch.no_grad()
def scaled_kaiming_init_(modules: list[nn.Module], scale: float = INIT_SCALE) -> None:
    """Kaiming-normal (fan_in) init multiplied by ``scale``, biases set to 0.

    This is ESRGAN's "smaller initialisation" (Sec. 3.1; BasicSR
    ``default_init_weights(..., scale=0.1)``) applied to conv/linear layers.
    """
    for module in modules:
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)
                m.weight.mul_(scale)
                if m.bias is not None:
                    m.bias.zero_()


class ResidualDenseBlock(nn.Module):
    """Residual dense block: five densely connected 3x3 convs (ESRGAN Fig. 4).

    Conv ``k`` sees ``nf + (k-1)*gc`` channels (the input plus every earlier
    layer's output); conv1..4 emit ``gc`` channels followed by LeakyReLU(0.2),
    conv5 emits ``nf``. Returns ``x + residual_scale * conv5(...)``.

    Shape: (N, nf, H, W) -> (N, nf, H, W).
    """

    def __init__(
        self,
        num_feat: int = NUM_FEAT,
        num_grow_ch: int = GROWTH_CHANNELS,
        residual_scale: float = RESIDUAL_SCALE,
        small_init: bool = True,
    ) -> None:
        super().__init__()
        self.residual_scale = residual_scale
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=LEAKY_SLOPE, inplace=True)
        if small_init:
            scaled_kaiming_init_([self.conv1, self.conv2, self.conv3, self.conv4, self.conv5], INIT_SCALE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * self.residual_scale + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three RDBs plus a scaled skip (ESRGAN Fig. 4).

    Shape: (N, nf, H, W) -> (N, nf, H, W).
    """

    def __init__(
        self,
        num_feat: int = NUM_FEAT,
        num_grow_ch: int = GROWTH_CHANNELS,
        residual_scale: float = RESIDUAL_SCALE,
        small_init: bool = True,
    ) -> None:
        super().__init__()
        self.residual_scale = residual_scale
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch, residual_scale, small_init)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch, residual_scale, small_init)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch, residual_scale, small_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.rdb3(self.rdb2(self.rdb1(x)))
        return out * self.residual_scale + x


class RRDBNet(nn.Module):
    """ESRGAN generator (ESRGAN Sec. 3.1).

    ``fea = conv_first(x)``; ``fea = fea + conv_body(body(fea))``; then per
    upsampling stage nearest-neighbour interpolation, a 3x3 conv and
    LeakyReLU(0.2); then ``conv_last(lrelu(conv_hr(fea)))``.

    Scales: x4 and x8 use two/three nearest x2 stages (``conv_up1..3``); x3
    uses one nearest x3 stage (as the original ESRGAN code); x2 and x1 first
    pixel-unshuffle the input by 2 or 4 (Real-ESRGAN), so ``conv_first`` sees
    ``4*in`` or ``16*in`` channels and the body still upsamples x4.

    Input: (N, num_in_ch, H, W) in [0, 1]; for x2/x1, H and W must divide by 2/4.
    Output: (N, num_out_ch, H*scale, W*scale), nominally [0, 1] (not clamped).
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        scale: int = 4,
        num_feat: int = NUM_FEAT,
        num_block: int = NUM_BLOCKS,
        num_grow_ch: int = GROWTH_CHANNELS,
        residual_scale: float = RESIDUAL_SCALE,
        small_init: bool = True,
    ) -> None:
        super().__init__()
        if scale not in SUPPORTED_SCALES:
            raise ValueError(f"RRDBNet supports scales {SUPPORTED_SCALES}, got {scale}")
        self.scale = scale
        self.num_in_ch = num_in_ch
        self.num_out_ch = num_out_ch
        self.num_feat = num_feat
        self.num_block = num_block
        self.num_grow_ch = num_grow_ch
        #: pixel-unshuffle factor applied to the input (Real-ESRGAN x2/x1).
        self.unshuffle = {2: 2, 1: 4}.get(scale, 1)
        #: the factors of the nearest-neighbour upsampling stages.
        self.up_factors: tuple[int, ...] = {1: (2, 2), 2: (2, 2), 3: (3,), 4: (2, 2), 8: (2, 2, 2)}[scale]

        self.conv_first = nn.Conv2d(num_in_ch * self.unshuffle**2, num_feat, 3, 1, 1)
        self.body = nn.Sequential(
            *[RRDB(num_feat, num_grow_ch, residual_scale, small_init) for _ in range(num_block)]
        )
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        for i in range(len(self.up_factors)):
            setattr(self, f"conv_up{i + 1}", nn.Conv2d(num_feat, num_feat, 3, 1, 1))
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=LEAKY_SLOPE, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            h, w = x.shape[-2:]
            if h % self.unshuffle or w % self.unshuffle:
                raise ValueError(
                    f"x{self.scale} RRDBNet needs H and W divisible by {self.unshuffle}, got {h}x{w}"
                )
            x = F.pixel_unshuffle(x, self.unshuffle)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for i, factor in enumerate(self.up_factors):
            conv = getattr(self, f"conv_up{i + 1}")
            feat = self.lrelu(conv(F.interpolate(feat, scale_factor=factor, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))

    @property
    def input_multiple(self) -> int:
        """Input H and W must be multiples of this (1, or the unshuffle factor)."""
        return self.unshuffle


def receptive_field(model: RRDBNet) -> int:
    """Receptive field, in LR pixels, of one output pixel of ``model``.

    Every conv is 3x3 stride 1 (radius 1 in its own resolution). Convs before
    upsampling add 2 LR pixels each (per unshuffled pixel when unshuffling);
    convs after an upsampling stage add ``2 / cumulative_factor`` LR pixels.
    Returns the rounded-up width of the window (an odd integer >= 1 at x1).
    """
    lr_convs = 1 + model.num_block * 3 * 5 + 1  # conv_first, RDB convs, conv_body
    width = 2.0 * lr_convs * model.unshuffle
    factor = 1
    for f in model.up_factors:
        factor *= f
        width += 2.0 / factor * model.unshuffle
    width += 2 * (2.0 / factor) * model.unshuffle  # conv_hr, conv_last
    return int(math.ceil(width)) + 1
