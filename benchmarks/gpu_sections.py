"""Helpers and the measurement sections of ``gpu_session.py`` (one function per section).

Every section takes the :class:`Session` and returns ``(markdown lines, data)``;
each runs on a CPU with ``--tiny`` too (there the CUDA graph is the eager
stand-in of :class:`~esrgan_lesson.training.graphs.GraphedStep`, and kernel
counts are operator counts), so the script can be tested before a GPU is lent.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from esrgan_lesson.gpu_specs import GPUSpec, spec_for_device
from esrgan_lesson.training import Trainer
from esrgan_lesson.training.config import load_config
from esrgan_lesson.training.graphs import GraphedStep
from esrgan_lesson.training.readout import StepReadout
from esrgan_lesson.training.step import StepStatus, generator_loss, grads_finite_flag, train_step
from train_step import peak_memory_gib, reset_peak_memory, sync, utilisation

Lines = list[str]
Result = tuple[Lines, dict[str, Any]]
StepFn = Callable[[torch.Tensor, torch.Tensor], tuple[dict[str, torch.Tensor], torch.Tensor]]

#: (model/D overrides, batch, HR patch) per size; ``tiny`` replaces both on a CPU.
SIZES: dict[str, tuple[list[str], int, int]] = {
    "tiny": (["model.num_feat=8", "model.num_block=1", "model.num_grow_ch=8", "network_d.num_feat=8"], 2, 32),
    "lesson": (["model.num_feat=32", "model.num_block=2", "model.num_grow_ch=16", "network_d.num_feat=32"], 16, 64),
    "paper": ([], 16, 128),
}


@dataclass
class Session:
    """What every section needs: where it runs, how long it times, where files go."""

    device: torch.device
    tiny: bool
    tmp: Path
    seconds: float
    demo_root: str
    vgg_file: Path | None = None
    measured: dict[str, Any] = field(default_factory=dict)  # step times other sections reuse

    @property
    def peak(self) -> GPUSpec | None:
        """This GPU's datasheet row (:mod:`esrgan_lesson.gpu_specs`), ``None`` off CUDA or when not in the table."""
        return spec_for_device(self.device)

    def size(self, name: str) -> tuple[list[str], int, int]:
        return SIZES["tiny" if self.tiny else name]

    def random_vgg(self) -> Path:
        """A VGG19 feature file with random weights (the paper's network size; ImageNet weights are offline)."""
        if self.vgg_file is None:
            from torchvision.models import vgg19

            torch.manual_seed(3)
            self.vgg_file = self.tmp / "vgg19-random.pth"
            torch.save(vgg19(weights=None).features.state_dict(), self.vgg_file)
        return self.vgg_file


def build(s: Session, size: str, stage: str, amp: str = "none", cl: bool = False, graph: bool = False,
          blocks: bool = False, vgg: bool = False, batch: int | None = None, patch: int | None = None) -> Trainer:
    """A Trainer of the paper config at ``size`` (random weights, demo data, no validation)."""
    ov, b, p = s.size(size)
    b, p = batch or b, patch or p
    ov = ov + [
        "data.demo=true", f"data.demo_root={s.demo_root}", "data.sampler=device", "data.val_hr=null",
        f"train.batch_size={b}", f"train.hr_patch={p}", f"network_d.input_size={p}", f"engine.amp={amp}",
        f"engine.channels_last={str(cl).lower()}", f"engine.compile_blocks={str(blocks).lower()}",
        f"engine.cuda_graph={str(graph and s.device.type == 'cuda').lower()}", "logging.progress=false",
        f"paths.output_dir={s.tmp / 'run'}", "paths.pretrained_g=null", "engine.seed=0"]
    if vgg:
        ov += ["train.perceptual.network=vgg19", "train.perceptual.layer=conv5_4", "train.perceptual.weight=1",
               f"train.perceptual.weights={s.random_vgg()}"]
    else:
        ov += ["train.perceptual.network=none", "train.perceptual.weight=0"]
    return Trainer(load_config("paper-gan" if stage == "gan" else "paper-psnr", ov), device=s.device)


