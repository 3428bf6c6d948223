"""The engine's speed switches on a CPU: everything around CUDA-graph capture, cuDNN flags, EMA lists, readout.

Graph capture itself needs a GPU (``benchmarks/gpu_session.py`` runs it);
here :class:`GraphedStep`'s ``eager`` backend runs the same warm-up, static
buffers and re-capture logic with :func:`train_step` in place of a replay.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from esrgan_lesson.errors import ConfigError
from esrgan_lesson.training import Trainer
from esrgan_lesson.training.ema import ModelEMA
from esrgan_lesson.training.graphs import (GraphedStep, check_cuda_graph_config, compile_repeated_blocks,
                                           configure_backends)
from esrgan_lesson.training.readout import StepReadout
from esrgan_lesson.training.step import StepStatus
from test_step_functions import case_config, digest, make_trainer, root, run_case  # noqa: F401 (fixture)


def test_graphed_step_logic_matches_plain_trainer(root: Path, tmp_path: Path) -> None:
    """Warm-up, static inputs, re-capture at the LR milestone, a skipped step inside the 'graph'."""
    plain = run_case(root, tmp_path / "plain", "gan-inf3")
    tr = make_trainer(root, tmp_path / "graphed", "gan-inf3")
    graphed = GraphedStep(tr.parts, warmup=2, backend="eager")
    tr._step = graphed  # type: ignore[method-assign]
    tr.run()
    assert digest(tr) == digest(plain) and tr.skipped == 1
    # Steps 1-2 eager; captured before step 3 (lr 1e-4) and again before step 4 (milestone 3: lr halved).
    assert (graphed.eager_steps, graphed.captures, graphed.replays) == (2, 2, 3)
    assert graphed.learning_rates() == [5e-5, 5e-5]


def test_graphed_step_recaptures_for_a_new_batch_shape(root: Path, tmp_path: Path) -> None:
    tr = make_trainer(root, tmp_path, "psnr")
    graphed = GraphedStep(tr.parts, warmup=1, backend="eager")
    lr, hr = next(tr.sampler)
    for _ in range(3):
        graphed(lr, hr)
    assert graphed.captures == 1
    graphed(lr[:1], hr[:1])
    assert graphed.captures == 2


def test_cuda_backend_refuses_what_cannot_be_captured(root: Path, tmp_path: Path) -> None:
    tr = make_trainer(root, tmp_path, "gan")
    with pytest.raises(ConfigError, match="fused Adam with capturable=True"):
        GraphedStep(tr.parts, backend="cuda")
    fp16 = make_trainer(root, tmp_path / "fp16", "gan-fp16")
    with pytest.raises(ConfigError, match="GradScaler"):
        GraphedStep(fp16.parts, backend="cuda")
    with pytest.raises(ConfigError, match="warm-up"):
        GraphedStep(tr.parts, warmup=0, backend="eager")


def _engine(**kw: object) -> SimpleNamespace:
    base = {"cuda_graph": True, "amp": "none", "compile": False, "compile_blocks": False}
    return SimpleNamespace(**{**base, **kw})


def test_cuda_graph_config_checks() -> None:
    cuda = torch.device("cuda")
    assert check_cuda_graph_config(_engine(), cuda, distributed=False) is True
    assert check_cuda_graph_config(_engine(cuda_graph=False), torch.device("cpu"), False) is False
    cases = [(_engine(), torch.device("cpu"), False, "needs a CUDA device"),
             (_engine(), cuda, True, "without torchrun"),
             (_engine(amp="fp16"), cuda, False, "engine.amp=bf16 or none"),
             (_engine(cuda_graph=False, compile=True, compile_blocks=True), cuda, False, "not both")]
    for engine, device, dist, msg in cases:
        with pytest.raises(ConfigError, match=msg) as err:
            check_cuda_graph_config(engine, device, dist)
        assert "\n" not in str(err.value)


def test_trainer_refuses_cuda_graph_on_cpu(root: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"engine.cuda_graph: needs a CUDA device \(this run is on cpu\)"):
        Trainer(case_config(root, tmp_path, "psnr", **{"engine.cuda_graph": True}))


def test_deterministic_switch_leaves_cpu_results_alone(root: Path, tmp_path: Path) -> None:
    det = run_case(root, tmp_path / "det", "psnr", **{"engine.deterministic": True})
    assert digest(det) == digest(run_case(root, tmp_path / "default", "psnr"))
    assert not torch.are_deterministic_algorithms_enabled()


def test_configure_backends_on_cuda_sets_cudnn() -> None:
    saved = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic,
             torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    try:
        configure_backends(torch.device("cuda"), deterministic=False)
        assert torch.backends.cudnn.benchmark and not torch.backends.cudnn.deterministic
        configure_backends(torch.device("cuda"), deterministic=True)
        assert not torch.backends.cudnn.benchmark and torch.backends.cudnn.deterministic
        assert torch.are_deterministic_algorithms_enabled()
        torch.backends.cudnn.benchmark = False
        configure_backends(torch.device("cpu"), deterministic=False)
        assert not torch.backends.cudnn.benchmark  # nothing changes for CPU runs
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[0], saved[1]
        torch.use_deterministic_algorithms(saved[2], warn_only=saved[3])


def test_ema_tensor_lists_are_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    ema = ModelEMA(model, decay=0.5)
    binds = []
    original = ModelEMA._bind
    monkeypatch.setattr(ModelEMA, "_bind", lambda self, m: (binds.append(m), original(self, m)))
    for _ in range(3):
        ema.update(model)
        ema.update(model, applied=torch.tensor(True))
    assert len(binds) == 1 and len(ema._targets) == 4  # the four parameters; buffers are looked up per update
    ema.update(nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)))  # another model: lists rebuilt
    assert len(binds) == 2


def test_ema_applied_flag(ema_pair: tuple[nn.Sequential, ModelEMA]) -> None:
    model, ema = ema_pair
    model[1].num_batches_tracked.fill_(7)
    ema.update(model, applied=torch.tensor(False))  # skipped step: nothing moves, counters included
    assert ema.module[0].weight.item() == 2.0 and ema.module[1].num_batches_tracked.item() == 0
    ema.update(model, applied=torch.tensor(True))
    assert ema.module[0].weight.item() == 0.75 * 2.0 + 0.25 * 6.0 and ema.module[1].num_batches_tracked.item() == 7


def test_readout_lag_and_exact_values() -> None:
    readout = StepReadout(torch.device("cpu"), lag=1)
    third = torch.tensor(1 / 3)
    for step in (1, 2, 3):
        readout.push(step, torch.tensor(float(step == 2) * 2.0),
                     {"a": third * step, "b": torch.tensor(0.1, dtype=torch.bfloat16)})
    ready = readout.ready()
    assert [r.step for r in ready] == [1, 2] and len(readout) == 1
    assert ready[1].status == StepStatus.NONFINITE and ready[0].status == StepStatus.APPLIED
    assert ready[0].logs == {"a": float(third), "b": float(torch.tensor(0.1, dtype=torch.bfloat16))}
    assert [r.step for r in readout.drain()] == [3] and len(readout) == 0
    with pytest.raises(ValueError):
        StepReadout(torch.device("cpu"), lag=-1)


@pytest.mark.slow  # inductor compiles one block on the CPU (~20-60 s)
def test_compile_blocks_compiles_one_block_for_all() -> None:
    import torch._dynamo
    from torch._dynamo.utils import counters

    from esrgan_lesson.models import RRDBNet

    torch._dynamo.reset()
    counters.clear()
    torch.manual_seed(0)
    net = RRDBNet(3, 3, scale=4, num_feat=8, num_block=3, num_grow_ch=8).eval()
    x = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        eager = net(x)
        assert compile_repeated_blocks(net) == 3
        compiled = net(x)
    assert counters["stats"]["unique_graphs"] == 1  # one graph serves all three blocks
    assert float((compiled - eager).abs().max()) < 1e-5
    with pytest.raises(ConfigError, match="has no RRDB blocks"):
        compile_repeated_blocks(nn.Linear(2, 2))


def test_bicubic_matrices_are_made_once_per_device() -> None:
    """The sampler's downscale reuses one matrix per axis length and device (no copy per batch)."""
    from esrgan_lesson.data import imresize as imr

    x = torch.rand(2, 3, 48, 48)
    imr._device_matrix_t.cache_clear()
    first = imr.imresize(x, scale=0.25)
    again = imr.imresize(x, scale=0.25)
    info = imr._device_matrix_t.cache_info()
    assert (info.misses, info.hits) == (1, 3)  # H and W share the 48 -> 12 matrix
    dense = torch.from_numpy(imr._dense_matrix(48, 12, 0.25, True)).float()
    by_hand = torch.matmul(torch.matmul(x.transpose(-1, -2), dense.T).transpose(-1, -2), dense.T)
    assert torch.equal(first, again) and torch.allclose(first, by_hand, atol=1e-6)


