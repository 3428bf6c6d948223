"""Engine paths the lesson configs never take: perceptual term, AMP, EMA arithmetic, dataset sampler, switches."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data as skdata
from torch import nn

from esrgan_lesson.training.config import load_config
from esrgan_lesson.imageio import write_image
from esrgan_lesson.training import Trainer, TrainingError
from esrgan_lesson.training.checkpoint import list_checkpoints, load_checkpoint
from esrgan_lesson.training.ema import ModelEMA
from esrgan_lesson.training.step import StepStatus, apply_update


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    for k, img in enumerate([skdata.astronaut(), skdata.coffee(), skdata.rocket()]):
        write_image(root / "train" / f"{k}.png", img[::4, ::4][:72, :72].astype(np.float32) / 255.0)
    write_image(root / "val" / "0.png", skdata.chelsea()[::4, ::4][:48, :48].astype(np.float32) / 255.0)
    return root


def cfg(data: Path, out: Path, stage: str = "psnr", **extra: str):
    ov = {
        "data.demo": "false", "data.train_hr": f"[{data / 'train'}]", "data.val_hr": "null",
        "model.num_feat": "8", "model.num_block": "1", "model.num_grow_ch": "8", "network_d.num_feat": "8",
        "network_d.input_size": "32", "train.hr_patch": "32", "train.batch_size": "2", "train.iterations": "3",
        "train.max_seconds": "0", "train.milestones": "[100]", "engine.ema_decay": "0.9", "engine.device": "cpu",
        "logging.log_every": "1", "logging.val_every": "0", "logging.save_every": "0", "logging.progress": "false",
        "paths.output_dir": str(out), "paths.pretrained_g": "null", "train.stage": stage,
    }
    ov.update(extra)
    return load_config("lesson-psnr", [f"{k}={v}" for k, v in ov.items()])


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def max_gap(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


# --- the perceptual term ------------------------------------------------------------------------
def _vgg19_random_file(path: Path) -> Path:
    from torchvision.models import vgg19

    torch.manual_seed(3)
    torch.save(vgg19(weights=None).features.state_dict(), path)
    return path


@pytest.mark.parametrize("network", ["texture", "vgg19-random"])
def test_gan_step_with_perceptual_term(data: Path, tmp_path: Path, network: str) -> None:
    if network == "texture":
        percep = {"train.perceptual.network": "esrgan_lesson.models.texture_vgg:texture_feature_network",
                  "train.perceptual.layer": "conv4_2"}
    else:  # the paper's VGG19 layout and layer, random weights (ImageNet weights are not on this machine)
        percep = {"train.perceptual.network": "vgg19", "train.perceptual.layer": "conv5_4",
                  "train.perceptual.weights": str(_vgg19_random_file(tmp_path / "vgg19.pth"))}
    on = Trainer(cfg(data, tmp_path / "on", "gan", **percep, **{"train.perceptual.weight": "1.0"}))
    feat_before = weights(on.percep)
    result = on.run()
    assert result.steps == 3 and result.skipped_steps == 0
    rows = result.history
    assert all(r["l_percep"] > 0 and np.isfinite(r["l_percep"]) for r in rows)
    assert all(r["loss_g"] == pytest.approx(r["l_pix"] + r["l_percep"] + r["l_g_gan"], rel=1e-5) for r in rows)
    assert max_gap(feat_before, weights(on.percep)) == 0.0  # the feature network stays frozen
    off = Trainer(cfg(data, tmp_path / "off", "gan", **percep, **{"train.perceptual.weight": "0"}))
    assert off.percep is None
    off.run()
    assert "l_percep" not in off.history[-1]
    assert max_gap(weights(on.net_g), weights(off.net_g)) > 1e-6  # the term moved G


# --- mixed precision on CPU ---------------------------------------------------------------------
def test_bf16_autocast_on_cpu(data: Path, tmp_path: Path) -> None:
    trainer = Trainer(cfg(data, tmp_path / "bf16", **{"engine.amp": "bf16"}))
    dtypes: list[torch.dtype] = []
    trainer.net_g.conv_first.register_forward_hook(lambda m, i, o: dtypes.append(o.dtype))
    result = trainer.run()
    assert dtypes == [torch.bfloat16] * 3  # the convolutions really ran in bf16
    assert result.skipped_steps == 0 and result.scaler_skips == 0 and trainer.scaler_g is None
    assert all(np.isfinite(r["loss_g"]) for r in result.history)
    fp32 = Trainer(cfg(data, tmp_path / "fp32"))
    fp32.run()
    gap = max_gap(weights(trainer.net_g), weights(fp32.net_g))
    assert 0 < gap < 1e-2  # same training, bf16 rounding


def test_fp16_overflow_is_a_scaler_skip_not_a_failure(data: Path, tmp_path: Path) -> None:
    trainer = Trainer(cfg(data, tmp_path / "fp16", **{"engine.amp": "fp16", "engine.nan_patience": "3",
                                                      "train.iterations": "30", "engine.ema_decay": "0",
                                                      "logging.save_every": "30"}))
    # A start scale of 2^40 overflows fp16 gradients: the scaler halves it until steps fit (~24 skips).
    trainer.scaler_g = torch.amp.GradScaler("cpu", init_scale=2.0 ** 40)
    start = weights(trainer.net_g)
    result = trainer.run()
    assert result.steps == 30 and result.skipped_steps == 0
    assert 3 <= result.scaler_skips < 30 and trainer.scaler_g.get_scale() < 2.0 ** 40
    assert result.history[-1]["scaler_skips"] == result.scaler_skips
    assert max_gap(start, weights(trainer.net_g)) > 0  # later steps were applied
    state = load_checkpoint(list_checkpoints(tmp_path / "fp16" / "checkpoints")[-1])
    assert state["scaler_skips"] == result.scaler_skips and state["scaler_g"]["scale"] < 2.0 ** 40
    # A genuinely diverging fp16 run still stops after nan_patience non-finite steps.
    bad = Trainer(cfg(data, tmp_path / "bad", **{"engine.amp": "fp16", "engine.nan_patience": "2",
                                                 "train.lr_g": "1e30", "train.iterations": "20",
                                                 "engine.ema_decay": "0"}))
    with pytest.raises(TrainingError, match="non-finite for 2 consecutive steps"):
        bad.run()


def test_apply_update_statuses() -> None:
    layer = nn.Linear(2, 1)
    opt = torch.optim.SGD(layer.parameters(), lr=0.1)
    x = torch.ones(1, 2)
    assert apply_update(layer(x).sum(), opt, list(layer.parameters()), None) == StepStatus.APPLIED
    before = weights(layer)
    nan_loss = layer(x).sum() * float("nan")
    assert apply_update(nan_loss, opt, list(layer.parameters()), None) == StepStatus.NONFINITE
    assert max_gap(before, weights(layer)) == 0.0
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 100)  # scaled fp32 gradients overflow
    assert apply_update(layer(x).sum() * 1e30, opt, list(layer.parameters()), scaler) == StepStatus.SCALER_SKIP
    assert max_gap(before, weights(layer)) == 0.0 and scaler.get_scale() == 2.0 ** 99
    nan_loss = layer(x).sum() * float("nan")  # a NaN loss is a failure even with a scaler
    assert apply_update(nan_loss, opt, list(layer.parameters()), scaler) == StepStatus.NONFINITE
    assert max_gap(before, weights(layer)) == 0.0


# --- EMA ----------------------------------------------------------------------------------------
def test_ema_arithmetic_by_hand(ema_pair: tuple[nn.Sequential, ModelEMA]) -> None:
    model, ema = ema_pair
    with torch.no_grad():
        model[1].running_mean.fill_(4.0)
    model[1].num_batches_tracked.fill_(7)
    ema.update(model)
    # 0.75 * 2 + 0.25 * 6 = 3; running mean 0.75 * 0 + 0.25 * 4 = 1; the integer counter is copied.
    assert ema.module[0].weight.item() == 3.0 and ema.module[1].running_mean.item() == 1.0
    assert ema.module[1].num_batches_tracked.item() == 7
    with torch.no_grad():
        model[0].weight.fill_(-1.0)
    ema.update(model)
    assert ema.module[0].weight.item() == 0.75 * 3.0 + 0.25 * -1.0  # 2.0
    assert not any(p.requires_grad for p in ema.module.parameters()) and not ema.module.training


def test_trainer_ema_follows_hand_formula(data: Path, tmp_path: Path) -> None:
    trainer = Trainer(cfg(data, tmp_path, **{"train.iterations": "1", "engine.ema_decay": "0.9"}))
    w0 = weights(trainer.net_g)
    trainer.run()
    w1 = weights(trainer.net_g)
    ema = weights(trainer.ema.module)
    for k in w0:
        assert torch.allclose(ema[k], 0.9 * w0[k] + 0.1 * w1[k], atol=1e-7, rtol=0), k


@pytest.mark.parametrize("val_model", ["ema", "g"])
def test_validation_does_not_change_training(data: Path, tmp_path: Path, val_model: str) -> None:
    """Scoring a network between steps (CPU upscale switches it to channels_last and back) must
    leave the run bitwise unchanged: the EMA must keep following G after each validation."""
    runs = {}
    for every in ("0", "1"):
        trainer = Trainer(cfg(data, tmp_path / every, **{
            "train.iterations": "4", "engine.ema_decay": "0.5", "data.val_hr": str(data / 'val'),
            "logging.val_every": every, "logging.val_model": val_model}))
        trainer.run()
        runs[every] = (weights(trainer.net_g), weights(trainer.ema.module), len(trainer.val_rows))
    (g0, ema0, n0), (g1, ema1, n1) = runs["0"], runs["1"]
    assert n1 == 4 and n0 == 0  # four validations against none
    assert max_gap(g0, g1) == 0.0 and max_gap(ema0, ema1) == 0.0
    assert max_gap(g1, ema1) > 0.0  # and the EMA is not simply G


# --- the DataLoader sampler and the engine switches ---------------------------------------------
def test_dataset_sampler_end_to_end(data: Path, tmp_path: Path) -> None:
    two = Trainer(cfg(data, tmp_path / "w2", **{"data.sampler": "dataset", "data.num_workers": "2",
                                                "train.iterations": "4", "logging.save_every": "4"}))
    result = two.run()
    assert result.steps == 4 and result.generator_path.is_file() and result.ema_path.is_file()
    state = load_checkpoint(list_checkpoints(tmp_path / "w2" / "checkpoints")[-1])
    assert state["samplers"] == [{"epoch": 3, "batch": 1}]  # 3 images, batch 2: one batch an epoch
    zero = Trainer(cfg(data, tmp_path / "w0", **{"data.sampler": "dataset", "data.num_workers": "0",
                                                 "train.iterations": "4"}))
    zero.run()
    assert max_gap(weights(two.net_g), weights(zero.net_g)) == 0.0  # workers do not change the data


def test_channels_last_switch(data: Path, tmp_path: Path) -> None:
    cl = Trainer(cfg(data, tmp_path / "cl", **{"engine.channels_last": "true"}))
    assert cl.net_g.conv_first.weight.is_contiguous(memory_format=torch.channels_last)
    assert not cl.net_g.conv_first.weight.is_contiguous()
    cl.run()
    plain = Trainer(cfg(data, tmp_path / "plain"))
    plain.run()
    assert max_gap(weights(cl.net_g), weights(plain.net_g)) < 1e-5  # same maths, other memory layout


def _compile_unavailable() -> str | None:
    if shutil.which("gcc") is None and shutil.which("cc") is None and shutil.which("clang") is None:
        return "torch.compile's CPU backend (inductor) needs a C compiler; none is installed"
    return None


@pytest.mark.slow  # inductor compiles G's forward and backward: about a minute on 2 CPU cores
@pytest.mark.skipif(_compile_unavailable() is not None, reason=_compile_unavailable() or "")
def test_compile_switch_on_cpu(data: Path, tmp_path: Path) -> None:
    compiled = Trainer(cfg(data, tmp_path / "c", **{"engine.compile": "true", "train.iterations": "2",
                                                    "engine.ema_decay": "0"}))
    assert hasattr(compiled.g_train, "_orig_mod") and compiled.g_train._orig_mod is compiled.net_g
    compiled.run()
    eager = Trainer(cfg(data, tmp_path / "e", **{"train.iterations": "2", "engine.ema_decay": "0"}))
    eager.run()
    assert max_gap(weights(compiled.net_g), weights(eager.net_g)) < 1e-4  # same maths, fused kernels
