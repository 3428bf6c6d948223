"""SRResNet, the SRGAN generator, with batch norm switchable (SRGAN Fig. 4).

Used by the batch-norm chapter to train the same network with and without BN.
"""
from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """conv3x3 - [BN] - PReLU - conv3x3 - [BN] + skip.  (N, nf, H, W) -> same."""

    def __init__(self, num_feat: int = 64, use_bn: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=not use_bn)
        self.bn1 = nn.BatchNorm2d(num_feat) if use_bn else nn.Identity()
        self.act = nn.PReLU(num_feat)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=not use_bn)
        self.bn2 = nn.BatchNorm2d(num_feat) if use_bn else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn2(self.conv2(self.act(self.bn1(self.conv1(x)))))


class SRResNet(nn.Module):
    """SRGAN's generator: 9x9 head, ``num_block`` residual blocks, pixel-shuffle x2 stages.

    ``use_bn=True`` is SRGAN's original; ``use_bn=False`` is the change ESRGAN
    makes (Sec. 3.1, "Removing BN layers"). Scale must be a power of two.

    Input (N, 3, H, W) in [0, 1]; output (N, 3, H*scale, W*scale).
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_block: int = 16,
        scale: int = 4,
        use_bn: bool = True,
    ) -> None:
        super().__init__()
        if scale not in (2, 4, 8):
            raise ValueError(f"SRResNet supports scales 2, 4 and 8, got {scale}")
        self.scale = scale
        self.use_bn = use_bn
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 9, 1, 4)
        self.act_first = nn.PReLU(num_feat)
        self.body = nn.Sequential(*[ResidualBlock(num_feat, use_bn) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=not use_bn)
        self.bn_body = nn.BatchNorm2d(num_feat) if use_bn else nn.Identity()
        stages = []
        for _ in range({2: 1, 4: 2, 8: 3}[scale]):
            stages += [nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU(num_feat)]
        self.upsample = nn.Sequential(*stages)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 9, 1, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.act_first(self.conv_first(x))
        feat = feat + self.bn_body(self.conv_body(self.body(feat)))
        return self.conv_last(self.upsample(feat))