def test_cpu_upscale_runs_channels_last_and_restores_the_model() -> None:
    from esrgan_lesson.inference import upscale
    from esrgan_lesson.models import RRDBNet

    torch.manual_seed(0)
    net = RRDBNet(3, 3, scale=4, num_feat=16, num_block=2, num_grow_ch=8).eval()
    x = torch.rand(1, 3, 20, 20)
    with torch.no_grad():
        direct = net(x).clamp(0, 1)
    storage = {k: v.data_ptr() for k, v in net.state_dict().items()}
    objects = [id(p) for p in net.parameters()]
    seen = []
    handle = net.conv_first.register_forward_pre_hook(
        lambda m, args: seen.append(args[0].is_contiguous(memory_format=torch.channels_last)))
    out = upscale(net, x)
    handle.remove()
    assert seen == [True]  # the forward ran on NHWC data
    assert out.is_contiguous() and not out.is_inference()
    assert float((out - direct).abs().max()) < 1e-5
    assert all(p.is_contiguous() for p in net.parameters())  # the caller's layout is back
    # ... in the very same tensors: references to them (an EMA's lists) still see the weights
    assert {k: v.data_ptr() for k, v in net.state_dict().items()} == storage
    assert [id(p) for p in net.parameters()] == objects


def test_spandrel_benchmark_says_one_line_without_spandrel(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(
        "upscale_vs_spandrel", Path(__file__).resolve().parents[1] / "benchmarks" / "upscale_vs_spandrel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "spandrel", None)  # import spandrel -> ImportError
    assert module.main([]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["upscale_vs_spandrel: spandrel is not installed (pip install spandrel); nothing measured"]
