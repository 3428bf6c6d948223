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
