"""Tests for esrgan_lesson.course.sr_problem (chapter 1 helpers)."""
from __future__ import annotations

import numpy as np
import pytest
import skimage.data

from esrgan_lesson.errors import DataError
from esrgan_lesson.data.imresize import imresize
from esrgan_lesson.metrics import psnr
from esrgan_lesson.course.sr_problem import DOWNSCALE_METHODS, degrade, downscale, downscale_plane, fit_linear_sr, gaussian_kernel, gradient_energy, lr_consistent_candidates, metric_conventions, mse, pairwise_mse, project_to_lr, random_crops, resize_matrix, upscale_bicubic
from esrgan_lesson.imageio import quantize


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A 128x128 crop of the astronaut photo, on the 8-bit grid, float32 in [0, 1]."""
    return quantize(skimage.data.astronaut()[100:228, 150:278].astype(np.float32) / 255.0)


def test_downscale_matlab_is_imresize_rounded_to_8_bits(photo: np.ndarray) -> None:
    lr = downscale(photo, 4, "matlab")
    expected = np.round(np.clip(imresize(photo.astype(np.float64), scale=0.25), 0, 1) * 255) / 255
    assert lr.shape == (32, 32, 3) and lr.dtype == np.float32
    np.testing.assert_allclose(lr, expected, atol=1e-6)
    assert np.allclose(lr * 255, np.round(lr * 255), atol=1e-4)


@pytest.mark.parametrize("method", DOWNSCALE_METHODS)
def test_every_method_gives_the_lr_shape_in_range(photo: np.ndarray, method: str) -> None:
    lr = downscale(photo, 4, method)
    assert lr.shape == (32, 32, 3) and 0.0 <= lr.min() and lr.max() <= 1.0
    grey = downscale(photo[:, :, 0], 4, method, quantized=False)
    assert grey.shape == (32, 32)


def test_pil_matches_matlab_inside_torch_does_not(photo: np.ndarray) -> None:
    matlab = downscale(photo, 4, "matlab")
    pil_diff = np.abs(downscale(photo, 4, "pil") - matlab) * 255
    torch_diff = np.abs(downscale(photo, 4, "torch") - matlab) * 255
    assert pil_diff[2:-2, 2:-2].max() < 0.5  # identical away from the border
    assert torch_diff[2:-2, 2:-2].mean() > 1.0  # other kernel, no antialiasing
    np.testing.assert_allclose(downscale(photo, 4, "torch"), downscale(photo, 4, "opencv"), atol=1.01 / 255)


def test_downscale_rejects_bad_input(photo: np.ndarray) -> None:
    with pytest.raises(DataError, match="unknown downscale method"):
        downscale(photo, 4, "lanczos")
    with pytest.raises(DataError, match="not divisible"):
        downscale(photo[:127], 4)
    with pytest.raises(DataError, match="float"):
        downscale((photo * 255).astype(np.uint8), 4)
    with pytest.raises(DataError, match="positive integer"):
        downscale(photo, 0)


def test_upscale_bicubic_shape_and_quality(photo: np.ndarray) -> None:
    sr = upscale_bicubic(downscale(photo, 4), 4)
    assert sr.shape == photo.shape
    assert 15.0 < psnr(sr, photo, crop_border=4) < 60.0


def test_gaussian_kernel_is_normalised_and_symmetric() -> None:
    k = gaussian_kernel(7, 1.5)
    assert k.shape == (7, 7) and abs(k.sum() - 1) < 1e-12
    np.testing.assert_allclose(k, k.T)
    np.testing.assert_allclose(k, k[::-1, ::-1])
    assert k[3, 3] == k.max()
    with pytest.raises(DataError):
        gaussian_kernel(4, 1.0)
    with pytest.raises(DataError):
        gaussian_kernel(5, 0.0)


def test_degrade_with_a_delta_kernel_is_plain_subsampling(photo: np.ndarray) -> None:
    lr = degrade(photo, 4, np.ones((1, 1)), quantized=False)
    np.testing.assert_allclose(lr, photo[2::4, 2::4], atol=1e-6)


def test_degrade_noise_has_the_requested_level_and_is_seeded(photo: np.ndarray) -> None:
    flat = np.full((256, 256), 0.5, dtype=np.float32)
    noisy = degrade(flat, 4, gaussian_kernel(5, 1.0), noise_sigma=0.02, seed=3, quantized=False)
    assert abs(noisy.std() - 0.02) < 0.002 and abs(noisy.mean() - 0.5) < 0.002
    again = degrade(flat, 4, gaussian_kernel(5, 1.0), noise_sigma=0.02, seed=3, quantized=False)
    other = degrade(flat, 4, gaussian_kernel(5, 1.0), noise_sigma=0.02, seed=4, quantized=False)
    np.testing.assert_array_equal(noisy, again)
    assert not np.array_equal(noisy, other)
    with pytest.raises(DataError):
        degrade(photo, 4, np.ones((2, 2)))
    with pytest.raises(DataError):
        degrade(photo, 4, np.ones((1, 1)), noise_sigma=-1.0)


def test_degrade_blur_removes_detail(photo: np.ndarray) -> None:
    sharp = degrade(photo, 2, np.ones((1, 1)), quantized=False)
    blurred = degrade(photo, 2, gaussian_kernel(9, 2.0), quantized=False)
    assert gradient_energy(blurred.mean(axis=2)) < 0.5 * gradient_energy(sharp.mean(axis=2))


def test_metric_conventions_grey_gap_is_the_luma_range() -> None:
    rng = np.random.default_rng(0)
    grey = rng.random((40, 40)).astype(np.float64)
    ref = np.repeat(grey[:, :, None], 3, axis=2)
    out = np.clip(ref + rng.normal(0, 0.02, size=(40, 40, 1)), 0, 1)
    c = metric_conventions(out, ref, 4)
    assert set(c) == {"RGB", "RGB, crop", "Y", "Y, crop"}
    assert abs((c["Y"] - c["RGB"]) - 20 * np.log10(255 / 219)) < 1e-6
    assert c["Y, crop"] != c["Y"]


def test_linear_sr_fits_and_beats_bicubic_on_its_degradation() -> None:
    img = quantize(skimage.data.camera().astype(np.float32) / 255.0)
    train, test = img[:256, :256], img[256:, 256:]  # disjoint quarters
    model = fit_linear_sr([train], 4, radius=2, samples_per_image=3000, seed=0)
    assert model.weights.shape == (5 * 5 + 1, 16)
    lr = downscale(test, 4)
    sr = model(lr)
    assert sr.shape == test.shape
    assert psnr(sr, test, crop_border=4, y_channel=False) > psnr(upscale_bicubic(lr, 4), test, crop_border=4,
                                                                 y_channel=False)


def test_linear_sr_keeps_a_flat_image_flat_and_accepts_a_callable() -> None:
    texture = quantize(skimage.data.camera()[:128, :128].astype(np.float32) / 255.0)
    model = fit_linear_sr([texture], 4, method=lambda hr: downscale(hr, 4, "torch"), radius=1,
                          samples_per_image=1000)
    flat = np.full((8, 8, 3), 0.4, dtype=np.float32)
    assert np.abs(model(flat) - 0.4).max() < 0.02
    with pytest.raises(DataError, match="degradation returned"):
        fit_linear_sr([texture], 4, method=lambda hr: hr[::2, ::2])
    with pytest.raises(DataError):
        fit_linear_sr([], 4)


def test_resize_matrix_reproduces_imresize_along_an_axis() -> None:
    rng = np.random.default_rng(2)
    col = rng.random((40, 1))
    np.testing.assert_allclose(resize_matrix(40, 4) @ col, imresize(col, scale=(0.25, 1.0)), atol=1e-12)
    plane = rng.random((24, 32))
    np.testing.assert_allclose(downscale_plane(plane, 4), imresize(plane, scale=0.25), atol=1e-12)
    np.testing.assert_allclose(resize_matrix(40, 4).sum(axis=1), 1.0, atol=1e-12)
    with pytest.raises(DataError):
        resize_matrix(41, 4)


def test_project_to_lr_hits_the_lr_exactly_and_is_a_projection() -> None:
    rng = np.random.default_rng(3)
    x, target = rng.random((32, 32)), rng.random((8, 8))
    p = project_to_lr(x, target, 4)
    np.testing.assert_allclose(downscale_plane(p, 4), target, atol=1e-10)
    np.testing.assert_allclose(project_to_lr(p, target, 4), p, atol=1e-10)
    # the smallest change: moving along the LR-invisible directions never gets closer to x
    other = project_to_lr(rng.random((32, 32)), target, 4)
    assert mse(p, x) <= mse(other, x)
    with pytest.raises(DataError):
        project_to_lr(x, rng.random((7, 8)), 4)


def test_candidates_share_the_lr_and_their_average_is_blurry_but_closer() -> None:
    texture = skimage.data.grass().astype(np.float64) / 255.0
    crops = random_crops(texture, 32, 1 + 40 + 40, seed=0)
    target = downscale_plane(crops[0], 4)
    fit = lr_consistent_candidates(crops[1:41], target, 4)
    fresh = lr_consistent_candidates(crops[41:], target, 4)
    assert np.abs(downscale_plane(fit, 4) - target).max() < 1e-9
    avg = fit.mean(axis=0)
    pair = pairwise_mse(fresh)[np.triu_indices(40, 1)].mean()
    assert mse(avg, fresh).mean() < 0.7 * pair
    assert gradient_energy(avg) < 0.5 * gradient_energy(fresh).mean()


def test_pairwise_mse_matches_the_direct_computation() -> None:
    rng = np.random.default_rng(4)
    x = rng.random((5, 6, 7))
    direct = ((x[:, None] - x[None]) ** 2).mean(axis=(-2, -1))
    np.testing.assert_allclose(pairwise_mse(x), direct, atol=1e-12)
    with pytest.raises(DataError):
        pairwise_mse(x[0])


def test_random_crops_and_gradient_energy() -> None:
    img = np.arange(100.0).reshape(10, 10)
    crops = random_crops(img, 4, 6, seed=0)
    assert crops.shape == (6, 4, 4)
    for c in crops:  # each crop is a contiguous window of the ramp
        np.testing.assert_allclose(np.diff(c, axis=1), 1.0)
        np.testing.assert_allclose(np.diff(c, axis=0), 10.0)
    assert gradient_energy(np.full((5, 5), 0.3)) == 0.0
    np.testing.assert_allclose(gradient_energy(img), 1.0 + 100.0)
    with pytest.raises(DataError):
        random_crops(img, 11, 1)
