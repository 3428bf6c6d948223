"""course.exercises: check_against tells a right answer from wrong, unfinished or broken ones; the case makers and references of chapters 1, 2, 3, 5, 6, 7 and 8."""
from __future__ import annotations

import bisect
import copy
import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from esrgan_lesson.course import texture
from esrgan_lesson.course.exercises import (batch_norm_cases, bn_train_forward, check_against, flat_answer,
                                             flat_state_dict, interpolation_cases, interpolation_reference,
                                             logit_cases, perceptual_cases, perceptual_reference, rdb_cases,
                                             schedule_cases, scheduled_lr, sr_cases, ssim_cases)
from esrgan_lesson.course.sr_problem import upscale_bicubic
from esrgan_lesson.data.demo import demo_images
from esrgan_lesson.data.pairs import make_pair
from esrgan_lesson.losses import ragan_d_loss, standard_d_loss
from esrgan_lesson.metrics import psnr, rgb2ycbcr, ssim
from esrgan_lesson.models.rrdbnet import ResidualDenseBlock
from esrgan_lesson.training.config import StageConfig, load_config


def _by_hand(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    d_rf = torch.sigmoid(real - fake.mean())
    d_fr = torch.sigmoid(fake - real.mean())
    return 0.5 * (-torch.log(d_rf).mean() - torch.log(1 - d_fr).mean())


def test_a_right_answer_passes(capsys) -> None:
    assert check_against(_by_hand, ragan_d_loss, logit_cases(), atol=1e-5)
    assert capsys.readouterr().out.startswith("✓ matches esrgan_lesson.losses.adversarial.ragan_d_loss on 5 cases")


def test_wrong_unfinished_and_broken_answers_fail(capsys) -> None:
    assert not check_against(standard_d_loss, ragan_d_loss, logit_cases())  # another loss
    assert "differs from" in capsys.readouterr().out
    assert not check_against(lambda r, f: None, ragan_d_loss, logit_cases())
    assert "not implemented yet" in capsys.readouterr().out
    assert not check_against(lambda r, f: 1 / 0, ragan_d_loss, logit_cases())
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not check_against(lambda r, f: F.logsigmoid(r), ragan_d_loss, logit_cases())
    assert "shape (16, 1), expected ()" in capsys.readouterr().out
    # missing the factor 1/2: off by the loss itself
    assert not check_against(lambda r, f: 2 * _by_hand(r, f), ragan_d_loss, logit_cases())
    assert not check_against(lambda r, f: "0.5", ragan_d_loss, logit_cases())
    assert "returned a str, not a number" in capsys.readouterr().out


def test_numbers_are_compared_in_float64(capsys) -> None:
    # a Python float from either side keeps its 53 bits: 1 + 1e-9 is not 1 (in float32 both would be 1.0)
    assert not check_against(lambda: 1.0 + 1e-9, lambda: 1.0, [()], atol=0, rtol=1e-12)
    assert "differs from" in capsys.readouterr().out
    assert check_against(lambda: np.float64(0.1) * 3, lambda: 0.30000000000000004, [()], atol=0, rtol=0)
    assert "largest difference 0.0e+00" in capsys.readouterr().out


# --- chapter 1: Y-PSNR on the bicubic baseline ------------------------------------------------------
def _y_psnr_by_hand(sr: np.ndarray, hr: np.ndarray, scale: int, crop: bool = True) -> float:
    def y(img: np.ndarray) -> np.ndarray:
        img = img.astype(np.float64)[scale:-scale, scale:-scale] if crop else img.astype(np.float64)
        return 16 + 65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]
    return float(10 * np.log10(255**2 / np.mean((y(sr) - y(hr)) ** 2)))


def test_sr_cases_are_the_pair_makers_bicubic_baseline() -> None:
    cases = sr_cases(scales=(4, 3), names=("chelsea",))
    assert [c[2] for c in cases] == [4, 3]
    for sr, hr, scale in cases:
        lr, hr_ref = make_pair(demo_images(("chelsea",))["chelsea"], scale)
        assert np.array_equal(hr, hr_ref) and np.array_equal(sr, upscale_bicubic(lr, scale))
        assert sr.shape == hr.shape and sr.dtype == np.float32 and hr.shape[0] % scale == hr.shape[1] % scale == 0