def stepper(s: Session, tr: Trainer, graph: bool) -> StepFn:
    """The trainer's step: eager :func:`train_step`, its CUDA graph, or (CPU) the graph's eager stand-in."""
    if not graph:
        return lambda lr, hr: train_step(tr.parts, lr, hr)
    if s.device.type == "cuda":
        return tr._step
    tr.graphed = GraphedStep(tr.parts, warmup=2, backend="eager")
    return tr.graphed


def batches(tr: Trainer, n: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` fixed random (LR, HR) x4 batches in [0, 1) on ``tr``'s device, shaped for its config."""
    g = torch.Generator().manual_seed(seed)
    b, p = tr.cfg.train.batch_size, tr.cfg.train.hr_patch
    return [(torch.rand(b, 3, p // 4, p // 4, generator=g).to(tr.device),
             torch.rand(b, 3, p, p, generator=g).to(tr.device)) for _ in range(n)]


def loop_time(s: Session, tr: Trainer, step: StepFn, warmup: int = 5) -> float:
    """Seconds per step as the training loop runs it: the step, then its readout one step late.

    ``warmup`` steps first (the graph's eager steps and its capture among them; 3 with ``--tiny``).
    """
    warmup = min(warmup, 3) if s.tiny else warmup
    lr, hr = batches(tr, 1)[0]
    readout = StepReadout(s.device, lag=1)
    for i in range(warmup):
        logs, status = step(lr, hr)
        readout.push(i, status, logs)
        readout.ready()
    sync(s.device)
    n, start = 0, time.perf_counter()
    while n < 500 and (n < 3 or time.perf_counter() - start < s.seconds):
        logs, status = step(lr, hr)
        readout.push(n, status, logs)
        readout.ready()
        n += 1
    readout.drain()
    sync(s.device)
    return (time.perf_counter() - start) / n


def count_flops(tr: Trainer) -> float:
    """FLOPs of one eager step of ``tr`` (G, D, perceptual network: whatever the step runs)."""
    lr, hr = batches(tr, 1)[0]
    with FlopCounterMode(display=False) as fc:
        train_step(tr.parts, lr, hr)
    return float(fc.get_total_flops())


def free(s: Session) -> None:
    """Collect dropped trainers now (a trainer and its graph reference each other) and return their memory."""
    import gc

    gc.collect()
    if s.device.type == "cuda":
        torch.cuda.empty_cache()


def label(amp: str, cl: bool) -> str:
    return f"{'fp32' if amp == 'none' else amp}{' + channels_last' if cl else ''}"


def row_for(s: Session, name: str, tr: Trainer, sec: float, flops: float, amp: str, base: float | None) -> str:
    """A markdown row: s/step, img/s, TFLOP/s, % of peak, ratio to ``base``, peak memory."""
    tflops = flops / sec / 1e12
    ratio = f"{base / sec:.2f}x" if base else "-"
    return (f"| {name} | {tr.cfg.train.batch_size} | {tr.cfg.train.hr_patch} | {1e3 * sec:.1f} | "
            f"{tr.cfg.train.batch_size / sec:.1f} | {tflops:.2f} | {utilisation(tflops, amp, s.peak)} | {ratio} | "
            f"{peak_memory_gib(s.device)} |")


TABLE = ["| run | batch | HR | ms/step | img/s | TFLOP/s | % of peak | vs eager | peak mem GiB |",
         "|---|---|---|---|---|---|---|---|---|"]


def max_gap(a: Trainer, b: Trainer) -> float:
    """Largest absolute difference between the G, D and EMA weights of two trainers."""
    gap = 0.0
    for x, y in ((a.net_g, b.net_g), (a.net_d, b.net_d), (a.ema and a.ema.module, b.ema and b.ema.module)):
        if x is None or y is None:
            continue
        for (k, v), w in zip(x.state_dict().items(), y.state_dict().values()):
            if v.dtype.is_floating_point:
                gap = max(gap, float((v.float() - w.float()).abs().max()))
    return gap


def timed_ms(s: Session, fn: Callable[[], object], reps: int = 10) -> float:
    """Median ms of ``fn`` with device synchronisation, after 2 warm-ups."""
    for _ in range(2):
        fn()
    out = []
    for _ in range(reps):
        sync(s.device)
        t0 = time.perf_counter()
        fn()
        sync(s.device)
        out.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(out)


def parts_ms(s: Session, tr: Trainer) -> dict[str, float]:
    """ms of each part of a PSNR step: forward + L1, + backward, finite flag, Adam, EMA (synchronised)."""
    lr, hr = batches(tr, 1)[0]
    lr, hr = lr.contiguous(memory_format=tr.memory_format), hr.contiguous(memory_format=tr.memory_format)
    params = list(tr.net_g.parameters())

    def fwd() -> torch.Tensor:
        with tr._autocast():  # G's forward and its loss as generator_step runs them (PSNR stage: eta * L1)
            return generator_loss(tr.g_train(lr), hr, tr.cfg.train, tr.gan_loss, tr.percep, tr.net_d)[0]

    fwd().backward()
    applied = torch.tensor(True, device=s.device)
    parts = {"whole step": timed_ms(s, lambda: train_step(tr.parts, lr, hr)),
             "forward + L1": timed_ms(s, lambda: fwd().detach()),
             "forward + L1 + backward": timed_ms(s, lambda: fwd().backward())}
    parts["finite flag"] = timed_ms(s, lambda: grads_finite_flag(params))
    parts["Adam step"] = timed_ms(s, lambda: tr.opt_g.step())
    if tr.ema is not None:
        parts["EMA update"] = timed_ms(s, lambda: tr.ema.update(tr.net_g, applied))
    tr.opt_g.zero_grad(set_to_none=True)
    return parts


def profile_step(s: Session, step: StepFn, lr: torch.Tensor, hr: torch.Tensor, steps: int = 3) -> dict[str, float]:
    """Kernels (CPU: operators) per step, kernel ms per step and wall ms per step under the profiler."""
    from torch.profiler import ProfilerActivity, profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if s.device.type == "cuda" else [])
    for _ in range(3):
        step(lr, hr)
    sync(s.device)
    with profile(activities=acts) as prof:
        t0 = time.perf_counter()
        for _ in range(steps):
            step(lr, hr)
        sync(s.device)
        wall = (time.perf_counter() - t0) / steps
    events = prof.events()
    if s.device.type == "cuda":
        kernels = [e for e in events if e.device_type == torch.autograd.DeviceType.CUDA]
        busy = sum(e.device_time for e in kernels) / 1e3 / steps  # us -> ms
    else:
        kernels = [e for e in events if e.name.startswith("aten::")]
        busy = float("nan")
    return {"kernels": len(kernels) / steps, "kernel_ms": busy, "wall_ms": 1e3 * wall}


def skip_check(s: Session, step: StepFn, tr: Trainer) -> dict[str, bool]:
    """An inf pixel in HR through ``step``: status NONFINITE, G/D/EMA/Adam untouched, next step applied."""
    good = batches(tr, 5, seed=1)
    for lr, hr in good[:4]:
        step(lr, hr)  # warm-up and capture

    def snapshot() -> list[torch.Tensor]:
        out = [p.detach().clone() for p in tr.net_g.parameters()]
        out += [p.detach().clone() for p in tr.net_d.parameters()] if tr.net_d is not None else []
        out += [v.clone() for v in tr.ema.module.state_dict().values()] if tr.ema is not None else []
        for opt in (tr.opt_g, tr.opt_d):
            for st in (opt.state.values() if opt is not None else []):
                out += [torch.as_tensor(v).detach().clone() for v in st.values()]
        return out

    before = snapshot()
    lr, hr = good[4]
    bad = hr.clone()
    bad[0, 0, 0, 0] = float("inf")
    status = StepStatus(int(step(lr, bad)[1]))
    unchanged = all(torch.equal(a, b) for a, b in zip(before, snapshot()))
    applied = StepStatus(int(step(lr, hr)[1])) == StepStatus.APPLIED
    return {"status_nonfinite": status == StepStatus.NONFINITE, "state_unchanged": unchanged,
            "next_step_applied": applied}
