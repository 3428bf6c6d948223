"""The course's shipped lesson generators.

Two small RRDBNets trained with the package's own lesson configs ship inside
the package, so that chapters which need a trained PSNR-oriented model and a
GAN model (interpolation, RaGAN, evaluation) run in seconds instead of
re-training for minutes:

- ``assets/lesson_psnr_x4.safetensors``: ``esrgan-lesson train --config lesson-psnr``
- ``assets/lesson_gan_x4.safetensors``:  ``esrgan-lesson train --config lesson-gan``
  (fine-tuned from the PSNR model above)

``tests/test_lesson_assets.py`` checks that the shipped files have the lesson
architecture and the qualities the chapters rely on. ``$ESRGAN_LESSON_ASSETS``
points the lookup at another folder (e.g. your own re-trained models).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .errors import ESRGANError

#: Folder of the shipped lesson files inside the package.
ASSETS_DIR = Path(__file__).parent / "assets"
#: Stage name -> (file name, the config that trains it).
LESSON_FILES = {
    "psnr": ("lesson_psnr_x4.safetensors", "lesson-psnr"),
    "gan": ("lesson_gan_x4.safetensors", "lesson-gan"),
}


def lesson_weights(stage: str) -> Path:
    """Path of the lesson ``"psnr"`` or ``"gan"`` generator file.

    Looks in ``$ESRGAN_LESSON_ASSETS`` when set, else in the package's assets.
    Raises :class:`ESRGANError` with the command that makes a missing file.
    """
    if stage not in LESSON_FILES:
        raise ESRGANError(f"lesson stage must be one of {sorted(LESSON_FILES)}, got {stage!r}")
    name, config = LESSON_FILES[stage]
    folder = Path(os.environ.get("ESRGAN_LESSON_ASSETS") or ASSETS_DIR)
    path = folder / name
    if not path.is_file():
        raise ESRGANError(
            f"{path} is missing; train it with `esrgan-lesson train --config {config}` "
            f"and copy runs/{config}/generator.safetensors there"
        )
    return path


def load_lesson_generator(stage: str, device: str | torch.device = "cpu") -> torch.nn.Module:
    """The lesson ``"psnr"`` or ``"gan"`` RRDBNet, in eval mode on ``device``.

    Input (N, 3, h, w) in [0, 1]; output (N, 3, 4h, 4w).
    """
    from .weights import load_generator

    return load_generator(lesson_weights(stage), device=device)
