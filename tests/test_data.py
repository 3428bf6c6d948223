"""Demo set, PairedImageDataset and DevicePatchSampler."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data as skdata
import torch
from torch.utils.data import DataLoader

from esrgan_lesson.data import (TRAIN_NAMES, VAL_NAMES, DevicePatchSampler, PairedImageDataset, augment_numpy,
                                augment_torch, build_demo_set, demo_images)
from esrgan_lesson.errors import DataError
from esrgan_lesson.imageio import read_image, write_image
from esrgan_lesson.data.imresize import imresize


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    build_demo_set(root, scale=4)
    return root


def test_demo_images_and_split() -> None:
    imgs = demo_images(("chelsea", "gravel"))
    assert set(imgs) == {"chelsea", "gravel"}
    for img in imgs.values():
        assert img.dtype == np.float32 and img.ndim == 3 and img.shape[2] == 3
        assert 0.0 <= img.min() and img.max() <= 1.0
    assert np.array_equal(imgs["gravel"][..., 0], imgs["gravel"][..., 2])  # grey replicated
    assert not set(TRAIN_NAMES) & set(VAL_NAMES) and len(VAL_NAMES) >= 2
    with pytest.raises(DataError, match="unknown demo image"):
        demo_images(("lena",))


def test_build_demo_set_layout_and_lr(demo_root: Path) -> None:
    paths = build_demo_set(demo_root, scale=4)  # second call: everything present
    assert sorted(p.stem for p in paths.train_hr.iterdir()) == sorted(TRAIN_NAMES)
    for name in VAL_NAMES:
        hr = read_image(paths.val_hr / f"{name}.png").rgb
        lr = read_image(paths.val_lr / f"{name}.png").rgb
        assert hr.shape[0] % 4 == 0 and hr.shape[1] % 4 == 0
        expect = np.clip(np.round(imresize(hr.astype(np.float64), scale=0.25) * 255), 0, 255) / 255
        assert np.abs(lr - expect).max() < 1e-6
    assert not list(demo_root.rglob("*.part"))


def test_build_demo_set_skips_existing_files(demo_root: Path) -> None:
    marker = demo_root / "train" / "HR" / "brick.png"
    before = marker.stat().st_mtime_ns
    lr = demo_root / "val" / "LR_bicubic" / "X4" / "gravel.png"
    lr.unlink()
    build_demo_set(demo_root, scale=4)
    assert marker.stat().st_mtime_ns == before and lr.exists()


def _write_pair_folders(tmp: Path, lr_name: str = "{stem}x2.png") -> tuple[Path, Path]:
    hr_dir, lr_dir = tmp / "HR", tmp / "LR"
    img = skdata.coffee()[:64, :96].astype(np.float32) / 255
    for k in range(3):
        hr = np.roll(img, 7 * k, axis=1)
        write_image(hr_dir / f"000{k}.png", hr)
        write_image(lr_dir / lr_name.format(stem=f"000{k}"), imresize(hr, scale=0.5).clip(0, 1))
    return hr_dir, lr_dir


def test_paired_dataset_div2k_names_aligned_crops(tmp_path: Path) -> None:
    hr_dir, lr_dir = _write_pair_folders(tmp_path)
    full = PairedImageDataset(hr_dir, lr_dir, scale=2, hr_patch=None, augment=False)
    ds = PairedImageDataset(hr_dir, lr_dir, scale=2, hr_patch=32, augment=True, cache=True, seed=5)
    assert len(ds) == 3
    for i in range(3):
        item = ds[i]
        assert item["lr"].shape == (3, 16, 16) and item["hr"].shape == (3, 32, 32) and item["name"] == f"000{i}"
        # The HR patch is some flip/rotation of a crop of the full HR at an even offset,
        # and the LR patch the same crop/augmentation of the full LR.
        whole = full[i]
        found = False
        for code in range(8):
            hr_c = torch.from_numpy(augment_numpy(item["hr"].numpy().transpose(1, 2, 0), code).copy())
            lr_c = torch.from_numpy(augment_numpy(item["lr"].numpy().transpose(1, 2, 0), code).copy())
            for y in range(0, 64 - 31, 2):
                for x in range(0, 96 - 31, 2):
                    if torch.equal(whole["hr"][:, y:y + 32, x:x + 32].permute(1, 2, 0), hr_c):
                        found = torch.equal(whole["lr"][:, y // 2:y // 2 + 16, x // 2:x // 2 + 16].permute(1, 2, 0), lr_c)
                        break
                if found:
                    break
            if found:
                break
        assert found
    assert len(ds._cache) == 3


def test_paired_dataset_hr_only_and_loader(tmp_path: Path) -> None:
    hr_dir, _ = _write_pair_folders(tmp_path)
    ds = PairedImageDataset(hr_dir, None, scale=4, hr_patch=None, augment=False)
    item = ds[0]
    hr = read_image(hr_dir / "0000.png").rgb
    assert torch.allclose(item["lr"], torch.from_numpy(imresize(hr, scale=0.25).clip(0, 1)).permute(2, 0, 1))
    loader = DataLoader(PairedImageDataset(hr_dir, None, scale=4, hr_patch=32), batch_size=3)
    batch = next(iter(loader))
    assert batch["lr"].shape == (3, 3, 8, 8) and batch["hr"].shape == (3, 3, 32, 32)


def test_paired_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        PairedImageDataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        PairedImageDataset(tmp_path / "empty")
    hr_dir, lr_dir = _write_pair_folders(tmp_path / "a", lr_name="{stem}.png")
    with pytest.raises(DataError, match="size mismatch"):
        PairedImageDataset(hr_dir, lr_dir, scale=4, hr_patch=None)[0]
    with pytest.raises(DataError, match="smaller than hr_patch"):
        PairedImageDataset(hr_dir, lr_dir, scale=2, hr_patch=128)[0]
    hr2, lr2 = _write_pair_folders(tmp_path / "b", lr_name="other{stem}.png")
    with pytest.raises(DataError, match="no LR image"):
        PairedImageDataset(hr2, lr2, scale=2)


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    return [skdata.astronaut()[:200, :180], (skdata.coffee()[:150, :170].astype(np.float32) / 255)]


def test_sampler_lr_equals_full_image_downscale(photos) -> None:
    s = DevicePatchSampler(photos, scale=4, hr_patch=32, batch_size=64, augment=False, quantize_lr=False, seed=1)
    lr, hr = s.sample()
    assert lr.shape == (64, 3, 8, 8) and hr.shape == (64, 3, 32, 32) and lr.dtype == torch.float32
    fulls = [torch.from_numpy(p).permute(2, 0, 1).float() for p in photos]
    fulls = [f / 255 if p.dtype == np.uint8 else f for f, p in zip(fulls, photos)]
    lows = [imresize(f[:, : f.shape[1] // 4 * 4, : f.shape[2] // 4 * 4], scale=0.25) for f in fulls]
    for b in range(64):
        k, (y, x) = next((k, pos) for k, f in enumerate(fulls) if (pos := _locate(f, hr[b])) is not None)
        assert torch.allclose(lr[b], lows[k][:, y // 4:y // 4 + 8, x // 4:x // 4 + 8], atol=1e-5)


def _find(full: torch.Tensor, patch: torch.Tensor, y: int):
    for x in range(0, full.shape[2] - patch.shape[2] + 1, 4):
        if torch.equal(full[:, y:y + patch.shape[1], x:x + patch.shape[2]], patch):
            return x
    return None


def _locate(full: torch.Tensor, patch: torch.Tensor) -> tuple[int, int] | None:
    for y in range(0, full.shape[1] - patch.shape[1] + 1, 4):
        x = _find(full, patch, y)
        if x is not None:
            return y, x
    return None


def test_sampler_augmentation_keeps_pairs_aligned(photos) -> None:
    s = DevicePatchSampler(photos, scale=4, hr_patch=32, batch_size=32, augment=True, quantize_lr=False, seed=2)
    lr, hr = s.sample()
    # degrading the augmented HR patch alone agrees with the LR away from the patch border
    again = imresize(hr, scale=0.25)
    assert torch.allclose(lr[..., 2:-2, 2:-2], again[..., 2:-2, 2:-2], atol=1e-5)
    q = DevicePatchSampler(photos, scale=4, hr_patch=32, batch_size=4, seed=2)
    lq, _ = q.sample()
    assert torch.equal(lq, torch.round(lq * 255) / 255) and lq.min() >= 0 and lq.max() <= 1


def test_sampler_seed_and_resume(photos) -> None:
    a = DevicePatchSampler(photos, scale=4, hr_patch=32, batch_size=4, seed=7)
    b = DevicePatchSampler(photos, scale=4, hr_patch=32, batch_size=4, seed=7)
    c = DevicePatchSampler(photos, scale=4, hr_patch=32, batch_size=4, seed=8)
    first = a.sample()
    assert all(torch.equal(u, v) for u, v in zip(first, b.sample()))
    assert not torch.equal(first[1], c.sample()[1])
    state = a.state_dict()
    nxt = a.sample()
    b.load_state_dict(state)
    assert all(torch.equal(u, v) for u, v in zip(nxt, next(iter(b))))


def test_sampler_errors(photos) -> None:
    with pytest.raises(DataError, match="smaller than hr_patch"):
        DevicePatchSampler(photos, scale=4, hr_patch=256)
    with pytest.raises(DataError, match="multiple of scale"):
        DevicePatchSampler(photos, scale=4, hr_patch=30)
    with pytest.raises(DataError, match="at least one"):
        DevicePatchSampler([], scale=4)
    with pytest.raises(DataError, match=r"\(H, W, 3\)"):
        DevicePatchSampler([np.zeros((64, 64))], scale=4, hr_patch=32)


def test_augment_numpy_and_torch_agree() -> None:
    a = np.arange(2 * 3 * 3, dtype=np.float32).reshape(2, 3, 3)
    seen = set()
    for code in range(8):
        n = augment_numpy(a, code)
        t = augment_torch(torch.from_numpy(a).permute(2, 0, 1), code).permute(1, 2, 0).numpy()
        assert np.array_equal(n, t)
        seen.add(n.tobytes() + bytes(n.shape))
    assert len(seen) == 8  # eight distinct symmetries
