"""The one score record (esrgan_lesson.metrics.scores) and who uses it."""
from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import skimage.data as skdata
import torch
from skimage.metrics import structural_similarity

from esrgan_lesson.data import make_pairs
from esrgan_lesson.errors import DataError
from esrgan_lesson.metrics import ImageScores, score_image

PACKAGE = Path(__file__).resolve().parent.parent / "esrgan_lesson"


def _photo(h: int = 48, w: int = 56) -> np.ndarray:
    return skdata.chelsea()[40:40 + h, 100:100 + w].astype(np.float32) / 255.0


def _y(img: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr's Y in 0-255 of an (H, W, 3) float image in [0, 1], written out."""
    return 16.0 + 65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]


def _grad_energy(img: np.ndarray) -> float:
    y = 0.299 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2]
    return float(((y[:, 1:] - y[:, :-1]) ** 2).mean() + ((y[1:, :] - y[:-1, :]) ** 2).mean())


def _hf_share(img: np.ndarray, cutoff: float = 0.25) -> float:
    y = 0.299 * img[..., 0] + 0.587 * img[..., 1] + 0.114 * img[..., 2]
    power = np.abs(np.fft.fft2(y - y.mean())) ** 2
    fy, fx = np.meshgrid(np.fft.fftfreq(y.shape[0]), np.fft.fftfreq(y.shape[1]), indexing="ij")
    return float(power[np.hypot(fy, fx) > cutoff].sum() / power.sum())


def test_score_image_matches_each_metric_computed_by_hand() -> None:
    hr32 = _photo()
    noise = np.random.default_rng(0).normal(0, 0.03, hr32.shape)
    sr32 = np.clip(hr32 + noise + 0.4 / 255, 0, 1).astype(np.float32)  # off the 8-bit grid: must be rounded
    s = score_image(torch.from_numpy(sr32).permute(2, 0, 1), torch.from_numpy(hr32).permute(2, 0, 1), 4, "cat")
    # the saved 8-bit output, held as float32 like a file that is read back; metrics in float64
    out = (np.round(sr32 * np.float32(255)) / np.float32(255)).astype(np.float32).astype(np.float64)
    hr, sr = hr32.astype(np.float64), sr32.astype(np.float64)
    c = slice(4, -4)
    mse = ((_y(out)[c, c] - _y(hr)[c, c]) ** 2).mean()
    assert s.name == "cat"
    assert s.psnr == pytest.approx(10 * math.log10(255 ** 2 / mse), abs=1e-9)
    ref_ssim = structural_similarity(_y(out)[c, c], _y(hr)[c, c], gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=255)
    assert s.ssim == pytest.approx(ref_ssim, abs=1e-9)
    assert s.rmse == pytest.approx(float(np.sqrt((((out - hr) * 255)[c, c] ** 2).mean())), abs=1e-9)
    assert s.gradient_energy == pytest.approx(_grad_energy(out), rel=1e-9)
    assert s.hf_energy == pytest.approx(_hf_share(out), rel=1e-9)
    assert s.grad_ratio == pytest.approx(_grad_energy(out) / _grad_energy(hr), rel=1e-9)
    assert s.hf_ratio == pytest.approx(_hf_share(out) / _hf_share(hr), rel=1e-9)
    shift = ((out - hr) * 255).mean(axis=(0, 1))
    assert s.colour_shift == pytest.approx(tuple(shift), abs=1e-9)
    assert s.colour_error == pytest.approx(float(np.abs(shift).mean() / 255), abs=1e-12)
    # rounding matters: the unrounded output gives another PSNR
    assert abs(s.psnr - 10 * math.log10(255 ** 2 / ((_y(sr)[c, c] - _y(hr)[c, c]) ** 2).mean())) > 1e-4


def test_score_image_input_kinds_agree_and_bad_input_fails() -> None:
    hr = _photo()
    sr = np.clip(hr + 0.02, 0, 1)
    t = score_image(torch.from_numpy(sr).permute(2, 0, 1)[None], torch.from_numpy(hr).permute(2, 0, 1), 4)
    assert score_image(sr, hr, 4) == t
    assert score_image((np.round(sr * 255)).astype(np.uint8), hr, 4) == t
    same = score_image(hr, hr, 4)
    assert math.isinf(same.psnr) and same.rmse == 0 and same.grad_ratio == 1 and same.colour_shift == (0, 0, 0)
    flat = np.full_like(hr, 0.5)
    assert math.isnan(score_image(sr, flat, 4).grad_ratio)
    with pytest.raises(DataError):
        score_image(sr[:40], hr, 4)
    with pytest.raises(DataError):
        score_image(sr, hr, -1)


def test_validation_and_every_chapter_helper_give_the_same_psnr(tmp_path: Path) -> None:
    from esrgan_lesson.cli.evaluate import evaluate_set
    from esrgan_lesson.course import experiments, perception, texture
    from esrgan_lesson.course.explorer import score_output
    from esrgan_lesson.course.pretrained_demo import detail_scores
    from esrgan_lesson.data.benchmark import resolve_eval_set
    from esrgan_lesson.imageio import quantize, write_image
    from esrgan_lesson.inference import upscale
    from esrgan_lesson.models import RRDBNet
    from esrgan_lesson.training.evaluation import evaluate_generator

    torch.manual_seed(0)
    model = RRDBNet(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=4).eval()
    (name, lr, hr), = make_pairs({"cat": _photo(64, 64)}, 4)
    sr = upscale(model, lr)
    validation = evaluate_generator(model, [(name, lr, hr)], 4).images[0]
    want = validation.model.psnr
    assert want == score_image(sr, hr, 4).psnr and validation.model == score_image(sr, hr, 4, name)
    assert perception.score_output(name, "m", sr, hr, 4).scores.psnr == want
    assert texture.score_outputs(model, [(name, lr, hr)], 4).psnr == want
    assert score_output(name, "network", 0.0, sr, hr, 4).scores.psnr == want
    assert experiments.gains_vs_bicubic(model, [(name, lr, hr)], 4)[name] == validation.gain_db
    hr_np = hr.permute(1, 2, 0).numpy()
    out_np = quantize(upscale(model, lr.permute(1, 2, 0).numpy()))
    assert detail_scores(out_np, hr_np, 4).scores.psnr == want
    (tmp_path / "HR").mkdir()
    write_image(tmp_path / "HR" / "cat.png", hr_np)
    cli = evaluate_set(resolve_eval_set(str(tmp_path / "HR"), 4), 4, model)
    assert cli.model[0].psnr == want and cli.bicubic[0].psnr == validation.bicubic.psnr


