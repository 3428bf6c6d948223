"""Architecture tests: shapes, parameter counts, names, init and feature layers."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from esrgan_lesson.models import (
    MINCNet,
    RRDBNet,
    SRResNet,
    VGGFeatureExtractor,
    VGGStyleDiscriminator,
    receptive_field,
    vgg_layer_names,
)
from esrgan_lesson.models.rrdbnet import ResidualDenseBlock
from esrgan_lesson.paper import RRDBNET_X4_PARAMS, VGG19_CONV5_4_INDEX


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_rrdbnet_default_parameter_count() -> None:
    assert n_params(RRDBNet()) == RRDBNET_X4_PARAMS == 16_697_987


@pytest.mark.parametrize("scale,in_size", [(1, 8), (2, 8), (3, 5), (4, 5), (8, 3)])
def test_rrdbnet_shapes_for_every_scale(scale: int, in_size: int) -> None:
    net = RRDBNet(scale=scale, num_feat=8, num_block=1, num_grow_ch=4).eval()
    with torch.no_grad():
        y = net(torch.rand(2, 3, in_size, in_size + 4 if scale > 2 else in_size * 2))
    w_in = in_size + 4 if scale > 2 else in_size * 2
    assert y.shape == (2, 3, in_size * scale, w_in * scale)


def test_rrdbnet_pixel_unshuffle_channels_and_divisibility() -> None:
    assert RRDBNet(scale=2, num_feat=8, num_block=1).conv_first.in_channels == 12
    assert RRDBNet(scale=1, num_feat=8, num_block=1).conv_first.in_channels == 48
    with pytest.raises(ValueError, match="divisible by 4"):
        RRDBNet(scale=1, num_feat=8, num_block=1)(torch.rand(1, 3, 6, 8))
    with pytest.raises(ValueError, match="supports scales"):
        RRDBNet(scale=5)


def test_rrdbnet_basicsr_parameter_names() -> None:
    keys = set(RRDBNet(num_feat=8, num_block=2, num_grow_ch=4).state_dict())
    for k in ["conv_first.weight", "body.0.rdb1.conv1.weight", "body.1.rdb3.conv5.bias",
              "conv_body.weight", "conv_up1.weight", "conv_up2.weight", "conv_hr.weight", "conv_last.weight"]:
        assert k in keys
    assert "conv_up3.weight" in RRDBNet(scale=8, num_feat=8, num_block=1).state_dict()
    assert "conv_up2.weight" not in RRDBNet(scale=3, num_feat=8, num_block=1).state_dict()


def test_small_init_is_kaiming_times_0_1_and_switchable() -> None:
    torch.manual_seed(0)
    small = ResidualDenseBlock(64, 32, small_init=True)
    torch.manual_seed(0)
    plain = ResidualDenseBlock(64, 32, small_init=False)
    # Kaiming normal (fan_in, gain sqrt(2)) has std sqrt(2/fan_in); x0.1 on top.
    fan_in = small.conv5.weight[0].numel()
    expected = 0.1 * (2.0 / fan_in) ** 0.5
    assert small.conv5.weight.std().item() == pytest.approx(expected, rel=0.05)
    assert torch.all(small.conv5.bias == 0)
    assert plain.conv5.weight.std().item() > 3 * small.conv5.weight.std().item()


def test_residual_scaling_changes_output() -> None:
    x = torch.rand(1, 8, 6, 6)
    torch.manual_seed(1)
    a = ResidualDenseBlock(8, 4, residual_scale=0.2)
    torch.manual_seed(1)
    b = ResidualDenseBlock(8, 4, residual_scale=1.0)
    with torch.no_grad():
        ra, rb = a(x) - x, b(x) - x
    torch.testing.assert_close(ra * 5, rb, rtol=1e-5, atol=1e-6)


def test_receptive_field_grows_with_depth() -> None:
    shallow = receptive_field(RRDBNet(num_feat=8, num_block=1))
    deep = receptive_field(RRDBNet(num_feat=8, num_block=23))
    assert shallow < deep
    # 1 + 23*15 + 1 = 347 LR convs of radius 1, plus the HR convs' fractions.
    assert 2 * 347 + 1 <= deep <= 2 * 347 + 5


def test_receptive_field_is_empirically_an_upper_bound() -> None:
    net = RRDBNet(num_feat=4, num_block=1, num_grow_ch=2).double().eval()
    rf = receptive_field(net)
    x = torch.zeros(1, 3, 64, 64, dtype=torch.double, requires_grad=True)
    net(x)[0, :, 128, 128].sum().backward()
    nz = (x.grad.abs().sum(1)[0] > 0).nonzero()
    width = int(nz[:, 0].max() - nz[:, 0].min() + 1)
    assert width <= rf and rf - width <= 2


@pytest.mark.parametrize("use_bn", [True, False])
def test_srresnet_shapes_and_bn_switch(use_bn: bool) -> None:
    net = SRResNet(num_feat=8, num_block=2, use_bn=use_bn)
    assert net(torch.rand(2, 3, 6, 7)).shape == (2, 3, 24, 28)
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    assert has_bn == use_bn


def test_srresnet_default_is_srgan_size() -> None:
    net = SRResNet()
    assert len(net.body) == 16
    assert n_params(SRResNet(use_bn=False)) < n_params(net)


@pytest.mark.parametrize("size", [32, 64, 128, 256])
def test_discriminator_shapes(size: int) -> None:
    d = VGGStyleDiscriminator(num_feat=8, input_size=size)
    assert d(torch.rand(2, 3, size, size)).shape == (2, 1)
    with pytest.raises(ValueError, match="expects"):
        d(torch.rand(2, 3, size // 2, size // 2))


def test_discriminator_basicsr_layout_at_128() -> None:
    d = VGGStyleDiscriminator(input_size=128)
    sd = d.state_dict()
    assert sd["linear1.weight"].shape == (100, 512 * 4 * 4)
    assert "conv4_1.weight" in sd and "conv5_0.weight" not in sd
    assert "conv0_0.bias" in sd and "conv1_0.bias" not in sd
    assert "conv5_1.weight" in VGGStyleDiscriminator(input_size=256).state_dict()


def test_vgg_layer_names_match_torchvision() -> None:
    names = vgg_layer_names("vgg19")
    assert names[VGG19_CONV5_4_INDEX] == "conv5_4"
    assert names[VGG19_CONV5_4_INDEX + 1] == "relu5_4"
    import torchvision

    feats = torchvision.models.vgg19(weights=None).features
    assert len(names) == len(feats)
    for name, layer in zip(names, feats):
        kind = {"conv": nn.Conv2d, "relu": nn.ReLU, "pool": nn.MaxPool2d}[name[:4]]
        assert isinstance(layer, kind)
    assert len(vgg_layer_names("vgg16")) == len(torchvision.models.vgg16(weights=None).features)


def test_vgg_extractor_pre_vs_post_activation() -> None:
    ext = VGGFeatureExtractor(("conv5_4", "relu5_4", "conv1_1"), weights=None)
    out = ext(torch.rand(1, 3, 32, 32))
    assert out["conv5_4"].shape == (1, 512, 2, 2)
    torch.testing.assert_close(out["relu5_4"], out["conv5_4"].clamp_min(0))
    assert (out["conv5_4"] < 0).any()  # pre-activation keeps negative values
    assert not any(p.requires_grad for p in ext.parameters())
    ext.train()
    assert not ext.training


def test_vgg_extractor_loads_local_weights(tmp_path) -> None:
    import torchvision

    ref = torchvision.models.vgg19(weights=None)
    path = tmp_path / "vgg19.pth"
    torch.save(ref.state_dict(), path)
    ext = VGGFeatureExtractor(("conv2_1",), weights=path, use_input_norm=False)
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(ext(x)["conv2_1"], ref.features[:6](x))


def test_vgg_extractor_missing_imagenet_weights_is_clear(tmp_path, monkeypatch) -> None:
    from esrgan_lesson.errors import CheckpointError

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("ESRGAN_VGG_WEIGHTS", raising=False)
    with pytest.raises(CheckpointError, match="download_vgg_weights"):
        VGGFeatureExtractor(weights="imagenet")


def test_minc_net_roundtrip_strict(tmp_path) -> None:
    net = MINCNet()
    sd = {k: v for k, v in net.state_dict().items() if k not in ("mean", "std")}
    assert "conv11.weight" in sd and "conv53.bias" in sd and len(sd) == 26
    path = tmp_path / "VGG16minc_53.pth"
    torch.save(sd, path)
    loaded = MINCNet.from_file(path)
    x = torch.rand(1, 3, 20, 20)
    out = loaded(x)
    assert out.shape == (1, 512, 2, 2)
    assert (out < 0).any()  # conv5_3 is read before its ReLU
    torch.testing.assert_close(out, net(x))
