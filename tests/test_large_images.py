"""Huge images: the size comes from the header, refusal happens before any decode, streaming matches memory."""
from __future__ import annotations

import struct
import tracemalloc
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import torch
from PIL import Image, ImageFile
from torch import nn

import esrgan_lesson.image_kinds as image_kinds
import esrgan_lesson.imageio as imageio
import esrgan_lesson.inference.large_images as large_images
from esrgan_lesson.cli import main
from esrgan_lesson.image_kinds import MAX_INPUT_PIXELS, read_header
from esrgan_lesson.imageio import read_image, write_image
from esrgan_lesson.inference import upscale
from esrgan_lesson.models import RRDBNet
from esrgan_lesson.weights import save_generator


class OneConv(nn.Module):
    """The smallest upscaler: one 3x3 conv to 3*s*s channels and a pixel shuffle."""

    def __init__(self, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(3, 3 * scale * scale, 3, padding=1)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.conv(x))


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(5)
    net = RRDBNet(scale=4, num_feat=8, num_block=1, num_grow_ch=4, small_init=False)
    return save_generator(net, tmp_path_factory.mktemp("ck") / "g.safetensors")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def header_only_png(path: Path, width: int, height: int) -> Path:
    """A few-byte PNG whose header declares width x height RGB (its pixel data is not there)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + _chunk(b"IEND", b""))
    return path


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every way the package could decode pixels raises instead."""
    def boom(*_a, **_k):
        raise AssertionError("pixels were decoded")
    for module in (image_kinds, imageio, large_images):
        monkeypatch.setattr(module, "decode", boom)
    monkeypatch.setattr(cv2, "imdecode", boom)
    monkeypatch.setattr(ImageFile.ImageFile, "load", boom)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(["upscale", *map(str, argv)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_header_gives_size_without_decoding(tmp_path, no_decoding) -> None:
    h = read_header(header_only_png(tmp_path / "big.png", 30000, 20000))
    assert (h.width, h.height, h.size, h.channels) == (30000, 20000, (20000, 30000), 3)


def test_huge_output_is_refused_before_decoding(tmp_path, capsys, ckpt, no_decoding) -> None:
    src = header_only_png(tmp_path / "scan.png", 30000, 30000)
    code, out, err = run(capsys, src, "-o", tmp_path / "out", "--weights", ckpt)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "120000x120000" in err and "GiB to upscale in memory" in err and "--allow-large" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_allow_large_still_refuses_what_streaming_cannot_hold(tmp_path, capsys, ckpt, no_decoding,
                                                              monkeypatch) -> None:
    monkeypatch.setattr(large_images, "available_memory", lambda: 1 << 30)
    src = header_only_png(tmp_path / "scan.png", 30000, 30000)
    code, _, err = run(capsys, src, "-o", tmp_path / "out", "--weights", ckpt, "--allow-large")
    assert code == 2 and "streaming needs about" in err and len(err.strip().splitlines()) == 1


def test_decompression_bomb_cap_is_checked_from_the_header(tmp_path, capsys, ckpt, no_decoding) -> None:
    side = int(MAX_INPUT_PIXELS ** 0.5) + 1
    src = header_only_png(tmp_path / "bomb.png", side, side)
    code, _, err = run(capsys, src, "-o", tmp_path / "out", "--weights", ckpt, "--allow-large")
    assert code == 2 and "decompression-bomb" in err and f"{side}x{side}" in err
    assert Image.MAX_IMAGE_PIXELS != MAX_INPUT_PIXELS  # Pillow's own setting is left alone


def _make(kind: str, path: Path) -> Path:
    rng = np.random.default_rng(7)
    if kind == "rgba8":
        Image.fromarray(rng.integers(0, 256, (96, 120, 4), dtype=np.uint8), mode="RGBA").save(path)
    elif kind == "grey16":
        cv2.imwrite(str(path), rng.integers(0, 65536, (96, 120), dtype=np.uint16))
    elif kind == "la8":
        Image.fromarray(rng.integers(0, 256, (96, 120, 2), dtype=np.uint8), mode="LA").save(path)
    elif kind == "float":
        tifffile.imwrite(path, rng.random((96, 120, 3)).astype(np.float32), photometric="rgb")
    return path


@pytest.mark.parametrize("kind,ext", [("rgba8", ".png"), ("grey16", ".png"), ("la8", ".png"), ("float", ".tif"),
                                      ("rgba8", ".tif")])
def test_allow_large_streams_the_same_pixels(tmp_path, capsys, ckpt, monkeypatch, kind, ext) -> None:
    src = _make(kind, tmp_path / f"in{'.tif' if kind == 'float' else '.png'}")
    common = ["--weights", ckpt, "--tile", 16, "--tile-overlap", 4]
    code, out, err = run(capsys, src, "-o", tmp_path / f"mem{ext}", *common)
    assert code == 0 and "streamed" not in out, err
    monkeypatch.setattr(large_images, "available_memory", lambda: 6 << 20)  # 6 MiB: too little to hold it
    code, _, err = run(capsys, src, "-o", tmp_path / f"big{ext}", *common)
    assert code == 2 and "--allow-large" in err and "480x384" in err
    code, out, err = run(capsys, src, "-o", tmp_path / f"big{ext}", *common, "--allow-large")
    assert code == 0 and "(streamed)" in out, err
    read = tifffile.imread if ext == ".tif" else lambda p: cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    mem, big = read(tmp_path / f"mem{ext}"), read(tmp_path / f"big{ext}")
    assert mem.shape[:2] == (384, 480) and mem.dtype == big.dtype
    np.testing.assert_array_equal(big, mem)


def test_allow_large_needs_a_streamable_format(tmp_path, capsys, ckpt, monkeypatch) -> None:
    src = _make("rgba8", tmp_path / "in.png")
    monkeypatch.setattr(large_images, "available_memory", lambda: 6 << 20)
    code, _, err = run(capsys, src, "-o", tmp_path / "big.jpg", "--weights", ckpt, "--allow-large", "--tile", 16)
    assert code == 2 and "PNG or TIFF only" in err and not (tmp_path / "big.jpg").exists()


def test_streaming_2000px_matches_in_memory_and_holds_one_band(tmp_path) -> None:
    torch.manual_seed(0)
    model = OneConv(scale=2).eval()
    yy, xx = np.mgrid[0:2000, 0:2000] / 2000.0  # photo-like: smooth shading and a little noise
    smooth = np.stack([np.sin(7 * xx + 3 * yy), np.cos(5 * yy - 2 * xx), np.sin(4 * (xx + yy))], axis=2)
    noise = np.random.default_rng(0).normal(0, 0.03, smooth.shape)
    lr = np.clip((smooth * 0.4 + 0.5 + noise) * 255, 0, 255).round().astype(np.uint8)
    cv2.imwrite(str(tmp_path / "in.png"), lr[..., ::-1])
    src = tmp_path / "in.png"

    tracemalloc.start()
    large_images.stream_upscale(model, src, read_header(src), tmp_path / "stream.png", tile=64, tile_overlap=4)
    stream_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.reset_peak()
    out = upscale(model, read_image(src), tile=64, tile_overlap=4)
    write_image(tmp_path / "memory.png", out.rgb, bit_depth=out.bit_depth)
    memory_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    streamed, in_memory = (cv2.imread(str(tmp_path / n)) for n in ("stream.png", "memory.png"))
    assert streamed.shape == (4000, 4000, 3)
    np.testing.assert_array_equal(streamed, in_memory)
    output_bytes = 4000 * 4000 * 3 * 4  # the float32 output the in-memory path holds
    assert memory_peak > output_bytes
    assert stream_peak < output_bytes / 4, (stream_peak, memory_peak)
