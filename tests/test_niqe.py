"""NIQE: its sub-steps against hand calculations, and its behaviour on photos."""
from __future__ import annotations

import fnmatch
import math
from fractions import Fraction
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import skimage.data as skdata
import torch
from skimage.color import rgb2ycbcr as sk_rgb2ycbcr

from esrgan_lesson.errors import DataError, ESRGANError
from esrgan_lesson.data.imresize import imresize
from esrgan_lesson.metrics import NiqeResult, NiqeSizeError, niqe, niqe_blocks
from esrgan_lesson.metrics.niqe_metric import (block_features, fit_aggd, mscn, mvg_distance, niqe_features, niqe_luma,
                                               niqe_window, pristine_model, shape_grid)

ROOT = Path(__file__).resolve().parents[1]
RNG_SEED = 0


def _ggd_samples(rng: np.random.Generator, shape: float, scale: float, n: int) -> np.ndarray:
    """Samples of exp(-(|x|/scale)^shape): |x| = scale * G^(1/shape), G ~ Gamma(1/shape, 1)."""
    mag = scale * rng.gamma(1.0 / shape, 1.0, n) ** (1.0 / shape)
    return np.where(rng.random(n) < 0.5, -mag, mag)


# --- the (A)GGD fits -----------------------------------------------------------------------------

def test_shape_grid_is_matlabs_and_its_ratio_matches_hand_values() -> None:
    shapes, ratio, scale_factor, mean_factor = shape_grid()
    assert len(shapes) == 9801 and shapes[0] == pytest.approx(0.2) and shapes[-1] == pytest.approx(10.0)
    assert np.all(np.diff(ratio) > 0)  # strictly increasing, so the nearest grid point is unique
    i1, i2 = np.argmin(abs(shapes - 1.0)), np.argmin(abs(shapes - 2.0))
    assert ratio[i1] == pytest.approx(0.5)  # G(2)^2 / (G(1) G(3)) = 1/2
    assert ratio[i2] == pytest.approx(2 / math.pi)  # G(1)^2 / (G(1/2) G(3/2)) = 2/pi
    assert scale_factor[i2] == pytest.approx(math.sqrt(2))  # Gaussian: beta = sigma * sqrt(2)
    assert mean_factor[i2] == pytest.approx(1 / math.sqrt(math.pi))


def test_gaussian_sample_gives_shape_two_and_scale_sigma_root_two() -> None:
    x = np.random.default_rng(RNG_SEED).normal(0.0, 0.7, 200_000)
    fit = fit_aggd(x)
    assert isinstance(fit.shape, float)
    assert fit.shape == pytest.approx(2.0, abs=0.03)
    assert fit.left_scale == pytest.approx(0.7 * math.sqrt(2), rel=0.01)
    assert fit.right_scale == pytest.approx(0.7 * math.sqrt(2), rel=0.01)
    assert abs(fit.mean) < 0.01


def test_laplacian_sample_gives_shape_one_and_its_scale() -> None:
    x = np.random.default_rng(RNG_SEED).laplace(0.0, 1.5, 200_000)
    fit = fit_aggd(x)
    assert fit.shape == pytest.approx(1.0, abs=0.02)
    assert fit.left_scale == pytest.approx(1.5, rel=0.03) and fit.right_scale == pytest.approx(1.5, rel=0.03)


@pytest.mark.parametrize("shape", [0.5, 1.0, 2.0, 4.0])
def test_rows_of_generalised_gaussians_recover_their_shapes(shape: float) -> None:
    rng = np.random.default_rng(RNG_SEED)
    rows = np.stack([_ggd_samples(rng, shape, s, 100_000) for s in (0.3, 1.0, 3.0)])
    fit = fit_aggd(rows)
    assert fit.shape.shape == (3,)
    np.testing.assert_allclose(fit.shape, shape, rtol=0.04)
    np.testing.assert_allclose(fit.left_scale, [0.3, 1.0, 3.0], rtol=0.03)


def test_asymmetric_sample_recovers_both_scales_and_the_mean() -> None:
    """Half-normals of sigma 0.5 (left) and 2 (right): an AGGD of shape 2, scales sigma*sqrt(2)."""
    rng = np.random.default_rng(RNG_SEED)
    n = 200_000
    x = np.where(rng.random(n) < 0.2, -np.abs(rng.normal(0, 0.5, n)), np.abs(rng.normal(0, 2.0, n)))
    fit = fit_aggd(x)
    bl, br = 0.5 * math.sqrt(2), 2.0 * math.sqrt(2)
    assert fit.shape == pytest.approx(2.0, abs=0.05)
    assert fit.left_scale == pytest.approx(bl, rel=0.02) and fit.right_scale == pytest.approx(br, rel=0.02)
    assert fit.mean == pytest.approx((br - bl) / math.sqrt(math.pi), rel=0.02)  # (br - bl) G(1)/G(1/2)


