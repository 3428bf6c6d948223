"""The explicit tables of generators and discriminators, and the config's ``type`` fields."""
from __future__ import annotations

import pytest
import torch

from esrgan_lesson.errors import ConfigError
from esrgan_lesson.models import PlainResNet, RRDBNet, SRResNet, VGGStyleDiscriminator
from esrgan_lesson.models.tables import DISCRIMINATORS, GENERATORS
from esrgan_lesson.training.builders import build_discriminator, build_generator
from esrgan_lesson.training.config import ModelConfig, load_config

TINY = ["model.num_feat=8", "model.num_block=1", "model.num_grow_ch=4", "network_d.num_feat=8",
        "network_d.input_size=32", "train.hr_patch=32"]


@pytest.mark.parametrize(("name", "cls"), [("rrdbnet", RRDBNet), ("srresnet", SRResNet),
                                           ("plain_resnet", PlainResNet)])
def test_each_generator_entry_builds_its_network(name: str, cls: type) -> None:
    cfg = load_config("lesson-psnr", [*TINY, f"model.type={name}"])
    net = build_generator(cfg.model)
    assert type(net) is cls
    assert net(torch.rand(1, 3, 8, 8)).shape == (1, 3, 8 * cfg.model.scale, 8 * cfg.model.scale)


def test_discriminator_type_defaults_to_the_vgg_style_one() -> None:
    cfg = load_config("lesson-gan", TINY)
    assert cfg.network_d.type == "vgg_style" == next(iter(DISCRIMINATORS))
    d = build_discriminator(cfg)
    assert isinstance(d, VGGStyleDiscriminator) and d(torch.rand(2, 3, 32, 32)).shape == (2, 1)


@pytest.mark.parametrize(("key", "table"), [("model.type", GENERATORS), ("network_d.type", DISCRIMINATORS)])
def test_unknown_network_is_a_one_line_config_error(key: str, table: dict) -> None:
    with pytest.raises(ConfigError, match=rf"{key}: unknown network 'unet'; known: {', '.join(table)}") as info:
        load_config("lesson-gan", [*TINY, f"{key}=unet"])
    assert "\n" not in str(info.value)


def test_a_new_table_entry_is_all_a_new_network_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    made = []

    def tiny_d(*, num_feat: int, input_size: int, **_unused: object) -> torch.nn.Module:
        made.append((num_feat, input_size))
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(1))

    monkeypatch.setitem(DISCRIMINATORS, "tiny", tiny_d)
    cfg = load_config("lesson-gan", [*TINY, "network_d.type=tiny"])
    assert build_discriminator(cfg)(torch.rand(2, 3, 32, 32)).shape == (2, 1)
    assert made == [(8, 32)]


def test_plain_resnet_rejects_a_scale_its_upsampler_cannot_make() -> None:
    with pytest.raises(ConfigError, match="plain_resnet supports 2, 4, 8"):
        build_generator(ModelConfig(type="plain_resnet", scale=3, num_feat=8, num_block=1))


def _rdb_conv_std(net: torch.nn.Module) -> float:
    return float(torch.cat([net.body[0].rdb1.conv2.weight.detach().flatten(), net.body[0].rdb2.conv2.weight.detach().flatten()]).std())


def test_rdb_init_chooses_how_the_dense_blocks_start() -> None:
    fan_in = 9 * (8 + 4)  # rdb conv2 of nf 8, gc 4
    nets = {}
    for init in ("kaiming_x0.1", "kaiming", "pytorch"):
        torch.manual_seed(0)
        nets[init] = build_generator(load_config("lesson-psnr", [*TINY, f"model.rdb_init={init}"]).model)
    torch.manual_seed(0)
    before = RRDBNet(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=4)  # the default is the paper's, as before
    assert all(torch.equal(a, b) for a, b in zip(nets["kaiming_x0.1"].state_dict().values(), before.state_dict().values()))
    kaiming = (2 / fan_in) ** 0.5
    assert _rdb_conv_std(nets["kaiming"]) == pytest.approx(kaiming, rel=0.15)
    assert _rdb_conv_std(nets["kaiming_x0.1"]) == pytest.approx(0.1 * kaiming, rel=0.15)
    assert _rdb_conv_std(nets["pytorch"]) == pytest.approx((1 / (3 * fan_in)) ** 0.5, rel=0.15)  # kaiming_uniform(a=sqrt 5)
    assert float(nets["kaiming"].body[0].rdb1.conv1.bias.detach().abs().max()) == 0.0
    assert float(nets["pytorch"].body[0].rdb1.conv1.bias.detach().abs().max()) > 0.0
    assert torch.equal(nets["kaiming"].conv_first.weight, nets["pytorch"].conv_first.weight)  # only the RDBs differ


def test_unknown_rdb_init_is_a_one_line_config_error() -> None:
    with pytest.raises(ConfigError, match="model.rdb_init: must be one of kaiming_x0.1, kaiming, pytorch"):
        build_generator(load_config("lesson-psnr", [*TINY, "model.rdb_init=xavier"]).model)
