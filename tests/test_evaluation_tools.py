"""Helpers of chapters 7 (full recipe) and 8 (evaluation): esrgan_lesson.course.recipe, .gpus, .perception.

The step cost of chapter 7 is core code: tests/test_step_cost.py.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import skimage.data as skdata
import torch
import torch.nn.functional as F

from esrgan_lesson.course import gpus
from esrgan_lesson.course import perception
from esrgan_lesson.course import recipe
from esrgan_lesson.training.config import load_config
from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.metrics import ImageScores
from esrgan_lesson.models import RRDBNet


def _photo(side: int = 64) -> torch.Tensor:
    img = skdata.astronaut()[100:100 + side, 180:180 + side].astype(np.float32) / 255.0
    return torch.from_numpy(img).permute(2, 0, 1).contiguous()


def test_config_table_shows_each_configs_values() -> None:
    cfgs = {"paper-psnr": load_config("paper-psnr"), "paper-gan": load_config("paper-gan")}
    rows = {r[0]: r[1:] for r in recipe.config_rows(cfgs)}
    assert rows["generator nf / nb / gc"] == ["64 / 23 / 32", "64 / 23 / 32"]
    assert rows["lr G / lr D"] == ["0.0002 / -", "0.0001 / 0.0001"]
    assert rows["LR schedule"] == ["x0.5 every 200,000", "x0.5 at 50,000, 100,000, 200,000, 300,000"]
    assert rows["RaGAN weight (lambda)"] == ["-", "0.005"]
    assert rows["perceptual"] == ["off", "vgg19 conv5_4 (l1, x1)"]
    lines = recipe.format_config_table(cfgs).splitlines()
    assert len(lines) == len(recipe.CONFIG_KEYS) + 2
    col = lines[0].index("paper-gan")
    assert all(line[col - 2:col] == "  " for line in lines[2:])  # columns line up
    with pytest.raises(ESRGANError):
        recipe.config_rows({})


def test_config_table_says_when_milestones_lie_past_the_budget() -> None:
    cfgs = {"a": load_config("lesson-psnr"),  # milestones 3k/6k/9k, 2,400 iterations
            "b": load_config("lesson-psnr", ["train.iterations=5000"])}
    rows = {r[0]: r[1:] for r in recipe.config_rows(cfgs)}
    assert rows["LR schedule"] == ["constant (x0.5 at 3,000, 6,000, 9,000: past the budget)", "x0.5 at 3,000"]


def test_project_schedule_is_flops_over_sustained_rate() -> None:
    assert gpus.project_schedule(1e12, 1000, tflops=1.0, utilisation=0.5) == pytest.approx(2000.0)
    for bad in (0.0, 1.5):
        with pytest.raises(ESRGANError):
            gpus.project_schedule(1e12, 10, 1.0, bad)
    h100 = next(g for g in gpus.PROJECTED_GPUS if g.name == "H100 SXM")
    assert gpus.project_schedule(1e12, 3600, tflops=h100.fp32, utilisation=1.0) == pytest.approx(3600 / 67.0)


def test_find_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    b.mkdir()
    (b / "RRDB_ESRGAN_x4.pth").write_bytes(b"x")
    monkeypatch.delenv(recipe.WEIGHTS_DIR_ENV, raising=False)
    assert recipe.find_checkpoint("RRDB_ESRGAN_x4.pth", [a]) is None
    assert recipe.find_checkpoint("RRDB_ESRGAN_x4.pth", [a, b]) == b / "RRDB_ESRGAN_x4.pth"
    monkeypatch.setenv(recipe.WEIGHTS_DIR_ENV, str(b))
    assert recipe.find_checkpoint("RRDB_ESRGAN_x4.pth") == b / "RRDB_ESRGAN_x4.pth"


def test_max_weight_difference() -> None:
    torch.manual_seed(0)
    a = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4)
    b = RRDBNet(num_feat=8, num_block=1, num_grow_ch=4)
    b.load_state_dict(a.state_dict())
    assert recipe.max_weight_difference(a, b) == 0.0
    with torch.no_grad():
        b.conv_last.bias[0] += 0.5
    assert recipe.max_weight_difference(a, b) == pytest.approx(0.5)
    with pytest.raises(ESRGANError):
        recipe.max_weight_difference(a, RRDBNet(num_feat=8, num_block=2, num_grow_ch=4))


def test_paper_table_and_reader_rows(tmp_path: Path) -> None:
    text = perception.format_paper_comparison({"mine": {"Set5": (30.123, 0.85)}})
    assert "32.73/0.9011" in text and "24.52/0.7221" in text
    mine = [line for line in text.splitlines() if line.startswith("mine (yours)")][0]
    assert "30.12/0.8500" in mine and mine.split()[-1] == "-"
    assert perception.available_benchmarks(tmp_path) == []
    (tmp_path / "Set14" / "HR").mkdir(parents=True)
    (tmp_path / "B100" / "HR").mkdir(parents=True)
    assert perception.available_benchmarks(tmp_path) == ["Set14", "BSD100"]


def test_perceptual_index_formula() -> None:
    assert perception.perceptual_index(10.0, 0.0) == 0.0
    assert perception.perceptual_index(5.0, 3.0) == pytest.approx(4.0)
    with pytest.raises(ESRGANError):
        perception.perceptual_index(11.0, 3.0)

def test_iqa_backends_reports_what_can_be_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    present = {"lpips"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if name in present else None)
    assert perception.iqa_backends() == {"pyiqa": False, "lpips": True}


def test_scores_detail_ratios_react_to_blur_and_noise() -> None:
    hr = _photo()
    same = perception.score_output("p", "hr", hr, hr, 4).scores
    assert same.rmse == 0.0 and math.isinf(same.psnr) and same.grad_ratio == pytest.approx(1.0)
    blurred = F.avg_pool2d(F.pad(hr[None], (1, 1, 1, 1), mode="replicate"), 3, stride=1)[0]
    noisy = (hr + 0.05 * torch.randn(hr.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    b = perception.score_output("p", "blur", blurred, hr, 4).scores
    n = perception.score_output("p", "noise", noisy, hr, 4).scores
    assert b.grad_ratio < 1 and b.hf_ratio < 1 and n.grad_ratio > 1 and n.hf_ratio > 1
    assert 0 < b.rmse and 0 < n.rmse and b.psnr < 100
    with pytest.raises(ESRGANError):
        perception.score_output("p", "x", hr[:, :32], hr, 4)


def test_summarise_uses_geometric_means_for_ratios_and_plots() -> None:
    def row(name, method, psnr, ssim, rmse, grad_ratio, hf_ratio):
        return perception.MethodScores(method, ImageScores(name, psnr, ssim, rmse, 0.0, 0.0, grad_ratio, hf_ratio,
                                                           (0.0, 0.0, 0.0)))

    rows = [row("a", "m", 30.0, 0.8, 5.0, 0.5, 2.0), row("b", "m", 32.0, 0.9, 7.0, 2.0, 2.0),
            row("a", "k", 28.0, 0.7, 9.0, 1.0, 1.0)]
    s = perception.summarise(rows)
    assert list(s) == ["m", "k"]
    assert s["m"]["psnr"] == pytest.approx(31.0) and s["m"]["grad_ratio"] == pytest.approx(1.0)
    assert "31.00" in perception.format_summary(s)
    fig = perception.plot_perception_distortion(s)
    assert len(fig.axes[0].texts) == 2
    with pytest.raises(ESRGANError):
        perception.summarise([])
    with pytest.raises(ESRGANError):
        perception.plot_perception_distortion(s, proxy="psnr")


def test_perception_distortion_plot_keeps_bicubic_off_the_path_and_says_when_hr_is_off_chart() -> None:
    summary = {name: {"rmse": r, "grad_ratio": g, "hf_ratio": g / 4}
               for name, r, g in (("bicubic", 13.0, 0.14), ("PSNR (a=0)", 11.7, 0.28), ("GAN (a=1)", 18.0, 0.68))}
    ax = perception.plot_perception_distortion(summary, "hf_ratio").axes[0]
    path, bicubic = ax.lines[0], ax.lines[1]
    assert list(path.get_xdata()) == [11.7, 18.0] and list(bicubic.get_xdata()) == [13.0]
    assert ax.get_ylim()[1] < 1 and any("above this chart" in t.get_text() for t in ax.texts)
    ax = perception.plot_perception_distortion(summary, "grad_ratio").axes[0]
    assert ax.get_ylim()[1] > 1 and not any("above" in t.get_text() for t in ax.texts)  # the HR line fits


def test_mean_colour_shift_in_grey_levels() -> None:
    hr = _photo(32)
    warm = hr.clone()
    warm[0] = (warm[0] + 4 / 255).clamp(max=1)
    shift = perception.mean_colour_shift(warm, hr)
    assert shift.shape == (3,) and 0 < float(shift[0]) <= 4 + 1e-4
    assert float(shift[1]) == 0.0 and float(shift[2]) == 0.0
    assert float(perception.mean_colour_shift(hr, hr).abs().max()) == 0.0
    with pytest.raises(ESRGANError):
        perception.mean_colour_shift(hr[:, :16], hr)
