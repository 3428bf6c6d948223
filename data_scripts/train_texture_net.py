"""Reproduce the shipped texture feature network (esrgan_lesson/assets/texture_vgg.safetensors).

    .venv/bin/python data_scripts/train_texture_net.py            # defaults = shipped weights
    .venv/bin/python data_scripts/train_texture_net.py --out /tmp/t.safetensors --steps 200

Trains :class:`esrgan_lesson.models.texture_vgg.TextureVGG` to tell which demo TRAIN
picture a 32x32 patch comes from (validation pictures are never used), on one
CPU thread (so the float arithmetic, and the weights, do not depend on the
machine's core count), prints the held-out accuracy and writes the weights
atomically with the settings as safetensors metadata.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from esrgan_lesson.course import texture
from esrgan_lesson.models import texture_vgg
from esrgan_lesson.training.provenance import git_commit


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=texture.DEFAULT_SEED)
    p.add_argument("--steps", type=int, default=texture.DEFAULT_STEPS)
    p.add_argument("--batch-size", type=int, default=texture.DEFAULT_BATCH)
    p.add_argument("--lr", type=float, default=texture.DEFAULT_LR)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 = the shipped weights)")
    p.add_argument("--out", default=str(texture_vgg.WEIGHTS_PATH))
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    history: list[tuple[int, float]] = []
    start = time.perf_counter()
    model = texture.train_texture_net(seed=args.seed, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                                history=history, log_every=100)
    for step, loss in history:
        print(f"step {step:5d}  cross-entropy {loss:.3f}")
    x, y = texture.heldout_patches()
    acc = texture.accuracy(model, x, y)
    print(f"held-out accuracy {acc:.3f} on {len(y)} patches, {len(texture_vgg.class_names())} classes "
          f"(chance {1 / len(texture_vgg.class_names()):.3f}); trained in {time.perf_counter() - start:.0f} s")
    settings = {"seed": args.seed, "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
                "threads": args.threads, "blocks": list(texture_vgg.BLOCKS), "widths": list(texture_vgg.WIDTHS),
                "patch": texture.PATCH}
    defaults = p.parse_args([])
    changed = [f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out" and v != getattr(defaults, k)]
    meta = {"seed": str(args.seed), "steps": str(args.steps), "batch_size": str(args.batch_size),
            "lr": str(args.lr), "threads": str(args.threads), "torch": torch.__version__,
            "heldout_accuracy": f"{acc:.4f}",
            # how to rebuild this file in place, from the repository root, and what built it
            "command": " ".join(["python data_scripts/train_texture_net.py", *changed]),
            "config": json.dumps(settings, sort_keys=True), "commit": git_commit(),
            "stage": "texture-classifier", "arch": "texture_vgg"}
    print("wrote", texture_vgg.save_texture_net(model, args.out, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
