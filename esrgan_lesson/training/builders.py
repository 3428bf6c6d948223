"""Build what a :class:`~esrgan_lesson.training.config.TrainConfig` describes.

Networks, the perceptual feature network, the data sampler, the validation
pairs, optimisers and LR schedulers, each from its config section.
"""
from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch
from torch import nn

from .config import DataConfig, ModelConfig, PerceptualConfig, StageConfig, TrainConfig
from ..errors import CheckpointError, ConfigError, DataError
from ..imageio import list_images, read_image
from ..losses import PerceptualLoss


def build_generator(cfg: ModelConfig) -> nn.Module:
    """The generator ``model.type`` names in :data:`~esrgan_lesson.models.tables.GENERATORS`.

    Input/output (N, 3, ...) in [0, 1]; the output is ``cfg.scale`` times larger.
    """
    from ..models.tables import GENERATORS, lookup

    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "type"}
    return lookup(GENERATORS, cfg.type, "model.type")(**fields)


def build_discriminator(cfg: TrainConfig) -> nn.Module:
    """The discriminator ``network_d.type`` names in :data:`~esrgan_lesson.models.tables.DISCRIMINATORS`.

    Input (N, 3, input_size, input_size) in [0, 1] (``input_size`` = ``train.hr_patch``), output (N, 1) logits.
    """
    from ..models.tables import DISCRIMINATORS, lookup

    fields = {k: v for k, v in dataclasses.asdict(cfg.network_d).items() if k != "type"}
    return lookup(DISCRIMINATORS, cfg.network_d.type, "network_d.type")(**fields)


def build_feature_network(cfg: PerceptualConfig) -> nn.Module | None:
    """The perceptual loss's feature network, or ``None`` when switched off.

    ``network``: ``none``; ``vgg19``/``vgg16`` (ImageNet weights from disk, or
    the file in ``weights``); ``minc`` (``weights`` = VGG16minc_53 file);
    ``package.module:factory`` (called with no arguments, must return an
    ``nn.Module``); or a path to a TorchScript file.
    """
    if cfg.weight == 0 or cfg.network == "none":
        return None
    from ..models import MINCNet, VGGFeatureExtractor

    if cfg.network in ("vgg19", "vgg16"):
        return VGGFeatureExtractor((cfg.layer,), arch=cfg.network, weights=cfg.weights or "imagenet")
    if cfg.network == "minc":
        if not cfg.weights:
            raise ConfigError("train.perceptual.weights: the minc network needs the VGG16minc_53 weight file")
        return MINCNet.from_file(cfg.weights)
    if ":" in cfg.network and not Path(cfg.network).exists():
        module_name, _, attr = cfg.network.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"train.perceptual.network: cannot import {cfg.network!r} ({exc})") from None
        net = factory()
        if not isinstance(net, nn.Module):
            raise ConfigError(f"train.perceptual.network: {cfg.network} did not return an nn.Module")
        return net
    path = Path(cfg.network)
    if not path.is_file():
        raise ConfigError(f"train.perceptual.network: {cfg.network!r} is not none/vgg19/vgg16/minc, "
                          "a module:factory, or an existing TorchScript file")
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise CheckpointError(f"{path}: not a TorchScript feature network ({exc})") from None


def build_perceptual(cfg: PerceptualConfig) -> PerceptualLoss | None:
    """:class:`PerceptualLoss` for ``cfg`` or ``None`` when its weight is 0."""
    net = build_feature_network(cfg)
    if net is None:
        return None
    return PerceptualLoss(layer=cfg.layer, criterion=cfg.criterion, feature_extractor=net)


def train_folders(cfg: TrainConfig) -> tuple[list[Path], Path | None, Path | None]:
    """(train HR folders, val HR folder, val LR folder), building the demo set if asked."""
    data, scale = cfg.data, cfg.model.scale
    if data.demo:
        from ..data import build_demo_set

        paths = build_demo_set(data.demo_root, scale)
        return [paths.train_hr], paths.val_hr, paths.val_lr
    val_hr = Path(data.val_hr) if data.val_hr else None
    return [Path(p) for p in data.train_hr], val_hr, Path(data.val_lr) if data.val_lr else None


def load_hr_images(folders: list[Path]) -> list[np.ndarray]:
    """Every image in ``folders`` as uint8 (H, W, 3) (a quarter of float32's memory)."""
    images = []
    for folder in folders:
        if not folder.is_dir():
            raise DataError(f"training folder not found: {folder}")
        for path in list_images(folder):
            images.append(np.round(read_image(path).rgb * 255.0).astype(np.uint8))
    if not images:
        raise DataError(f"no training images in {', '.join(map(str, folders))}")
    return images


