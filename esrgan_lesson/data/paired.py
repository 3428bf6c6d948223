"""``PairedImageDataset``: (LR, HR) training pairs from image folders.

Layouts understood:

* ``hr_dir`` and ``lr_dir``: files are matched by sorted name stems; an LR
  stem may carry DIV2K's ``x<scale>`` suffix (``0001.png`` <-> ``0001x4.png``).
* ``hr_dir`` only: the LR image is made on the fly with MATLAB bicubic
  (:func:`~esrgan_lesson.data.imresize.imresize`) after mod-cropping the HR
  image, in float32 and not rounded (training data; evaluation pairs come from
  :mod:`esrgan_lesson.data.pairs`, rounded to 8 bits).

Each item is ``dict(lr=(3, h, w) float32 [0, 1], hr=(3, h*scale, w*scale)
float32 [0, 1], name=str)``. With ``hr_patch`` set, a random aligned crop
(HR patch ``hr_patch``, LR patch ``hr_patch // scale``) is taken; with
``augment`` the pair is flipped/rotated (ESRGAN Sec. 4.1).

Two ways to draw the crop and the flip:

* ``ds[i]``: from the dataset's own numpy generator (``seed``); pass
  :func:`worker_init` as a DataLoader ``worker_init_fn`` so each worker (also
  inside a ``ConcatDataset``) draws different crops.
* ``ds.item(i, rng)`` with a generator of your own; the training engine's
  :class:`~esrgan_lesson.data.epoch.EpochPairs` passes one derived from
  ``(seed, epoch, index)``, so no worker-side state matters (exact resume).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from ..errors import DataError
from ..imageio import list_images, read_image
from .augment import NUM_AUGMENTS, augment_numpy
from .imresize import imresize
from .pairs import mod_crop


def _folder_images(folder: Path, what: str) -> list[Path]:
    if not folder.exists():
        raise DataError(f"{what} folder does not exist: {folder}")
    if not folder.is_dir():
        raise DataError(f"{what} path is not a folder: {folder}")
    files = list_images(folder)
    if not files:
        raise DataError(f"{what} folder has no images: {folder}")
    return files


def _lr_key(stem: str, scale: int) -> str:
    """Strip DIV2K's ``x4`` suffix (``0001x4`` -> ``0001``)."""
    return re.sub(rf"[xX]{scale}$", "", stem)


def pair_files(hr_dir: str | Path, lr_dir: str | Path, scale: int) -> list[tuple[Path, Path]]:
    """Match HR and LR files by stem (LR may be ``<stem>x<scale>``); sorted by HR name."""
    hr_files = _folder_images(Path(hr_dir), "HR")
    lr_files = _folder_images(Path(lr_dir), "LR")
    lr_by_key = {_lr_key(p.stem, scale): p for p in lr_files}
    pairs, missing = [], []
    for hp in hr_files:
        lp = lr_by_key.get(hp.stem)
        if lp is None:
            missing.append(hp.name)
        else:
            pairs.append((hp, lp))
    if missing:
        more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
        raise DataError(f"no LR image in {lr_dir} for HR {', '.join(missing[:3])}{more}")
    return pairs


