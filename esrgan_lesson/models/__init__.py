"""Network architectures used in the course."""
from .discriminator import VGGStyleDiscriminator
from .params import count_params
from .plain import PlainResNet
from .rrdbnet import RRDB, RRDBNet, ResidualDenseBlock, receptive_field, scaled_kaiming_init_
from .srresnet import SRResNet
from .vgg import MINCNet, VGGFeatureExtractor, vgg_layer_names

__all__ = [
    "PlainResNet",
    "RRDB",
    "RRDBNet",
    "ResidualDenseBlock",
    "SRResNet",
    "VGGStyleDiscriminator",
    "VGGFeatureExtractor",
    "count_params",
    "MINCNet",
    "receptive_field",
    "scaled_kaiming_init_",
    "vgg_layer_names",
]