def test_a_y_psnr_by_hand_passes_and_the_usual_mistakes_fail(capsys) -> None:
    cases = sr_cases(scales=(4, 2), names=("chelsea",))
    assert check_against(_y_psnr_by_hand, psnr, cases)
    assert capsys.readouterr().out.startswith("✓ matches esrgan_lesson.metrics.psnr_ssim.psnr on 2 cases")
    no_crop = lambda sr, hr, s: _y_psnr_by_hand(sr, hr, s, crop=False)
    rgb = lambda sr, hr, s: float(10 * np.log10(1 / np.mean((sr[s:-s, s:-s].astype(np.float64) - hr[s:-s, s:-s]) ** 2)))
    for wrong in (no_crop, rgb):
        assert not check_against(wrong, psnr, cases)
        assert "differs from" in capsys.readouterr().out


# --- chapter 7: the learning-rate schedule -----------------------------------------------------------
def _lr_by_hand(t: StageConfig, step: int) -> float:
    k = step // t.halving_period if t.halving_period > 0 else bisect.bisect_right(t.milestones, step)
    return t.lr_g * t.gamma**k


MULTI = dataclasses.replace(StageConfig(), lr_g=1e-3, milestones=[3, 6], halving_period=0, gamma=0.5)
EVERY = dataclasses.replace(StageConfig(), lr_g=2e-4, milestones=[], halving_period=4, gamma=0.1)


def test_scheduled_lr_is_the_trainers_schedule() -> None:
    assert [scheduled_lr(MULTI, s) for s in range(8)] == [1e-3] * 3 + [5e-4] * 3 + [2.5e-4] * 2
    assert scheduled_lr(MULTI, 4) == 5e-4                      # asking backwards reads the kept run
    assert [scheduled_lr(EVERY, s) for s in (0, 3, 4, 7, 8)] == pytest.approx([2e-4, 2e-4, 2e-5, 2e-5, 2e-6])
    with pytest.raises(ValueError):
        scheduled_lr(MULTI, -1)


def test_schedule_cases_sit_around_every_change() -> None:
    configs = {n: load_config(n) for n in ("lesson-psnr", "paper-psnr", "lesson-gan")}
    steps = [(t.lr_g, s) for t, s in schedule_cases(configs)]
    assert steps == [(1e-3, s) for s in (0, 1, 2999, 3000, 5999, 6000, 8999, 9000)] + \
        [(2e-4, s) for s in (0, 1, 199_999, 200_000, 399_999, 400_000)] + [(1e-4, 0), (1e-4, 1)]


def test_a_schedule_by_hand_passes_and_an_off_by_one_fails(capsys) -> None:
    configs = {n: load_config(n) for n in ("lesson-psnr", "lesson-gan")}
    small = [(MULTI, s) for s in range(8)] + [(EVERY, s) for s in range(10)]
    assert check_against(_lr_by_hand, scheduled_lr, schedule_cases(configs) + small, atol=0)
    assert capsys.readouterr().out.startswith("✓ matches esrgan_lesson.course.exercises.scheduled_lr on 28 cases")
    off_by_one = lambda t, s: t.lr_g * t.gamma ** (s // t.halving_period if t.halving_period > 0
                                                     else bisect.bisect_left(t.milestones, s))
    assert not check_against(off_by_one, scheduled_lr, schedule_cases(configs), atol=0)
    assert "case 4: differs" in capsys.readouterr().out      # lesson-psnr at its first milestone, 3,000


def _rdb_by_hand(rdb, x, beta=None):
    feats = [x]
    for conv in (rdb.conv1, rdb.conv2, rdb.conv3, rdb.conv4):
        feats.append(F.leaky_relu(conv(torch.cat(feats, dim=1)), 0.2))
    return x + (rdb.residual_scale if beta is None else beta) * rdb.conv5(torch.cat(feats, dim=1))