class LoaderSampler:
    """``(lr, hr)`` batches from a DataLoader over the training folders, forever.

    The folders' :class:`PairedImageDataset` parts are read through
    :class:`~esrgan_lesson.data.epoch.EpochPairs`: epoch ``e`` visits the
    items in a permutation made from ``(seed, e)``, and each item's crop and
    flip come from ``(seed, e, index)``, so the batches do not depend on
    ``data.num_workers`` or on any worker's state. :meth:`state_dict` holds the
    epoch and the batches consumed in it; a resumed run skips exactly those.
    """

    def __init__(self, cfg: TrainConfig, folders: list[Path], device: torch.device, seed: int) -> None:
        from ..data import PairedImageDataset
        from ..data.epoch import EpochPairs

        t = cfg.train
        sets = [PairedImageDataset(f, cfg.data.train_lr, cfg.model.scale, t.hr_patch, cfg.data.augment,
                                   cfg.data.cache, seed=seed) for f in folders]
        self.dataset = EpochPairs(sets, seed)
        if len(self.dataset) < t.batch_size:
            raise DataError(f"train.batch_size={t.batch_size} is larger than the {len(self.dataset)} "
                            "training images (data.sampler=dataset drops incomplete batches)")
        self.device, self.seed, self.batch_size = device, seed, t.batch_size
        self.num_workers = cfg.data.num_workers
        self.epoch, self.batch = 0, 0
        self._it: Iterator | None = None

    def _loader(self) -> Any:
        from torch.utils.data import DataLoader

        from ..data import worker_init
        from ..data.epoch import EpochKeys

        keys = EpochKeys(len(self.dataset), self.seed, self.epoch, start=self.batch * self.batch_size)
        # The generator only seeds the workers' torch/NumPy/random; no draw here depends on them.
        return DataLoader(self.dataset, batch_size=self.batch_size, sampler=keys, drop_last=True,
                          num_workers=self.num_workers, worker_init_fn=worker_init,
                          generator=torch.Generator().manual_seed(self.seed + self.epoch),
                          pin_memory=self.device.type == "cuda")

    def __iter__(self) -> "LoaderSampler":
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        while True:
            if self._it is None:
                self._it = iter(self._loader())
            try:
                batch = next(self._it)
            except StopIteration:
                self._it, self.epoch, self.batch = None, self.epoch + 1, 0
                continue
            self.batch += 1
            return (batch["lr"].to(self.device, non_blocking=True),
                    batch["hr"].to(self.device, non_blocking=True))

    def state_dict(self) -> dict[str, Any]:
        """``{"epoch": e, "batch": b}``: the next batch is batch ``b`` of epoch ``e``."""
        return {"epoch": self.epoch, "batch": self.batch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch, self.batch, self._it = int(state["epoch"]), int(state.get("batch", 0)), None


def build_sampler(cfg: TrainConfig, device: torch.device, seed: int) -> Any:
    """The training batch source: an iterator of ``(lr, hr)`` with state_dict()/load_state_dict().

    ``data.sampler: device`` gives a :class:`~esrgan_lesson.data.DevicePatchSampler`
    seeded with ``seed``; ``dataset`` a :class:`LoaderSampler`. Both resume exactly.
    """
    folders, _, _ = train_folders(cfg)
    if cfg.data.sampler == "dataset":
        return LoaderSampler(cfg, folders, device, seed)
    from ..data import DevicePatchSampler

    sampler = DevicePatchSampler(load_hr_images(folders), scale=cfg.model.scale, hr_patch=cfg.train.hr_patch,
                                 batch_size=cfg.train.batch_size, device=device,
                                 generator=torch.Generator().manual_seed(seed), augment=cfg.data.augment)
    return _DeviceIter(sampler)


class _DeviceIter:
    """Adapts DevicePatchSampler to ``next()`` while keeping its state_dict API."""

    def __init__(self, sampler: Any) -> None:
        self.sampler = sampler

    def __iter__(self) -> "_DeviceIter":
        return self

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sampler.sample()

    def state_dict(self) -> dict[str, Any]:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sampler.load_state_dict(state)


def build_val_pairs(cfg: TrainConfig) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Validation ``(name, lr (3,h,w), hr (3,H,W))`` in [0, 1]; empty when no val folder."""
    _, val_hr, val_lr = train_folders(cfg)
    if val_hr is None:
        return []
    from .evaluation import load_val_pairs  # the one pair maker when there is no LR folder

    pairs = load_val_pairs(val_hr, val_lr, cfg.model.scale)
    return pairs if cfg.data.val_max_images <= 0 else pairs[:cfg.data.val_max_images]


def build_optimizer(params: Any, lr: float, t: StageConfig, capturable: bool = False) -> torch.optim.Adam:
    """Adam with the stage's betas (ESRGAN Sec. 4.1: 0.9, 0.999).

    On CUDA the fused kernel updates every parameter in a few launches (the
    paper generator has ~700 parameter tensors); elsewhere PyTorch's default
    implementation is kept, so CPU results do not change. ``capturable``
    keeps Adam's step counts on the device, as a CUDA graph needs.
    """
    params = list(params)
    fused = bool(params) and all(p.is_cuda and p.dtype.is_floating_point for p in params)
    extra = {"capturable": True} if capturable else {}
    return torch.optim.Adam(params, lr=lr, betas=(t.betas[0], t.betas[1]), fused=True if fused else None, **extra)


def build_scheduler(opt: torch.optim.Optimizer, t: StageConfig) -> torch.optim.lr_scheduler.LRScheduler:
    """StepLR every ``halving_period`` steps if > 0, else MultiStepLR at ``milestones``."""
    if t.halving_period > 0:
        return torch.optim.lr_scheduler.StepLR(opt, step_size=t.halving_period, gamma=t.gamma)
    return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(t.milestones), gamma=t.gamma)
