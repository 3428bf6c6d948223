"""The step functions (``training/step.py``) give the weights the engine gave before they existed.

Two kinds of evidence, on tiny runs of the lesson network (nf 32, nb 2, gc 16;
batch 2, HR patch 32, 5 steps, one thread, an LR milestone at step 3):

1. **Old path against new path**, on any machine, for every case (PSNR and GAN
   stages, injected inf, fp16, bf16, the dataset sampler, a VGG19 term):
   :func:`old_step` is the engine's step before the split (commit 42c1055:
   host reads of every flag, per-value ``float()``), kept here as the oracle;
   a trainer driven by it must end bitwise where the current trainer ends,
   skipped steps included. (Fixed SHA-256 digests recorded at 42c1055 were
   dropped: they matched only the machine they were recorded on, and another
   2.14.1/AVX512 machine already gave other bits before the change.)
2. **Skips.** An injected inf leaves G, D, the EMA and Adam's state exactly as
   they were, through the host-read path and through fused Adam's
   ``found_inf`` (the device path CUDA takes), and the next step is then the
   same as if the bad batch had never come.
"""
from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from esrgan_lesson.imageio import write_image
from esrgan_lesson.losses import pixel_loss
from esrgan_lesson.training import Trainer
from esrgan_lesson.training.config import load_config
from esrgan_lesson.training.readout import StepReadout
from esrgan_lesson.training.step import (StepStatus, apply_update, discriminator_loss, generator_loss, train_step)

