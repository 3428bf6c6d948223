"""DataLoader sampling for training: distinct worker crops, and draws keyed by (seed, epoch, index)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data as skdata
from torch.utils.data import ConcatDataset, DataLoader

from esrgan_lesson.data import PairedImageDataset, worker_init
from esrgan_lesson.data.epoch import EpochKeys, EpochPairs, epoch_order
from esrgan_lesson.imageio import write_image


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("pairs")
    for k, img in enumerate([skdata.astronaut(), skdata.coffee(), skdata.rocket()]):
        write_image(root / ("a" if k < 2 else "b") / f"{k}.png", img[::4, ::4][:72, :72].astype(np.float32) / 255.0)
    return [root / "a", root / "b"]


def _parts(folders: list[Path], seed: int = 0) -> list[PairedImageDataset]:
    return [PairedImageDataset(f, None, 4, 32, augment=True, cache=True, seed=seed) for f in folders]


def test_concat_dataset_workers_draw_different_crops(folders: list[Path]) -> None:
    # The same item four times, one per batch; batches alternate between the two workers.
    loader = DataLoader(ConcatDataset(_parts(folders)), batch_size=1, sampler=[0, 0, 0, 0], num_workers=2,
                        worker_init_fn=worker_init, generator=torch.Generator().manual_seed(0))
    hr = [b["hr"] for b in loader]
    assert not torch.equal(hr[0], hr[1])  # worker 0's first crop vs worker 1's first crop
    again = DataLoader(ConcatDataset(_parts(folders)), batch_size=1, sampler=[0, 0, 0, 0], num_workers=2,
                       worker_init_fn=worker_init, generator=torch.Generator().manual_seed(0))
    assert all(torch.equal(a, b["hr"]) for a, b in zip(hr, again))  # and reproducible


def test_epoch_keys_permute_and_skip() -> None:
    full = list(EpochKeys(10, seed=3, epoch=2))
    assert sorted(i for _, i in full) == list(range(10)) and all(e == 2 for e, _ in full)
    assert list(EpochKeys(10, seed=3, epoch=2, start=4)) == full[4:] and len(EpochKeys(10, 3, 2, 4)) == 6
    assert not np.array_equal(epoch_order(10, 3, 2), epoch_order(10, 3, 3))  # a new order each epoch
    assert not np.array_equal(epoch_order(10, 3, 2), epoch_order(10, 4, 2))  # and each seed (rank)


def test_epoch_pairs_items_depend_only_on_the_key(folders: list[Path]) -> None:
    pairs = EpochPairs(_parts(folders), seed=5)
    assert len(pairs) == 3
    a, b = pairs[(1, 2)], pairs[(1, 2)]
    assert torch.equal(a["hr"], b["hr"]) and a["name"] == "2"  # global index 2 is part b's first image
    assert not torch.equal(pairs[(1, 0)]["hr"], pairs[(2, 0)]["hr"])  # another epoch, another crop
    assert not torch.equal(pairs[(1, 0)]["hr"], EpochPairs(_parts(folders), seed=6)[(1, 0)]["hr"])
    with pytest.raises(IndexError):
        pairs[(0, 3)]
    # The same batches whether made in the main process or by two workers.
    keys = EpochKeys(len(pairs), 5, 0)
    main = [b["hr"] for b in DataLoader(pairs, batch_size=1, sampler=keys)]
    workers = [b["hr"] for b in DataLoader(pairs, batch_size=1, sampler=keys, num_workers=2,
                                           worker_init_fn=worker_init)]
    assert all(torch.equal(x, y) for x, y in zip(main, workers)) and len(main) == 3
