"""One prepared device session for issue 17: graphed training steps against eager, on one GPU.

    python benchmarks/gpu_session.py --device cuda [--out DIR] [--budget-s 400] [--only SECTION ...]
    python benchmarks/gpu_session.py --device cpu --tiny --out /tmp/s   # every section, tiny, on a CPU

Sections, in order (names for ``--only``); each writes its part of
``gpu_session-<device>.md`` and ``.json`` in ``--out`` as soon as it ends:

1. ``smoke``: capture at lesson size, PSNR and GAN: 6 steps graphed and eager.
2. ``eager``: paper-size eager baselines (PSNR, GAN; fp32, bf16 + channels_last)
   and ms per part of a PSNR step.
3. ``graphed``: the same four as CUDA graphs.
4. ``graph_vs_eager``: weights of graphed and eager trainers after 10 steps.
5. ``skip``: an injected inf inside the graph: status, untouched state, next step.
6. ``vgg``: the GAN step with a VGG19-sized perceptual network (random weights).
7. ``profile``: kernels per step and kernel time, eager and graphed.
8. ``compile``: one compiled RRDB inside the graph: compile time, speed, drift.
9. ``sweep``: batch/patch sweep of the graphed step (bf16 + channels_last).
10. ``data``: device sampler and DataLoader against what the step consumes.
11. ``summary``: the paper schedule projected from the measured step times.

A section that fails is reported and the next one runs; sections that would
start after ``--budget-s`` are skipped (``compile`` needs 150 s left). With
``--tiny`` every size is nf8 nb1, batch 2, HR 32, and on a CPU the CUDA graph
is :class:`~esrgan_lesson.training.graphs.GraphedStep`'s eager stand-in.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from esrgan_lesson.device import select_device  # noqa: E402
from esrgan_lesson.fileio import atomic_write_text  # noqa: E402
from esrgan_lesson.paper import GAN_TOTAL_ITERS, PSNR_TOTAL_ITERS  # noqa: E402
from gpu_sections import (TABLE, Result, Session, batches, build, count_flops, free, label,  # noqa: E402
                          loop_time, max_gap, parts_ms, profile_step, row_for, skip_check, stepper)
from train_step import reset_peak_memory, sync  # noqa: E402

VARIANTS = (("none", False), ("bf16", True))


def smoke(s: Session) -> Result:
    lines = ["| stage | eager warm-up steps | captures | replays | max weight gap vs eager | finite | s |",
             "|---|---|---|---|---|---|---|"]
    data = {}
    for stage in ("psnr", "gan"):
        t0 = time.perf_counter()
        eager, graphed = build(s, "lesson", stage), build(s, "lesson", stage, graph=True)
        step_e, step_g = stepper(s, eager, False), stepper(s, graphed, True)
        for lr, hr in batches(eager, 6):
            step_e(lr, hr)
            step_g(lr, hr)
        sync(s.device)
        g = graphed.graphed
        assert g is not None and g.captures >= 1 and g.replays >= 1, "the graph was never replayed"
        finite = all(bool(torch.isfinite(p).all()) for p in graphed.net_g.parameters())
        data[stage] = {"gap": max_gap(eager, graphed), "captures": g.captures, "replays": g.replays,
                       "finite": finite, "seconds": time.perf_counter() - t0}
        lines.append(f"| {stage} | {g.eager_steps} | {g.captures} | {g.replays} | {data[stage]['gap']:.2e} | "
                     f"{finite} | {data[stage]['seconds']:.1f} |")
    return lines, data


def _rows(s: Session, graph: bool, vgg: bool = False, stages: tuple[str, ...] = ("psnr", "gan")) -> Result:
    """One row per stage and variant; step times go to ``s.measured`` under ``<kind>/<stage>/<variant>``."""
    lines, data = list(TABLE), {}
    kind, eager_kind = ("vgg-graphed" if graph else "vgg", "vgg") if vgg else ("graphed" if graph else "eager", "eager")
    for stage in stages:
        flops = None
        for amp, cl in VARIANTS:
            reset_peak_memory(s.device)
            tr = build(s, "paper", stage, amp, cl, graph=graph, vgg=vgg)
            flops = flops or count_flops(tr)  # one eager step of this trainer (same FLOPs in every variant)
            sec = loop_time(s, tr, stepper(s, tr, graph))
            key = f"{kind}/{stage}/{label(amp, cl)}"
            s.measured[key] = sec
            base = s.measured.get(f"{eager_kind}/{stage}/{label(amp, cl)}") if graph else None
            lines.append(row_for(s, f"{stage} {label(amp, cl)}{' graphed' if graph else ''}", tr, sec, flops, amp,
                                 base))
            data[key] = {"s_per_step": sec, "gflop_per_step": flops / 1e9}
            del tr
            free(s)
    return lines, data


def eager(s: Session) -> Result:
    lines, data = _rows(s, graph=False)
    for amp, cl in VARIANTS:
        parts = parts_ms(s, build(s, "paper", "psnr", amp, cl))
        data[f"parts/{label(amp, cl)}"] = parts
        lines += ["", f"Parts of one eager paper PSNR step, {label(amp, cl)} (ms, synchronised):", "",
                  "| part | ms |", "|---|---|", *[f"| {k} | {v:.2f} |" for k, v in parts.items()]]
    return lines, data


def graphed(s: Session) -> Result:
    return _rows(s, graph=True)


def graph_vs_eager(s: Session) -> Result:
    lines, data = ["| stage | steps | max abs weight gap (G, D, EMA) | bitwise |", "|---|---|---|---|"], {}
    for stage in ("psnr", "gan"):
        e, g = build(s, "paper", stage), build(s, "paper", stage, graph=True)
        step_e, step_g = stepper(s, e, False), stepper(s, g, True)
        for lr, hr in batches(e, 10, seed=2):
            step_e(lr, hr)
            step_g(lr, hr)
        gap = max_gap(e, g)
        data[stage] = gap
        lines.append(f"| {stage} | 10 | {gap:.3e} | {gap == 0.0} |")
    return lines, data


def skip(s: Session) -> Result:
    tr = build(s, "lesson", "gan", graph=True)
    data = skip_check(s, stepper(s, tr, True), tr)
    return [f"- {k}: {v}" for k, v in data.items()], data


def profile(s: Session) -> Result:
    lines = ["| run | kernels/step | kernel ms/step | wall ms/step (profiled) | measured step / eager kernel time |",
             "|---|---|---|---|---|"]
    data = {}
    for amp, cl in VARIANTS:
        kernel_ms = None
        for graph in (False, True):
            tr = build(s, "paper", "psnr", amp, cl, graph=graph)
            lr, hr = batches(tr, 1)[0]
            try:
                prof = profile_step(s, stepper(s, tr, graph), lr, hr)
            except Exception as exc:  # e.g. a profiler that cannot trace graph replays: keep the eager rows
                lines.append(f"| psnr {label(amp, cl)}{' graphed' if graph else ''} | failed: "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''} ||||")
                continue
            kernel_ms = prof["kernel_ms"] if not graph else kernel_ms
            measured = s.measured.get(f"{'graphed' if graph else 'eager'}/psnr/{label(amp, cl)}")
            ratio = f"{1e3 * measured / kernel_ms:.2f}" if measured and kernel_ms == kernel_ms and kernel_ms else "-"
            name = f"psnr {label(amp, cl)}{' graphed' if graph else ''}"
            data[name] = {**prof, "measured_over_kernel": ratio}
            lines.append(f"| {name} | {prof['kernels']:.0f} | {prof['kernel_ms']:.1f} | {prof['wall_ms']:.1f} | "
                         f"{ratio} |")
    if s.device.type != "cuda":
        lines.append("\nOn a CPU 'kernels' are aten operators and there is no kernel time.")
    return lines, data


def vgg(s: Session) -> Result:
    lines, data = _rows(s, graph=False, vgg=True, stages=("gan",))
    more, extra = _rows(s, graph=True, vgg=True, stages=("gan",))
    return lines + more[2:], {**data, **extra}


def sweep(s: Session) -> Result:
    shapes = [(2, 32), (4, 32), (2, 48)] if s.tiny else [(16, 128), (32, 128), (64, 128), (16, 192)]
    lines, data = list(TABLE), {}
    for batch, patch in shapes:
        for amp, cl in VARIANTS[1:]:
            reset_peak_memory(s.device)
            tr = build(s, "paper", "psnr", amp, cl, graph=True, batch=batch, patch=patch)
            flops = count_flops(tr)
            sec = loop_time(s, tr, stepper(s, tr, True))
            data[f"{batch}x{patch}/{label(amp, cl)}"] = {"s_per_step": sec, "img_per_s": batch / sec}
            lines.append(row_for(s, f"psnr {label(amp, cl)} graphed", tr, sec, flops, amp, None))
            del tr
            free(s)
    return lines, data


def compile_blocks(s: Session) -> Result:
    lines = ["| stage | first 4 steps s (compile + capture) | ms/step | vs graph alone | max G output gap "
             "| max weight gap after 10 steps |", "|---|---|---|---|---|---|"]
    data = {}
    amp, cl = VARIANTS[1]
    for stage in ("psnr", "gan"):
        comp = build(s, "paper", stage, amp, cl, graph=True, blocks=True)
        ref = build(s, "paper", stage, amp, cl, graph=True)  # same seed: the same initial weights
        lr = batches(ref, 1)[0][0].contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), ref._autocast():
            out_gap = float((comp.net_g(lr).float() - ref.net_g(lr).float()).abs().max())
        step_c, step_r = stepper(s, comp, True), stepper(s, ref, True)
        t0 = time.perf_counter()
        for k, (x, y) in enumerate(batches(ref, 10, seed=5)):
            step_c(x, y)
            if k == 3:
                sync(s.device)
                first = time.perf_counter() - t0
            step_r(x, y)
        gap = max_gap(ref, comp)
        sec = loop_time(s, comp, step_c)
        base = s.measured.get(f"graphed/{stage}/{label(amp, cl)}")
        data[stage] = {"first_steps_s": first, "s_per_step": sec, "output_gap": out_gap, "weight_gap": gap}
        lines.append(f"| {stage} {label(amp, cl)} | {first:.1f} | {1e3 * sec:.1f} | "
                     f"{f'{base / sec:.2f}x' if base else '-'} | {out_gap:.2e} | {gap:.2e} |")
    return lines, data


def data_supply(s: Session) -> Result:
    import data_loading

    size = "lesson" if s.tiny else "paper"
    consume_key = "graphed/psnr/bf16 + channels_last"
    batch = data_loading.SIZES[size][1]
    consume = batch / s.measured[consume_key] if consume_key in s.measured else None
    lines = ["| source | patches/s | supply / graphed bf16 PSNR step |", "|---|---|---|"]
    data: dict[str, float] = {"consumed_patches_per_s": consume or float("nan")}
    workers = [0] if s.tiny else [0, 8]
    n_batches = 3 if s.tiny else 20
    sources = [("DevicePatchSampler", "device", 0)] + [(f"DataLoader, {w} workers", "dataset", w) for w in workers]
    for name, kind, w in sources:
        from esrgan_lesson.training.builders import build_sampler

        cfg = data_loading.config(size, s.demo_root, str(s.tmp / "run"), kind, w)
        rate = data_loading.patches_per_s(build_sampler(cfg, s.device, 0), n_batches, s.device)
        data[name] = rate
        lines.append(f"| {name} | {rate:.0f} | {f'{rate / consume:.1f}x' if consume else '-'} |")
    return lines, data


def summary(s: Session) -> Result:
    m = s.measured

    def best(prefix: str) -> tuple[str, float] | None:
        hits = {k: v for k, v in m.items() if k.startswith(prefix)}
        return min(hits.items(), key=lambda kv: kv[1]) if hits else None

    rows, data = [], {}
    for name, psnr_key, gan_key in (("eager fp32", "eager/psnr/fp32", "vgg/gan/fp32"),
                                    ("fastest graphed", "graphed/psnr/", "vgg-graphed/gan/")):
        p = (psnr_key, m[psnr_key]) if psnr_key in m else best(psnr_key)
        g = (gan_key, m[gan_key]) if gan_key in m else best(gan_key)
        if p is None or g is None:
            continue
        hours = (PSNR_TOTAL_ITERS * p[1] + GAN_TOTAL_ITERS * g[1]) / 3600
        data[name] = {"psnr": p, "gan_vgg": g, "hours": hours}
        rows.append(f"| {name} | {p[0]}: {1e3 * p[1]:.1f} ms | {g[0]}: {1e3 * g[1]:.1f} ms | {hours:.1f} |")
    lines = [f"Paper schedule: {PSNR_TOTAL_ITERS:,} PSNR + {GAN_TOTAL_ITERS:,} GAN iterations (GAN step with the "
             "VGG19-sized perceptual network), steps only (no data loading, validation or checkpoints).", "",
             "| run | PSNR step | GAN + VGG step | hours |", "|---|---|---|---|", *rows, "",
             "Targets (issue 17): PSNR step <= 15 ms, GAN + VGG step <= 25 ms, schedule <= 7 h (moonshot 3 h), "
             "graphed step within 1.15x of its own kernel time (section 6)."]
    return lines, data


SECTIONS: dict[str, Callable[[Session], Result]] = {
    "smoke": smoke, "eager": eager, "graphed": graphed, "graph_vs_eager": graph_vs_eager, "skip": skip,
    "vgg": vgg, "profile": profile, "compile": compile_blocks, "sweep": sweep, "data": data_supply,
    "summary": summary}
MIN_LEFT_S = {"compile": 150.0}


def header(device: torch.device, args: argparse.Namespace) -> list[str]:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    cuda = f", CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}" if device.type == "cuda" else ""
    return [f"# Issue 17 device session on {device.type} ({name})", "",
            f"torch {torch.__version__}{cuda}; {torch.get_num_threads()} CPU threads; "
            f"{'tiny sizes (nf8 nb1, batch 2, HR 32)' if args.tiny else 'paper size nf64 nb23 gc32, batch 16, HR 128'};"
            f" timed window {args.seconds} s per row. Command: `python benchmarks/gpu_session.py "
            f"{' '.join(sys.argv[1:])}`", ""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--tiny", action="store_true", help="tiny sizes (CPU tests of every section)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    ap.add_argument("--seconds", type=float, default=None, help="timed window per row (1.5 s; 0.05 with --tiny)")
    ap.add_argument("--budget-s", type=float, default=400.0)
    ap.add_argument("--only", nargs="+", choices=sorted(SECTIONS), default=None)
    ap.add_argument("--demo-root", default="data/demo")
    args = ap.parse_args(argv)
    args.seconds = args.seconds if args.seconds is not None else (0.05 if args.tiny else 1.5)
    device = select_device(args.device)
    args.out.mkdir(parents=True, exist_ok=True)
    md, js = args.out / f"gpu_session-{device.type}.md", args.out / f"gpu_session-{device.type}.json"
    lines, results = header(device, args), {}
    start = time.perf_counter()
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        s = Session(device, args.tiny, Path(tmp), args.seconds, args.demo_root)
        for i, (name, fn) in enumerate(SECTIONS.items(), 1):
            if args.only and name not in args.only:
                continue
            left = args.budget_s - (time.perf_counter() - start)
            title = f"## {i}. {name}"
            if left < MIN_LEFT_S.get(name, 0.0) or left <= 0:
                block = [title, "", f"skipped: {left:.0f} s of the budget left", ""]
                results[name] = {"skipped": True}
            else:
                t0 = time.perf_counter()
                try:
                    part, data = fn(s)
                    results[name] = {"seconds": time.perf_counter() - t0, **data}
                except Exception as exc:  # report it, keep going
                    failed += 1
                    part = [f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", "",
                            "```", *traceback.format_exc().splitlines()[-6:], "```"]
                    results[name] = {"failed": f"{type(exc).__name__}: {exc}"}
                free(s)
                block = [f"{title} ({time.perf_counter() - t0:.0f} s)", "", *part, ""]
            lines += block
            print("\n".join(block), flush=True)
            atomic_write_text(md, "\n".join(lines) + "\n")
            atomic_write_text(js, json.dumps(results, indent=1, default=str) + "\n")
    print(f"\n{len(results)} sections, {failed} failed, {time.perf_counter() - start:.0f} s; written to {md}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
