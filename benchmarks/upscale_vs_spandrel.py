"""CPU inference: the package's public ``upscale`` against spandrel's plain model call, same weights.

    python benchmarks/upscale_vs_spandrel.py [--lr 64] [--threads 1] [--repeats 5] [--compile] [--out FILE]

Both run Real-ESRGAN's full-size ``realesrgan-x4plus`` generator (nf64 nb23
gc32, loaded with :func:`esrgan_lesson.weights.load_generator`; spandrel
builds its own RRDBNet from the same state dict) in fp32 on one ``--lr``-pixel
square crop of a photo, in the same process, with ``--threads`` torch threads.
spandrel's call is timed as its documentation uses it, under
``torch.inference_mode()``, and also under ``torch.no_grad()``. Runs are
interleaved (A, B, A, B, ...) and each row is the median of ``--repeats``; the
ratio is spandrel's best time over the row's time. Times are the process's
CPU time (``time.process_time``), which a loaded machine disturbs far less
than wall time; wall times are reported beside them. The last column is the
largest difference from spandrel's output (the target is <= 1e-3).

``--compile`` adds ``torch.compile`` of one RRDB (reused by all 23 blocks) on
a copy of the model, with its compile time, so the saving per call can be
weighed against it.

spandrel is not a dependency of the package: ``pip install spandrel`` first;
without it the script prints one line and exits. Writes
``benchmarks/results/upscale_vs_spandrel-cpu.md`` (or ``--out``).
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from esrgan_lesson.inference import upscale  # noqa: E402
from esrgan_lesson.weights import load_generator  # noqa: E402
from report import cpu_name, write_report  # noqa: E402


def photo_crop(size: int) -> torch.Tensor:
    """A (1, 3, size, size) crop of scikit-image's astronaut, downscaled by 2, in [0, 1]."""
    from skimage import data as skdata

    img = skdata.astronaut()[::2, ::2][40:40 + size, 60:60 + size].astype(np.float32) / 255.0
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].contiguous()


def timed(fn: Callable[[], torch.Tensor]) -> tuple[float, float, torch.Tensor]:
    """(CPU seconds, wall seconds, output) of one call."""
    c0, w0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - c0, time.perf_counter() - w0, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lr", type=int, default=64, help="LR crop side in pixels")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile of one RRDB")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    try:
        import spandrel
    except ImportError:
        print("upscale_vs_spandrel: spandrel is not installed (pip install spandrel); nothing measured")
        return 0
    torch.set_num_threads(args.threads)
    ours = load_generator("realesrgan-x4plus").eval()
    theirs = spandrel.ModelLoader().load_from_state_dict(copy.deepcopy(ours.state_dict())).eval()
    x = photo_crop(args.lr)

    def spandrel_inference_mode() -> torch.Tensor:
        with torch.inference_mode():
            return theirs(x)

    def spandrel_no_grad() -> torch.Tensor:
        with torch.no_grad():
            return theirs(x)

    variants: dict[str, Callable[[], torch.Tensor]] = {
        "spandrel, inference_mode": spandrel_inference_mode,
        "spandrel, no_grad": spandrel_no_grad,
        "esrgan_lesson upscale()": lambda: upscale(ours, x),
    }
    compile_s = None
    if args.compile:
        from esrgan_lesson.training.graphs import compile_repeated_blocks

        compiled = copy.deepcopy(ours).to(memory_format=torch.channels_last)
        compile_repeated_blocks(compiled)
        xcl = x.contiguous(memory_format=torch.channels_last)

        def compiled_call() -> torch.Tensor:
            with torch.no_grad():
                return compiled(xcl).clamp(0, 1)

        _, compile_s, _ = timed(compiled_call)  # first call compiles (wall time: inductor uses worker processes)
        variants["one RRDB compiled, channels_last"] = compiled_call
    cpu_s: dict[str, list[float]] = {k: [] for k in variants}
    wall_s: dict[str, list[float]] = {k: [] for k in variants}
    outputs: dict[str, torch.Tensor] = {}
    for name, fn in variants.items():  # warm-up (one call each)
        outputs[name] = fn().float().clone()
    for _ in range(args.repeats):
        for name, fn in variants.items():
            c, w, _ = timed(fn)
            cpu_s[name].append(c)
            wall_s[name].append(w)
    ref = outputs["spandrel, inference_mode"]
    best = min(statistics.median(cpu_s[k]) for k in variants if k.startswith("spandrel"))
    best_wall = min(statistics.median(wall_s[k]) for k in variants if k.startswith("spandrel"))
    command = "python benchmarks/upscale_vs_spandrel.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [f"# CPU upscale vs spandrel ({cpu_name()}, {torch.get_num_threads()} thread(s))", "",
             f"torch {torch.__version__}, spandrel {spandrel.__version__}, CPU capability "
             f"{torch.backends.cpu.get_cpu_capability()}; realesrgan-x4plus (nf64 nb23 gc32), fp32, "
             f"{args.lr}x{args.lr} LR photo crop, batch 1; median of {args.repeats} interleaved runs after one "
             "warm-up each. Ratio = spandrel's best median / the row's median (above 1: faster than spandrel).",
             "", f"Command: `{command.strip()}`", "",
             "| variant | CPU s | wall s | ratio (CPU time) | ratio (wall) | max abs diff vs spandrel |",
             "|---|---|---|---|---|---|"]
    for name in variants:
        c, w = statistics.median(cpu_s[name]), statistics.median(wall_s[name])
        diff = float((outputs[name] - ref).abs().max())
        lines.append(f"| {name} | {c:.3f} | {w:.3f} | {best / c:.2f}x | {best_wall / w:.2f}x | {diff:.2e} |")
    if compile_s is not None:
        saving = best - statistics.median(cpu_s["one RRDB compiled, channels_last"])
        calls = f"{compile_s / saving:.0f} calls" if saving > 0 else "never (no saving)"
        lines += ["", f"torch.compile of one RRDB: first call (compile + run) {compile_s:.1f} s wall (its compiler "
                  f"runs in worker processes, outside this process's CPU time); at the CPU-time saving per call "
                  f"against spandrel it pays for itself after {calls} of this size."]
    print("\n".join(lines))
    write_report(lines, "upscale_vs_spandrel", "cpu", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
