"""course.ablation: detail scores of one output and the seed-spread verdict the chapters pre-register."""
from __future__ import annotations

import pytest
import torch
from skimage import data as skdata
from torch import nn

from esrgan_lesson.course.ablation import (SPREAD_FACTOR, model_detail, output_detail, region_masks,
                                           seed_verdict)
from esrgan_lesson.data.imresize import imresize
from esrgan_lesson.data.pairs import make_pairs
from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.metrics import gradient_energy


@pytest.fixture(scope="module")
def pair():
    return make_pairs({"astronaut": skdata.astronaut()[:192, :192] / 255.0}, 4)[0]


def test_verdict_rule_by_hand() -> None:
    v = seed_verdict([1.0, 1.1, 0.9], [2.0, 2.2, 1.8], predicted_sign=+1)
    assert v.sd_a == pytest.approx(0.1) and v.sd_b == pytest.approx(0.2)
    assert v.delta == pytest.approx(1.0) and v.bar == pytest.approx(SPREAD_FACTOR * 0.2) and v.outcome == "holds"
    assert seed_verdict([1.0, 1.1, 0.9], [2.0, 2.2, 1.8], predicted_sign=-1).outcome == "reversed"
    # a gap of 0.3 with a larger spread of 0.2: inside twice the spread
    assert seed_verdict([1.0, 1.1, 0.9], [1.3, 1.5, 1.1], predicted_sign=+1).outcome == "no clear difference"
    with pytest.raises(ESRGANError, match="at least 2 seeds"):
        seed_verdict([1.0], [2.0, 2.1], 1)
    with pytest.raises(ESRGANError, match="predicted_sign"):
        seed_verdict([1.0, 1.1], [2.0, 2.1], 0)


def test_region_masks_are_disjoint_shares_of_the_truth(pair) -> None:
    _, _, hr = pair
    textured, flat = region_masks(hr)
    assert not bool((textured & flat).any())
    assert float(textured.float().mean()) == pytest.approx(0.3, abs=0.01)
    assert float(flat.float().mean()) == pytest.approx(0.3, abs=0.01)
    assert gradient_energy(hr, mask=textured) > 10 * gradient_energy(hr, mask=flat)


def test_output_detail_of_the_truth_and_of_bicubic(pair) -> None:
    _, lr, hr = pair
    truth = output_detail(hr, hr, 4)
    assert truth["texture"] == 1.0 and truth["edges"] == 1.0 and truth["psnr"] == float("inf")
    bic = output_detail(imresize(lr, scale=4.0).clamp(0, 1), hr, 4)
    assert bic["texture"] < 0.5 and bic["edges"] < 0.5 and 20 < bic["psnr"] < 40  # bicubic is blurred
    with pytest.raises(ESRGANError, match="shapes"):
        output_detail(hr[:, 1:], hr, 4)


class _Bicubic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = 4

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return imresize(x, scale=4.0)


def test_model_detail_averages_over_pairs_and_checks_niqe_names(pair) -> None:
    _, lr, hr = pair
    one = output_detail(imresize(lr, scale=4.0).clamp(0, 1), hr, 4)
    both = model_detail(_Bicubic(), [pair, ("again", lr, hr)], 4)
    assert both["psnr"] == pytest.approx(one["psnr"]) and "niqe" not in both
    with pytest.raises(ESRGANError, match="not among the pairs"):
        model_detail(_Bicubic(), [pair], 4, niqe_names=("camera",))


def test_brightness_and_colour_separate_a_uniform_shift_from_a_cast(pair) -> None:
    _, _, hr = pair
    mid = hr * 0.5 + 0.25  # away from 0 and 1, so shifts are not clipped
    brighter = output_detail(mid + 4 / 255, mid, 4)
    assert brighter["brightness"] == pytest.approx(4.0, abs=0.01) and brighter["colour"] == pytest.approx(0.0, abs=0.01)
    cast = mid + torch.tensor([3.0, -3.0, 0.0]).view(3, 1, 1) / 255  # warmer, same overall brightness
    tinted = output_detail(cast, mid, 4)
    assert tinted["brightness"] == pytest.approx(0.0, abs=0.01) and tinted["colour"] == pytest.approx(2.0, abs=0.01)
    darker = output_detail(mid - 4 / 255, mid, 4)
    assert darker["brightness"] == pytest.approx(4.0, abs=0.01)  # the size of the shift, either sign
