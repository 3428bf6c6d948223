"""Evaluation of trained generators: PSNR/SSIM against bicubic, and sharpness.

Every output is scored by the one score function,
:func:`esrgan_lesson.metrics.score_image` (8-bit output, Y channel, crop =
scale); a validation pair keeps the :class:`~esrgan_lesson.metrics.ImageScores`
of the model's output and of MATLAB bicubic of the same LR
(:class:`PairScores`). The sharpness figures
(:func:`~esrgan_lesson.metrics.gradient_energy`,
:func:`~esrgan_lesson.metrics.high_frequency_energy`) are defined in
:mod:`esrgan_lesson.metrics.sharpness` and re-exported here for the chapters
that import them from the training package.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import torch
from torch import nn

from esrgan_lesson.data.imresize import imresize
from ..errors import DataError
from ..metrics import HF_CUTOFF, ImageScores, gradient_energy, high_frequency_energy, score_image

__all__ = ["EvalReport", "HF_CUTOFF", "ImageScores", "PairScores", "compare_generators", "evaluate_generator",
           "gradient_energy", "high_frequency_energy", "load_val_pairs", "main"]


@dataclass(frozen=True)
class PairScores:
    """One validation pair: :func:`~esrgan_lesson.metrics.score_image` of the model's output and of bicubic.

    ``model`` scores the generator's output, ``bicubic`` MATLAB bicubic
    upscaling of the same LR (both rounded to 8 bits, Y, crop = scale).
    """

    model: ImageScores
    bicubic: ImageScores

    @property
    def gain_db(self) -> float:
        """The model's Y-PSNR minus bicubic's on the same pair, in dB."""
        return self.model.psnr - self.bicubic.psnr


@dataclass
class EvalReport:
    """Per-pair scores and their means."""

    images: list[PairScores] = field(default_factory=list)

    def mean(self, key: str) -> float:
        """Mean over the pairs of an :class:`~esrgan_lesson.metrics.ImageScores` field of the model's
        outputs, or with ``key="psnr_bicubic"`` of bicubic's Y-PSNR (dB); 0 without pairs."""
        values = [s.bicubic.psnr if key == "psnr_bicubic" else getattr(s.model, key) for s in self.images]
        return sum(values) / max(1, len(values))

    def summary(self) -> dict[str, float]:
        keys = ("psnr", "ssim", "psnr_bicubic", "gradient_energy", "hf_energy")
        out = {k: self.mean(k) for k in keys}
        out["gain_db"] = out["psnr"] - out["psnr_bicubic"]
        return out


def evaluate_generator(model: nn.Module, pairs: Iterable[tuple[str, torch.Tensor, torch.Tensor]], scale: int,
                       device: torch.device | str = "cpu", save_dir: str | Path | None = None) -> EvalReport:
    """Score ``model`` on ``(name, lr, hr)`` pairs (LR (3, h, w), HR (3, h*s, w*s), [0, 1]).

    Each output and MATLAB bicubic upscaling of the same LR are scored by
    :func:`esrgan_lesson.metrics.score_image` (rounded to 8 bits, Y channel,
    ``scale`` border pixels cropped, as SR papers report them).
    ``save_dir``: write each SR output there as ``<name>.png``.
    """
    from ..imageio import write_image
    from ..inference import upscale

    report = EvalReport()
    for name, lr, hr in pairs:
        sr = upscale(model, lr.float().cpu(), device=device)
        hr = hr.float().cpu()
        bic = imresize(lr.float().cpu(), scale=float(scale)).clamp(0, 1)
        report.images.append(PairScores(model=score_image(sr, hr, scale, name),
                                        bicubic=score_image(bic, hr, scale, name)))
        if save_dir is not None:
            write_image(Path(save_dir) / f"{name}.png", sr.permute(1, 2, 0).numpy())
    return report


def load_val_pairs(hr_dir: str | Path, lr_dir: str | Path | None, scale: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """``(name, lr, hr)`` validation pairs from folders, float32 (3, h, w) / (3, h*s, w*s) in [0, 1].

    With ``lr_dir``, the stored LR files (sizes checked); without, the one pair
    maker :func:`esrgan_lesson.data.make_pairs` (HR mod-cropped, LR MATLAB
    bicubic rounded to 8 bits, as the stored files are).
    """
    from ..data import PairedImageDataset, make_pairs
    from ..imageio import list_images, read_image

    if lr_dir is None:
        files = list_images(hr_dir)
        if not files:
            raise DataError(f"no images in {hr_dir}")
        return make_pairs({p.stem: read_image(p).rgb for p in files}, scale)
    ds = PairedImageDataset(hr_dir, lr_dir, scale, hr_patch=None, augment=False)
    return [(it["name"], it["lr"].float(), it["hr"].float()) for it in (ds[i] for i in range(len(ds)))]


def compare_generators(files: dict[str, str | Path], pairs: list[tuple[str, torch.Tensor, torch.Tensor]],
                       scale: int, device: torch.device | str = "cpu") -> dict[str, dict[str, float]]:
    """Mean scores (:meth:`EvalReport.summary`) of each generator file on the same pairs.

    >>> compare_generators({"psnr": "runs/lesson-psnr/generator.safetensors",
    ...                     "gan": "runs/lesson-gan/generator.safetensors"},
    ...                    load_val_pairs("data/demo/val/HR", "data/demo/val/LR_bicubic/X4", 4), 4)  # doctest: +SKIP
    """
    from ..weights import load_generator

    return {label: evaluate_generator(load_generator(path, device=device), pairs, scale, device).summary()
            for label, path in files.items()}


def main(argv: list[str] | None = None) -> int:
    """``python -m esrgan_lesson.training.evaluation LABEL=FILE ... [--demo-root data/demo]``: print a table."""
    import argparse

    ap = argparse.ArgumentParser(description="Compare generators on the held-out demo images (Y, crop = scale).")
    ap.add_argument("files", nargs="+", metavar="LABEL=FILE")
    ap.add_argument("--demo-root", default="data/demo")
    ap.add_argument("--scale", type=int, default=4)
    args = ap.parse_args(argv)
    from ..data import build_demo_set

    paths = build_demo_set(args.demo_root, args.scale)
    pairs = load_val_pairs(paths.val_hr, paths.val_lr, args.scale)
    files = dict(f.split("=", 1) for f in args.files)
    results = compare_generators(files, pairs, args.scale)
    keys = ("psnr", "psnr_bicubic", "gain_db", "ssim", "gradient_energy", "hf_energy")
    print("| model | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for label, s in results.items():
        print(f"| {label} | " + " | ".join(f"{s[k]:.4f}" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
