"""``esrgan-lesson evaluate`` in-process on tiny data."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import skimage.data as skdata
import torch
from skimage.metrics import peak_signal_noise_ratio

from esrgan_lesson.cli import main
from esrgan_lesson.imageio import read_image, write_image
from esrgan_lesson.data.imresize import imresize


def _y(img: np.ndarray) -> np.ndarray:
    img = np.round(np.clip(img, 0, 1) * 255) / 255
    return 16 + 65.481 * img[..., 0] + 128.553 * img[..., 1] + 24.966 * img[..., 2]


@pytest.fixture()
def bench(tmp_path: Path) -> Path:
    """An EDSR-layout set: HR/ and LR_bicubic/X2/ with DIV2K-style LR names."""
    root = tmp_path / "Tiny"
    for k, img in enumerate((skdata.chelsea()[:48, :64], skdata.coffee()[100:140, 200:252])):
        hr = img.astype(np.float32) / 255
        write_image(root / "HR" / f"im{k}.png", hr)
        write_image(root / "LR_bicubic" / "X2" / f"im{k}x2.png", imresize(hr, scale=0.5).clip(0, 1))
    return root


def _row(out: str, name: str) -> list[float]:
    line = next(ln for ln in out.splitlines() if ln.startswith(name))
    return [float(v) for v in re.findall(r"[-+]?\d+\.\d+", line)]


def test_bicubic_baseline_matches_independent_psnr(bench: Path, capsys, tmp_path: Path) -> None:
    assert main(["evaluate", "--data", str(bench), "--scale", "2", "--save", str(tmp_path / "out")]) == 0
    values = _row(capsys.readouterr().out, "Tiny")
    expected = []
    for k in range(2):
        hr = read_image(bench / "HR" / f"im{k}.png").rgb
        lr = read_image(bench / "LR_bicubic" / "X2" / f"im{k}x2.png").rgb
        bic = imresize(lr.astype(np.float64), scale=2)
        expected.append(peak_signal_noise_ratio(_y(hr)[2:-2, 2:-2], _y(bic)[2:-2, 2:-2], data_range=255))
    assert values[0] == pytest.approx(np.mean(expected), abs=0.006)  # printed with 2 decimals
    assert 0 < values[1] < 1
    assert sorted(p.name for p in (tmp_path / "out" / "Tiny").iterdir()) == ["im0.png", "im1.png"]


def test_hr_only_folder_and_model_column(bench: Path, capsys, tmp_path: Path) -> None:
    from esrgan_lesson.models import RRDBNet
    from esrgan_lesson.weights import save_generator

    torch.manual_seed(0)
    net = RRDBNet(scale=2, num_feat=8, num_block=1, num_grow_ch=4)
    weights = save_generator(net, tmp_path / "g.safetensors")
    code = main(["evaluate", "--data", str(bench / "HR"), "--scale", "2", "--weights", str(weights),
                 "--device", "cpu", "--tile", "16"])
    assert code == 0
    out = capsys.readouterr().out
    bp, bs, mp, ms, gain = _row(out, "HR")
    assert gain == pytest.approx(mp - bp, abs=0.011)
    assert mp < bp  # an untrained network is worse than bicubic


def test_bad_data_is_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["evaluate", "--data", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("esrgan-lesson evaluate: error:") and "\n" not in err
    assert main(["evaluate", "--data", "Set5", "--benchmark-root", str(tmp_path)]) == 2
    assert "download.py" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["evaluate", "--data", str(tmp_path / "empty")]) == 2


def _expected_niqe(hr_path: Path, scale: int, model=None) -> tuple[float, float, float | None]:
    """HR, bicubic and model NIQE of one HR-only image, computed here from the metric itself."""
    from esrgan_lesson.data.benchmark import load_eval_pair
    from esrgan_lesson.imageio import to_uint
    from esrgan_lesson.metrics import niqe

    hr, lr = load_eval_pair(hr_path, None, scale)
    bic = np.clip(imresize(lr.astype(np.float64), scale=scale), 0, 1)
    out = None
    if model is not None:
        from esrgan_lesson.inference import upscale

        out = niqe(to_uint(upscale(model, lr, device="cpu"), 8), crop_border=scale).score
    return (niqe(to_uint(hr, 8), crop_border=scale).score, niqe(to_uint(bic, 8), crop_border=scale).score, out)


def test_niqe_columns_match_the_metric(tmp_path: Path, capsys) -> None:
    from esrgan_lesson.models import RRDBNet
    from esrgan_lesson.weights import save_generator

    hr_dir = tmp_path / "Big" / "HR"
    write_image(hr_dir / "astro.png", skdata.astronaut()[:400, :400].astype(np.float32) / 255)  # 392 after crop
    torch.manual_seed(0)
    net = RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4).eval()
    with torch.no_grad():  # an untrained net's output is almost flat (no NIQE features); x4 weights give texture
        for p in net.parameters():
            p.mul_(4)
    weights = save_generator(net, tmp_path / "g.safetensors")
    assert main(["evaluate", "--data", str(hr_dir), "--scale", "4", "--weights", str(weights), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("HR "))
    hr_niqe, _, _, bic_niqe, _, _, model_niqe, _ = _row(out, "HR ")
    exp_hr, exp_bic, exp_model = _expected_niqe(hr_dir / "astro.png", 4, net)
    assert (hr_niqe, bic_niqe, model_niqe) == pytest.approx((exp_hr, exp_bic, exp_model), abs=0.006)
    assert bic_niqe > hr_niqe + 1  # bicubic x4 is blurred: much less natural than the photo
    assert "*" not in line and "n/a" not in line and "needs >=" not in out
    assert "Ma's score and PI" in out and "not computed" in out


def test_niqe_is_averaged_over_large_enough_images_only(tmp_path: Path, capsys) -> None:
    hr_dir = tmp_path / "Mixed"
    write_image(hr_dir / "astro.png", skdata.astronaut()[:400, :400].astype(np.float32) / 255)
    write_image(hr_dir / "small.png", skdata.chelsea()[:200, :200].astype(np.float32) / 255)  # 4 blocks
    write_image(hr_dir / "flat.png", np.full((400, 400, 3), 0.5, np.float32))  # 16 blocks, no features
    assert main(["evaluate", "--data", str(hr_dir), "--scale", "4"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("Mixed"))
    exp_hr, exp_bic, _ = _expected_niqe(hr_dir / "astro.png", 4)
    cells = line.split()
    assert cells[2] == f"{exp_hr:.2f}*" and cells[4] == f"{exp_bic:.2f}*"
    assert "needs >= 16 blocks of 96x96" in out and "n/a = no image has them (<16 blocks, or flat)" in out


def test_too_small_outputs_print_na(bench: Path, capsys) -> None:
    assert main(["evaluate", "--data", str(bench), "--scale", "2"]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("Tiny"))
    assert line.split()[2] == "n/a" and line.split()[4] == "n/a"
    assert "n/a = no image has them (<16 blocks, or flat)" in out
