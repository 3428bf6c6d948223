"""Epoch-keyed DataLoader sampling: every draw follows from ``(seed, epoch, index)``.

A ``DataLoader`` over :class:`~esrgan_lesson.data.PairedImageDataset` with
``shuffle=True`` keeps random state in places a checkpoint cannot reach: the
order generator, and each worker's copy of the dataset's crop generator. A
resumed run then draws other crops than the uninterrupted one would.

Here nothing is stateful:

* :class:`EpochKeys` yields keys ``(epoch, index)`` in the order of a
  permutation made from ``(seed, epoch)``, starting at any position, so a run
  resumed after ``b`` batches of an epoch skips exactly those ``b`` batches.
* :class:`EpochPairs` maps a key to an item whose crop and flip are drawn from
  a generator seeded with ``(seed, epoch, index)``, whichever worker (or the
  main process) makes it, so 0 or 2 workers give the same batches.
"""
from __future__ import annotations

from bisect import bisect_right
from typing import Iterator, Sequence

import numpy as np
from torch.utils.data import Dataset, Sampler

from ..errors import DataError
from .paired import PairedImageDataset

# Distinct first words keep the order and crop streams apart (SeedSequence([a, b]) == SeedSequence([a, b, 0])).
_ORDER, _CROP = 0x0D0E, 0xC40B
_MASK = 2**64 - 1


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The permutation of ``range(n)`` used in ``epoch`` (int64, length ``n``)."""
    return np.random.default_rng([_ORDER, seed & _MASK, epoch]).permutation(n)


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator that draws item ``index``'s crop and flip in ``epoch``."""
    return np.random.default_rng([_CROP, seed & _MASK, epoch, index])


class EpochPairs(Dataset):
    """Several :class:`PairedImageDataset` as one, indexed by ``(epoch, index)`` keys.

    Args:
        parts: the datasets, concatenated in order (``index`` runs over all).
        seed: the seed every draw derives from (the engine passes ``seed + rank``).

    ``pairs[(epoch, i)]`` is ``parts[k].item(j, sample_rng(seed, epoch, i))``
    for the part ``k`` and local index ``j`` that global index ``i`` falls in.
    """

    def __init__(self, parts: Sequence[PairedImageDataset], seed: int) -> None:
        if not parts:
            raise DataError("EpochPairs needs at least one dataset")
        self.parts = list(parts)
        self.seed = int(seed)
        self.ends = np.cumsum([len(p) for p in self.parts]).tolist()

    def __len__(self) -> int:
        return self.ends[-1]

    def __getitem__(self, key: tuple[int, int]) -> dict:
        epoch, index = (int(k) for k in key)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} pairs")
        k = bisect_right(self.ends, index)
        local = index - (self.ends[k - 1] if k else 0)
        return self.parts[k].item(local, sample_rng(self.seed, epoch, index))


class EpochKeys(Sampler):
    """The keys ``(epoch, index)`` of one epoch, in its shuffled order, from position ``start``.

    Args:
        n: number of items.
        seed: order seed (the same as :class:`EpochPairs`'s).
        epoch: which epoch's permutation.
        start: how many keys of that epoch to skip (batches consumed x batch size).
    """

    def __init__(self, n: int, seed: int, epoch: int, start: int = 0) -> None:
        self.n, self.seed, self.epoch, self.start = int(n), int(seed), int(epoch), int(start)

    def __len__(self) -> int:
        return max(self.n - self.start, 0)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for i in epoch_order(self.n, self.seed, self.epoch)[self.start:].tolist():
            yield self.epoch, i