def test_one_sided_sample_has_undefined_left_scale() -> None:
    fit = fit_aggd(np.array([0.5, 1.0, 2.0]))
    assert math.isnan(fit.left_scale) and math.isnan(fit.mean)
    assert fit.shape == pytest.approx(0.2)  # MATLAB's min over NaNs picks the first grid point
    with pytest.raises(DataError):
        fit_aggd(np.zeros((2, 0)))


# --- MSCN and blocks -----------------------------------------------------------------------------

def test_window_is_fspecial_gaussian_7_sigma_7_over_6() -> None:
    w = niqe_window()
    assert w.shape == (7, 7) and w.sum() == pytest.approx(1.0) and np.allclose(w, w.T)
    assert w[3, 4] / w[3, 3] == pytest.approx(math.exp(-1 / (2 * (7 / 6) ** 2)))
    assert w[0, 0] / w[3, 3] == pytest.approx(math.exp(-18 / (2 * (7 / 6) ** 2)))


def test_mscn_of_a_constant_image_is_zero_and_of_a_step_is_odd() -> None:
    assert np.array_equal(mscn(np.full((40, 50), 117.0)), np.zeros((40, 50)))
    step = np.zeros((20, 20))
    step[:, 10:] = 100.0
    m = mscn(step)
    assert m[5, 9] < 0 < m[5, 10] and m[5, 9] == pytest.approx(-m[5, 10])  # antisymmetric about the edge
    assert np.all(m[:, :5] == 0) and np.all(m[:, 15:] == 0)  # flat beyond the 7x7 window's reach


@pytest.mark.parametrize(("h", "w", "crop", "expected"), [
    (384, 384, 0, 16), (500, 480, 0, 25), (383, 1000, 0, 30), (392, 392, 4, 16), (391, 392, 4, 12), (100, 50, 0, 0),
])
def test_block_count_matches_hand_calculation(h: int, w: int, crop: int, expected: int) -> None:
    assert niqe_blocks(h, w, crop) == expected


def test_block_features_layout() -> None:
    rng = np.random.default_rng(RNG_SEED)
    f = block_features(rng.normal(size=(192, 288)), 96)
    assert f.shape == (6, 18)
    np.testing.assert_allclose(f[:, 0], 2.0, atol=0.25)  # Gaussian coefficients: shape ~2
    np.testing.assert_allclose(f[:, 7], 0.0, atol=0.05)  # independent neighbours: V product has mean ~0
    with pytest.raises(DataError):
        block_features(np.zeros((100, 96)), 96)


# --- the distance and the pristine model ----------------------------------------------------------

def test_pristine_model_is_a_36_dim_gaussian() -> None:
    mu, cov = pristine_model()
    assert mu.shape == (36,) and cov.shape == (36, 36)
    assert np.allclose(cov, cov.T) and np.linalg.eigvalsh(cov).min() > 0
    assert 2.0 < mu[0] < 3.5  # MSCN shape of pristine photos: between Laplacian-ish and Gaussian


def test_mvg_distance_by_hand() -> None:
    mu, cov = pristine_model()
    assert mvg_distance(np.stack([mu + 0.1, mu - 0.1]))[0] == pytest.approx(0.0, abs=1e-9)  # same mean
    a = np.linspace(-0.05, 0.05, 36)
    score, used = mvg_distance(np.stack([mu + a, mu + a, np.full(36, np.nan)]))
    # two equal rows: zero covariance, so the distance is sqrt(a^T (cov/2)^-1 a); the NaN row is dropped
    assert used == 2 and score == pytest.approx(math.sqrt(2 * a @ np.linalg.solve(cov, a)), rel=1e-9)


# --- whole images ----------------------------------------------------------------------------------

def _bicubic_x4(img: np.ndarray) -> np.ndarray:
    x = img.astype(np.float64) / 255
    return np.round(np.clip(imresize(imresize(x, scale=0.25), scale=4), 0, 1) * 255).astype(np.uint8)


