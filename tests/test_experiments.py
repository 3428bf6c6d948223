"""Tests of the experiment helpers used by the batch-norm and RRDB chapters."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from esrgan_lesson.course.experiments import SHIFTS, PlainResNet, blocks_for_params, center_crops, companion_psnr, count_params, gains_vs_bicubic, loss_summary, lr_hr_pairs, shift_image
from esrgan_lesson.data.imresize import imresize
from esrgan_lesson.models import RRDBNet, SRResNet


def test_plain_resnet_shapes_and_rrdbnet_head() -> None:
    net = PlainResNet(num_feat=8, num_block=2, scale=4)
    assert net(torch.rand(2, 3, 5, 7)).shape == (2, 3, 20, 28)
    # same head and upsampler as RRDBNet: only the trunk's blocks differ
    rrdb = RRDBNet(num_feat=8, num_block=2, num_grow_ch=4)
    head = sum(p.numel() for n, p in rrdb.named_parameters() if not n.startswith("body."))
    plain_head = sum(p.numel() for n, p in net.named_parameters() if not n.startswith("body."))
    assert head == plain_head
    # one plain block = two 3x3 convs nf->nf with biases
    assert count_params(PlainResNet(num_feat=8, num_block=3)) - count_params(net) == 2 * (9 * 8 * 8 + 8)
    with pytest.raises(ValueError):
        PlainResNet(scale=3)


def test_plain_resnet_learns_identity_residual() -> None:
    """A block with res_scale=0 is the identity, so the net is then its head and upsampler only."""
    torch.manual_seed(0)
    net = PlainResNet(num_feat=4, num_block=2, res_scale=0.0)
    x = torch.rand(1, 4, 6, 6)
    torch.testing.assert_close(net.body(x), x)


def test_blocks_for_params_finds_the_closest_count() -> None:
    target = count_params(RRDBNet(num_feat=8, num_block=1, num_grow_ch=4))
    n = blocks_for_params(lambda k: PlainResNet(num_feat=8, num_block=k), target)
    gaps = {k: abs(count_params(PlainResNet(num_feat=8, num_block=k)) - target) for k in range(1, n + 3)}
    assert gaps[n] == min(gaps.values())
    with pytest.raises(ValueError):
        blocks_for_params(lambda k: PlainResNet(num_feat=8, num_block=k), 0)


def test_lr_hr_pairs_are_mod_cropped_bicubic_8bit() -> None:
    rng = np.random.default_rng(0)
    img = rng.random((18, 23, 3), dtype=np.float32)
    ((name, lr, hr),) = lr_hr_pairs({"noise": img}, 4)
    assert name == "noise" and hr.shape == (3, 16, 20) and lr.shape == (3, 4, 5)
    assert torch.equal(hr, torch.round(hr * 255) / 255)
    assert torch.equal(lr, torch.round(lr * 255) / 255)
    ref = imresize(hr.double(), scale=0.25).clamp(0, 1)
    assert float((lr.double() - ref).abs().max()) <= 0.5 / 255 + 1e-6


def test_shifts_change_statistics_and_stay_in_range() -> None:
    rng = np.random.default_rng(1)
    img = rng.random((8, 8, 3)).astype(np.float32)
    out = {k: shift_image(img, k) for k in SHIFTS}
    assert all(o.dtype == np.float32 and o.min() >= 0 and o.max() <= 1 for o in out.values())
    np.testing.assert_array_equal(out["original"], img)
    assert out["dark"].mean() < 0.25 * img.mean()
    assert out["flat"].std() < 0.2 * img.std() and out["flat"].mean() > img.mean()
    assert out["contrast"].std() > 1.3 * img.std()
    with pytest.raises(ValueError):
        shift_image(img, "sepia")


def test_gains_vs_bicubic_is_zero_for_a_bicubic_model() -> None:
    """A 'model' that is MATLAB bicubic itself gains nothing over bicubic."""

    class Bicubic(torch.nn.Module):
        scale = 4  # the generator contract inference.upscale relies on

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return imresize(x, scale=4.0)

    rng = np.random.default_rng(2)
    pairs = lr_hr_pairs({"a": rng.random((32, 32, 3), dtype=np.float32)}, 4)
    gains = gains_vs_bicubic(Bicubic(), pairs, 4)
    assert set(gains) == {"a"} and abs(gains["a"]) < 1e-6


def test_companion_psnr_depends_on_companions_only_with_bn() -> None:
    torch.manual_seed(0)
    lr, hr = torch.rand(3, 8, 8), torch.rand(3, 32, 32)
    companions = torch.rand(3, 3, 8, 8) * 0.2
    with_bn = SRResNet(num_feat=8, num_block=1, use_bn=True).eval()
    without = SRResNet(num_feat=8, num_block=1, use_bn=False).eval()
    before = with_bn.body[0].bn1.running_mean.clone()
    a, b = companion_psnr(with_bn, lr, hr, None, 4), companion_psnr(with_bn, lr, hr, companions, 4)
    assert abs(a - b) > 1e-4
    assert companion_psnr(without, lr, hr, None, 4) == pytest.approx(companion_psnr(without, lr, hr, companions, 4), abs=1e-6)
    torch.testing.assert_close(with_bn.body[0].bn1.running_mean, before)  # running stats restored
    assert not with_bn.training  # mode restored


def test_loss_summary_counts_non_finite() -> None:
    s = loss_summary([0.5, 2.0, float("nan"), 0.25])
    assert (s.first, s.max, s.last, s.non_finite) == (0.5, 2.0, 0.25, 1)
    assert math.isinf(loss_summary([float("inf")]).max)
    with pytest.raises(ValueError):
        loss_summary([])


def test_center_crops_align_lr_and_hr() -> None:
    rng = np.random.default_rng(3)
    pairs = lr_hr_pairs({"a": rng.random((40, 48, 3), dtype=np.float32),
                         "b": rng.random((44, 36, 3), dtype=np.float32)}, 4)
    lr, hr = center_crops(pairs, 6, 4)
    assert lr.shape == (2, 3, 6, 6) and hr.shape == (2, 3, 24, 24)
    # LR crop (y, x) = ((10-6)//2, (12-6)//2) = (2, 3) of image "a"; HR crop at 4x that
    torch.testing.assert_close(lr[0], pairs[0][1][:, 2:8, 3:9])
    torch.testing.assert_close(hr[0], pairs[0][2][:, 8:32, 12:36])
    with pytest.raises(ValueError):
        center_crops(pairs, 20, 4)
