"""Losses against their direct formulas on small tensors."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from esrgan_lesson import losses
from esrgan_lesson.errors import CheckpointError
from esrgan_lesson.paper import ETA_L1, LAMBDA_ADV


def _log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.log(1 / (1 + torch.exp(-x)))


def test_pixel_loss_matches_mean_abs_and_sq() -> None:
    a, b = torch.rand(2, 3, 5, 4), torch.rand(2, 3, 5, 4)
    assert torch.allclose(losses.pixel_loss(a, b), (a - b).abs().mean())
    assert torch.allclose(losses.pixel_loss(a, b, "l2"), ((a - b) ** 2).mean())
    assert torch.allclose(losses.PixelLoss(weight=ETA_L1)(a, b), ETA_L1 * (a - b).abs().mean())
    with pytest.raises(ValueError):
        losses.pixel_loss(a, b[:, :, :4])


def test_ragan_d_loss_matches_paper_formula_averaged() -> None:
    real, fake = torch.randn(6, 1), torch.randn(6, 1)
    d_real = torch.sigmoid(real - fake.mean())
    d_fake = torch.sigmoid(fake - real.mean())
    paper = -torch.log(d_real).mean() - torch.log(1 - d_fake).mean()
    assert torch.allclose(losses.ragan_d_loss(real, fake), paper / 2, atol=1e-6)


def test_ragan_g_loss_value_and_gradients_from_real_and_fake() -> None:
    real = torch.randn(5, 1, requires_grad=True)
    fake = torch.randn(5, 1, requires_grad=True)
    loss = losses.ragan_g_loss(real, fake)
    r, f = real.detach(), fake.detach()
    paper = -torch.log(1 - torch.sigmoid(r - f.mean())).mean() - _log_sigmoid(f - r.mean()).mean()
    assert torch.allclose(loss, paper / 2, atol=1e-6)
    g_real, g_fake = torch.autograd.grad(loss, (real, fake))
    # Direct derivative: d/dr_i of 0.5*(mean softplus(r - mf) + mean softplus(-(f - mr))).
    n = r.numel()
    s_real = torch.sigmoid(r - f.mean())
    s_fake = torch.sigmoid(-(f - r.mean()))
    expected = 0.5 * (s_real / n + s_fake.sum() / n / n)
    assert torch.allclose(g_real, expected, atol=1e-6)
    assert g_real.abs().sum() > 0 and g_fake.abs().sum() > 0


def test_standard_losses_and_zero_real_gradient() -> None:
    real = torch.randn(4, 1, requires_grad=True)
    fake = torch.randn(4, 1, requires_grad=True)
    r, f = real.detach(), fake.detach()
    d = losses.standard_d_loss(real, fake)
    assert torch.allclose(d, -_log_sigmoid(r).mean() - torch.log(1 - torch.sigmoid(f)).mean(), atol=1e-6)
    g = losses.standard_g_loss(real, fake)
    assert torch.allclose(g, -_log_sigmoid(f).mean(), atol=1e-6)
    (g_real,) = torch.autograd.grad(g, (real,), allow_unused=True, materialize_grads=True)
    assert torch.equal(g_real, torch.zeros_like(real))


def test_gan_loss_module_weights_generator_only() -> None:
    real, fake = torch.randn(3, 1), torch.randn(3, 1)
    gl = losses.GANLoss("ragan")
    assert gl.weight == LAMBDA_ADV
    assert torch.allclose(gl.g_loss(real, fake), LAMBDA_ADV * losses.ragan_g_loss(real, fake))
    assert torch.allclose(gl.d_loss(real, fake), losses.ragan_d_loss(real, fake))
    gs = losses.GANLoss("standard", weight=1.0)
    assert torch.allclose(gs.d_loss(real, fake), losses.standard_d_loss(real, fake))
    with pytest.raises(ValueError):
        losses.GANLoss("wgan")
    # A balanced discriminator (equal logits) gives log 2 per BCE term.
    z = torch.zeros(4, 1)
    assert math.isclose(float(losses.ragan_d_loss(z, z)), math.log(2), rel_tol=1e-6)


class _TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        a = self.a(x)
        return {"a": a, "b": self.b(torch.relu(a))}


def test_perceptual_loss_custom_dict_and_tensor_extractors() -> None:
    net = _TwoLayer()
    pred = torch.rand(2, 3, 8, 8, requires_grad=True)
    target = torch.rand(2, 3, 8, 8)
    loss = losses.PerceptualLoss(layer="b", feature_extractor=net)
    with torch.no_grad():
        expected = (net(pred)["b"] - net(target)["b"]).abs().mean()
    value = loss(pred, target)
    assert torch.allclose(value, expected, atol=1e-6)
    value.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in net.parameters())
    l2 = losses.PerceptualLoss(layer="a", criterion="l2", feature_extractor=net)
    with torch.no_grad():
        assert torch.allclose(l2(pred, target), ((net(pred)["a"] - net(target)["a"]) ** 2).mean(), atol=1e-6)
    seq = nn.Sequential(nn.Conv2d(3, 2, 1))
    tl = losses.PerceptualLoss(feature_extractor=seq)
    with torch.no_grad():
        assert torch.allclose(tl(pred, target), (seq(pred) - seq(target)).abs().mean(), atol=1e-6)
    with pytest.raises(KeyError):
        losses.PerceptualLoss(layer="zzz", feature_extractor=net)(pred, target)


def test_perceptual_vgg_layer_before_and_after_activation() -> None:
    """``conv2_2`` is read before ReLU (negative values), ``relu2_2`` after it."""
    from esrgan_lesson.models import VGGFeatureExtractor

    vgg = VGGFeatureExtractor(("conv2_2", "relu2_2"), arch="vgg16", weights=None)
    x = torch.rand(1, 3, 16, 16)
    before = losses.PerceptualLoss(layer="conv2_2", feature_extractor=vgg).features(x)
    after = losses.PerceptualLoss(layer="relu2_2", feature_extractor=vgg).features(x)
    assert before.min() < 0 and after.min() >= 0
    assert torch.allclose(after, torch.relu(before))


def test_default_perceptual_without_weights_raises_clear_error(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("ESRGAN_VGG_WEIGHTS", str(tmp_path / "missing.pth"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(CheckpointError, match="download"):
        losses.PerceptualLoss()
