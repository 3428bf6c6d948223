"""VGG-style discriminator used by SRGAN and ESRGAN (BasicSR ``VGGStyleDiscriminator``)."""
from __future__ import annotations

import torch
from torch import nn

from ..paper import DISC_HIDDEN, LEAKY_SLOPE

#: Patch sizes the discriminator accepts (128 is the paper's).
SUPPORTED_INPUT_SIZES = (32, 64, 128, 256)


class VGGStyleDiscriminator(nn.Module):
    """Strided-conv discriminator for square HR patches (paper: 128x128, also 256).

    Each stage is a 3x3 conv (stride 1) and a 4x4 conv (stride 2), with BN on
    all but the very first conv and LeakyReLU(0.2) after each. Five stages
    (six for 256 input) bring the patch to 4x4 with ``8*nf`` channels, followed
    by linear layers ``8*nf*4*4 -> 100 -> 1``; at 128 and 256 the parameter
    names match BasicSR. The lesson scale uses 32 or 64 (three or four stages,
    same pattern) so that small HR patches can be judged.

    Input: (N, num_in_ch, input_size, input_size) in [0, 1].
    Output: (N, 1) raw logits C(x) (no sigmoid; the losses apply it).
    """

    # The first stage's layers, which forward() calls by name (the others by index, via getattr).
    conv0_0: nn.Conv2d
    conv0_1: nn.Conv2d
    bn0_1: nn.BatchNorm2d

    def __init__(self, num_in_ch: int = 3, num_feat: int = 64, input_size: int = 128) -> None:
        super().__init__()
        if input_size not in SUPPORTED_INPUT_SIZES:
            raise ValueError(f"input_size must be one of {SUPPORTED_INPUT_SIZES}, got {input_size}")
        self.input_size = input_size
        nf = num_feat
        num_stages = (input_size // 4).bit_length() - 1  # each stage halves; end at 4x4
        chans = [nf, nf * 2, nf * 4, nf * 8, nf * 8, nf * 8][:num_stages]
        self.num_stages = len(chans)
        in_ch = num_in_ch
        for i, out_ch in enumerate(chans):
            setattr(self, f"conv{i}_0", nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=(i == 0)))
            if i > 0:
                setattr(self, f"bn{i}_0", nn.BatchNorm2d(out_ch, affine=True))
            setattr(self, f"conv{i}_1", nn.Conv2d(out_ch, out_ch, 4, 2, 1, bias=False))
            setattr(self, f"bn{i}_1", nn.BatchNorm2d(out_ch, affine=True))
            in_ch = out_ch
        self.linear1 = nn.Linear(chans[-1] * 4 * 4, DISC_HIDDEN)
        self.linear2 = nn.Linear(DISC_HIDDEN, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=LEAKY_SLOPE, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            raise ValueError(
                f"discriminator expects {self.input_size}x{self.input_size} patches, got {tuple(x.shape[-2:])}"
            )
        feat = self.lrelu(self.conv0_0(x))
        feat = self.lrelu(self.bn0_1(self.conv0_1(feat)))
        for i in range(1, self.num_stages):
            feat = self.lrelu(getattr(self, f"bn{i}_0")(getattr(self, f"conv{i}_0")(feat)))
            feat = self.lrelu(getattr(self, f"bn{i}_1")(getattr(self, f"conv{i}_1")(feat)))
        feat = feat.flatten(1)
        return self.linear2(self.lrelu(self.linear1(feat)))
