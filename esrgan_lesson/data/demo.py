"""A small offline demo set made of scikit-image's bundled pictures.

The course trains and evaluates on images every installation already has, so
nothing needs a download. :data:`TRAIN_NAMES` and :data:`VAL_NAMES` are a
fixed split; the validation split holds out two real photos (``chelsea``, a
colour photo of a cat, and ``camera``, a grey photo of a cameraman) and one
texture (``gravel``), so a lesson can report results on unseen photos and
textures alike. Grey pictures are replicated to three channels. ``retina``
(mostly black) and binary/synthetic pictures (``horse``, ``chessboard``) are
left out.

On disk (:func:`build_demo_set`)::

    root/train/HR/<name>.png        mod-cropped so H, W divide by scale
    root/val/HR/<name>.png
    root/val/LR_bicubic/X<scale>/<name>.png   MATLAB-bicubic downscale of HR
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import skimage.data as skdata

from ..errors import DataError
from ..imageio import read_image, write_image
from .pairs import downscale_lr, mod_crop


def _motorcycle() -> np.ndarray:
    return skdata.stereo_motorcycle()[0]


#: Loader per demo picture (each returns uint8 (H, W) or (H, W, 3)).
_LOADERS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": skdata.astronaut,
    "coffee": skdata.coffee,
    "rocket": skdata.rocket,
    "hubble_deep_field": skdata.hubble_deep_field,
    "immunohistochemistry": skdata.immunohistochemistry,
    "motorcycle": _motorcycle,
    "coins": skdata.coins,
    "moon": skdata.moon,
    "text": skdata.text,
    "brick": skdata.brick,
    "grass": skdata.grass,
    "chelsea": skdata.chelsea,
    "camera": skdata.camera,
    "gravel": skdata.gravel,
}
#: Held-out pictures: two photos (colour, grey) and one texture.
VAL_NAMES: tuple[str, ...] = ("chelsea", "camera", "gravel")
#: Training pictures: photos, a microscope slide, a telescope field, textures.
TRAIN_NAMES: tuple[str, ...] = tuple(n for n in _LOADERS if n not in VAL_NAMES)


def demo_images(names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The demo pictures as (H, W, 3) float32 arrays in [0, 1], keyed by name.

    Args:
        names: a subset of :data:`TRAIN_NAMES` + :data:`VAL_NAMES`; all by default.
    """
    names = tuple(_LOADERS) if names is None else names
    out: dict[str, np.ndarray] = {}
    for name in names:
        if name not in _LOADERS:
            raise DataError(f"unknown demo image {name!r}; choose from {', '.join(_LOADERS)}")
        arr = _LOADERS[name]()
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        out[name] = np.ascontiguousarray(arr[:, :, :3].astype(np.float32) / 255.0)
    return out


@dataclass(frozen=True)
class DemoSet:
    """Folders of a built demo set."""

    train_hr: Path
    val_hr: Path
    val_lr: Path


def demo_paths(root: str | Path, scale: int = 4) -> DemoSet:
    """Where :func:`build_demo_set` puts (or put) the demo set under ``root``."""
    root = Path(root)
    return DemoSet(root / "train" / "HR", root / "val" / "HR", root / "val" / "LR_bicubic" / f"X{scale}")


def build_demo_set(root: str | Path = "data/demo", scale: int = 4) -> DemoSet:
    """Write the demo set as 8-bit PNGs under ``root`` (see the module docstring).

    HR images are mod-cropped to ``scale``; validation LR images are the
    MATLAB-bicubic downscale (:func:`~esrgan_lesson.data.pairs.downscale_lr`) of the
    8-bit HR PNG, rounded to 8 bits. Files that already exist are kept, and
    every write is atomic, so an interrupted build can simply be rerun.
    """
    if int(scale) != scale or scale < 1:
        raise DataError(f"scale must be a positive integer, got {scale}")
    scale = int(scale)
    paths = demo_paths(root, scale)
    for split, names in (("train", TRAIN_NAMES), ("val", VAL_NAMES)):
        hr_dir = paths.train_hr if split == "train" else paths.val_hr
        for name in names:
            hr_path = hr_dir / f"{name}.png"
            lr_path = paths.val_lr / f"{name}.png"
            need_lr = split == "val" and not lr_path.exists()
            if hr_path.exists() and not need_lr:
                continue
            if hr_path.exists():
                hr = read_image(hr_path).rgb
            else:
                hr = mod_crop(demo_images((name,))[name], scale)
                hr = np.round(hr * 255.0) / 255.0  # exactly what the PNG will hold
                write_image(hr_path, hr)
            if need_lr:
                write_image(lr_path, downscale_lr(hr, scale))
    return paths