class PairedImageDataset(Dataset):
    """(LR, HR) pairs from folders; see the module docstring.

    Args:
        hr_dir: folder of HR images.
        lr_dir: folder of LR images, or ``None`` to make LR by MATLAB bicubic.
        scale: integer upscaling factor.
        hr_patch: HR crop size (a multiple of ``scale``), or ``None`` for full images.
        augment: random flips and 90-degree rotations.
        cache: keep decoded images in memory after the first read.
        seed: seed of this dataset's random generator (per worker it is offset
            by the worker id, see :meth:`reseed`).
    """

    def __init__(self, hr_dir: str | Path, lr_dir: str | Path | None = None, scale: int = 4,
                 hr_patch: int | None = 128, augment: bool = True, cache: bool = False, seed: int = 0) -> None:
        if int(scale) != scale or scale < 1:
            raise DataError(f"scale must be a positive integer, got {scale}")
        self.scale = int(scale)
        if hr_patch is not None and (hr_patch < self.scale or hr_patch % self.scale):
            raise DataError(f"hr_patch={hr_patch} must be a positive multiple of scale={self.scale}")
        self.hr_patch = hr_patch
        self.augment = augment
        self.cache = cache
        if lr_dir is None:
            self.pairs: list[tuple[Path, Path | None]] = [(p, None) for p in _folder_images(Path(hr_dir), "HR")]
        else:
            self.pairs = list(pair_files(hr_dir, lr_dir, self.scale))
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.rng = np.random.default_rng(seed)
        self._seed = seed

    def reseed(self, seed: int) -> None:
        """Restart the random generator (used per DataLoader worker)."""
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.pairs)

    def _load(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if i in self._cache:
            return self._cache[i]
        hp, lp = self.pairs[i]
        hr = read_image(hp).rgb
        if lp is None:
            hr = mod_crop(hr, self.scale)
            # training LR made on the fly: float32 and not rounded (the training reference digests
            # depend on it); evaluation pairs come from data.pairs.make_pair, rounded to 8 bits
            lr = imresize(hr, scale=1.0 / self.scale).clip(0.0, 1.0).astype(np.float32)
        else:
            lr = read_image(lp).rgb
            lh, lw = lr.shape[:2]
            if hr.shape[:2] != (lh * self.scale, lw * self.scale):
                raise DataError(f"size mismatch: HR {hp.name} is {hr.shape[0]}x{hr.shape[1]} but LR {lp.name} "
                                f"is {lh}x{lw} (x{self.scale} = {lh * self.scale}x{lw * self.scale})")
        if self.hr_patch is not None and min(hr.shape[:2]) < self.hr_patch:
            raise DataError(f"{hp.name} is {hr.shape[0]}x{hr.shape[1]}, smaller than hr_patch={self.hr_patch}")
        if self.cache:
            self._cache[i] = (hr, lr)
        return hr, lr

    def __getitem__(self, i: int) -> dict:
        return self.item(i, self.rng)

    def item(self, i: int, rng: np.random.Generator) -> dict:
        """Pair ``i`` with its crop and flip drawn from ``rng`` (see the module docstring)."""
        hr, lr = self._load(i)
        if self.hr_patch is not None:
            lp = self.hr_patch // self.scale
            y = int(rng.integers(0, lr.shape[0] - lp + 1))
            x = int(rng.integers(0, lr.shape[1] - lp + 1))
            lr = lr[y:y + lp, x:x + lp]
            s = self.scale
            hr = hr[y * s:(y + lp) * s, x * s:(x + lp) * s]
        if self.augment:
            code = int(rng.integers(0, NUM_AUGMENTS))
            lr, hr = augment_numpy(lr, code), augment_numpy(hr, code)
        to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))  # noqa: E731
        return {"lr": to_t(lr), "hr": to_t(hr), "name": self.pairs[i][0].stem}


def _paired_datasets(dataset: Dataset) -> list[PairedImageDataset]:
    """Every :class:`PairedImageDataset` in ``dataset`` (itself, or inside ConcatDataset/Subset, nested)."""
    if isinstance(dataset, PairedImageDataset):
        return [dataset]
    found: list[PairedImageDataset] = []
    for child in getattr(dataset, "datasets", None) or [getattr(dataset, "dataset", None)]:
        if isinstance(child, Dataset):
            found += _paired_datasets(child)
    return found


def worker_init(worker_id: int) -> None:
    """``DataLoader(worker_init_fn=worker_init)``: distinct, reproducible crops per worker.

    Reseeds every :class:`PairedImageDataset` the worker's dataset holds (also
    the parts of a ``ConcatDataset``) from the worker's seed and the part's
    position, so no two workers, and no two parts, share a random stream.
    """
    info = get_worker_info()
    if info is None:
        return
    for k, ds in enumerate(_paired_datasets(info.dataset)):
        ds.reseed(int(np.random.SeedSequence([int(info.seed) % 2**64, k]).generate_state(1, np.uint64)[0]))
