"""``esrgan-lesson upscale``: outputs, interpolation, and one clear line for every bad input."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from esrgan_lesson.cli import main
from esrgan_lesson.models import RRDBNet, VGGStyleDiscriminator
from esrgan_lesson.weights import save_generator

REPO = Path(__file__).resolve().parents[1]


def _net(scale: int, seed: int) -> RRDBNet:
    torch.manual_seed(seed)
    net = RRDBNet(scale=scale, num_feat=8, num_block=1, num_grow_ch=4, small_init=False)
    with torch.no_grad():
        net.conv_last.bias.fill_(0.5)
    return net


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ckpt")
    paths = {
        "psnr": save_generator(_net(4, 1), d / "psnr.safetensors"),
        "gan": save_generator(_net(4, 2), d / "gan.safetensors"),
        "x1": save_generator(_net(1, 3), d / "x1.safetensors"),
        "x2": save_generator(_net(2, 3), d / "x2.safetensors"),
        "disc": d / "disc.pth",
        "random": d / "random.pth",
    }
    torch.save(VGGStyleDiscriminator(num_feat=4).state_dict(), paths["disc"])
    torch.save({"a": torch.rand(3), "b": torch.rand(2, 2)}, paths["random"])
    return paths


def _png(path: Path, h: int = 6, w: int = 7, channels: int = 3, dtype=np.uint8) -> Path:
    peak = np.iinfo(dtype).max
    arr = (np.random.default_rng(0).random((h, w, channels)) * peak).astype(dtype)
    cv2.imwrite(str(path), arr[..., 0] if channels == 1 else arr)
    return path


def run_cli(capsys: pytest.CaptureFixture, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.startswith(".") or p.suffix == ".part"]


def test_single_file_to_file_and_folder_to_folder(tmp_path: Path, ckpt, capsys) -> None:
    src = _png(tmp_path / "a.png")
    code, out, err = run_cli(capsys, "upscale", src, "-o", tmp_path / "out" / "big.png", "--weights", ckpt["psnr"])
    assert code == 0 and err == "" and "big.png" in out
    assert cv2.imread(str(tmp_path / "out" / "big.png")).shape == (24, 28, 3)

    folder = tmp_path / "in"
    folder.mkdir()
    _png(folder / "c.png", channels=1)  # grey stays one channel
    _png(folder / "d.png", channels=4)  # RGBA keeps its alpha
    _png(folder / "e.png", dtype=np.uint16)  # 16-bit stays 16-bit
    (folder / "notes.txt").write_text("not an image, not listed")
    code, _, err = run_cli(capsys, "upscale", folder, "-o", tmp_path / "res", "--weights", ckpt["psnr"],
                           "--suffix", "_x4", "--tile", "4", "--tile-overlap", "2")
    assert code == 0 and err == ""
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == ["c_x4.png", "d_x4.png", "e_x4.png"]
    read = lambda n: cv2.imread(str(tmp_path / "res" / n), cv2.IMREAD_UNCHANGED)  # noqa: E731
    assert read("c_x4.png").shape == (24, 28)
    assert read("d_x4.png").shape == (24, 28, 4)
    assert read("e_x4.png").dtype == np.uint16


def test_alpha_interpolation_endpoints_match_each_model(tmp_path: Path, ckpt, capsys) -> None:
    src = _png(tmp_path / "a.png")
    outs = {}
    for name, extra in [("psnr", []), ("gan_only", ["--weights", ckpt["gan"]]),
                        ("a0", ["--weights-gan", ckpt["gan"], "--alpha", 0]),
                        ("a1", ["--weights-gan", ckpt["gan"], "--alpha", 1]),
                        ("a05", ["--weights-gan", ckpt["gan"], "--alpha", 0.5])]:
        argv = ["upscale", src, "-o", tmp_path / f"{name}.png", "--weights", ckpt["psnr"], *extra]
        assert run_cli(capsys, *argv)[0] == 0
        outs[name] = cv2.imread(str(tmp_path / f"{name}.png")).astype(int)
    assert np.array_equal(outs["a0"], outs["psnr"])
    assert np.array_equal(outs["a1"], outs["gan_only"])
    assert not np.array_equal(outs["a05"], outs["psnr"]) and not np.array_equal(outs["a05"], outs["a1"])


def _bad_cases(tmp: Path, ck: dict[str, Path]) -> list[tuple[str, list, str]]:
    img = _png(tmp / "ok.png")
    (tmp / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    (tmp / "text.png").write_text("hello, I am not a picture\n")
    cv2.imwrite(str(tmp / "int32.tif"), np.zeros((4, 4), np.int32))
    _png(tmp / "tiny.png", h=2, w=2)
    (tmp / "empty").mkdir(exist_ok=True)
    w = ["--weights", ck["psnr"]]
    o = ["-o", tmp / "out"]
    return [
        ("missing image", [tmp / "nope.png", *o, *w], "no such file"),
        ("corrupt image", [tmp / "garbage.png", *o, *w], "not a readable image"),
        ("text file", [tmp / "text.png", *o, *w], "not a readable image"),
        ("unsupported mode", [tmp / "int32.tif", *o, *w], "unsupported pixel type"),
        ("empty folder", [tmp / "empty", *o, *w], "folder has no images"),
        ("too small for x1", [tmp / "tiny.png", *o, "--weights", ck["x1"]], "needs at least 4x4"),
        ("missing weights", [img, *o, "--weights", tmp / "none.pth"], "no such file"),
        ("discriminator", [img, *o, "--weights", ck["disc"]], "discriminator"),
        ("random dict", [img, *o, "--weights", ck["random"]], "other than an RRDBNet"),
        ("not a checkpoint", [img, *o, "--weights", tmp / "text.png"], "cannot be read"),
        ("alpha alone", [img, *o, *w, "--alpha", 0.5], "--alpha needs --weights-gan"),
        ("gan alone", [img, *o, *w, "--weights-gan", ck["gan"]], "needs --alpha"),
        ("alpha range", [img, *o, *w, "--weights-gan", ck["gan"], "--alpha", 1.5], r"must be in \[0, 1\]"),
        ("different nets", [img, *o, *w, "--weights-gan", ck["x2"], "--alpha", 0.5], "different networks"),
        ("negative tile", [img, *o, *w, "--tile", -1], "must be >= 0"),
        ("file out, many in", [img, tmp / "tiny.png", "-o", tmp / "x.png", *w], "several inputs"),
        ("unknown device", [img, *o, *w, "--device", "warp-drive"], "unknown device"),
        ("overwrite input", [img, "-o", tmp, *w], "refusing to overwrite"),
    ]


BAD_CASES = ["missing image", "corrupt image", "text file", "unsupported mode", "empty folder", "too small for x1",
             "missing weights", "discriminator", "random dict", "not a checkpoint", "alpha alone", "gan alone",
             "alpha range", "different nets", "negative tile", "file out, many in", "unknown device",
             "overwrite input"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_every_bad_input_is_one_line_and_nonzero(tmp_path: Path, ckpt, capsys, case: str) -> None:
    cases = {name: (argv, match) for name, argv, match in _bad_cases(tmp_path, ckpt)}
    assert sorted(cases) == sorted(BAD_CASES)
    argv, match = cases[case]
    code, _, err = run_cli(capsys, "upscale", *argv)
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("esrgan-lesson upscale: error:") and re.search(match, lines[0]), err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_one_bad_image_among_several(tmp_path: Path, ckpt, capsys) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _png(folder / "a.png")
    (folder / "b.png").write_bytes(b"broken")
    _png(folder / "c.png")
    code, _, err = run_cli(capsys, "upscale", folder, "-o", tmp_path / "out", "--weights", ckpt["psnr"])
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "b.png" in lines[0] and "1 of 3 images failed" in lines[1]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "c.png"]
    assert no_temp_files(tmp_path / "out")


def test_subprocess_bad_checkpoint_prints_no_traceback(tmp_path: Path, ckpt) -> None:
    src = _png(tmp_path / "a.png")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "esrgan_lesson.cli", "upscale", str(src), "-o", str(tmp_path / "o.png"),
         "--weights", str(ckpt["disc"])],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "looks like a discriminator checkpoint" in proc.stderr
    assert not (tmp_path / "o.png").exists()
