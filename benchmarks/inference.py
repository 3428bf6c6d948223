"""Generator inference throughput: LR megapixels/s and achieved GFLOP/s.

    python benchmarks/inference.py [--device auto] [--repeats 3] [--out FILE]

Two RRDBNet x4 sizes: the paper's (nf64 nb23 gc32, ESRGAN Sec. 4.1) on a
small LR input so the CPU run stays short, and the lesson configs'
(nf32 nb2 gc16). For each, the variants are timed against an fp32 eager
baseline measured in the same process:

* ``channels_last`` memory format;
* on CUDA only: fp16 and bf16 autocast (what ``upscale(dtype=...)`` does),
  and ``torch.compile`` with ``--compile``;
* ``upscale()`` in tiles with the default overlap, which shows the cost of the
  overlap and the largest difference from the untiled output.

FLOPs come from ``torch.utils.flop_counter.FlopCounterMode`` on a 16x16 input,
scaled by the pixel count (every layer is a stride-1 conv, so the count is
exactly proportional to the number of LR pixels). Each figure is the median
of ``--repeats`` timed runs after ``--warmup`` untimed ones. The markdown table
goes to stdout and to ``benchmarks/results/inference-<device>.md``.
"""
from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from esrgan_lesson.device import select_device  # noqa: E402
from esrgan_lesson.gpu_specs import spec_for_device  # noqa: E402  (the one table of datasheet peaks)
from esrgan_lesson.inference import DEFAULT_TILE_OVERLAP, upscale  # noqa: E402
from esrgan_lesson.models import RRDBNet  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_report  # noqa: E402
from train_step import utilisation  # noqa: E402

FLOP_PROBE = 16  # LR side of the input the FLOP counter sees


@dataclass
class Size:
    name: str
    kwargs: dict
    lr: int  # LR side in pixels
    tile: int | None  # tile side for the tiled variant (None: skip it)


def sizes(device: torch.device) -> list[Size]:
    """Paper and lesson generators; small LR inputs on CPU so the run stays ~2 minutes."""
    gpu = device.type == "cuda"
    paper_lr, lesson_lr = (256, 512) if gpu else (32, 64)
    return [
        # On CPU a 32-px paper input has no room for tiles with 16 px of overlap.
        Size("paper nf64 nb23 gc32", dict(num_feat=64, num_block=23, num_grow_ch=32), paper_lr,
             paper_lr // 2 if gpu else None),
        Size("lesson nf32 nb2 gc16", dict(num_feat=32, num_block=2, num_grow_ch=16), lesson_lr, lesson_lr // 2),
    ]


def flops_per_lr_pixel(model: torch.nn.Module, device: torch.device) -> float:
    x = torch.rand(1, 3, FLOP_PROBE, FLOP_PROBE, device=device)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    return counter.get_total_flops() / FLOP_PROBE**2


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_it(fn: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def variants(model: torch.nn.Module, x: torch.Tensor, size: Size, device: torch.device, compile_: bool):
    """(name, callable) pairs; the first is the fp32 eager baseline."""

    def eager(m: torch.nn.Module, inp: torch.Tensor, amp: torch.dtype | None = None):
        def run():
            with torch.no_grad(), torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                return m(inp)
        return run

    out = [("fp32 eager", eager(model, x))]
    out.append(("fp32 channels_last", eager(model.to(memory_format=torch.channels_last),
                                              x.to(memory_format=torch.channels_last))))
    model.to(memory_format=torch.contiguous_format)
    if device.type == "cuda":
        out.append(("fp16 autocast", eager(model, x, torch.float16)))
        if torch.cuda.is_bf16_supported():
            out.append(("bf16 autocast", eager(model, x, torch.bfloat16)))
            cl_model = copy.deepcopy(model).to(memory_format=torch.channels_last)
            x_cl = x.to(memory_format=torch.channels_last)
            out.append(("bf16 channels_last", eager(cl_model, x_cl, torch.bfloat16)))
        if compile_:
            out.append(("fp32 torch.compile", eager(torch.compile(model), x)))
            if torch.cuda.is_bf16_supported():
                out.append(("bf16 channels_last torch.compile", eager(torch.compile(cl_model), x_cl, torch.bfloat16)))
    if size.tile:
        out.append((f"upscale() tile {size.tile} overlap {DEFAULT_TILE_OVERLAP}",
                    lambda: upscale(model, x, tile=size.tile, tile_overlap=DEFAULT_TILE_OVERLAP)))
    return out


def device_label(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's choice)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (CUDA only)")
    parser.add_argument("--out", type=Path, help="markdown output (default benchmarks/results/inference-<device>.md)")
    args = parser.parse_args(argv)

    device = select_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    lines = [
        f"# Inference throughput on {device.type} ({device_label(device)})",
        "",
        f"torch {torch.__version__}; RRDBNet x4, batch 1, random weights; median of {args.repeats} runs "
        f"after {args.warmup} warm-up. Ratio = time of fp32 eager / time of the variant.",
        "",
        "| model | LR input | variant | time (s) | LR MP/s | GFLOP/s | ratio | % of peak | max abs diff vs fp32 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    notes: list[str] = []
    peak = spec_for_device(device)
    for size in sizes(device):
        model = RRDBNet(scale=4, **size.kwargs).to(device).eval()
        flop_px = flops_per_lr_pixel(model, device)
        x = torch.rand(1, 3, size.lr, size.lr, device=device)
        with torch.no_grad():
            reference = model(x).clamp(0, 1)
        base = None
        for name, fn in variants(model, x, size, device, args.compile):
            seconds = time_it(fn, device, args.warmup, args.repeats)
            base = base or seconds
            diff = (fn().float().clamp(0, 1) - reference).abs().max().item()
            mp = size.lr**2 / 1e6
            gflops = flop_px * size.lr**2 / seconds / 1e9
            amp = "bf16" if "bf16" in name else "fp16" if "fp16" in name else "none"
            util = utilisation(gflops / 1e3, amp, peak)
            row = (f"| {size.name} | {size.lr}x{size.lr} | {name} | {seconds:.4f} | {mp / seconds:.3g} | "
                   f"{gflops:.1f} | {base / seconds:.2f} | {util} | {diff:.2e} |")
            lines.append(row)
            print(row, flush=True)
        notes.append(f"- {size.name}: {flop_px / 1e6:.2f} MFLOP per LR pixel "
                     f"({flop_px * 32 * 32 / 1e9:.1f} GFLOP for a 32x32 LR patch).")
    print("\n" + "\n".join(notes))
    lines += [""] + notes + ["", "The tiled row's GFLOP/s counts only the untiled work, so its ratio includes the overlap cost.",
              "Its max diff is the seam error of the default overlap on random weights (uniform noise input)."]
    write_report(lines, "inference", device.type, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
