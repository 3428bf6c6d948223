#!/usr/bin/env python
"""Training-patch throughput: CPU DataLoader path vs. DevicePatchSampler.

    python benchmarks/data_loading.py [--batches 30] [--patch 128] [--batch 16] [--workers 0 2] [--device auto]

Both paths draw x4 pairs (HR ``--patch``) from the demo training pictures
(built under data/demo if missing). Prints patches per second; the device
path is timed with synchronisation, so the number is what a training loop sees.
"""
from __future__ import annotations

import argparse
import time

import torch
from torch.utils.data import DataLoader

from esrgan_lesson.data import DevicePatchSampler, PairedImageDataset, build_demo_set, demo_images, TRAIN_NAMES
from esrgan_lesson.data.paired import worker_init
from esrgan_lesson.device import select_device


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def loader_rate(root: str, patch: int, batch: int, batches: int, workers: int, device: torch.device) -> float:
    ds = PairedImageDataset(build_demo_set(root).train_hr, None, scale=4, hr_patch=patch, cache=True)
    loader = DataLoader(ds, batch_size=batch, shuffle=True, num_workers=workers, worker_init_fn=worker_init,
                        pin_memory=device.type == "cuda", persistent_workers=workers > 0, drop_last=False)
    done, t0 = 0, None
    while done < batches + 2:
        for b in loader:
            lr, hr = b["lr"].to(device, non_blocking=True), b["hr"].to(device, non_blocking=True)
            done += 1
            if done == 2:  # warm-up: decoding/caching and worker start-up
                _sync(device)
                t0, n = time.perf_counter(), 0
            elif done > 2:
                n += lr.shape[0]
            if done >= batches + 2:
                break
    _sync(device)
    return n / (time.perf_counter() - t0)


def sampler_rate(patch: int, batch: int, batches: int, device: torch.device) -> float:
    imgs = demo_images(TRAIN_NAMES)
    s = DevicePatchSampler([ (im * 255).round().astype("uint8") for im in imgs.values()], 4, patch, batch, device)
    s.sample()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(batches):
        s.sample()
    _sync(device)
    return batches * batch / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batches", type=int, default=30)
    p.add_argument("--patch", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    p.add_argument("--device", default="auto")
    p.add_argument("--root", default="data/demo")
    a = p.parse_args()
    device = select_device(a.device)
    print(f"device {device}, threads {torch.get_num_threads()}, HR patch {a.patch}, batch {a.batch}, x4")
    for w in a.workers:
        print(f"DataLoader (workers={w}, cached, imresize on the fly): "
              f"{loader_rate(a.root, a.patch, a.batch, a.batches, w, device):8.1f} patches/s")
    print(f"DevicePatchSampler on {device}: {sampler_rate(a.patch, a.batch, a.batches, device):8.1f} patches/s")


if __name__ == "__main__":
    main()
