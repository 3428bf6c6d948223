"""``esrgan-lesson train``: run a training stage from a named config or a YAML file."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The train options (shared with ``python -m esrgan_lesson.train``)."""
    parser.add_argument("--config", required=True,
                        help="named config (lesson-psnr, lesson-gan, paper-psnr, paper-gan) or a YAML path")
    parser.add_argument("--override", nargs="+", action="extend", default=[], metavar="KEY=VALUE",
                        help="dotted config keys, e.g. train.iterations=500 engine.amp=bf16")
    parser.add_argument("--resume", nargs="?", const="auto", default=None, metavar="PATH",
                        help="continue from a checkpoint (no PATH: the latest in the output folder)")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1, mps (default: the config's)")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("train", help="train a generator (PSNR or GAN stage) from a config",
                                   description=__doc__)
    add_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from esrgan_lesson.training.config import load_config
    from esrgan_lesson.training import train

    cfg = load_config(args.config, args.override)
    result = train(cfg, device=args.device, resume=args.resume)
    if result.generator_path is not None:
        best = f", best val PSNR {result.best_psnr:.3f} dB" if result.best_psnr is not None else ""
        print(f"trained {result.steps} steps in {result.elapsed_s:.1f} s (stopped by {result.stopped_by}, "
              f"{result.skipped_steps} skipped){best}; generator: {result.generator_path}")
    return 0
