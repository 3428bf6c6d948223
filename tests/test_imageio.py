"""Reading every image mode we promise, and refusing the rest with one clear line."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from esrgan_lesson.errors import ESRGANError, ImageReadError
from esrgan_lesson.imageio import list_images, read_image, to_uint, write_image


@pytest.fixture
def rgb8() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(5, 7, 3), dtype=np.uint8)


def test_rgb_png_roundtrip_exact(tmp_path, rgb8) -> None:
    Image.fromarray(rgb8).save(tmp_path / "a.png")
    img = read_image(tmp_path / "a.png")
    assert img.rgb.dtype == np.float32 and img.rgb.shape == (5, 7, 3)
    assert not img.grey and img.alpha is None and img.bit_depth == 8
    np.testing.assert_array_equal(to_uint(img.rgb), rgb8)  # channel order is RGB
    write_image(tmp_path / "b.png", img.rgb)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "b.png")), rgb8)


def test_grey_and_grey_alpha(tmp_path, rgb8) -> None:
    grey = rgb8[..., 0]
    Image.fromarray(grey, mode="L").save(tmp_path / "g.png")
    img = read_image(tmp_path / "g.png")
    assert img.grey and img.rgb.shape == (5, 7, 3)
    np.testing.assert_array_equal(to_uint(img.rgb[..., 1]), grey)
    Image.fromarray(np.stack([grey, rgb8[..., 1]], axis=2), mode="LA").save(tmp_path / "la.png")
    la = read_image(tmp_path / "la.png")
    assert la.grey and la.alpha is not None
    np.testing.assert_array_equal(to_uint(la.alpha), rgb8[..., 1])


def test_rgba_and_palette(tmp_path, rgb8) -> None:
    rgba = np.concatenate([rgb8, rgb8[..., :1]], axis=2)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    img = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(to_uint(img.rgb), rgb8)
    np.testing.assert_array_equal(to_uint(img.alpha), rgb8[..., 0])
    Image.fromarray(rgb8).convert("P").save(tmp_path / "p.png")
    pal = read_image(tmp_path / "p.png")
    assert pal.rgb.shape == (5, 7, 3) and not pal.grey


def test_sixteen_bit_colour_keeps_precision(tmp_path) -> None:
    rng = np.random.default_rng(1)
    rgb16 = rng.integers(0, 65536, size=(4, 6, 3), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "c16.png"), rgb16[..., ::-1])
    img = read_image(tmp_path / "c16.png")
    assert img.bit_depth == 16
    np.testing.assert_array_equal(to_uint(img.rgb, 16), rgb16)
    write_image(tmp_path / "out16.png", img.rgb, bit_depth=16)
    back = cv2.imread(str(tmp_path / "out16.png"), cv2.IMREAD_UNCHANGED)[..., ::-1]
    np.testing.assert_array_equal(back, rgb16)


@pytest.mark.parametrize(
    "content,message",
    [(None, "no such file"), (b"", "empty file"), (b"this is not an image at all", "not a readable image"),
     (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not a readable image")],
)
def test_bad_files_raise_one_line(tmp_path, content, message) -> None:
    path = tmp_path / "bad.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageReadError, match=message) as info:
        read_image(path)
    assert "\n" not in str(info.value)


def test_folder_is_not_a_file_and_listing(tmp_path, rgb8) -> None:
    with pytest.raises(ImageReadError, match="not a file"):
        read_image(tmp_path)
    Image.fromarray(rgb8).save(tmp_path / "b.png")
    Image.fromarray(rgb8).save(tmp_path / "a.jpg")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in list_images(tmp_path)] == ["a.jpg", "b.png"]
    with pytest.raises(ESRGANError, match="not a folder"):
        list_images(tmp_path / "missing")


def test_write_rejects_unknown_extension_without_leaving_files(tmp_path, rgb8) -> None:
    with pytest.raises(ESRGANError, match="unsupported output extension"):
        write_image(tmp_path / "out.xyz", rgb8 / 255.0)
    assert list(tmp_path.iterdir()) == []
