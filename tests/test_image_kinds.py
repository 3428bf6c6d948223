"""The images people have, through ``read_image`` and ``esrgan-lesson upscale``.

Every file is made here with Pillow, OpenCV or tifffile. Each CLI case checks
the output against what the package computes in memory from the upright,
correctly decoded input, so a wrong decode (unrotated, wrong channels, 8-bit
instead of 16) fails.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import torch
from PIL import Image, ImageOps

from esrgan_lesson.cli import main
from esrgan_lesson.image_kinds import orient, read_header
from esrgan_lesson.imageio import LoadedImage, read_image, to_uint
from esrgan_lesson.inference import upscale, upscale_alpha
from esrgan_lesson.models import RRDBNet
from esrgan_lesson.weights import build_generator, read_generator, save_generator

H, W = 10, 14


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(3)
    net = RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4, small_init=False)
    with torch.no_grad():
        net.conv_last.bias.fill_(0.5)
    return save_generator(net, tmp_path_factory.mktemp("ck") / "g.safetensors")


@pytest.fixture(scope="module")
def model(ckpt: Path) -> RRDBNet:
    return build_generator(*read_generator(ckpt), "cpu")


@pytest.fixture
def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)


def cli(capsys, src: Path, out: Path, ckpt: Path) -> str:
    code = main(["upscale", str(src), "-o", str(out), "--weights", str(ckpt)])
    captured = capsys.readouterr()
    assert code == 0 and captured.err == "", captured.err
    return captured.out


def rgb_of(path: Path) -> np.ndarray:
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return arr[..., [2, 1, 0, 3][: arr.shape[2]]] if arr.ndim == 3 else arr


def expected(model, image: LoadedImage) -> LoadedImage:
    return upscale(model, image)


def test_grey_alpha_png_stays_grey_alpha(tmp_path, capsys, ckpt, model, rgb) -> None:
    alpha = np.linspace(0, 255, H * W).reshape(H, W).astype(np.uint8)  # smooth alpha
    Image.fromarray(np.stack([rgb[..., 0], alpha], axis=2), mode="LA").save(tmp_path / "la.png")
    cli(capsys, tmp_path / "la.png", tmp_path / "out", ckpt)
    with Image.open(tmp_path / "out" / "la.png") as im:
        assert im.mode == "LA" and im.size == (4 * W, 4 * H)
        out = np.asarray(im)
    want = expected(model, read_image(tmp_path / "la.png"))
    np.testing.assert_array_equal(out[..., 0], to_uint(want.rgb[..., 0]))
    np.testing.assert_array_equal(out[..., 1], to_uint(upscale_alpha(alpha / 255.0, 4)))
    assert len(np.unique(out[..., 1])) > 100  # smooth alpha is interpolated, not thresholded


def test_palette_with_transparency_keeps_a_binary_alpha(tmp_path, capsys, ckpt, model, rgb) -> None:
    pal = Image.fromarray(rgb).quantize(colors=16)
    idx = np.asarray(pal).copy()
    idx[idx == 0] = 1
    idx[:, : W // 2] = 0  # left half, and only it, is the transparent entry
    im = Image.fromarray(idx, mode="P")
    im.putpalette(pal.getpalette())
    im.save(tmp_path / "p.png", transparency=0)
    cli(capsys, tmp_path / "p.png", tmp_path / "out", ckpt)
    out = rgb_of(tmp_path / "out" / "p.png")
    assert out.shape == (4 * H, 4 * W, 4)
    assert set(np.unique(out[..., 3])) == {0, 255}
    assert (out[:, : 4 * (W // 2) - 2, 3] == 0).all() and (out[:, 4 * (W // 2) + 2 :, 3] == 255).all()
    want = expected(model, read_image(tmp_path / "p.png"))
    np.testing.assert_array_equal(out[..., :3], to_uint(want.rgb))
    colours = np.asarray(Image.open(tmp_path / "p.png").convert("RGB"))
    np.testing.assert_array_equal(to_uint(read_image(tmp_path / "p.png").rgb), colours)


@pytest.mark.parametrize("name,fmt", [("anim.gif", "GIF"), ("anim.apng", "PNG"), ("anim_apng.png", "PNG")])
def test_animation_first_frame_as_png_with_a_note(tmp_path, capsys, ckpt, model, name, fmt) -> None:
    frames = [Image.fromarray(np.full((H, W, 3), v, np.uint8)) for v in (40, 220, 120)]
    frames[0].save(tmp_path / name, format=fmt, save_all=True, append_images=frames[1:], duration=100)
    assert read_header(tmp_path / name).frames == 3
    out = cli(capsys, tmp_path / name, tmp_path / "out", ckpt)
    target = tmp_path / "out" / (Path(name).stem + ".png")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [target.name]
    assert "note:" in out and "3 frames" in out and "only the first frame" in out
    with Image.open(target) as im:
        assert im.format == "PNG" and "only the first frame" in im.text["Comment"]
    first = LoadedImage(rgb=np.full((H, W, 3), 40 / 255, np.float32), alpha=None, grey=False, bit_depth=8)
    np.testing.assert_array_equal(rgb_of(target)[..., :3], to_uint(expected(model, first).rgb))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_read_upright_as_pillow_shows_it(tmp_path, rgb, orientation) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(tmp_path / "o.png", exif=exif)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")))
    np.testing.assert_array_equal(to_uint(read_image(tmp_path / "o.png").rgb), upright)
    np.testing.assert_array_equal(orient(rgb, orientation), upright)


def test_exif_rotated_jpeg_comes_out_upright_without_the_tag(tmp_path, capsys, ckpt, model, rgb) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # phone held upright: stored sideways, shown turned 90 degrees clockwise
    Image.fromarray(rgb).save(tmp_path / "phone.jpg", exif=exif, quality=95)
    cli(capsys, tmp_path / "phone.jpg", tmp_path / "out", ckpt)
    with Image.open(tmp_path / "out" / "phone.jpg") as im:
        assert im.size == (4 * H, 4 * W)  # (width, height): turned
        assert im.getexif().get(0x0112) is None
        out = np.asarray(im.convert("RGB")).astype(int)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "phone.jpg")))
    want = to_uint(expected(model, LoadedImage(upright / np.float32(255), None, False, 8)).rgb).astype(int)
    assert np.abs(out - want).mean() < 4  # JPEG re-encoding only
    unturned = np.rot90(want, 1)  # the same pixels left as stored would be far off
    assert unturned.shape != want.shape or np.abs(out - unturned).mean() > 20


def test_cmyk_jpeg_becomes_rgb(tmp_path, capsys, ckpt, model, rgb) -> None:
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "print.jpg", quality=95)
    assert read_header(tmp_path / "print.jpg").mode == "CMYK"
    img = read_image(tmp_path / "print.jpg")
    assert not img.grey and img.alpha is None
    assert np.abs(to_uint(img.rgb).astype(int) - rgb).mean() < 4
    cli(capsys, tmp_path / "print.jpg", tmp_path / "out.png", ckpt)
    np.testing.assert_array_equal(rgb_of(tmp_path / "out.png"), to_uint(expected(model, img).rgb))


def test_sixteen_bit_rgb_png_stays_sixteen_bit(tmp_path, capsys, ckpt, model) -> None:
    rgb16 = np.random.default_rng(1).integers(0, 65536, (H, W, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "deep.png"), rgb16[..., ::-1])
    img = read_image(tmp_path / "deep.png")
    assert img.bit_depth == 16
    np.testing.assert_array_equal(to_uint(img.rgb, 16), rgb16)
    cli(capsys, tmp_path / "deep.png", tmp_path / "out", ckpt)
    out = rgb_of(tmp_path / "out" / "deep.png")
    assert out.dtype == np.uint16
    want = to_uint(expected(model, img).rgb, 16)
    np.testing.assert_array_equal(out, want)
    assert len(np.unique(out % 256)) > 64  # real 16-bit values, not 8-bit ones scaled up


@pytest.mark.parametrize("channels", [1, 3])
def test_float_tiff_stays_float(tmp_path, capsys, ckpt, model, channels) -> None:
    data = np.random.default_rng(2).random((H, W, channels)).astype(np.float32)
    data[0, 0] = 1e-6  # below one 16-bit step: kept only as float
    tifffile.imwrite(tmp_path / "hdr.tif", data[..., 0] if channels == 1 else data,
                     photometric="minisblack" if channels == 1 else "rgb")
    img = read_image(tmp_path / "hdr.tif")
    assert img.bit_depth == 32 and img.grey == (channels == 1)
    np.testing.assert_array_equal(img.rgb[..., :channels], data)
    cli(capsys, tmp_path / "hdr.tif", tmp_path / "out", ckpt)
    out = tifffile.imread(tmp_path / "out" / "hdr.tif")
    assert out.dtype == np.float32 and out.shape[:2] == (4 * H, 4 * W)
    want = expected(model, img)
    np.testing.assert_allclose(out if channels == 3 else out[..., None], want.rgb[..., :channels], atol=1e-6)


def test_float_tiff_values_outside_unit_range_are_clipped(tmp_path) -> None:
    tifffile.imwrite(tmp_path / "x.tif", np.array([[-0.5, 0.25], [1.5, 1.0]], np.float32))
    np.testing.assert_array_equal(read_image(tmp_path / "x.tif").rgb[..., 0], [[0.0, 0.25], [1.0, 1.0]])


def test_alpha_policy_binary_stays_binary_smooth_is_bicubic() -> None:
    binary = np.zeros((8, 8), np.float32)
    binary[2:6, 3:7] = 1
    up = upscale_alpha(binary, 4)
    assert set(np.unique(up)) == {0.0, 1.0} and up.shape == (32, 32)
    assert abs(up.mean() - binary.mean()) < 0.05
    smooth = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)
    ups = upscale_alpha(smooth, 4)
    assert len(np.unique(ups)) > 100 and ups.min() >= 0 and ups.max() <= 1
