"""``esrgan-lesson evaluate``: PSNR/SSIM and NIQE of a generator next to the bicubic baseline.

    esrgan-lesson evaluate [--weights W] --data Set5|demo|PATH [--data ...]
                           [--scale 4] [--save DIR] [--device D] [--tile N]

Metrics follow the SR papers: the package's one score function,
:func:`esrgan_lesson.metrics.score_image` (Y channel of 8-bit outputs,
``scale`` pixels cropped from each border). The baseline is
MATLAB bicubic upscaling of the same LR input. Without ``--weights`` only the
baseline is printed. ``--save DIR`` writes the model's outputs (or, without
weights, the bicubic ones) to ``DIR/<set>/<name>.png``.

NIQE (:func:`esrgan_lesson.metrics.niqe`, no-reference, lower is better) is
printed for HR, bicubic and model outputs on the same 8-bit, cropped images,
averaged over the images that give at least 16 blocks of 96x96 (392x392 at
crop 4) and are not flat: ``n/a`` when none does, ``*`` when only some do.
Ma's score, and so the PIRM Perceptual Index ``((10 - Ma) + NIQE) / 2``, need
Ma et al.'s trained regression forests, which are not available offline: they
are not computed.
"""
from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from esrgan_lesson.data.benchmark import EvalSet, load_eval_pair, resolve_eval_set
from esrgan_lesson.device import select_device
from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.imageio import to_uint, write_image
from esrgan_lesson.data.imresize import imresize
from esrgan_lesson.metrics import NIQE_MIN_BLOCKS, ImageScores, NiqeSizeError, niqe, niqe_blocks, score_image
from esrgan_lesson.paper import NIQE_BLOCK

#: Printed under every table (the package cannot compute these offline).
NO_MA_NOTE = ("Ma's score and PI = ((10 - Ma) + NIQE)/2 need Ma et al.'s trained regression forests, "
              "not available offline: not computed.")


@dataclass
class SetScores:
    """Per-image scores (:func:`esrgan_lesson.metrics.score_image`) of bicubic and (optionally) the model, and NIQE.

    NIQE lists hold ``None`` for images too small for :data:`NIQE_MIN_BLOCKS` blocks, or flat.
    """

    name: str
    count: int = 0
    bicubic: list[ImageScores] = field(default_factory=list)
    model: list[ImageScores] = field(default_factory=list)
    hr_niqe: list[float | None] = field(default_factory=list)
    bicubic_niqe: list[float | None] = field(default_factory=list)
    model_niqe: list[float | None] = field(default_factory=list)

    @staticmethod
    def _mean(rows: list[ImageScores]) -> tuple[float, float]:
        """Mean (Y-PSNR dB, SSIM) of ``rows``; NaNs without rows."""
        if not rows:
            return math.nan, math.nan
        return float(np.mean([r.psnr for r in rows])), float(np.mean([r.ssim for r in rows]))

    @property
    def bicubic_mean(self) -> tuple[float, float]:
        return self._mean(self.bicubic)

    @property
    def model_mean(self) -> tuple[float, float]:
        return self._mean(self.model)


def _niqe(img: np.ndarray, scale: int) -> float | None:
    """NIQE of an (H, W, 3) float [0, 1] image rounded to 8 bits, crop ``scale``; None if too small or flat."""
    if niqe_blocks(img.shape[0], img.shape[1], scale) < NIQE_MIN_BLOCKS:
        return None
    try:
        return niqe(to_uint(img, 8), crop_border=scale).score
    except NiqeSizeError:  # e.g. blocks without texture: no defined features
        return None


def niqe_cell(values: list[float | None]) -> str:
    """Mean NIQE for a table cell: ``n/a`` if no image was scored, ``*`` if only some were."""
    scored = [v for v in values if v is not None]
    if not scored:
        return "n/a"
    return f"{np.mean(scored):.2f}" + ("*" if len(scored) < len(values) else "")


def evaluate_set(eval_set: EvalSet, scale: int, model: torch.nn.Module | None = None, tile: int | None = None,
                 device: torch.device | None = None, save_dir: Path | None = None) -> SetScores:
    """Score every image of ``eval_set``; write outputs under ``save_dir/<set>/`` if given."""
    result = SetScores(eval_set.name)
    for name, hr_path, lr_path in eval_set.items:
        hr, lr = load_eval_pair(hr_path, lr_path, scale)
        bic = np.clip(imresize(lr.astype(np.float64), scale=scale), 0.0, 1.0)
        result.bicubic.append(score_image(bic, hr, scale, name))
        result.hr_niqe.append(_niqe(hr, scale))
        result.bicubic_niqe.append(_niqe(bic, scale))
        out = bic
        if model is not None:
            from esrgan_lesson.inference import upscale  # lazy: the bicubic path needs no model code

            out = upscale(model, lr, tile=tile or None, device=device)
            if out.shape != hr.shape:
                raise ESRGANError(f"{name}: model output {out.shape[:2]} != HR {hr.shape[:2]}; is --scale right?")
            result.model.append(score_image(out, hr, scale, name))
            result.model_niqe.append(_niqe(out, scale))
        if save_dir is not None:
            write_image(save_dir / eval_set.name / f"{name}.png", out)
        result.count += 1
    return result


