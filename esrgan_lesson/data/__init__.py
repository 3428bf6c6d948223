"""Training and evaluation data: the offline demo set, folder datasets, device-side batches."""
from __future__ import annotations

from .augment import augment_numpy, augment_torch
from .demo import TRAIN_NAMES, VAL_NAMES, DemoSet, build_demo_set, demo_images, demo_paths
from .pairs import downscale_lr, make_pair, make_pairs, mod_crop
from .paired import PairedImageDataset, pair_files, worker_init
from .sampler import DevicePatchSampler

__all__ = [
    "TRAIN_NAMES", "VAL_NAMES", "DemoSet", "DevicePatchSampler", "PairedImageDataset", "augment_numpy",
    "augment_torch", "build_demo_set", "demo_images", "demo_paths", "downscale_lr", "make_pair", "make_pairs", "mod_crop",
    "pair_files", "worker_init",
]