def test_rdb_cases_tell_the_dense_block_from_its_slips(capsys) -> None:
    cases = rdb_cases()
    assert check_against(_rdb_by_hand, ResidualDenseBlock.forward, cases)
    assert not check_against(lambda rdb, x: _rdb_by_hand(rdb, x, beta=1.0), ResidualDenseBlock.forward, cases)
    assert not check_against(lambda rdb, x: _rdb_by_hand(rdb, x, beta=0.2), ResidualDenseBlock.forward, cases)  # 0.2 hard-coded
    assert not check_against(lambda rdb, x: rdb.conv5(torch.cat([x] + [torch.zeros_like(x[:, :4])] * 4, 1)) + x,
                             ResidualDenseBlock.forward, cases)
    out = capsys.readouterr().out
    assert out.count("✓") == 1 and "case 4" in out  # only the last block's 0.5 catches a hard-coded 0.2
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    rdb_cases()
    assert torch.equal(torch.rand(1), before)  # the global RNG is left as it was


def test_perceptual_reference_is_the_texture_nets_l1_before_or_after_relu(capsys) -> None:
    cases = perceptual_cases()
    assert len(cases) == 6 and [c[2] for c in cases[:2]] == [False, True]
    pre = texture.feature_extractor("texture", ["conv4_2"])

    def by_hand(sr, hr, after):
        a, b = pre(sr)["conv4_2"], pre(hr)["conv4_2"]
        if after:
            a, b = torch.relu(a), torch.relu(b)
        return (a - b).abs().mean()

    assert check_against(by_hand, perceptual_reference, cases)
    assert not check_against(lambda sr, hr, after: by_hand(sr, hr, False), perceptual_reference, cases)
    assert not check_against(lambda sr, hr, after: ((by_hand(sr, hr, after)) ** 2), perceptual_reference, cases)
    sr, hr, _ = cases[0]
    assert float(perceptual_reference(sr, hr, True)) < float(perceptual_reference(sr, hr, False))  # ReLU zeros differences


# --- chapter 2: batch normalisation in training mode ---------------------------------------------------
def _bn_by_hand(x, bn, dims=(0, 2, 3), unbiased=False, affine=True, running=False, eps=None):
    if running:   # evaluation mode: the stored statistics instead of the batch's
        mean, var = bn.running_mean.view(1, -1, 1, 1), bn.running_var.view(1, -1, 1, 1)
    else:
        mean, var = x.mean(dim=dims, keepdim=True), x.var(dim=dims, unbiased=unbiased, keepdim=True)
    y = (x - mean) / torch.sqrt(var + (bn.eps if eps is None else eps))
    return y * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1) if affine else y


def test_batch_norm_cases_tell_train_mode_bn_from_its_slips(capsys) -> None:
    cases = batch_norm_cases()
    assert all(bn.training for _, bn in cases) and min(x.shape[0] for x, _ in cases) == 1
    assert any(bn.eps != 1e-5 for _, bn in cases)
    assert check_against(_bn_by_hand, bn_train_forward, cases)
    assert capsys.readouterr().out.startswith("✓ matches esrgan_lesson.course.exercises.bn_train_forward on 5 cases")
    slips = {"unbiased variance": lambda x, bn: _bn_by_hand(x, bn, unbiased=True),
             "over N only": lambda x, bn: _bn_by_hand(x, bn, dims=(0,)),
             "over the whole tensor": lambda x, bn: _bn_by_hand(x, bn, dims=(0, 1, 2, 3)),
             "no weight and bias": lambda x, bn: _bn_by_hand(x, bn, affine=False),
             "running statistics": lambda x, bn: _bn_by_hand(x, bn, running=True),
             "PyTorch's layer in eval mode": lambda x, bn: copy.deepcopy(bn).eval()(x)}
    for name, slip in slips.items():
        assert not check_against(slip, bn_train_forward, cases), name
        assert "differs from" in capsys.readouterr().out, name
    # eps hard-coded to PyTorch's default: only the cases with another eps catch it
    assert not check_against(lambda x, bn: _bn_by_hand(x, bn, eps=1e-5), bn_train_forward, cases)
    assert "case 2: differs" in capsys.readouterr().out


def test_a_batch_norm_check_leaves_the_cases_layers_as_they_were() -> None:
    cases = batch_norm_cases()
    before = [{k: v.clone() for k, v in bn.state_dict().items()} for _, bn in cases]
    for _ in range(2):
        assert check_against(_bn_by_hand, bn_train_forward, cases)
    for (_, bn), saved in zip(cases, before):
        assert bn.training
        assert all(torch.equal(v, saved[k]) for k, v in bn.state_dict().items())   # running stats and counter too
    x, bn = cases[0]
    assert not torch.equal(bn_train_forward(x, bn), bn.eval()(x))   # the running statistics differ from the batch's
    torch.manual_seed(5)
    first = torch.rand(1)
    torch.manual_seed(5)
    again = batch_norm_cases()
    assert torch.equal(torch.rand(1), first)   # the global RNG is left as it was
    assert all(torch.equal(a[0], b[0]) for a, b in zip(again, cases))   # and the cases are reproducible