# --- no second score record ---------------------------------------------------------------------
#: The one record's figures: the fields of metrics.ImageScores, and what the chapters read off it
#: (``colour_error``, texture's ``sharpness``).
RECORD_FIELDS = {"psnr", "ssim", "rmse", "gradient_energy", "hf_energy", "grad_ratio", "hf_ratio", "colour_shift",
                 "colour_error", "sharpness"}
#: Names the removed second records (and their issue-10 aliases) used for Y-PSNR.
OLD_PSNR_NAMES = {"psnr_y", "y_psnr", "psnr_bicubic"}
#: Field names that mark a record of image scores.
SCORE_FIELDS = RECORD_FIELDS | OLD_PSNR_NAMES


def score_records(source: str, where: str) -> list[str]:
    """``where:Class`` for every dataclass in ``source`` with a field named in :data:`SCORE_FIELDS`."""
    hits = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ClassDef):
            continue
        decorators = [d.func if isinstance(d, ast.Call) else d for d in node.decorator_list]
        if not any(getattr(d, "id", getattr(d, "attr", None)) == "dataclass" for d in decorators):
            continue
        fields = {s.target.id for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
        if fields & SCORE_FIELDS:
            hits.append(f"{where}:{node.name}")
    return hits


def alias_properties(source: str, where: str) -> list[str]:
    """``where:Class.prop`` for every property in ``source`` whose body (docstring aside) is only
    ``return self.<record>.<figure>``, ``figure`` a score figure or ``name``: a second name for a field
    of the one record."""
    hits = []
    for cls in ast.walk(ast.parse(source)):
        if not isinstance(cls, ast.ClassDef):
            continue
        for fn in cls.body:
            if not isinstance(fn, ast.FunctionDef) or not any(getattr(d, "id", None) == "property"
                                                              for d in fn.decorator_list):
                continue
            body = [b for b in fn.body if not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))]
            if len(body) != 1 or not isinstance(body[0], ast.Return):
                continue
            v = body[0].value
            if (isinstance(v, ast.Attribute) and v.attr in SCORE_FIELDS | {"name"}
                    and isinstance(v.value, ast.Attribute) and isinstance(v.value.value, ast.Name)
                    and v.value.value.id == "self"):
                hits.append(f"{where}:{cls.name}.{fn.name}")
    return hits


def test_no_wrapper_renames_a_score_figure() -> None:
    found = [hit for p in sorted(PACKAGE.rglob("*.py"))
             for hit in alias_properties(p.read_text(), str(p.relative_to(PACKAGE.parent)))]
    assert found == [], "read the wrapped record (e.g. point.scores.psnr) instead:\n" + "\n".join(found)


def test_the_alias_check_sees_an_alias() -> None:
    alias = ("class W:\n    @property\n    def psnr_y(self) -> float:\n        \"\"\"dB.\"\"\"\n"
             "        return self.scores.psnr\n")
    assert alias_properties(alias, "x.py") == ["x.py:W.psnr_y"]
    # the last two removed (issue 10): PairScores.name / .psnr
    pair = ("class PairScores:\n    @property\n    def name(self) -> str:\n        return self.model.name\n\n"
            "    @property\n    def psnr(self) -> float:\n        \"\"\"dB.\"\"\"\n        return self.model.psnr\n")
    assert alias_properties(pair, "x.py") == ["x.py:PairScores.name", "x.py:PairScores.psnr"]
    derived = ("class W:\n    @property\n    def gain_db(self) -> float:\n"
               "        return self.model.psnr - self.bicubic.psnr\n")
    assert not alias_properties(derived, "x.py")


def test_there_is_one_score_record() -> None:
    found = [hit for p in sorted(PACKAGE.rglob("*.py"))
             for hit in score_records(p.read_text(), str(p.relative_to(PACKAGE.parent)))]
    assert found == ["esrgan_lesson/metrics/scores.py:ImageScores"], (
        "score records besides metrics.ImageScores (wrap an ImageScores instead):\n" + "\n".join(found))
    assert {f.name for f in ImageScores.__dataclass_fields__.values()} <= SCORE_FIELDS | {"name"}


@pytest.mark.parametrize("source", [
    "from dataclasses import dataclass\n@dataclass\nclass S:\n    name: str\n    psnr: float\n",
    "import dataclasses\n@dataclasses.dataclass(frozen=True)\nclass P:\n    psnr_y: float\n",
])
def test_the_check_sees_a_second_record(source: str) -> None:
    assert score_records(source, "x.py")
    wrapper = "from dataclasses import dataclass\n@dataclass\nclass W:\n    scores: 'ImageScores'\n    flat: float\n"
    assert not score_records(wrapper, "x.py")
