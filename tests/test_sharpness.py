"""The one luma and the one gradient energy (esrgan_lesson.metrics)."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from esrgan_lesson.errors import DataError
from esrgan_lesson.metrics import gradient_energy, gradient_energy_map, high_frequency_energy, luma, plane_gradient_energy, psnr, rgb2ycbcr

PACKAGE = Path(__file__).resolve().parent.parent / "esrgan_lesson"


def test_luma_is_the_metrics_y_rescaled_to_unit_range() -> None:
    torch.manual_seed(0)
    img = torch.rand(3, 9, 7, dtype=torch.float64)
    y255 = rgb2ycbcr(img)[0]
    assert torch.allclose(luma(img)[0], (y255 - 16) / 219, atol=1e-12, rtol=0)
    # (Y - 16) / 219 is 0.299 R + 0.587 G + 0.114 B: black 0, white 1, pure green 0.587
    assert luma(torch.zeros(3, 2, 2)).max() == 0 and torch.allclose(luma(torch.ones(3, 2, 2)), torch.ones(1, 2, 2, dtype=torch.float64))
    green = torch.zeros(3, 1, 1)
    green[1] = 1
    assert abs(float(luma(green)) - 0.587) < 1e-12
    # numpy (H, W, 3) uint8 and float agree; overshoot is clamped, not an error
    u8 = (img.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert torch.allclose(luma(u8), luma(u8.astype(np.float64) / 255), atol=1e-12)
    assert torch.equal(luma(img * 1.5 - 0.2), luma((img * 1.5 - 0.2).clamp(0, 1)))
    with pytest.raises(DataError):
        luma(torch.rand(1, 4, 4))


def test_psnr_on_y_is_unchanged_by_the_shared_y() -> None:
    # a uniform offset of d grey levels in every RGB channel moves Y by d * 219 / 255
    a = torch.full((3, 12, 12), 100 / 255, dtype=torch.float64)
    b = a + 10 / 255
    expect = 10 * np.log10(255**2 / (10 * 219 / 255) ** 2)
    assert abs(psnr(a, b) - expect) < 1e-9


def test_gradient_energy_counts_neighbour_differences() -> None:
    img = torch.zeros(3, 4, 5, dtype=torch.float64)
    img[:, :, 1::2] = 1.0  # columns alternate 0/1: every horizontal step is 1, no vertical step
    assert gradient_energy(img) == pytest.approx(1.0)
    assert gradient_energy(img.transpose(1, 2)) == pytest.approx(1.0)
    assert gradient_energy(torch.full((3, 6, 6), 0.4)) == 0.0
    # a batch is the mean of its images; numpy (H, W, 3) is the same image
    batch = torch.stack([img, torch.zeros_like(img)])
    assert gradient_energy(batch) == pytest.approx(0.5)
    assert gradient_energy(img.permute(1, 2, 0).numpy()) == pytest.approx(1.0)


def test_masked_gradient_energy_is_the_same_function_restricted() -> None:
    torch.manual_seed(1)
    img = torch.rand(3, 10, 12, dtype=torch.float64)
    full = torch.ones(10, 12, dtype=torch.bool)
    assert gradient_energy(img, mask=full) == pytest.approx(gradient_energy(img), rel=1e-12)
    left = full.clone()
    left[:, 6:] = False
    y = luma(img)[0]
    expect = float((y[:, 1:7] - y[:, :6]).pow(2).mean() + (y[1:, :6] - y[:-1, :6]).pow(2).mean())
    assert gradient_energy(img, mask=left) == pytest.approx(expect, rel=1e-12)  # pairs that start inside
    with pytest.raises(DataError):
        gradient_energy(img, mask=torch.ones(3, 3, dtype=torch.bool))
    emap = gradient_energy_map(img)
    assert emap.shape == (10, 12) and emap.dtype == torch.float64 and float(emap.min()) >= 0


def test_plane_gradient_energy_is_chapter_ones_numpy_measure() -> None:
    from esrgan_lesson.course.sr_problem import gradient_energy as plane_np

    rng = np.random.default_rng(0)
    planes = rng.random((4, 8, 9))
    ref = (np.diff(planes, axis=-1) ** 2).mean(axis=(-2, -1)) + (np.diff(planes, axis=-2) ** 2).mean(axis=(-2, -1))
    np.testing.assert_allclose(plane_np(planes), ref, rtol=1e-12)
    np.testing.assert_allclose(plane_gradient_energy(torch.from_numpy(planes)).numpy(), ref, rtol=1e-12)


def test_high_frequency_share() -> None:
    checker = torch.zeros(3, 16, 16)
    checker[:, ::2, ::2] = checker[:, 1::2, 1::2] = 1.0
    smooth = (0.5 + 0.4 * torch.cos(2 * torch.pi * torch.arange(16) / 16)).expand(3, 16, 16)  # one period
    assert high_frequency_energy(checker) == pytest.approx(1.0)
    assert high_frequency_energy(smooth) < 0.05
    assert high_frequency_energy(torch.full((3, 8, 8), 0.5)) == 0.0


def test_one_luma_and_one_gradient_energy_in_the_package() -> None:
    defs: dict[str, list[str]] = {}
    weights = []
    for p in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(p.read_text())
        for n in ast.walk(tree):
            if isinstance(n, ast.FunctionDef) and n.name in ("luma", "_luma", "gradient_energy"):
                defs.setdefault(n.name, []).append(str(p.relative_to(PACKAGE)))
            if isinstance(n, ast.Constant) and n.value in (0.299, 0.587, 0.114):
                weights.append(f"{p.relative_to(PACKAGE)}:{n.lineno}")
    assert defs.get("luma") == ["metrics/psnr_ssim.py"], defs
    assert "_luma" not in defs, defs
    # chapter 1's numpy plane measure is a thin call of metrics.sharpness (checked above)
    assert sorted(defs.get("gradient_energy", [])) == ["course/sr_problem.py", "metrics/sharpness.py"], defs
    assert not weights, f"a second luma's weights: {weights}"