def _noisy(img: np.ndarray, sigma: float) -> np.ndarray:
    noise = np.random.default_rng(RNG_SEED).normal(0, sigma, img.shape)
    return np.clip(np.round(img + noise), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_blur_and_noise_score_worse(name: str) -> None:
    img = getattr(skdata, name)()
    sharp = niqe(img)
    assert isinstance(sharp, NiqeResult) and sharp.used_blocks == sharp.blocks == niqe_blocks(*img.shape[:2])
    assert 0 < sharp.score < 6
    assert niqe(_bicubic_x4(img)).score > sharp.score + 2
    assert niqe(_noisy(img, 25.0)).score > sharp.score + 2


def test_input_conventions_agree() -> None:
    img = skdata.coffee()
    ref = float(niqe(img))
    assert float(niqe(img.astype(np.float32) / 255)) == pytest.approx(ref, abs=1e-12)
    assert float(niqe(torch.from_numpy(img).permute(2, 0, 1).contiguous())) == pytest.approx(ref, abs=1e-12)
    grey = skdata.camera()  # one channel is used as it is (no Y conversion)
    assert float(niqe(torch.from_numpy(grey)[None])) == float(niqe(grey))
    assert np.array_equal(niqe_luma(grey), grey.astype(np.float64))


def test_luma_is_matlab_rgb2ycbcr_rounded() -> None:
    img = skdata.astronaut()
    y = niqe_luma(img)
    assert np.array_equal(y, np.round(y)) and 16 <= y.min() and y.max() <= 235
    for r, g, b in img[::7, ::7].reshape(-1, 3)[:2000].astype(int).tolist() + [[0, 0, 0], [255, 255, 255]]:
        exact = Fraction(16) + Fraction(65481 * r + 128553 * g + 24966 * b, 255_000)  # Y, exactly
        expect = math.floor(exact + Fraction(1, 2))  # MATLAB's round: halves away from zero
        assert niqe_luma(np.array([[[r, g, b]]], np.uint8))[0, 0] == expect
    assert niqe_luma(np.array([[[0, 0, 0], [255, 255, 255]]], np.uint8)).tolist() == [[16, 235]]
    # a tie: 16 + (128553*204 + 24966*68) / 255000 = 125.5 exactly, which MATLAB's round takes to 126
    assert niqe_luma(np.array([[[0, 204, 68]]], np.uint8))[0, 0] == 126
    assert niqe_luma(np.array([[[0, 204, 68]]], np.float64) / 255)[0, 0] == 126
    far_from_tie = np.abs(np.modf(sk_rgb2ycbcr(img)[..., 0])[0] - 0.5) > 1e-6
    np.testing.assert_array_equal(y[far_from_tie], np.floor(sk_rgb2ycbcr(img)[..., 0] + 0.5)[far_from_tie])


def test_too_small_and_flat_images_are_refused_in_one_line() -> None:
    with pytest.raises(NiqeSizeError, match=r"needs >= 16 blocks .* 256x256 .* gives 4") as exc:
        niqe(skdata.astronaut()[:256, :256])
    assert isinstance(exc.value, ESRGANError) and "\n" not in str(exc.value)
    assert niqe(skdata.astronaut()[:256, :256], min_blocks=4).blocks == 4  # allowed when asked for
    with pytest.raises(NiqeSizeError, match="defined features"):
        niqe(np.full((384, 384, 3), 128, np.uint8))
    with pytest.raises(DataError, match="min_blocks"):
        niqe(skdata.astronaut(), min_blocks=1)
    with pytest.raises(NiqeSizeError, match="gives 0"):
        niqe(np.zeros((50, 50), np.uint8), min_blocks=2)
    with pytest.raises(NiqeSizeError, match="at least one"):
        niqe_features(np.zeros((50, 500), np.uint8))
    with pytest.raises(DataError):
        niqe(torch.rand(2, 3, 400, 400))


def test_pristine_model_and_notice_are_package_data() -> None:
    """The files load through importlib.resources and pyproject ships them in wheels."""
    pkg = resources.files("esrgan_lesson.metrics")
    notice = pkg.joinpath("NIQE_LICENSE.txt").read_text()
    assert "Copyright (c) 2011 The University of Texas at Austin" in notice
    assert "COPYRIGHT NOTICE STARTS WITH THIS LINE" in notice and "COPYRIGHT NOTICE ENDS WITH THIS LINE" in notice
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = data.get("esrgan_lesson.metrics", []) + [p.removeprefix("metrics/") for p in data["esrgan_lesson"]
                                                        if p.startswith("metrics/")]
    for name in ("niqe_pristine.npz", "NIQE_LICENSE.txt"):
        assert pkg.joinpath(name).is_file()
        assert any(fnmatch.fnmatch(name, p) for p in patterns), f"{name} is not in pyproject's package-data"