# --- chapter 6: network interpolation of two state dicts ----------------------------------------------
def _interp_by_hand(psnr, gan, alpha):
    return {k: (1 - alpha) * v + alpha * gan[k] if v.is_floating_point() else v.clone() for k, v in psnr.items()}


def test_interpolation_cases_are_relatives_with_a_counter() -> None:
    cases = interpolation_cases()
    assert [a for _, _, a in cases] == [0.0, 0.2, 0.5, 0.8, 1.0, 0.3, 0.7, 1.0]
    for psnr, gan, _ in cases:
        assert psnr.keys() == gan.keys() and all(psnr[k].shape == gan[k].shape for k in psnr)
        assert all(not torch.equal(psnr[k], gan[k]) for k in psnr)   # every entry, biases and counters too, differs
    counters = [k for k, v in cases[5][0].items() if not v.is_floating_point()]
    assert counters and all(k.endswith("num_batches_tracked") for k in counters)
    assert not any(not v.is_floating_point() for v in cases[0][0].values())   # the RRDBNet pair is all float
    torch.manual_seed(5)
    first = torch.rand(1)
    torch.manual_seed(5)
    again = interpolation_cases()
    assert torch.equal(torch.rand(1), first)   # the global RNG is left as it was
    assert torch.equal(flat_state_dict(again[7][1]), flat_state_dict(cases[7][1]))   # and the cases are reproducible


def test_flat_state_dict_sorts_keys_and_keeps_counters() -> None:
    state = {"b": torch.tensor([3.0, 4.0]), "a": torch.tensor([[1.0], [2.0]]), "n": torch.tensor(7)}
    flat = flat_state_dict(state)
    assert flat.dtype == torch.float64 and flat.tolist() == [1.0, 2.0, 3.0, 4.0, 7.0]
    assert torch.equal(flat_state_dict(dict(reversed(list(state.items())))), flat)   # key order does not matter
    with pytest.raises(TypeError, match="dict of tensors"):
        flat_state_dict(torch.zeros(3))
    assert flat_answer(lambda *case: None)(1, 2) is None   # a stub stays a stub for the checker


def test_interpolation_by_hand_passes_and_the_slips_fail(capsys) -> None:
    cases = interpolation_cases()
    assert check_against(flat_answer(_interp_by_hand), interpolation_reference, cases)
    assert capsys.readouterr().out.startswith(
        "✓ matches esrgan_lesson.course.exercises.interpolation_reference on 8 cases")
    lerp = lambda p, g, a: {k: torch.lerp(v, g[k], a) if v.is_floating_point() else v for k, v in p.items()}
    assert check_against(flat_answer(lerp), interpolation_reference, cases)   # float32 lerp is within tolerance
    capsys.readouterr()
    slips = {  # name -> (answer, the first case that catches it)
        "alpha the wrong way round": (lambda p, g, a: _interp_by_hand(g, p, a), 1),
        "counters interpolated too": (lambda p, g, a: {k: (1 - a) * v + a * g[k] for k, v in p.items()}, 6),
        "counters taken from gan": (lambda p, g, a: {**_interp_by_hand(p, g, a),
                                                     **{k: v for k, v in g.items() if not v.is_floating_point()}}, 6),
        "weights only, biases kept": (lambda p, g, a: {k: (1 - a) * v + a * g[k] if k.endswith("weight") else v
                                                       for k, v in p.items()}, 2),
    }
    for name, (slip, first) in slips.items():
        assert not check_against(flat_answer(slip), interpolation_reference, cases), name
        assert f"case {first}: differs from" in capsys.readouterr().out, name
    floats_only = lambda p, g, a: {k: (1 - a) * v + a * g[k] for k, v in p.items() if v.is_floating_point()}
    assert not check_against(flat_answer(floats_only), interpolation_reference, cases)
    assert "case 6: shape" in capsys.readouterr().out   # the counters dropped