def format_table(rows: list[SetScores], with_model: bool, scale: int) -> str:
    """A plain-text table of the per-set means, with notes on NIQE and on what is not computed."""
    head = f"{'set':<12}{'images':>7}  {'HR NIQE':>7}  {'bicubic PSNR/SSIM':>18}  {'NIQE':>6}"
    if with_model:
        head += f"  {'model PSNR/SSIM':>18}  {'NIQE':>6}  {'gain dB':>7}"
    lines = [f"x{scale}, Y channel, crop {scale}; NIQE: no-reference, lower is better", head, "-" * len(head)]
    cells = []
    for r in rows:
        bp, bs = r.bicubic_mean
        cells += [niqe_cell(r.hr_niqe), niqe_cell(r.bicubic_niqe)]
        line = f"{r.name:<12}{r.count:>7}  {cells[-2]:>7}  {bp:>11.2f}/{bs:.4f}  {cells[-1]:>6}"
        if with_model:
            mp, ms = r.model_mean
            cells.append(niqe_cell(r.model_niqe))
            line += f"  {mp:>11.2f}/{ms:.4f}  {cells[-1]:>6}  {mp - bp:>+7.2f}"
        lines.append(line)
    side = NIQE_BLOCK * math.ceil(math.sqrt(NIQE_MIN_BLOCKS)) + 2 * scale
    if any(c == "n/a" or c.endswith("*") for c in cells):
        lines.append(f"NIQE needs >= {NIQE_MIN_BLOCKS} blocks of {NIQE_BLOCK}x{NIQE_BLOCK} after the crop (e.g. "
                     f"{side}x{side}): n/a = no image has them (<{NIQE_MIN_BLOCKS} blocks, or flat), "
                     "* = mean over those that do")
    lines.append(NO_MA_NOTE)
    return "\n".join(lines)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate",
        help="Y-channel PSNR/SSIM and NIQE of a generator beside the bicubic baseline",
        description="PSNR/SSIM on the Y channel (crop = scale), as SR papers report them, and NIQE (no-reference, "
                    f"needs >= {NIQE_MIN_BLOCKS} blocks of 96x96), next to MATLAB bicubic. " + NO_MA_NOTE,
    )
    parser.add_argument("--weights", metavar="W", help="generator checkpoint; without it only bicubic is scored")
    parser.add_argument("--data", action="append", required=True, metavar="SET",
                        help="'demo', a benchmark name (Set5, Set14, B100, Urban100, Manga109), a folder with HR/ "
                             "(+ LR_bicubic/X<scale>/), or a folder of HR images; repeatable")
    parser.add_argument("--scale", type=int, default=4, help="upscaling factor (default 4)")
    parser.add_argument("--save", metavar="DIR", help="write outputs to DIR/<set>/<name>.png")
    parser.add_argument("--device", default="auto", help="cpu, cuda, mps or auto (default)")
    parser.add_argument("--tile", type=int, default=0, metavar="N", help="LR tile size; 0 = whole image (default)")
    parser.add_argument("--demo-root", default="data/demo", help="where the demo set lives (default data/demo)")
    parser.add_argument("--benchmark-root", default="data/benchmark",
                        help="where benchmark sets live (default data/benchmark)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.scale < 1:
        raise ESRGANError(f"--scale must be >= 1, got {args.scale}")
    if args.tile < 0:
        raise ESRGANError(f"--tile must be >= 0, got {args.tile}")
    sets = [resolve_eval_set(s, args.scale, args.demo_root, args.benchmark_root) for s in args.data]
    model, device = None, None
    if args.weights:
        from esrgan_lesson.weights import load_generator  # lazy: see evaluate_set

        device = select_device(args.device)
        model = load_generator(args.weights, device=device, scale=args.scale)
        model_scale = int(getattr(model, "scale", args.scale))
        if model_scale != args.scale:
            raise ESRGANError(f"the checkpoint is a x{model_scale} model but --scale is {args.scale}")
    save = Path(args.save) if args.save else None
    rows = [evaluate_set(s, args.scale, model, args.tile, device, save) for s in sets]
    print(format_table(rows, model is not None, args.scale))
    return 0
