"""The lesson's trained texture feature network (esrgan_lesson.models.texture_vgg) and chapter 5's helpers (esrgan_lesson.course.texture)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from esrgan_lesson.course import texture
from esrgan_lesson.models import texture_vgg
from esrgan_lesson.training.config import PerceptualConfig, load_config
from esrgan_lesson.data.demo import TRAIN_NAMES, VAL_NAMES
from esrgan_lesson.errors import CheckpointError, ConfigError
from esrgan_lesson.losses import PerceptualLoss

#: Held-out accuracy the shipped weights must reach. The shipped file measured
#: 0.794 (data_scripts/train_texture_net.py, 739 patches); chance is 1/11 = 0.09.
MIN_HELDOUT_ACCURACY = 0.75


@pytest.fixture(scope="module")
def net() -> texture_vgg.TextureVGG:
    return texture_vgg.load_texture_net()


@pytest.fixture(scope="module")
def heldout() -> tuple[torch.Tensor, torch.Tensor]:
    return texture.heldout_patches()


def test_shipped_weights_small_strict_and_named_like_vgg():
    assert texture_vgg.WEIGHTS_PATH.stat().st_size < 3 * 2**20
    state = load_file(str(texture_vgg.WEIGHTS_PATH))
    model = texture_vgg.TextureVGG()
    model.load_state_dict(state, strict=True)  # raises on any missing or extra key
    assert "features.conv1_1.weight" in state and "features.conv4_2.weight" in state
    assert state["classifier.weight"].shape == (len(TRAIN_NAMES), texture_vgg.WIDTHS[-1])
    names = texture_vgg.texture_layer_names()
    assert names[:3] == ["conv1_1", "relu1_1", "conv1_2"] and names[-1] == "relu4_2"
    assert [n for n, _ in model.features.named_children()] == names


def test_loaded_net_is_frozen_eval(net):
    assert not net.training
    assert all(not p.requires_grad for p in net.parameters())


def test_classifies_heldout_patches_well_above_chance(net, heldout):
    x, y = heldout
    assert set(y.tolist()) == set(range(len(TRAIN_NAMES)))  # every class is represented
    acc = texture.accuracy(net, x, y)
    chance = 1 / len(TRAIN_NAMES)
    assert acc >= MIN_HELDOUT_ACCURACY > 5 * chance, acc


def test_random_weights_are_near_chance(heldout):
    torch.manual_seed(123)
    x, y = heldout
    acc = texture.accuracy(texture_vgg.TextureVGG(), x, y)
    assert acc < 0.4  # so the shipped accuracy comes from training, not from the data split


def test_pre_activation_has_negatives_post_activation_has_zeros(net):
    img = torch.from_numpy(texture.split_columns(texture._pictures(("astronaut",))[0])[1][:64, :64].copy()).permute(2, 0, 1)[None]
    ext = texture_vgg.texture_feature_extractor(("conv2_2", "relu2_2", "conv4_2", "relu4_2"), model=net)
    f = ext(img)
    for conv, relu in (("conv2_2", "relu2_2"), ("conv4_2", "relu4_2")):
        assert (f[conv] < 0).any() and f[conv].min() < 0
        assert (f[relu] == 0).any() and f[relu].min() >= 0
        torch.testing.assert_close(f[relu], f[conv].clamp_min(0))  # the ReLU did not overwrite conv
    assert f["conv4_2"].shape == (1, texture_vgg.WIDTHS[-1], 8, 8)


def test_heldout_patches_come_only_from_the_right_columns():
    img = texture._pictures(("brick",))[0]
    train_part, held = texture.split_columns(img)
    assert train_part.shape[1] + held.shape[1] == img.shape[1]
    assert held.shape[1] == pytest.approx(img.shape[1] * texture.HOLDOUT_FRACTION, abs=1)
    x, y = texture.heldout_patches()
    label = TRAIN_NAMES.index("brick")
    first = x[y == label][0].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(first, held[: texture.PATCH, : texture.PATCH])


def test_sampler_is_seeded_and_crops_from_the_train_part():
    a, b, c = (texture.TexturePatchSampler(batch_size=4, seed=s) for s in (0, 0, 1))
    xa, ya = a.sample()
    xb, yb = b.sample()
    xc, _ = c.sample()
    assert torch.equal(xa, xb) and torch.equal(ya, yb) and not torch.equal(xa, xc)
    assert xa.shape == (4, 3, texture.PATCH, texture.PATCH) and 0 <= xa.min() and xa.max() <= 1
    widths = [int(round(img.shape[1] * (1 - texture.HOLDOUT_FRACTION))) for img in texture._pictures(TRAIN_NAMES)]
    assert [p.shape[-1] for p in a.parts] == widths


def test_validation_pictures_are_refused():
    with pytest.raises(ConfigError, match="validation"):
        texture._pictures((VAL_NAMES[0],))


def test_training_is_deterministic_for_the_default_seed():
    torch.manual_seed(999)  # the global RNG must not matter
    m1 = texture.train_texture_net(steps=2, batch_size=4)
    torch.manual_seed(7)
    m2 = texture.train_texture_net(steps=2, batch_size=4)
    m3 = texture.train_texture_net(seed=texture.DEFAULT_SEED + 1, steps=2, batch_size=4)
    s1, s2, s3 = m1.state_dict(), m2.state_dict(), m3.state_dict()
    assert all(torch.equal(s1[k], s2[k]) for k in s1)
    assert not torch.equal(s1["features.conv1_1.weight"], s3["features.conv1_1.weight"])
    assert not m1.training


def test_save_and_load_round_trip_and_bad_files(tmp_path, net):
    path = texture_vgg.save_texture_net(net, tmp_path / "t.safetensors", {"seed": "0"})
    again = texture_vgg.load_texture_net(path)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), again.state_dict().values()))
    assert not list(tmp_path.glob(".*part"))  # no temp file left behind
    with pytest.raises(CheckpointError, match="not found"):
        texture_vgg.load_texture_net(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="cannot read"):
        texture_vgg.load_texture_net(tmp_path / "junk.safetensors")
    save_file({"features.conv1_1.weight": torch.zeros(16, 3, 3, 3)}, str(tmp_path / "partial.safetensors"))
    with pytest.raises(CheckpointError, match="not a TextureVGG"):
        texture_vgg.load_texture_net(tmp_path / "partial.safetensors")


def test_extractor_plugs_into_perceptual_loss(net):
    ext = texture_vgg.texture_feature_extractor(("conv4_2",), model=net)
    ext.train()
    assert not ext.training and not ext.net.training
    loss = PerceptualLoss(layer="conv4_2", feature_extractor=ext)
    torch.manual_seed(0)
    hr = torch.rand(2, 3, 32, 32)
    assert float(loss(hr, hr)) == 0.0
    sr = hr.roll(1, dims=-1).requires_grad_(True)
    value = loss(sr, hr)
    value.backward()
    assert float(value.detach()) > 0 and sr.grad is not None and sr.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="unknown texture-net layer"):
        texture_vgg.texture_feature_extractor(("conv5_4",), model=net)


def test_config_hook_builds_the_texture_perceptual_loss():
    from esrgan_lesson.training.builders import build_perceptual

    cfg = load_config("lesson-gan", [f"train.perceptual.network={texture_vgg.CONFIG_NETWORK}",
                                     "train.perceptual.layer=conv4_2", "train.perceptual.weight=1.0"])
    loss = build_perceptual(cfg.train.perceptual)
    assert isinstance(loss, PerceptualLoss) and isinstance(loss.extractor, texture_vgg.TextureFeatureExtractor)
    x = torch.rand(1, 3, 32, 32)
    assert loss.features(x).shape == (1, texture_vgg.WIDTHS[-1], 4, 4)
    post = build_perceptual(PerceptualConfig(network=texture_vgg.CONFIG_NETWORK, layer="relu4_2", weight=1.0))
    assert post.features(x).min() >= 0


def test_relu_zero_fractions_match_a_direct_count(net):
    img = texture.heldout_patches()[0][:4]
    relus = texture.relu_layer_names("texture")
    assert relus == [n for n in texture_vgg.texture_layer_names() if n.startswith("relu")] and relus[-1] == texture_vgg.FEATURE_LAYER_POST
    fr = texture.relu_zero_fractions(texture_vgg.texture_feature_extractor(relus, model=net), [img[:2], img[2], img[3]])
    assert list(fr) == relus
    direct = net.feature_maps(img, ["relu3_1"])["relu3_1"]
    assert fr["relu3_1"] == pytest.approx(float((direct == 0).float().mean()))
    assert all(0 <= v <= 1 for v in fr.values())


def test_feature_extractor_by_network_name():
    assert isinstance(texture.feature_extractor("texture", ["conv1_1"]), texture_vgg.TextureFeatureExtractor)
    assert texture.relu_layer_names("vgg19")[-1] == texture.NETWORK_LAYERS["vgg19"][1] == "relu5_4"
    with pytest.raises(ConfigError, match="network must be"):
        texture.feature_extractor("resnet", ["conv1_1"])


def test_match_features_lowers_the_feature_loss(net):
    torch.manual_seed(0)
    target = texture.heldout_patches()[0][:1]
    ext = texture_vgg.texture_feature_extractor(("conv2_2",), model=net)
    out, losses = texture.match_features(ext, "conv2_2", target, (target * 0.5).clamp(0, 1), steps=15, lr=0.02)
    assert losses[-1] < 0.8 * losses[0]
    assert 0 <= out.min() and out.max() <= 1 and not out.requires_grad


def test_finetune_with_perceptual_changes_the_generator(net):
    from esrgan_lesson.models import SRResNet

    torch.manual_seed(0)
    g = SRResNet(3, 3, num_feat=8, num_block=1, scale=2)
    before = [p.detach().clone() for p in g.parameters()]
    hr = torch.rand(2, 3, 16, 16)
    pairs = iter([(hr[:, :, ::2, ::2], hr)] * 2)
    loss = PerceptualLoss(layer="conv2_2", feature_extractor=texture_vgg.texture_feature_extractor(("conv2_2",), model=net))
    log = texture.finetune_with_perceptual(g, pairs, loss, steps=2, lr=1e-3)
    assert len(log.perceptual) == len(log.pixel) == 2
    assert any(not torch.equal(a, b) for a, b in zip(before, g.parameters()))
    assert not g.training


def test_feature_gradient_share_pre_is_full_post_is_the_positive_share(net):
    x = texture.heldout_patches()[0][:4]
    pred = (x * 0.8).clamp(0, 1)
    pre = texture.feature_gradient_share(net, pred, x, "conv3_2")
    post = texture.feature_gradient_share(net, pred, x, "relu3_2")
    positive = float((net.feature_maps(pred, ["conv3_2"])["conv3_2"] > 0).float().mean())
    assert pre > 0.99
    assert post == pytest.approx(positive, abs=1e-6) and post < pre


def test_brightness_sensitivity_is_zero_at_factor_one(net):
    x = texture.heldout_patches()[0][:2]
    out = texture.brightness_sensitivity(texture_vgg.texture_feature_extractor(("conv4_2", "relu4_2"), model=net), x, [1.0, 0.5])
    assert out["conv4_2"][0] == 0 and out["relu4_2"][0] == 0
    assert out["conv4_2"][1] > 0.05 and out["relu4_2"][1] > 0.05


def test_score_outputs_bicubic_and_identity():
    from esrgan_lesson.data.imresize import imresize

    torch.manual_seed(0)
    hr = torch.rand(3, 32, 32)
    lr = imresize(hr, scale=0.25)
    bic = texture.score_outputs(None, [("a", lr, hr)], 4)
    up = torch.nn.Upsample(scale_factor=4, mode="nearest")
    up.scale = 4  # the generator contract inference.upscale relies on
    near = texture.score_outputs(up, [("a", lr, hr)], 4)
    assert bic.colour_error < 0.02 and 0 < bic.sharpness < 1
    assert np.isfinite(bic.psnr) and np.isfinite(near.psnr)
