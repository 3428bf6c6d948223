"""Offline data preparation: sub-image cropping and MATLAB-bicubic LR folders.

* :func:`extract_subimages` cuts each HR image into ``crop`` x ``crop`` tiles
  every ``step`` pixels (BasicSR's DIV2K recipe: 480 / 240), always including
  the tile aligned to the right/bottom border so no strip is lost; tiles are
  written as ``<stem>_s001.png``... in a process pool; images whose tiles all
  exist are skipped.
* :func:`make_lr` writes ``LR_bicubic/X<s>/<stem>x<s>.png`` (DIV2K naming) for
  each scale, from HR mod-cropped to the scale. The HR files are not
  rewritten: loaders crop HR to LR x scale (see ``data.benchmark``).
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..imageio import list_images, read_image, write_image
from esrgan_lesson.data.imresize import imresize
from ..paper import SUBIMAGE_CROP, SUBIMAGE_STEP
from .pairs import mod_crop


def crop_starts(length: int, crop: int, step: int) -> list[int]:
    """Start offsets ``0, step, 2*step, ...`` plus the border-aligned ``length - crop``."""
    if crop < 1 or step < 1:
        raise DataError(f"crop and step must be positive, got {crop} and {step}")
    if length < crop:
        return [0]
    starts = list(range(0, length - crop + 1, step))
    if starts[-1] != length - crop:
        starts.append(length - crop)
    return starts


def _tile_names(path: Path, h: int, w: int, crop: int, step: int) -> list[tuple[str, int, int]]:
    names: list[tuple[str, int, int]] = []
    for y in crop_starts(h, crop, step):
        for x in crop_starts(w, crop, step):
            names.append((f"{path.stem}_s{len(names) + 1:03d}.png", y, x))
    return names


def _crop_one(job: tuple[Path, Path, int, int]) -> int:
    path, out_dir, crop, step = job
    img = read_image(path)
    h, w = img.size
    written = 0
    for name, y, x in _tile_names(path, h, w, crop, step):
        target = out_dir / name
        if not target.exists():
            write_image(target, img.rgb[y:y + crop, x:x + crop], bit_depth=img.bit_depth)
            written += 1
    return written


def extract_subimages(in_dir: str | Path, out_dir: str | Path, crop: int = SUBIMAGE_CROP, step: int = SUBIMAGE_STEP,
                      workers: int = 1) -> int:
    """Crop every image of ``in_dir`` into tiles in ``out_dir``; returns the number of tiles written."""
    files = list_images(in_dir)
    if not files:
        raise DataError(f"no images in {in_dir}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(p, out, crop, step) for p in files]
    if workers <= 1:
        return sum(map(_crop_one, jobs))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(_crop_one, jobs))


def make_lr(hr_dir: str | Path, out_root: str | Path, scales: tuple[int, ...] = (2, 3, 4)) -> int:
    """Write ``out_root/X<s>/<stem>x<s>.png`` (MATLAB bicubic of HR mod-cropped to ``s``); skip existing.

    Returns the number of files written.
    """
    files = list_images(hr_dir)
    if not files:
        raise DataError(f"no images in {hr_dir}")
    written = 0
    for path in files:
        todo = [s for s in scales if not (Path(out_root) / f"X{s}" / f"{path.stem}x{s}.png").exists()]
        if not todo:
            continue
        img = read_image(path)
        for s in todo:
            hr = mod_crop(img.rgb, s).astype(np.float64)
            write_image(Path(out_root) / f"X{s}" / f"{path.stem}x{s}.png", imresize(hr, scale=1.0 / s),
                        bit_depth=img.bit_depth)
            written += 1
    return written
