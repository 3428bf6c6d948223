"""Tests of the network measurements the chapters rely on."""
from __future__ import annotations

import pytest
import torch

from esrgan_lesson.course.analysis import batch_dependence, network_cost, running_stat_mismatch, signal_through_depth
from esrgan_lesson.models import RRDBNet, SRResNet


def test_signal_through_depth_one_entry_per_block() -> None:
    net = RRDBNet(num_feat=8, num_block=3, num_grow_ch=4)
    stats = signal_through_depth(net.body, net, torch.rand(1, 3, 8, 8))
    assert [s.index for s in stats] == [0, 1, 2]
    assert all(s.activation_std > 0 and s.gradient_norm > 0 for s in stats)


def test_residual_scaling_and_small_init_tame_growth() -> None:
    """Without 0.2 scaling and x0.1 init, features grow much faster with depth."""
    x = torch.rand(1, 3, 8, 8)
    torch.manual_seed(0)
    tamed = RRDBNet(num_feat=16, num_block=8, num_grow_ch=8)
    torch.manual_seed(0)
    wild = RRDBNet(num_feat=16, num_block=8, num_grow_ch=8, residual_scale=1.0, small_init=False)
    t = signal_through_depth(tamed.body, tamed, x)
    w = signal_through_depth(wild.body, wild, x)
    growth_t = t[-1].activation_std / t[0].activation_std
    growth_w = w[-1].activation_std / w[0].activation_std
    assert growth_w > 10 * growth_t


def test_batch_dependence_is_zero_without_bn_and_positive_with_bn() -> None:
    img, others = torch.rand(1, 3, 8, 8), torch.rand(3, 3, 8, 8) * 0.3
    with_bn = SRResNet(num_feat=8, num_block=2, use_bn=True)
    without = SRResNet(num_feat=8, num_block=2, use_bn=False)
    before = with_bn.body[0].bn1.running_mean.clone()
    assert batch_dependence(with_bn, img, others) > 1e-3
    assert batch_dependence(without, img, others) < 1e-5
    torch.testing.assert_close(with_bn.body[0].bn1.running_mean, before)  # restored


def test_running_stat_mismatch_grows_for_shifted_inputs() -> None:
    net = SRResNet(num_feat=8, num_block=2, use_bn=True)
    net.train()
    with torch.no_grad():
        for _ in range(50):  # running statistics of inputs in [0, 1]
            net(torch.rand(4, 3, 8, 8))
    normal = running_stat_mismatch(net, torch.rand(4, 3, 8, 8))
    dark = running_stat_mismatch(net, torch.rand(4, 3, 8, 8) * 0.05)
    assert set(normal) == set(dark) and len(normal) == 2 * 2 + 1
    assert sum(dark.values()) > 2 * sum(normal.values())


def test_network_cost_counts() -> None:
    small = network_cost(SRResNet(num_feat=8, num_block=1, use_bn=False), torch.rand(1, 3, 8, 8), repeats=1)
    big = network_cost(SRResNet(num_feat=8, num_block=3, use_bn=False), torch.rand(1, 3, 8, 8), repeats=1)
    assert big.params > small.params and big.flops > small.flops
    assert big.activation_bytes > small.activation_bytes > 0
    with_bn = network_cost(SRResNet(num_feat=8, num_block=3, use_bn=True), torch.rand(1, 3, 8, 8), repeats=1)
    assert with_bn.activation_bytes > big.activation_bytes
    # conv FLOPs of one 3x3 conv 8->8 at 8x8: 2*9*8*8*64 = 73,728; two per block
    assert big.flops - small.flops == pytest.approx(2 * 2 * 73_728, rel=0.01)


def test_effective_receptive_field_of_known_kernels() -> None:
    import torch
    from torch import nn

    from esrgan_lesson.course.analysis import effective_receptive_field

    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    one = effective_receptive_field(conv, torch.rand(1, 1, 15, 15))
    assert one.radius == 1 and one.max_radius == 7 and int((one.grad_map > 0).sum()) == 9
    two = effective_receptive_field(nn.Sequential(conv, conv), torch.rand(1, 1, 15, 15))
    # two stacked all-ones 3x3 kernels: weights 1,2,3,2,1 per axis; the 3x3 centre holds 7*7 = 49 of 81
    assert two.radius == 2 and abs(float(two.grad_map.sum()) - 81.0) < 1e-9
    x = torch.rand(1, 1, 15, 15)
    assert effective_receptive_field(nn.Sequential(conv, conv), x, fraction=0.60).radius == 1  # 49/81 = 0.605
    assert effective_receptive_field(nn.Sequential(conv, conv), x, fraction=0.61).radius == 2
