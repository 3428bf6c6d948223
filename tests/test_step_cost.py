"""esrgan_lesson.training.cost: one training step counted on the meta device is the real train_step."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.models import RRDBNet
from esrgan_lesson.training import Trainer
from esrgan_lesson.training.config import load_config
from esrgan_lesson.training.cost import MetaSGD, _SavedBytes, training_step_cost
from esrgan_lesson.training.step import train_step

ROOT = Path(__file__).resolve().parents[1]
TINY = ["model.num_feat=8", "model.num_block=1", "model.num_grow_ch=4", "network_d.num_feat=8",
        "network_d.input_size=32", "train.hr_patch=32", "train.batch_size=2"]


def _trainer_flops(name: str, overrides: list[str], tmp_path: Path) -> float:
    """FLOPs of one real train_step of a CPU Trainer (real tensors, real Adam)."""
    cfg = load_config(name, overrides + ["data.demo=true", f"data.demo_root={ROOT / 'data' / 'demo'}",
                                         "data.sampler=device", "data.val_hr=null", "paths.pretrained_g=null",
                                         f"paths.output_dir={tmp_path}", "logging.progress=false"])
    tr = Trainer(cfg, device="cpu")
    lr, hr = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    with FlopCounterMode(display=False) as fc:
        train_step(tr.parts, lr, hr)
    return float(fc.get_total_flops())


@pytest.mark.parametrize("name,extra", [("lesson-psnr", []), ("lesson-gan", []),  # lesson-gan: texture-net loss
                                        ("paper-gan", ["train.perceptual.network=none"])])
def test_the_meta_count_equals_a_real_train_step(name: str, extra: list[str], tmp_path: Path) -> None:
    cost = training_step_cost(load_config(name, TINY + extra))
    assert cost.flops == _trainer_flops(name, TINY + extra, tmp_path)


def test_step_cost_scales_with_batch_and_counts_parameters() -> None:
    one = training_step_cost(load_config("lesson-psnr", TINY), batch=1, hr_patch=32)
    two = training_step_cost(load_config("lesson-psnr", TINY), batch=2, hr_patch=32)
    assert one.flops > 0 and two.flops == pytest.approx(2 * one.flops, rel=1e-9)
    assert two.activation_bytes == pytest.approx(2 * one.activation_bytes, rel=0.01)
    assert one.state_bytes == two.state_bytes == one.params_g * 4 * 4 and one.params_d == 0
    assert one.activation_bytes >= 3 * 32 * 32 * 4  # at least the HR-sized output
    assert one.params_g == sum(p.numel() for p in RRDBNet(num_feat=8, num_block=1, num_grow_ch=4).parameters())
    gan = training_step_cost(load_config("lesson-gan", TINY), batch=1, hr_patch=32)
    no_percep = training_step_cost(load_config("lesson-gan", TINY + ["train.perceptual.network=none"]), batch=1)
    assert gan.params_d > 0 and gan.flops > no_percep.flops > one.flops
    assert gan.state_bytes > no_percep.state_bytes  # the texture net's frozen weights
    with pytest.raises(ESRGANError):
        training_step_cost(load_config("lesson-psnr", TINY), hr_patch=30)


def test_saved_bytes_count_what_autograd_holds_at_one_time() -> None:
    net = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4))
    x = torch.rand(8, 4)  # 128 bytes; Linear saves it, Tanh saves its output (128 bytes), weights excluded
    with _SavedBytes(net.parameters()) as one:
        net(x).sum().backward()
    assert one.peak == 2 * x.nbytes and one.live == 0
    with _SavedBytes(net.parameters()) as two_passes:  # the second pass saves after the first is freed
        net(x).sum().backward()
        net(x).sum().backward()
    assert two_passes.peak == one.peak and two_passes.live == 0
    with _SavedBytes(net.parameters()) as together:  # both graphs alive; x is one storage, counted once
        (net(x).sum() + net(x).sum()).backward()
    assert together.peak == 3 * x.nbytes and together.live == 0


def test_meta_sgd_skips_on_found_inf_and_steps_otherwise() -> None:
    p = torch.nn.Parameter(torch.ones(3))
    opt = MetaSGD([p], lr=0.5)
    p.grad = torch.full((3,), 2.0)
    opt.found_inf = torch.tensor(1.0)  # type: ignore[attr-defined]
    opt.step()
    assert torch.equal(p.detach(), torch.ones(3))
    opt.found_inf = torch.tensor(0.0)  # type: ignore[attr-defined]
    opt.step()
    assert torch.equal(p.detach(), torch.zeros(3))
    del opt.found_inf  # type: ignore[attr-defined]
    opt.step()
    assert torch.equal(p.detach(), -torch.ones(3))
