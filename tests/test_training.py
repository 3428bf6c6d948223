"""The training engine on tiny networks and tiny data made here."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data as skdata

from esrgan_lesson.cli import main as cli_main
from esrgan_lesson.training.config import load_config
from esrgan_lesson.errors import CheckpointError
from esrgan_lesson.imageio import write_image
from esrgan_lesson.training import Trainer, TrainingError, fit_l1, gradient_energy, high_frequency_energy, train
from esrgan_lesson.training.checkpoint import list_checkpoints, load_checkpoint
from esrgan_lesson.training.evaluation import compare_generators, evaluate_generator, load_val_pairs


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    photos = {"astronaut": skdata.astronaut(), "coffee": skdata.coffee(), "chelsea": skdata.chelsea()}
    for name, img in photos.items():
        small = img[::4, ::4][:72, :72].astype(np.float32) / 255.0
        write_image(root / ("val" if name == "chelsea" else "train") / f"{name}.png", small)
    return root


def tiny(root: Path, out: Path, stage: str = "psnr", **extra: str) -> list[str]:
    ov = {
        "data.demo": "false", "data.train_hr": f"[{root / 'train'}]", "data.val_hr": str(root / "val"),
        "model.num_feat": "8", "model.num_block": "1", "model.num_grow_ch": "8",
        "network_d.num_feat": "8", "network_d.input_size": "32", "train.hr_patch": "32",
        "train.batch_size": "2", "train.iterations": "4", "train.max_seconds": "0", "train.milestones": "[3]",
        "engine.ema_decay": "0.9", "engine.device": "cpu", "logging.log_every": "1", "logging.val_every": "2",
        "logging.save_every": "2", "logging.keep_last": "1", "logging.progress": "false",
        "logging.sample_images": "1", "logging.val_model": "ema", "paths.output_dir": str(out), "paths.pretrained_g": "null",
        "train.stage": stage,
    }
    ov.update(extra)
    return [f"{k}={v}" for k, v in ov.items()]


def test_psnr_then_gan_stage_end_to_end(tiny_data: Path, tmp_path: Path) -> None:
    from esrgan_lesson.weights import load_generator

    psnr = train(load_config("lesson-psnr", tiny(tiny_data, tmp_path / "psnr")))
    assert psnr.steps == 4 and psnr.stopped_by == "iterations" and psnr.skipped_steps == 0
    g = load_generator(psnr.generator_path)
    assert g.num_feat == 8 and load_generator(psnr.ema_path).num_block == 1
    assert [r["step"] for r in psnr.val] == [2, 4] and np.isfinite(psnr.val[-1]["psnr"])
    assert len(list_checkpoints(tmp_path / "psnr" / "checkpoints")) == 1  # keep_last
    assert (tmp_path / "psnr" / "checkpoints" / "best.pt").is_file()
    assert (tmp_path / "psnr" / "train_log.csv").read_text().count("\n") == 5
    assert (tmp_path / "psnr" / "samples" / "step_00000004" / "chelsea.png").is_file()
    pairs = load_val_pairs(tiny_data / "val", None, 4)
    scores = compare_generators({"g": psnr.generator_path, "ema": psnr.ema_path}, pairs, 4)
    assert scores["ema"]["psnr"] == pytest.approx(psnr.val[-1]["psnr"], abs=1e-6)  # val uses the EMA

    gan_cfg = load_config("lesson-gan", tiny(tiny_data, tmp_path / "gan", "gan",
                                             **{"paths.pretrained_g": str(psnr.generator_path), "train.iterations": "2"}))
    trainer = Trainer(gan_cfg)
    start = {k: v.clone() for k, v in trainer.net_g.state_dict().items()}
    assert all(torch.equal(start[k], v) for k, v in g.state_dict().items())  # G initialised from PSNR model
    result = trainer.run()
    assert result.steps == 2
    assert {"l_pix", "l_g_gan", "l_d", "lr_g"} <= set(result.history[-1])
    assert any(not torch.equal(start[k], v) for k, v in trainer.net_g.state_dict().items())


@pytest.mark.parametrize("stage", ["psnr", "gan"])
def test_resume_continues_exactly(tiny_data: Path, tmp_path: Path, stage: str) -> None:
    straight = Trainer(load_config("lesson-psnr", tiny(tiny_data, tmp_path / "a", stage, **{"logging.val_every": "0"})))
    straight.run()
    first = tiny(tiny_data, tmp_path / "b", stage, **{"logging.val_every": "0", "train.iterations": "2"})
    Trainer(load_config("lesson-psnr", first)).run()
    second = tiny(tiny_data, tmp_path / "b", stage, **{"logging.val_every": "0", "paths.resume": "auto"})
    resumed = Trainer(load_config("lesson-psnr", second))
    assert resumed.step == 2
    resumed.run()
    pairs = [(straight.net_g, resumed.net_g), (straight.ema.module, resumed.ema.module)]
    if stage == "gan":
        pairs.append((straight.net_d, resumed.net_d))
    for a, b in pairs:
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
            assert torch.allclose(x.float(), y.float(), atol=1e-6, rtol=0), name
    state = load_checkpoint(list_checkpoints(tmp_path / "b" / "checkpoints")[-1])
    assert state["step"] == 4 and state["samplers"][0]["generator"].dtype == torch.uint8


def test_nan_guard_stops_with_clear_error(tiny_data: Path, tmp_path: Path) -> None:
    cfg = load_config("lesson-psnr", tiny(tiny_data, tmp_path, **{
        "train.lr_g": "1e30", "engine.nan_patience": "2", "train.iterations": "20", "logging.val_every": "0",
        "engine.ema_decay": "0"}))
    with pytest.raises(TrainingError, match="non-finite for 2 consecutive steps"):
        Trainer(cfg).run()


def test_bad_resume_and_cli_errors_are_one_line(tiny_data: Path, tmp_path: Path, capsys) -> None:
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        Trainer(load_config("lesson-psnr", tiny(tiny_data, tmp_path, **{"paths.resume": str(bogus)})))
    assert cli_main(["train", "--config", "lesson-psnr", "--override", "train.lr_g=abc"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "train.lr_g: expected float" in err


def test_fit_l1_trains_within_budget() -> None:
    from esrgan_lesson.data import DevicePatchSampler
    from esrgan_lesson.models import SRResNet

    img = (skdata.astronaut()[::4, ::4]).copy()
    sampler = DevicePatchSampler([img], scale=4, hr_patch=32, batch_size=2)
    model = SRResNet(num_feat=8, num_block=1, use_bn=False)
    before = [p.detach().clone() for p in model.parameters()]
    hist = fit_l1(model, sampler, steps=6, lr=1e-3, device="cpu", log_every=2)
    assert hist["step"] == [2, 4, 6] and all(np.isfinite(hist["loss"]))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    timed = fit_l1(model, sampler, seconds=0.0, device="cpu")
    assert timed["step"] == []
    with pytest.raises(ValueError):
        fit_l1(model, sampler)


def test_sharpness_measures_and_bicubic_baseline() -> None:
    from esrgan_lesson.data.imresize import imresize

    img = torch.from_numpy(skdata.astronaut()[:64, :64].astype(np.float32) / 255.0).permute(2, 0, 1)
    blurred = torch.nn.functional.avg_pool2d(img[None], 5, 1, 2, count_include_pad=False)[0]
    assert gradient_energy(blurred) < gradient_energy(img)
    assert high_frequency_energy(blurred) < high_frequency_energy(img) <= 1.0

    class Bicubic(torch.nn.Module):
        scale = 4  # the generator contract inference.upscale relies on

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return imresize(x, scale=4.0)

    lr = imresize(img, scale=0.25).clamp(0, 1)
    report = evaluate_generator(Bicubic(), [("a", lr, img)], scale=4)
    s = report.summary()
    assert abs(s["gain_db"]) < 1e-9 and 0 < s["ssim"] <= 1
