"""esrgan_lesson.course.scale and .display: the scale switch and the helpers chapters share."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from skimage import data

from esrgan_lesson.course import scale as course_scale
from esrgan_lesson.course.display import as_image, show_grid, show_source
from esrgan_lesson.course.scale import Budget, Timer, pick, run_scale, seed_everything
from esrgan_lesson.device import select_device
from esrgan_lesson.errors import ConfigError


def test_scale_default_env_and_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ESRGAN_SCALE", raising=False)
    assert run_scale() == "lesson"
    monkeypatch.setenv("ESRGAN_SCALE", " Paper ")
    assert run_scale() == "paper"
    assert run_scale("lesson") == "lesson"  # an explicit value wins over the environment
    assert pick(run_scale(), lesson=16, paper=128) == 128
    assert pick("lesson", lesson=16, paper=128) == 16


def test_bad_scale_is_a_one_line_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESRGAN_SCALE", "huge")
    with pytest.raises(ConfigError, match=r"\$ESRGAN_SCALE is 'huge'; choose one of lesson, paper"):
        run_scale()
    with pytest.raises(ConfigError, match="scale"):
        pick("gpu", lesson=1, paper=2)


def test_course_device_follows_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESRGAN_DEVICE", "cpu")
    assert course_scale.course_device() == torch.device("cpu")
    monkeypatch.delenv("ESRGAN_DEVICE")
    assert course_scale.course_device() == select_device("auto")


def test_seed_everything_repeats_all_generators() -> None:
    def draw() -> tuple[float, float, float]:
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    seed_everything(123)
    first = draw()
    seed_everything(123)
    assert draw() == first
    seed_everything(124)
    assert draw() != first
    with pytest.raises(ConfigError):
        seed_everything(-1)


def test_timer_and_budget() -> None:
    with Timer("nap") as t:
        sum(range(1000))
    assert 0 < t.elapsed < 5 and t.elapsed == t.elapsed  # frozen once the block ends
    assert str(t).startswith("nap took ") and str(t).endswith(" s")
    budget = Budget(seconds=60)
    assert budget.tick() and budget.steps_done == 1 and 0 < budget.remaining <= 60
    spent = Budget(seconds=1e-9)
    assert spent.expired and not spent.tick() and spent.remaining == 0
    with pytest.raises(ConfigError):
        Budget(seconds=0)


def test_show_source_is_the_real_code_with_stable_reprs() -> None:
    view = show_source(select_device)
    assert view.name == "esrgan_lesson.device.select_device"
    assert view.location.startswith("esrgan_lesson/device.py, lines ")
    assert "def select_device(" in view.source and "return device" in view.source
    text = repr(view)
    assert text.splitlines()[0] == f"# {view.name}  ({view.location})"
    assert "/work/" not in text and "site-packages" not in text  # no machine-specific paths
    html = view._repr_html_()
    assert 'class="highlight"' in html and "select_device" in html
    assert html == show_source(select_device)._repr_html_()  # deterministic for nbval
    assert show_source(course_scale).name == "esrgan_lesson.course.scale"
    with pytest.raises(ConfigError, match="cannot show the source"):
        show_source(len)


def test_as_image_accepts_numpy_and_tensors() -> None:
    u8 = data.astronaut()[:8, :8]
    assert as_image(u8).dtype == np.float32 and as_image(u8).max() <= 1
    chw = torch.rand(1, 3, 5, 7) * 2 - 0.5
    out = as_image(chw)
    assert out.shape == (5, 7, 3) and out.min() >= 0 and out.max() <= 1
    assert as_image(np.zeros((4, 4, 1))).shape == (4, 4)
    with pytest.raises(ConfigError):
        as_image(torch.zeros(2, 3, 4, 4))
    with pytest.raises(ConfigError):
        as_image(np.zeros((4, 4, 2)))


def test_show_grid_layout_and_crops() -> None:
    hr = data.astronaut()[:64, :64]
    lr = hr[::4, ::4]
    fig = show_grid([lr, hr], ["LR", "HR"], crop=(0.25, 0.5, 0.25))
    axes = fig.get_axes()
    assert len(axes) == 4
    assert [ax.get_title() for ax in axes[:2]] == ["LR", "HR"]
    # the crop shows the same region in both: 4x4 LR pixels and 16x16 HR pixels
    lr_crop, hr_crop = axes[2].get_images()[0].get_array(), axes[3].get_images()[0].get_array()
    assert lr_crop.shape[:2] == (4, 4) and hr_crop.shape[:2] == (16, 16)
    np.testing.assert_allclose(hr_crop, as_image(hr)[16:32, 32:48])
    assert len(show_grid([hr]).get_axes()) == 1
    with pytest.raises(ConfigError):
        show_grid([hr], ["a", "b"])
    with pytest.raises(ConfigError):
        show_grid([hr], crop=(0.5, 0.5, 0))
    with pytest.raises(ConfigError):
        show_grid([])
