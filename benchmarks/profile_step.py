"""Where a paper-size training step spends its time, and how it scales with batch.

    python benchmarks/profile_step.py --device cuda [--out FILE]

For the paper generator (nf64 nb23, HR patch 128) in the PSNR stage, through
the real :class:`esrgan_lesson.training.Trainer`:

1. one step split into its parts (forward + L1, backward, finite-gradient
   check, optimiser step, EMA update), each timed with device synchronisation,
   with the previous per-tensor implementations of the check and the EMA, and
   Adam's ``foreach`` path, timed in the same process as baselines;
2. a profiler trace of whole steps: CUDA kernel launches per step and the
   share of wall time in which a kernel runs (low = the GPU waits for Python);
3. images/s and TFLOP/s at batch 16, 32 and 64 for fp32 and bf16 +
   channels_last (if the GPU is starved by launch overhead, throughput grows
   with batch while the step time barely moves).

Writes a markdown report (default ``benchmarks/results/profile_step-<device>.md``).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from esrgan_lesson.device import select_device  # noqa: E402
from esrgan_lesson.gpu_specs import spec_for_device  # noqa: E402
from esrgan_lesson.training.step import generator_loss, grads_finite_flag, train_step  # noqa: E402
from report import write_report  # noqa: E402
from train_step import (Size, make_trainer, peak_memory_gib, random_batch, reset_peak_memory,  # noqa: E402
                        step_flops, sync, time_steps, utilisation)


def per_tensor_grads_finite(params: list[torch.nn.Parameter]) -> bool:
    """The engine's earlier check (one norm kernel per tensor), kept here as the baseline."""
    grads = [p.grad for p in params if p.grad is not None]
    return bool(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]).sum().isfinite())


@torch.no_grad()
def per_tensor_ema(ema_module: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    """The engine's earlier EMA update (one lerp per tensor), kept here as the baseline."""
    ema_state = ema_module.state_dict()
    for name, value in model.state_dict().items():
        target = ema_state[name]
        if target.dtype.is_floating_point:
            target.lerp_(value.to(target.dtype), 1.0 - decay)
        else:
            target.copy_(value)


def timed(fn: Callable[[], object], device: torch.device, reps: int = 20) -> float:
    """Median milliseconds of ``fn`` (synchronised) over ``reps`` runs after 3 warm-ups."""
    for _ in range(3):
        fn()
    out = []
    for _ in range(reps):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        out.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(out)


def breakdown(device: torch.device, amp: str, cl: bool, tmp: str, size: Size) -> list[str]:
    tr = make_trainer(size, "psnr", device, amp, cl, False, tmp)
    lr, hr = random_batch(size, device)
    if cl:
        lr, hr = lr.contiguous(memory_format=torch.channels_last), hr.contiguous(memory_format=torch.channels_last)
    params = list(tr.net_g.parameters())

    def fwd() -> torch.Tensor:
        with tr._autocast():  # G's forward and its loss as generator_step runs them (PSNR stage: eta * L1)
            return generator_loss(tr.g_train(lr), hr, tr.cfg.train, tr.gan_loss, tr.percep, tr.net_d)[0]

    def fwd_bwd() -> None:
        fwd().backward()

    fwd_bwd()  # gradients exist for the parts below
    foreach_adam = torch.optim.Adam(params, lr=1e-9, foreach=True)
    rows = [
        ("whole step (engine)", timed(lambda: train_step(tr.parts, lr, hr), device)),
        ("forward + L1", timed(lambda: fwd().detach(), device)),
        ("forward + L1 + backward", timed(fwd_bwd, device)),
        ("finite-grad flag, multi-tensor, on the device (engine)", timed(lambda: grads_finite_flag(params), device)),
        ("finite-grad check, per tensor (before)", timed(lambda: per_tensor_grads_finite(params), device)),
        (f"Adam step, {'fused' if tr.opt_g.defaults.get('fused') else 'default'} (engine)",
         timed(lambda: tr.opt_g.step(), device)),
        ("Adam step, foreach", timed(lambda: foreach_adam.step(), device)),
    ]
    if tr.ema is not None:
        rows += [("EMA update, multi-tensor (engine)", timed(lambda: tr.ema.update(tr.net_g), device)),
                 ("EMA update, per tensor (before)",
                  timed(lambda: per_tensor_ema(tr.ema.module, tr.net_g, tr.ema.decay), device))]
    label = f"{amp if amp != 'none' else 'fp32'}{' + channels_last' if cl else ''}"
    lines = [f"### Step breakdown, paper PSNR stage, {label}, batch {size.batch}, HR {size.hr_patch}", "",
             f"{len(params)} parameter tensors in G.", "", "| part | ms |", "|---|---|"]
    lines += [f"| {name} | {ms:.2f} |" for name, ms in rows]

    # Profiler: kernel launches and GPU-busy share of whole steps.
    if device.type == "cuda":
        from torch.profiler import ProfilerActivity, profile

        steps = 5
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            sync(device)
            t0 = time.perf_counter()
            for _ in range(steps):
                train_step(tr.parts, lr, hr)
            sync(device)
            wall = (time.perf_counter() - t0) / steps
        kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        busy = sum(e.device_time for e in kernels) / 1e6 / steps  # us -> s
        lines += ["", f"Profiled {steps} steps: {len(kernels) / steps:.0f} CUDA kernels per step, "
                  f"kernel time {1e3 * busy:.1f} ms of {1e3 * wall:.1f} ms wall per step "
                  f"(GPU busy {100 * busy / wall:.0f} %, profiler overhead included in the wall time)."]
    return lines


def batch_sweep(device: torch.device, tmp: str) -> list[str]:
    peak = spec_for_device(device)
    lines = ["### Batch size sweep, paper PSNR stage, HR 128", "",
             "| batch | switch | s/step | img/s | TFLOP/s | % of peak | peak mem GiB |", "|---|---|---|---|---|---|---|"]
    for batch in (16, 32, 64):
        size = Size("paper nf64 nb23", [], batch, 128)
        flops = step_flops(size, "psnr", batch, 128)
        for label, amp, cl in (("fp32", "none", False), ("bf16 + channels_last", "bf16", True)):
            reset_peak_memory(device)
            tr = make_trainer(size, "psnr", device, amp, cl, False, tmp)
            t = time_steps(tr, size, device, 3, 3.0, 100)
            tflops = flops / t / 1e12
            lines.append(f"| {batch} | {label} | {t:.3f} | {batch / t:.1f} | {tflops:.2f} | "
                         f"{utilisation(tflops, amp, peak)} | {peak_memory_gib(device)} |")
            print(lines[-1], flush=True)
            del tr
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default=None)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    device = select_device(args.device)
    if device.type == "cpu":
        print("profile_step.py is meant for a GPU; on CPU use train_step.py", file=sys.stderr)
        return 2
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    lines = [f"# Training-step profile on {device.type} ({name})", "", f"torch {torch.__version__}.", ""]
    with tempfile.TemporaryDirectory() as tmp:
        size = Size("paper nf64 nb23", [], 16, 128)
        for amp, cl in (("none", False), ("bf16", True)):
            part = breakdown(device, amp, cl, tmp, size)
            print("\n".join(part), flush=True)
            lines += part + [""]
        lines += batch_sweep(device, tmp)
    write_report(lines, "profile_step", device.type, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