def test_an_interpolation_check_leaves_the_cases_as_they_were() -> None:
    cases = interpolation_cases()
    before = [(flat_state_dict(p), flat_state_dict(g)) for p, g, _ in cases]
    assert check_against(flat_answer(_interp_by_hand), interpolation_reference, cases)
    assert all(torch.equal(flat_state_dict(p), bp) and torch.equal(flat_state_dict(g), bg)
               for (p, g, _), (bp, bg) in zip(cases, before))
    psnr, gan, _ = cases[5]
    assert torch.equal(interpolation_reference(psnr, gan, 0.0), flat_state_dict(psnr))   # the ends are exact
    assert not torch.equal(interpolation_reference(psnr, gan, 1.0), flat_state_dict(gan))   # counters come from psnr


# --- chapter 8: SSIM on Y ------------------------------------------------------------------------------
def _ssim_by_hand(sr: np.ndarray, hr: np.ndarray, scale: int, window: str = "gaussian", peak: float = 255.0,
                  crop: bool = True, padding: str = "valid") -> float:
    """Mean SSIM map of the Y channels (0-255) of two (H, W, 3) images in [0, 1], written out; the keywords
    make the slips: an 8x8 box window, constants for a peak of 1, no border crop, zero 'same' padding."""
    a, b = rgb2ycbcr(sr), rgb2ycbcr(hr)
    if crop:
        a, b = a[scale:-scale, scale:-scale], b[scale:-scale, scale:-scale]
    if window == "gaussian":
        x = np.arange(11) - 5.0
        g = np.exp(-x**2 / (2 * 1.5**2))
        g /= g.sum()
    else:
        g = np.full(8, 1 / 8)
    k = len(g)

    def blur(z: np.ndarray) -> np.ndarray:
        if padding == "same":
            z = np.pad(z, ((k // 2, (k - 1) // 2),) * 2)
        z = sum(g[i] * z[i:z.shape[0] - k + 1 + i] for i in range(k))
        return sum(g[j] * z[:, j:z.shape[1] - k + 1 + j] for j in range(k))

    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2, blur(a * b) - mu_a * mu_b
    ssim_map = (2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    assert ssim_map.shape == ((a.shape[0], a.shape[1]) if padding == "same" else
                              (a.shape[0] - k + 1, a.shape[1] - k + 1))
    return float(ssim_map.mean())


def test_ssim_cases_are_the_bicubic_baseline_then_noisy_hr() -> None:
    cases = ssim_cases(scales=(4, 2), names=("chelsea", "camera"))
    base = sr_cases(scales=(4, 2), names=("chelsea", "camera"))
    assert len(cases) == 6 and [c[2] for c in cases] == [4, 4, 2, 2, 4, 4]
    for (sr, hr, s), (sr0, hr0, s0) in zip(cases, base):
        assert np.array_equal(sr, sr0) and np.array_equal(hr, hr0) and s == s0
    for (sr, hr, s), (_, hr0, _) in zip(cases[4:], base[:2]):
        assert np.array_equal(hr, hr0) and sr.shape == hr.shape and sr.dtype == np.float32
        assert np.array_equal(sr * 255, np.round(sr * 255)) and 0 <= sr.min() and sr.max() <= 1
        assert 0.03 < float(np.std(sr.astype(np.float64) - hr)) < 0.06   # noise 0.05, less where clipped
    again = ssim_cases(scales=(4, 2), names=("chelsea", "camera"))
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(cases, again))
    assert not np.array_equal(ssim_cases(scales=(4,), names=("chelsea",), seed=1)[1][0], cases[4][0])


def test_an_ssim_by_hand_passes_and_the_slips_fail(capsys) -> None:
    cases = ssim_cases(scales=(4, 2), names=("chelsea",))
    assert check_against(_ssim_by_hand, ssim, cases)
    assert capsys.readouterr().out.startswith("✓ matches esrgan_lesson.metrics.psnr_ssim.ssim on 3 cases")
    slips = {"8x8 box window": {"window": "box"}, "constants for [0, 1]": {"peak": 1.0},
             "no border crop": {"crop": False}, "'same' zero padding": {"padding": "same"}}
    for label, slip in slips.items():
        assert not check_against(lambda sr, hr, s: _ssim_by_hand(sr, hr, s, **slip), ssim, cases), label
        assert "differs from" in capsys.readouterr().out