GAN = {"train.stage": "gan", "train.lr_g": 1e-4, "engine.seed": 1}
CASES = {  # name: (config changes, batch (1-based) given an infinite HR pixel, or None)
    "psnr": ({}, None),
    "psnr-inf3": ({}, 3),
    "gan": (GAN, None),
    "gan-inf3": (GAN, 3),
    "gan-fp16": ({**GAN, "engine.amp": "fp16"}, None),
    "gan-bf16": ({**GAN, "engine.amp": "bf16"}, None),
    "psnr-dataset": ({"data.sampler": "dataset"}, None),
    "gan-vgg": ({**GAN, "train.pixel_weight": 1e-2, "train.perceptual.network": "vgg19",
                 "train.perceptual.layer": "conv5_4", "train.perceptual.weight": 1.0}, None),
}
BASE = {
    "name": "step-reference",
    "model": {"type": "rrdbnet", "scale": 4, "num_feat": 32, "num_block": 2, "num_grow_ch": 16},
    "network_d": {"num_feat": 32, "input_size": 32},
    "data": {"demo": False, "augment": True, "sampler": "device", "val_hr": None},
    "train": {"stage": "psnr", "iterations": 5, "max_seconds": 0.0, "batch_size": 2, "hr_patch": 32,
              "lr_g": 1.0e-3, "lr_d": 1.0e-4, "milestones": [3], "gamma": 0.5, "betas": [0.9, 0.999],
              "pixel_weight": 1.0, "gan_weight": 5.0e-3, "gan_type": "ragan",
              "perceptual": {"network": "none", "weight": 0.0}},
    "engine": {"device": "cpu", "amp": "none", "ema_decay": 0.99, "nan_patience": 10, "seed": 0, "threads": 1},
    "logging": {"log_every": 1, "val_every": 0, "save_every": 0, "progress": False, "csv": False},
    "paths": {"pretrained_g": None},
}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Three 96x96 photos and a random-weight VGG19 feature file."""
    from skimage import data as skdata
    from torchvision.models import vgg19

    base = tmp_path_factory.mktemp("step")
    for k, img in enumerate([skdata.astronaut(), skdata.coffee(), skdata.chelsea()]):
        write_image(base / "train" / f"{k}.png", img[::2, ::2][:96, :96].astype(np.float32) / 255.0)
    torch.manual_seed(3)
    torch.save(vgg19(weights=None).features.state_dict(), base / "vgg19.pth")
    return base


def case_config(root: Path, out: Path, name: str, **extra: object):
    cfg = copy.deepcopy(BASE)
    cfg["data"]["train_hr"] = [str(root / "train")]
    cfg["paths"]["output_dir"] = str(out)
    for key, value in {**CASES[name][0], **extra}.items():
        *parents, leaf = key.split(".")
        node = cfg
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    if cfg["train"]["perceptual"]["network"] == "vgg19":
        cfg["train"]["perceptual"]["weights"] = str(root / "vgg19.pth")
    return load_config(cfg)


class InfAt:
    """A sampler whose ``at``-th batch (1-based) has one infinite HR pixel."""

    def __init__(self, sampler, at: int) -> None:
        self.sampler, self.at, self.n = sampler, at, 0

    def __iter__(self) -> "InfAt":
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        lr, hr = next(self.sampler)
        self.n += 1
        if self.n == self.at:
            hr = hr.clone()
            hr[0, 0, 0, 0] = float("inf")
        return lr, hr

    def state_dict(self):
        return self.sampler.state_dict()

    def load_state_dict(self, state) -> None:
        self.sampler.load_state_dict(state)


def make_trainer(root: Path, out: Path, name: str, **extra: object) -> Trainer:
    trainer = Trainer(case_config(root, out, name, **extra))
    if CASES[name][1] is not None:
        trainer.sampler = InfAt(trainer.sampler, CASES[name][1])
    return trainer


def digest(trainer: Trainer) -> str:
    """SHA-256 (16 hex digits) of G, EMA and D weights and the logged rows (without timings)."""
    h = hashlib.sha256()
    for label, net in (("g", trainer.net_g), ("ema", trainer.ema.module if trainer.ema else None), ("d", trainer.net_d)):
        if net is None:
            continue
        sd = net.state_dict()
        for k in sorted(sd):
            h.update(f"{label}.{k}".encode())
            h.update(sd[k].detach().cpu().contiguous().numpy().tobytes())
    for row in trainer.history:
        h.update(repr(sorted((k, v) for k, v in row.items() if k not in ("it_s", "elapsed"))).encode())
    return h.hexdigest()[:16]


def run_case(root: Path, out: Path, name: str, **extra: object) -> Trainer:
    trainer = make_trainer(root, out, name, **extra)
    trainer.run()
    return trainer


def old_step(tr: Trainer, lr: torch.Tensor, hr: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """The engine's step before ``training/step.py`` had plain functions (commit 42c1055), kept as an oracle.

    Every flag is read on the host (``apply_update``) and the EMA follows G
    only when the host saw G's step applied.
    """
    t = tr.cfg.train
    logs: dict[str, torch.Tensor] = {}
    if tr.gan:
        for p in tr.net_d.parameters():
            p.requires_grad_(False)
    with tr._autocast():
        sr = tr.g_train(lr)
        loss = t.pixel_weight * pixel_loss(sr.float(), hr, t.pixel_criterion)
        logs["l_pix"] = loss.detach()
        if tr.percep is not None:
            l_per = t.perceptual.weight * tr.percep(sr, hr)
            logs["l_percep"] = l_per.detach()
            loss = loss + l_per
        if tr.gan:
            with torch.no_grad():
                real_pred = tr.net_d(hr)
            l_adv = tr.gan_loss.g_loss(real_pred.float(), tr.net_d(sr).float())
            logs["l_g_gan"] = l_adv.detach()
            loss = loss + l_adv
    logs["loss_g"] = loss.detach()
    status = g_status = apply_update(loss, tr.opt_g, list(tr.net_g.parameters()), tr.scaler_g)
    if tr.gan:
        for p in tr.net_d.parameters():
            p.requires_grad_(True)
        with tr._autocast():
            real = tr.d_train(hr).float()
            fake = tr.d_train(sr.detach()).float()
            l_d = tr.gan_loss.d_loss(real, fake)
        logs.update(l_d=l_d.detach(), d_real=real.detach().mean(), d_fake=fake.detach().mean())
        status = max(status, apply_update(l_d, tr.opt_d, list(tr.net_d.parameters()), tr.scaler_d))
    if g_status == StepStatus.APPLIED and tr.ema is not None:
        tr.ema.update(tr.net_g)
    return logs, torch.tensor(float(status))


def state_of(tr: Trainer) -> dict[str, torch.Tensor]:
    """Every weight and optimiser tensor of a trainer (cloned), keyed by where it lives."""
    out = {}
    for label, obj in (("g", tr.net_g), ("d", tr.net_d), ("ema", tr.ema)):
        if obj is not None:
            out.update({f"{label}.{k}": v.detach().clone() for k, v in obj.state_dict().items()})
    for label, opt in (("opt_g", tr.opt_g), ("opt_d", tr.opt_d)):
        if opt is None:
            continue
        for i, st in enumerate(opt.state.values()):
            out.update({f"{label}.{i}.{k}": torch.as_tensor(v).clone() for k, v in st.items()})
    return out


def assert_same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:  # bitwise; NaN equals NaN (D's BatchNorm statistics after an inf batch)
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, equal_nan=True, msg=k)


# --- 1. old path against new path (any machine) -------------------------------------------------
FAST = ["psnr-inf3", "gan-inf3", "gan-fp16"]


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.slow] if n not in FAST else []) for n in CASES])
def test_new_step_equals_old_step(root: Path, tmp_path: Path, name: str) -> None:
    new = run_case(root, tmp_path / "new", name)
    old = make_trainer(root, tmp_path / "old", name)
    old._step = lambda lr, hr: old_step(old, lr, hr)  # type: ignore[method-assign]
    old.run()
    assert_same_state(state_of(old), state_of(new))
    assert [{k: v for k, v in r.items() if k not in ("it_s", "elapsed")} for r in old.history] == \
        [{k: v for k, v in r.items() if k not in ("it_s", "elapsed")} for r in new.history]
    assert old.skipped == new.skipped and old.scaler_skips == new.scaler_skips


def test_readout_one_step_behind_changes_nothing(root: Path, tmp_path: Path) -> None:
    """The CUDA default (host reads one step late) on a CPU: same weights, counters and rows."""
    now = run_case(root, tmp_path / "now", "gan-inf3")
    late = make_trainer(root, tmp_path / "late", "gan-inf3")
    late.readout = StepReadout(late.device, lag=1)
    late.run()
    assert digest(late) == digest(now) and late.skipped == now.skipped == 1
    assert [r["step"] for r in late.history] == [1, 2, 4, 5]  # step 3 was skipped, not logged


def test_nan_patience_counts_late_reads(root: Path, tmp_path: Path) -> None:
    from esrgan_lesson.training import TrainingError

    tr = make_trainer(root, tmp_path, "psnr", **{"train.lr_g": 1e30, "engine.nan_patience": 2,
                                                 "train.iterations": 20})
    tr.readout = StepReadout(tr.device, lag=1)
    with pytest.raises(TrainingError, match="non-finite for 2 consecutive steps"):
        tr.run()


# --- 2. skips -----------------------------------------------------------------------------------
def _fused_adams(tr: Trainer) -> None:
    """Swap in fused Adam (CPU kernels), so the skip is decided by ``found_inf`` as on CUDA."""
    t = tr.cfg.train
    tr.opt_g = torch.optim.Adam(tr.net_g.parameters(), lr=t.lr_g, betas=t.betas, fused=True)
    if tr.net_d is not None:
        tr.opt_d = torch.optim.Adam(tr.net_d.parameters(), lr=t.lr_d, betas=t.betas, fused=True)


@pytest.mark.parametrize("fused", [False, True], ids=["host-read", "found_inf"])
def test_injected_inf_skips_everything_then_continues(root: Path, tmp_path: Path, fused: bool) -> None:
    tr = make_trainer(root, tmp_path / "a", "gan")
    ref = make_trainer(root, tmp_path / "b", "gan")
    if fused:
        _fused_adams(tr)
        _fused_adams(ref)
    lr, hr = next(tr.sampler)
    for trainer in (tr, ref):
        train_step(trainer.parts, lr, hr)  # one good step, so Adam has state to protect
    before = trained_state(tr)
    bad = hr.clone()
    bad[1, 2, 5, 7] = float("inf")
    logs, status = train_step(tr.parts, lr, bad)
    assert StepStatus(int(status)) == StepStatus.NONFINITE and not np.isfinite(float(logs["loss_g"]))
    assert_same_state(before, trained_state(tr))  # G, D, EMA and Adam moments/step counts untouched
    lr2, hr2 = next(tr.sampler)
    for trainer in (tr, ref):
        assert StepStatus(int(train_step(trainer.parts, lr2, hr2)[1])) == StepStatus.APPLIED
    assert_same_state(trained_state(ref), trained_state(tr))  # as if the bad batch had never come


def trained_state(tr: Trainer) -> dict[str, torch.Tensor]:
    """:func:`state_of` without D's BatchNorm statistics.

    D's forward passes see every batch, the bad one too (as before this
    change); D stays in train mode, so those statistics are never used.
    """
    return {k: v for k, v in state_of(tr).items()
            if not (k.startswith("d.") and (".running_" in k or ".num_batches_tracked" in k))}


def test_loss_functions_are_the_equations() -> None:
    """Eq. 3 and Eq. 1 by hand on numbers small enough to check."""
    from esrgan_lesson.losses import GANLoss
    from esrgan_lesson.training.config import StageConfig

    torch.manual_seed(0)
    stage = StageConfig(stage="gan", pixel_weight=0.5, gan_weight=0.1)
    gan = GANLoss("ragan", 0.1)
    d = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 1))
    sr, hr = torch.rand(2, 3, 4, 4), torch.rand(2, 3, 4, 4)
    loss, logs = generator_loss(sr, hr, stage, gan, None, d)
    c_r, c_f = d(hr).detach(), d(sr).detach()
    bce = nn.functional.binary_cross_entropy_with_logits
    l_ra_g = 0.5 * (bce(c_r - c_f.mean(), torch.zeros_like(c_r)) + bce(c_f - c_r.mean(), torch.ones_like(c_f)))
    expected = 0.5 * (sr - hr).abs().mean() + 0.1 * l_ra_g
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
    assert set(logs) == {"l_pix", "l_g_gan", "loss_g"}
    l_d, d_logs = discriminator_loss(d, hr, sr, gan)
    l_ra_d = 0.5 * (bce(c_r - c_f.mean(), torch.ones_like(c_r)) + bce(c_f - c_r.mean(), torch.zeros_like(c_f)))
    assert float(l_d.detach()) == pytest.approx(float(l_ra_d.detach()), rel=1e-6)
    assert float(d_logs["d_real"]) == pytest.approx(float(c_r.mean()), rel=1e-6)
