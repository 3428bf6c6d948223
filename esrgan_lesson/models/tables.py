"""The tables of networks a training config can name: ``model.type`` and ``network_d.type``.

Adding a network is one module in :mod:`esrgan_lesson.models` plus one entry
here: a factory that takes the config section's fields as keyword arguments and
returns an ``nn.Module``. Fields a network does not use are ignored (``use_bn``
only matters to SRResNet). No registration decorators, no lookup by file name.

Generators map (N, 3, h, w) in [0, 1] to (N, 3, h*scale, w*scale);
discriminators map (N, 3, input_size, input_size) in [0, 1] to raw logits (N, 1).
"""
from __future__ import annotations

from typing import Callable

from torch import nn

from ..errors import ConfigError
from .discriminator import SUPPORTED_INPUT_SIZES, VGGStyleDiscriminator
from .plain import PLAIN_SCALES, PlainResNet
from .rrdbnet import RRDBNet, scaled_kaiming_init_
from .srresnet import SRResNet

#: Upscale factors SRResNet's pixel-shuffle upsampler supports.
SRRESNET_SCALES = (2, 4, 8)


#: ``model.rdb_init`` -> how the convs inside every residual dense block start (chapter 3's init comparison):
#: ESRGAN's Kaiming x0.1 (Sec. 3.1), plain Kaiming x1, or PyTorch's default ``Conv2d`` init.
RDB_INITS = ("kaiming_x0.1", "kaiming", "pytorch")


def rrdbnet(*, scale: int, num_feat: int, num_block: int, num_grow_ch: int, rdb_init: str = "kaiming_x0.1",
            **_unused: object) -> nn.Module:
    """ESRGAN's generator (Sec. 3.1): RRDB blocks, no batch norm; ``rdb_init`` one of :data:`RDB_INITS`."""
    if rdb_init not in RDB_INITS:
        raise ConfigError(f"model.rdb_init: must be one of {', '.join(RDB_INITS)}, got {rdb_init!r}")
    net = RRDBNet(3, 3, scale=scale, num_feat=num_feat, num_block=num_block, num_grow_ch=num_grow_ch,
                  small_init=rdb_init == "kaiming_x0.1")
    if rdb_init == "kaiming":
        scaled_kaiming_init_(list(net.body), 1.0)
    return net


def srresnet(*, scale: int, num_feat: int, num_block: int, use_bn: bool, **_unused: object) -> nn.Module:
    """SRGAN's generator, with batch norm switchable (chapter 2)."""
    if scale not in SRRESNET_SCALES:
        raise ConfigError(f"model.scale: srresnet supports {', '.join(map(str, SRRESNET_SCALES))}, got {scale}")
    return SRResNet(3, 3, num_feat=num_feat, num_block=num_block, scale=scale, use_bn=use_bn)


def plain_resnet(*, scale: int, num_feat: int, num_block: int, **_unused: object) -> nn.Module:
    """RRDBNet's head and upsampler around plain residual blocks, no BN (chapter 3's equal-size rival)."""
    if scale not in PLAIN_SCALES:
        raise ConfigError(f"model.scale: plain_resnet supports {', '.join(map(str, PLAIN_SCALES))}, got {scale}")
    return PlainResNet(3, 3, scale=scale, num_feat=num_feat, num_block=num_block)


def vgg_style(*, num_feat: int, input_size: int, **_unused: object) -> nn.Module:
    """The VGG-style discriminator of SRGAN and ESRGAN, for square ``input_size`` patches."""
    if input_size not in SUPPORTED_INPUT_SIZES:
        raise ConfigError(f"network_d.input_size: must be one of {SUPPORTED_INPUT_SIZES}")
    return VGGStyleDiscriminator(3, num_feat, input_size)


#: ``model.type`` -> factory.
GENERATORS: dict[str, Callable[..., nn.Module]] = {"rrdbnet": rrdbnet, "srresnet": srresnet,
                                                   "plain_resnet": plain_resnet}
#: ``network_d.type`` -> factory; the first is the default.
DISCRIMINATORS: dict[str, Callable[..., nn.Module]] = {"vgg_style": vgg_style}


def lookup(table: dict[str, Callable[..., nn.Module]], name: str, key: str) -> Callable[..., nn.Module]:
    """The factory called ``name`` in ``table``, or a one-line :class:`ConfigError` naming config ``key``."""
    try:
        return table[name]
    except KeyError:
        raise ConfigError(f"{key}: unknown network {name!r}; known: {', '.join(table)}") from None
