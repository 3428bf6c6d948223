#!/usr/bin/env python
"""Does the data keep up? Training-patch supply (DataLoader, device sampler) against what the step consumes.

    python benchmarks/data_loading.py [--size lesson|paper] [--batches 30] [--workers 0 2] [--device auto]
                                      [--threads N] [--out FILE]

Both sources draw x4 pairs from the demo training pictures (built under
``--root`` if missing), with the engine's own builders: the DataLoader path is
:class:`esrgan_lesson.training.builders.LoaderSampler` (crops, flips and the
MATLAB-bicubic LR made on CPU workers, batches copied to the device), the
device path :class:`esrgan_lesson.data.DevicePatchSampler` (images held on the
device, crops and bicubic there). Both make the same kind of pair: MATLAB
bicubic LR, rounded to 8 bits. Each is timed with device synchronisation
after two warm-up batches, so the figure is what a training loop sees.

The step's consumption is ``batch / (seconds per training step)`` of
:func:`esrgan_lesson.training.step.train_step` at the same size (PSNR stage,
fp32, random weights); the issue's bar is a source that delivers at least 3x
that. ``--size lesson``: nf32 nb2, batch 16, HR 64 (the lesson configs);
``paper``: nf64 nb23, batch 16, HR 128. Writes
``benchmarks/results/data_loading-<device>.md`` (or ``--out``).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from esrgan_lesson.device import select_device  # noqa: E402
from esrgan_lesson.training import Trainer  # noqa: E402
from esrgan_lesson.training.builders import build_sampler  # noqa: E402
from esrgan_lesson.training.config import TrainConfig, load_config  # noqa: E402
from esrgan_lesson.training.step import train_step  # noqa: E402
from report import cpu_name, write_report  # noqa: E402

SIZES = {"lesson": (["model.num_feat=32", "model.num_block=2", "model.num_grow_ch=16"], 16, 64),
         "paper": ([], 16, 128)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def config(size: str, root: str, out: str, sampler: str, workers: int) -> TrainConfig:
    """The PSNR-stage config at ``size`` over the demo set's training pictures.

    The DataLoader drops incomplete batches and the demo set has 11 training
    pictures, fewer than a batch of 16, so its folder is listed three times
    (a ConcatDataset of 33 items; each item still gets its own random crop).
    """
    from esrgan_lesson.data import build_demo_set

    ov, batch, patch = SIZES[size]
    folder = build_demo_set(root).train_hr
    data = ["data.demo=true", f"data.demo_root={root}"] if sampler == "device" else \
        ["data.demo=false", f"data.train_hr=[{folder},{folder},{folder}]"]
    return load_config("paper-psnr", ov + data + [
        "data.val_hr=null", f"data.sampler={sampler}",
        f"data.num_workers={workers}", f"train.batch_size={batch}", f"train.hr_patch={patch}",
        "logging.progress=false", f"paths.output_dir={out}", "paths.pretrained_g=null"])


def patches_per_s(source: Iterator[tuple[torch.Tensor, torch.Tensor]], batches: int, device: torch.device) -> float:
    """Patches per second drawn from ``source`` after two warm-up batches (worker start-up, caches)."""
    for _ in range(2):
        next(source)
    _sync(device)
    n, t0 = 0, time.perf_counter()
    for _ in range(batches):
        lr, _ = next(source)
        n += lr.shape[0]
    _sync(device)
    return n / (time.perf_counter() - t0)


def step_patches_per_s(cfg: TrainConfig, device: torch.device, steps: int) -> float:
    """Patches per second one training step (PSNR stage, fp32) consumes at ``cfg``'s size."""
    trainer = Trainer(cfg, device=device)
    lr, hr = next(trainer.sampler)
    for _ in range(2):
        train_step(trainer.parts, lr, hr)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        train_step(trainer.parts, lr, hr)
    _sync(device)
    return steps * lr.shape[0] / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", choices=sorted(SIZES), default="lesson")
    p.add_argument("--batches", type=int, default=30)
    p.add_argument("--steps", type=int, default=None, help="timed training steps (default 5 on CPU, 30 on GPU)")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--root", default="data/demo")
    p.add_argument("--out", type=Path, default=None)
    a = p.parse_args(argv)
    device = select_device(a.device)
    if a.threads:
        torch.set_num_threads(a.threads)
    steps = a.steps or (5 if device.type == "cpu" else 30)
    _, batch, patch = SIZES[a.size]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(a.size, a.root, tmp, "device", 0)
        consume = step_patches_per_s(cfg, device, steps)
        sources = [("DevicePatchSampler", "device", 0)] + [(f"DataLoader, {w} workers", "dataset", w)
                                                         for w in a.workers]
        epoch_batches = None
        for label, kind, workers in sources:
            sampler = build_sampler(config(a.size, a.root, tmp, kind, workers), device, 0)
            if kind == "dataset":
                epoch_batches = len(sampler.dataset) // batch
            rate = patches_per_s(sampler, a.batches, device)
            rows.append(f"| {label} | {rate:.1f} | {rate / consume:.1f}x |")
            print(rows[-1], flush=True)
    command = "python benchmarks/data_loading.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [f"# Data supply vs step consumption on {device.type} ({name})", "",
             f"torch {torch.__version__}, {torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs; "
             f"{a.size} size (batch {batch}, HR {patch}, x4), demo training pictures; {a.batches} timed batches "
             f"per source after 2 warm-up batches.", "", f"Command: `{command.strip()}`", "",
             f"The PSNR-stage training step (fp32) consumes **{consume:.1f} patches/s** here "
             f"({batch / consume:.3f} s per step of {batch}).", "",
             "| source | patches/s | supply / consumption |", "|---|---|---|", *rows, "",
             "A source keeps up when its ratio is at least 3x (issue 17). CPU figures on a shared machine vary "
             "with its load."]
    if epoch_batches is not None:
        lines += ["", f"An epoch of the DataLoader path is {epoch_batches} batches here, and the engine's "
                  "LoaderSampler makes a new DataLoader (so new worker processes) every epoch: with workers, "
                  f"their start-up is paid every {epoch_batches} batches. On DIV2K (800 pictures, 50 batches an "
                  "epoch) it is paid 25x less often."]
    print("\n".join(lines))
    write_report(lines, "data_loading", device.type, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
