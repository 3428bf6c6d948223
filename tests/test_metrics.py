"""PSNR/SSIM/rgb2ycbcr against scikit-image's independent implementations."""
from __future__ import annotations

import math

import numpy as np
import pytest
import skimage.data as skdata
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from esrgan_lesson.errors import DataError
from esrgan_lesson.data.imresize import imresize
from esrgan_lesson.metrics import psnr, rgb2ycbcr, ssim


def _sk_ssim(a: np.ndarray, b: np.ndarray, channel_axis: int | None = None) -> float:
    # Gaussian sigma 1.5, truncated at 3.5 sigma -> radius 5 (11 taps); skimage
    # averages the SSIM map after cropping (11-1)/2 = 5 px: the valid region.
    return structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=255, channel_axis=channel_axis)


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    """A real photo and its x4 bicubic round trip (uint8), a realistic SR pair."""
    hr = skdata.chelsea()[:160, :200]
    sr = imresize(imresize(hr, scale=0.25), scale=4)
    return sr, hr


def _y_by_hand(img: np.ndarray) -> np.ndarray:
    r, g, b = (img[..., k].astype(np.float64) / 255.0 for k in range(3))
    return 16.0 + 65.481 * r + 128.553 * g + 24.966 * b


def test_rgb2ycbcr_y_and_range() -> None:
    img = skdata.astronaut()[:32, :32]
    y = rgb2ycbcr(img)
    assert y.shape == (32, 32) and y.dtype == np.float64
    assert np.allclose(y, _y_by_hand(img), atol=1e-10)
    corners = np.array([[[0, 0, 0], [255, 255, 255]]], dtype=np.uint8)
    ycc = rgb2ycbcr(corners, y_only=False)
    assert np.allclose(ycc[0, 0], [16, 128, 128]) and np.allclose(ycc[0, 1], [235, 128, 128])
    t = rgb2ycbcr(torch.from_numpy(img).permute(2, 0, 1).float() / 255.0)
    assert t.shape == (1, 32, 32) and np.allclose(t[0].numpy(), y, atol=1e-4)


@pytest.mark.parametrize("crop", [0, 4])
def test_psnr_matches_skimage(pair, crop: int) -> None:
    sr, hr = pair
    c = slice(crop, -crop) if crop else slice(None)
    ref_y = peak_signal_noise_ratio(_y_by_hand(hr)[c, c], _y_by_hand(sr)[c, c], data_range=255)
    assert psnr(sr, hr, crop_border=crop) == pytest.approx(ref_y, abs=1e-9)
    ref_rgb = peak_signal_noise_ratio(hr[c, c].astype(np.float64), sr[c, c].astype(np.float64), data_range=255)
    assert psnr(sr, hr, crop_border=crop, y_channel=False) == pytest.approx(ref_rgb, abs=1e-9)


@pytest.mark.parametrize("crop", [0, 4])
def test_ssim_matches_skimage(pair, crop: int) -> None:
    sr, hr = pair
    c = slice(crop, -crop) if crop else slice(None)
    ref_y = _sk_ssim(_y_by_hand(sr)[c, c], _y_by_hand(hr)[c, c])
    # same float64 formula, window and region: agreement to rounding error
    assert ssim(sr, hr, crop_border=crop) == pytest.approx(ref_y, abs=1e-9)
    ref_rgb = _sk_ssim(sr[c, c].astype(np.float64), hr[c, c].astype(np.float64), channel_axis=2)
    assert ssim(sr, hr, crop_border=crop, y_channel=False) == pytest.approx(ref_rgb, abs=1e-9)


def test_input_kinds_agree(pair) -> None:
    sr, hr = pair
    as_t = lambda a: torch.from_numpy(a).permute(2, 0, 1)  # noqa: E731
    p_np = psnr(sr, hr, 4)
    assert psnr(as_t(sr), as_t(hr), 4) == pytest.approx(p_np, abs=1e-12)
    assert psnr(as_t(sr).double() / 255, as_t(hr).double() / 255, 4) == pytest.approx(p_np, abs=1e-9)
    batch = ssim(torch.stack([as_t(sr), as_t(hr)]), torch.stack([as_t(hr), as_t(hr)]), 4)
    assert batch.shape == (2,) and batch.dtype == torch.float64
    assert batch[0].item() == pytest.approx(ssim(sr, hr, 4), abs=1e-12) and batch[1].item() == pytest.approx(1.0)


def test_identical_is_inf_and_ssim_one(pair) -> None:
    _, hr = pair
    assert math.isinf(psnr(hr, hr)) and psnr(hr, hr) > 0
    assert ssim(hr, hr) == pytest.approx(1.0, abs=1e-12)


def test_bad_inputs() -> None:
    a = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(DataError, match="shapes differ"):
        psnr(a, np.zeros((20, 21, 3), np.uint8))
    with pytest.raises(DataError, match=r"\[0, 1\]"):
        psnr(a.astype(np.float32) + 200.0, a.astype(np.float32))
    with pytest.raises(DataError, match="RGB"):
        psnr(a[..., 0], a[..., 0])
    with pytest.raises(DataError, match="crop_border"):
        ssim(a, a, crop_border=10)
    with pytest.raises(DataError, match="at least"):
        ssim(a, a, crop_border=5)
