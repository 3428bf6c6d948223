"""Download (local http.server), extraction, sub-images and LR making."""
from __future__ import annotations

import hashlib
import io
import runpy
import tarfile
from pathlib import Path

import numpy as np
import pytest
import skimage.data as skdata

from esrgan_lesson.data.download import download, extract, fetch
from esrgan_lesson.data.prepare import crop_starts, extract_subimages, make_lr
from esrgan_lesson.errors import DataError
from esrgan_lesson.imageio import read_image, write_image
from esrgan_lesson.data.imresize import imresize

from loopback import LoopbackServer as _Server

ROOT = Path(__file__).resolve().parents[1]


def _tar_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture()
def server():
    s = _Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


@pytest.fixture()
def archive() -> tuple[bytes, dict[str, bytes]]:
    rng = np.random.default_rng(0)
    members = {"benchmark/Set5/HR/a.png": rng.bytes(3000), "benchmark/Set5/HR/b.png": rng.bytes(5000)}
    return _tar_bytes(members), members


def test_download_verify_extract(server, archive, tmp_path: Path) -> None:
    data, members = archive
    server.files["benchmark.tar"] = data
    digest = hashlib.sha256(data).hexdigest()
    fetch("benchmark", tmp_path, progress=False, url=f"{server.url}/benchmark.tar", sha256=digest)
    assert (tmp_path / "downloads" / "benchmark.tar").read_bytes() == data
    for name, content in members.items():
        assert (tmp_path / name).read_bytes() == content
    assert not list(tmp_path.rglob("*.part"))
    n_requests = len(server.ranges)
    fetch("benchmark", tmp_path, progress=False, url=f"{server.url}/benchmark.tar", sha256=digest)
    assert len(server.ranges) == n_requests  # done before: nothing fetched again


def test_checksum_mismatch_leaves_no_file(server, archive, tmp_path: Path) -> None:
    server.files["x.tar"] = archive[0]
    dest = tmp_path / "x.tar"
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        download(f"{server.url}/x.tar", dest, sha256="0" * 64, progress=False)
    assert not dest.exists() and not (tmp_path / "x.tar.part").exists()


def test_interrupted_download_resumes(server, archive, tmp_path: Path) -> None:
    data = archive[0]
    server.files["x.tar"] = data
    server.cut_after = 4000
    dest = tmp_path / "x.tar"
    with pytest.raises(DataError, match="resume"):
        download(f"{server.url}/x.tar", dest, sha256=hashlib.sha256(data).hexdigest(), progress=False)
    part = tmp_path / "x.tar.part"
    assert not dest.exists() and part.exists() and part.stat().st_size == 4000
    download(f"{server.url}/x.tar", dest, sha256=hashlib.sha256(data).hexdigest(), progress=False)
    assert dest.read_bytes() == data and not part.exists()
    assert server.ranges[-1] == "bytes=4000-"


def test_http_error_and_unsafe_archive(server, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="HTTP 404"):
        download(f"{server.url}/missing.tar", tmp_path / "m.tar", progress=False)
    bad = tmp_path / "bad.tar"
    bad.write_bytes(_tar_bytes({"../escape.txt": b"x"}))
    with pytest.raises(DataError, match="unsafe path"):
        extract(bad, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_crop_starts_keep_edge_crop() -> None:
    assert crop_starts(1000, 480, 240) == [0, 240, 480, 520]
    assert crop_starts(960, 480, 240) == [0, 240, 480]
    assert crop_starts(300, 480, 240) == [0]


def test_extract_subimages_and_make_lr(tmp_path: Path) -> None:
    img = skdata.astronaut()[:100, :130].astype(np.float32) / 255
    write_image(tmp_path / "hr" / "0001.png", img)
    n = extract_subimages(tmp_path / "hr", tmp_path / "sub", crop=48, step=24, workers=2)
    starts_y, starts_x = crop_starts(100, 48, 24), crop_starts(130, 48, 24)
    assert n == len(starts_y) * len(starts_x)
    last = read_image(tmp_path / "sub" / f"0001_s{n:03d}.png").rgb
    assert np.allclose(last, read_image(tmp_path / "hr" / "0001.png").rgb[-48:, -48:])
    assert extract_subimages(tmp_path / "hr", tmp_path / "sub", crop=48, step=24) == 0  # skips done work
    assert make_lr(tmp_path / "hr", tmp_path / "lr", (3, 4)) == 2
    lr3 = read_image(tmp_path / "lr" / "X3" / "0001x3.png").rgb
    hr = read_image(tmp_path / "hr" / "0001.png").rgb[:99, :129].astype(np.float64)
    assert lr3.shape == (33, 43, 3)
    assert np.abs(lr3 - np.clip(imresize(hr, scale=1 / 3), 0, 1)).max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("script", ["download.py", "extract_subimages.py", "make_lr.py", "make_demo_set.py"])
def test_scripts_have_help(script: str, capsys) -> None:
    # in-process (a subprocess would re-import torch for each script: seconds each)
    module = runpy.run_path(str(ROOT / "data_scripts" / script), run_name="not_main")
    with pytest.raises(SystemExit) as exc:
        module["main"](["--help"])
    assert exc.value.code == 0 and "usage:" in capsys.readouterr().out
