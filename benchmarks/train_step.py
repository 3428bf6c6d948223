"""Training-step throughput of the ESRGAN engine on the current device.

Measures, through the real :class:`esrgan_lesson.training.Trainer` step (the
same code ``esrgan-lesson train`` runs), for the lesson and paper network
sizes:

- generator-stage (PSNR, L1) and GAN-stage (G step + D step) iterations/s
  and images/s;
- achieved TFLOP/s, from a FLOP count of one :func:`~esrgan_lesson.training.step.train_step`
  on ``meta`` tensors (:mod:`esrgan_lesson.training.cost`), as a share of the datasheet
  peak (:mod:`esrgan_lesson.gpu_specs`);
- each engine switch (bf16 / fp16 AMP, channels_last, torch.compile) as a
  speed ratio against an fp32 eager baseline measured in the same process;
- the projected wall time of the paper's schedule (1M PSNR + 400k GAN
  iterations at batch 16, HR patch 128), from the FLOPs of a full paper step
  and the TFLOP/s achieved here.

Usage::

    python benchmarks/train_step.py                   # CPU: about 3 minutes
    python benchmarks/train_step.py --device cuda --compile

On CPU the paper-size network runs at batch 1 with a 32x32 HR patch (a full
paper step would take minutes), fp16 is skipped (CPU fp16 convs are slow
reference kernels) and torch.compile only runs with ``--compile`` (its CPU
compile time is minutes). Results go to stdout and to
``benchmarks/results/train_step-<device>.md``.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from esrgan_lesson.device import select_device  # noqa: E402
from esrgan_lesson.gpu_specs import GPUSpec, spec_for_device  # noqa: E402
from esrgan_lesson.paper import BATCH_SIZE, GAN_TOTAL_ITERS, HR_PATCH, PSNR_TOTAL_ITERS  # noqa: E402
from esrgan_lesson.training import Trainer  # noqa: E402
from esrgan_lesson.training.config import TrainConfig, load_config  # noqa: E402
from esrgan_lesson.training.cost import training_step_cost  # noqa: E402
from esrgan_lesson.training.step import train_step  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_report  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@dataclass
class Size:
    name: str
    overrides: list[str]
    batch: int
    hr_patch: int


def sizes(device: torch.device) -> list[Size]:
    """Lesson size and paper size (reduced batch and patch on CPU)."""
    lesson = Size("lesson nf32 nb2", ["model.num_feat=32", "model.num_block=2", "model.num_grow_ch=16",
                                      "network_d.num_feat=32"], 16, 64)
    if device.type == "cpu":
        paper = Size("paper nf64 nb23", [], 1, 32)
    else:
        paper = Size("paper nf64 nb23", [], BATCH_SIZE, HR_PATCH)
    return [lesson, paper]


def bench_config(size: Size, stage: str, amp: str = "none", channels_last: bool = False, compile_: bool = False,
                 out: str = "runs/benchmark", batch: int | None = None, hr_patch: int | None = None) -> TrainConfig:
    """The paper config of ``stage`` at ``size`` (or ``batch``/``hr_patch``), demo data, no validation, no VGG."""
    batch, hr_patch = batch or size.batch, hr_patch or size.hr_patch
    base = "paper-gan" if stage == "gan" else "paper-psnr"
    ov = size.overrides + [
        "data.demo=true", "data.demo_root=data/demo", "data.sampler=device", "data.val_hr=null",
        f"train.batch_size={batch}", f"train.hr_patch={hr_patch}", f"network_d.input_size={hr_patch}",
        "train.perceptual.network=none", "train.perceptual.weight=0", f"engine.amp={amp}",
        f"engine.channels_last={str(channels_last).lower()}", f"engine.compile={str(compile_).lower()}",
        "engine.ema_decay=0.999", "logging.progress=false", f"paths.output_dir={out}", "paths.pretrained_g=null",
    ]
    return load_config(base, ov)


def make_trainer(size: Size, stage: str, device: torch.device, amp: str, channels_last: bool, compile_: bool,
                 out: str) -> Trainer:
    return Trainer(bench_config(size, stage, amp, channels_last, compile_, out), device=device)


def step_flops(size: Size, stage: str, batch: int, hr_patch: int) -> float:
    """FLOPs of one training step of :func:`bench_config` at ``batch``/``hr_patch``.

    Counted by :func:`esrgan_lesson.training.cost.training_step_cost`, which runs
    :func:`~esrgan_lesson.training.step.train_step` itself on ``meta`` tensors
    (the G step with D frozen, then the D step); the amp and layout switches
    do not change the count.
    """
    return training_step_cost(bench_config(size, stage, batch=batch, hr_patch=hr_patch)).flops


def random_batch(size: Size, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed random x4 pair: LR (batch, 3, p/4, p/4) and HR (batch, 3, p, p), values in [0, 1)."""
    g = torch.Generator().manual_seed(0)
    lr = torch.rand(size.batch, 3, size.hr_patch // 4, size.hr_patch // 4, generator=g).to(device)
    hr = torch.rand(size.batch, 3, size.hr_patch, size.hr_patch, generator=g).to(device)
    return lr, hr


def time_steps(trainer: Trainer, size: Size, device: torch.device, warmup: int, seconds: float,
               max_steps: int) -> float:
    """Seconds per training step (mean over a timed window after warm-up).

    Each step is :func:`esrgan_lesson.training.step.train_step` on the
    trainer's parts (the step ``esrgan-lesson train`` runs), or its CUDA-graph
    replay when the trainer was made with ``engine.cuda_graph``.
    """
    lr, hr = random_batch(size, device)
    step = trainer._step if trainer.cfg.engine.cuda_graph else (lambda a, b: train_step(trainer.parts, a, b))
    for _ in range(warmup):
        step(lr, hr)
    sync(device)
    n, start = 0, time.perf_counter()
    while n < max_steps and (n < 2 or time.perf_counter() - start < seconds):
        step(lr, hr)
        n += 1
    sync(device)
    return (time.perf_counter() - start) / n


def switches(device: torch.device, with_compile: bool) -> list[tuple[str, str, bool, bool]]:
    """(label, amp, channels_last, compile) per configuration; the first is the baseline."""
    out = [("fp32 eager", "none", False, False)]
    if device.type != "cpu" or torch.backends.cpu.get_cpu_capability() not in ("DEFAULT", "AVX2"):
        out.append(("bf16 autocast", "bf16", False, False))  # AVX2 CPUs only emulate bf16 (very slow)
    if device.type == "cuda":
        out.append(("fp16 autocast + GradScaler", "fp16", False, False))
    out.append(("channels_last", "none", True, False))
    if device.type == "cuda":
        out.append(("bf16 + channels_last", "bf16", True, False))
    if with_compile:
        out.append(("torch.compile", "none", False, True))
        if device.type == "cuda":
            out.append(("bf16 + channels_last + compile", "bf16", True, True))
    return out


def peak_key(amp: str) -> str:
    """Which datasheet peak a row's arithmetic runs at: fp32 convs use TF32 when cuDNN allows it."""
    if amp in ("bf16", "fp16"):
        return amp
    return "tf32" if torch.backends.cudnn.allow_tf32 else "fp32"


def utilisation(tflops: float, amp: str, spec: GPUSpec | None) -> str:
    """Achieved TFLOP/s as a percentage of the datasheet peak (:mod:`esrgan_lesson.gpu_specs`) for ``amp``.

    A GPU without TF32 (T4, V100) runs fp32 convs at its fp32 rate. "-" off CUDA, for a GPU
    not in the table, or for a precision it has no figure for.
    """
    if spec is None:
        return "-"
    key = peak_key(amp)
    peak = spec.peak(key) or (spec.fp32 if key == "tf32" else None)
    return f"{100 * tflops / peak:.1f}" if peak else "-"


def reset_peak_memory(device: torch.device) -> None:
    """Start a fresh peak-memory count (CUDA only)."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_gib(device: torch.device) -> str:
    """Peak tensor memory since :func:`reset_peak_memory`, in GiB ("-" off CUDA)."""
    return f"{torch.cuda.max_memory_allocated(device) / 2**30:.2f}" if device.type == "cuda" else "-"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default=None)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile on CPU)")
    ap.add_argument("--seconds", type=float, default=None, help="timed window per measurement")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave default)")
    ap.add_argument("--only", nargs="+", default=None, metavar="SWITCH",
                    help="time only these switches (labels as printed), after the fp32 eager baseline")
    ap.add_argument("--out", type=Path, default=None, help="markdown output (default results/train_step-<device>.md)")
    args = ap.parse_args(argv)
    device = select_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    cpu = device.type == "cpu"
    seconds = args.seconds if args.seconds is not None else (5.0 if cpu else 3.0)
    warmup, max_steps = (1, 20) if cpu else (5, 200)
    spec = spec_for_device(device)
    dev_name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    lines = [f"# Training-step benchmark on {device.type} ({dev_name})", "",
             f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {os.cpu_count()} CPUs; "
             f"timed window {seconds:.0f} s per row after {warmup} warm-up step(s). "
             "CPU figures on a shared machine vary with its load.", "",
             "| size | stage | switch | batch | HR patch | s/step | it/s | img/s | TFLOP/s | vs fp32 eager "
             "| % of peak | peak mem GiB |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    projections = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes(device):
            for stage in ("psnr", "gan"):
                flops = step_flops(size, stage, size.batch, size.hr_patch)
                base = None
                for label, amp, cl, comp in switches(device, args.compile):
                    if args.only and label != "fp32 eager" and label not in args.only:
                        continue
                    try:
                        reset_peak_memory(device)
                        tr = make_trainer(size, stage, device, amp, cl, comp, tmp)
                        t = time_steps(tr, size, device, warmup, seconds, max_steps)
                    except Exception as exc:  # report, keep going
                        row = (f"| {size.name} | {stage} | {label} | {size.batch} | {size.hr_patch} | "
                               f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''} |||||||")
                        print(row, flush=True)
                        lines.append(row)
                        continue
                    base = t if base is None else base
                    tflops = flops / t / 1e12
                    util = utilisation(tflops, amp, spec)
                    mem = peak_memory_gib(device)
                    del tr
                    row = (f"| {size.name} | {stage} | {label} | {size.batch} | {size.hr_patch} | {t:.3f} | "
                           f"{1 / t:.2f} | {size.batch / t:.1f} | {tflops:.3f} | {base / t:.2f}x | {util} | {mem} |")
                    print(row, flush=True)
                    lines.append(row)
                    if size.name.startswith("paper"):
                        full = step_flops(size, stage, BATCH_SIZE, HR_PATCH)
                        iters = PSNR_TOTAL_ITERS if stage == "psnr" else GAN_TOTAL_ITERS
                        projections.append((stage, label, iters, full, full / (flops / t)))
    heading = "## Projected wall time of the paper's schedule (at the TFLOP/s measured here)"
    lines += ["", heading, "",
              "One row per stage for the fp32 eager baseline and one for the fastest switch that ran.", "",
              "| stage | switch | iterations | GFLOP/step (batch 16, HR 128) | s/step | days |",
              "|---|---|---|---|---|---|"]
    totals: dict[str, float] = {}
    for stage in ("psnr", "gan"):
        rows = [p for p in projections if p[0] == stage]
        if not rows:
            continue
        chosen = {"fp32 eager": next((p for p in rows if p[1] == "fp32 eager"), None),
                  "fastest": min(rows, key=lambda p: p[4])}
        for key, p in chosen.items():
            if p is None:
                continue
            _, label, iters, full, sec = p
            totals[key] = totals.get(key, 0.0) + iters * sec
            if key == "fastest" and p is chosen["fp32 eager"]:
                continue  # the baseline was the fastest: its row is already in the table
            lines.append(f"| {stage} | {label} | {iters:,} | {full / 1e9:,.0f} | {sec:.3f} | {iters * sec / 86400:.2f} |")
    for key, total in totals.items():
        lines.append(f"| both | {key} | {PSNR_TOTAL_ITERS + GAN_TOTAL_ITERS:,} | | | **{total / 86400:.2f}** |")
    if spec:
        lines += ["", f"Peak dense TFLOP/s of this GPU ({spec.name}, {spec.source}): "
                  + ", ".join(f"{k} {v}" for k, v in spec.peaks().items())]
    if cpu:
        lines += ["", "On CPU the paper-size rows use batch 1 and a 32x32 HR patch; the projection scales "
                  "by FLOPs, which assumes the same TFLOP/s at the full size. fp16 is CUDA-only here, bf16 is "
                  f"skipped on CPUs without native bf16 (this one: {torch.backends.cpu.get_cpu_capability()}), and "
                  "torch.compile runs only with --compile."]
    print("\n".join(lines[lines.index(heading) - 1:]))
    write_report(lines, "train_step", device.type, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
