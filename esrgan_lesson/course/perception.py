"""Chapter 8 (evaluation): the paper's table beside a reader's numbers, and the perception-distortion plane.

- :func:`format_paper_comparison`: :data:`esrgan_lesson.paper.PUBLISHED_X4` (the
  ESRGAN paper's x4 PSNR/SSIM on Y) with a reader's rows beside it;
- :func:`perceptual_index`: PIRM-SR's PI = ((10 - Ma) + NIQE) / 2;
- :func:`iqa_backends`: which learned/no-reference IQA packages are importable;
- :func:`score_output` / :func:`summarise` / :func:`plot_perception_distortion`:
  distortion (Y-PSNR, SSIM, RMSE) and an offline *detail proxy* of each SR
  output, read from the package's one score record
  (:func:`esrgan_lesson.metrics.score_image`). The proxy is the ratio of the
  output's luminance gradient energy (and of its high-frequency spectral
  share) to that of the ground truth; 1 means "as much fine detail as the
  real image". It is NOT the Perceptual Index and says nothing about whether
  the detail is correct.

References: [ESRGAN] Wang et al., ECCV Workshops 2018 (arXiv:1809.00219);
[PIRM] Blau et al., "The 2018 PIRM challenge on perceptual image
super-resolution", ECCV Workshops 2018; [NIQE] Mittal et al., IEEE SPL 2013;
[Ma] Ma et al., CVIU 2017; [LPIPS] Zhang et al., CVPR 2018.
"""
from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping

import torch

from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.metrics import ImageScores, mean_colour_shift, score_image
from esrgan_lesson.paper import MA_SCORE_MAX, PUBLISHED_X4

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
from esrgan_lesson.course.recipe import format_table

# --------------------------------------------------------------------------- #
# Chapter 8: the paper's published numbers
# --------------------------------------------------------------------------- #
#: Benchmark sets in the paper's column order; our folder names (EDSR benchmark.tar).
PAPER_SETS: tuple[tuple[str, str], ...] = (
    ("Set5", "Set5"), ("Set14", "Set14"), ("BSD100", "B100"), ("Urban100", "Urban100"), ("Manga109", "Manga109"),
)


def available_benchmarks(root: str | Path = "data/benchmark") -> list[str]:
    """Paper column names of the benchmark sets present as ``root/<folder>/HR``."""
    root = Path(root)
    return [paper for paper, folder in PAPER_SETS if (root / folder / "HR").is_dir()]


def format_paper_comparison(reader: Mapping[str, Mapping[str, tuple[float, float]]] | None = None) -> str:
    """The paper's x4 table, plus one row per entry of ``reader`` (row label -> set -> (PSNR, SSIM)).

    Sets a reader row lacks print as ``-``.
    """
    rows = dict(PUBLISHED_X4)
    rows.update({f"{k} (yours)": v for k, v in (reader or {}).items()})
    header = ["x4, PSNR/SSIM on Y", *(paper for paper, _ in PAPER_SETS)]
    body = [[name, *(f"{vals[s][0]:.2f}/{vals[s][1]:.4f}" if s in vals else "-" for s, _ in PAPER_SETS)]
            for name, vals in rows.items()]
    return format_table(header, body)


# --------------------------------------------------------------------------- #
# Chapter 8: perception-distortion
# --------------------------------------------------------------------------- #


def perceptual_index(ma: float, niqe: float) -> float:
    """PIRM-SR 2018's Perceptual Index ``((10 - Ma) + NIQE) / 2``; lower is better [PIRM]."""
    if not 0 <= ma <= MA_SCORE_MAX:
        raise ESRGANError(f"Ma's score lies in [0, {MA_SCORE_MAX:g}], got {ma}")
    return 0.5 * ((MA_SCORE_MAX - ma) + niqe)


#: Packages that compute NIQE/Ma/PI/LPIPS; they need model weights that are
#: downloaded on first use.
IQA_PACKAGES = ("pyiqa", "lpips")


def iqa_backends() -> dict[str, bool]:
    """``{package: importable}`` for :data:`IQA_PACKAGES` (importable does not mean its weights are present)."""
    return {name: importlib.util.find_spec(name) is not None for name in IQA_PACKAGES}


@dataclass(frozen=True)
class MethodScores:
    """The package's one score record of one SR output, labelled with the method that made it.

    ``scores``: :func:`esrgan_lesson.metrics.score_image` of the output (8-bit,
    Y-PSNR/SSIM and RGB RMSE with a ``scale``-pixel border crop, gradient
    energy and high-frequency share relative to the HR image's). ``grad_ratio``
    and ``hf_ratio`` (1 = as much fine detail as the ground truth) are a proxy
    for sharpness, not for quality.
    """

    method: str
    scores: ImageScores


def score_output(name: str, method: str, sr: torch.Tensor, hr: torch.Tensor, scale: int) -> MethodScores:
    """Score one SR output (3, H, W) in [0, 1] against ``hr`` (3, H, W) in [0, 1].

    :func:`esrgan_lesson.metrics.score_image` (``sr`` rounded to 8 bits first,
    as a saved output file would be: the papers' convention; ``hr`` as given),
    labelled ``method``. A flat HR image, whose detail ratios are undefined, is refused.
    """
    if tuple(sr.shape) != tuple(hr.shape):
        raise ESRGANError(f"SR {tuple(sr.shape)} and HR {tuple(hr.shape)} differ in shape")
    scores = score_image(sr, hr, scale, name)
    if math.isnan(scores.grad_ratio) or math.isnan(scores.hf_ratio):
        raise ESRGANError(f"{name}: the HR image is flat; detail ratios are undefined")
    return MethodScores(method, scores)


SCORE_FIELDS = ("psnr", "ssim", "rmse", "grad_ratio", "hf_ratio")


def summarise(scores: Iterable[MethodScores]) -> dict[str, dict[str, float]]:
    """``{method: {field: mean over images}}`` in first-seen method order.

    ``grad_ratio`` and ``hf_ratio`` are averaged geometrically (they are
    ratios); the other fields arithmetically.
    """
    groups: dict[str, list[ImageScores]] = {}
    for s in scores:
        groups.setdefault(s.method, []).append(s.scores)
    if not groups:
        raise ESRGANError("no scores to summarise")
    out: dict[str, dict[str, float]] = {}
    for method, items in groups.items():
        row = {}
        for f in SCORE_FIELDS:
            vals = [getattr(s, f) for s in items]
            if f.endswith("_ratio"):
                row[f] = math.exp(sum(math.log(v) for v in vals) / len(vals))
            else:
                row[f] = sum(vals) / len(vals)
        out[method] = row
    return out


def format_summary(summary: Mapping[str, Mapping[str, float]]) -> str:
    """:func:`summarise`'s result as a text table (PSNR 2 decimals, SSIM 3, ratios 2)."""
    header = ["method", "Y-PSNR dB", "SSIM", "RMSE", "grad ratio", "HF ratio"]
    rows = [[m, f"{r['psnr']:.2f}", f"{r['ssim']:.3f}", f"{r['rmse']:.2f}", f"{r['grad_ratio']:.2f}",
             f"{r['hf_ratio']:.2f}"] for m, r in summary.items()]
    return format_table(header, rows)


def plot_perception_distortion(summary: Mapping[str, Mapping[str, float]], proxy: str = "grad_ratio",
                               ax: "Axes | None" = None) -> "Figure":
    """Distortion (RMSE, lower = better) against the detail proxy, one labelled point per method.

    Bicubic is a separate grey square; the other methods are joined in order
    (the interpolation path). A dashed line marks proxy = 1, the ground truth's
    own level of detail, when it fits on the chart. The
    closer a point sits to the line *and* to the left, the better, but no
    method can reach the bottom-left corner (Blau and Michaeli's trade-off).
    """
    import matplotlib.pyplot as plt

    if proxy not in ("grad_ratio", "hf_ratio"):
        raise ESRGANError(f"proxy must be grad_ratio or hf_ratio, got {proxy!r}")
    if ax is None:
        fig = plt.figure(figsize=(6.0, 4.2), layout="constrained")
        plt.close(fig)
        ax = fig.subplots()
    else:
        fig = ax.figure
    sweep = {m: r for m, r in summary.items() if m != "bicubic"}  # the interpolation path, in alpha order
    ax.plot([r["rmse"] for r in sweep.values()], [r[proxy] for r in sweep.values()], "o-", color="tab:blue",
            alpha=0.7, label="network interpolation")
    labels = [(method, r, (6, -12 if k % 2 == 0 else 5)) for k, (method, r) in enumerate(sweep.items())]  # below/above
    if "bicubic" in summary:
        bic = summary["bicubic"]
        ax.plot(bic["rmse"], bic[proxy], "s", color="tab:gray", label="bicubic")
        labels.append(("bicubic", bic, (6, 5)))
    for method, r, offset in labels:
        ax.annotate(method, (r["rmse"], r[proxy]), textcoords="offset points", xytext=offset, fontsize=9)
    top = max(r[proxy] for r in summary.values())
    if top > 0.5:  # the truth's level fits on the chart
        ax.axhline(1.0, color="gray", linestyle="--", linewidth=1)
        ax.set_ylim(0, 1.08)
    else:
        ax.set_ylim(0, 1.3 * top)
        ax.text(0.02, 0.95, "the HR's level (1) is above this chart", transform=ax.transAxes, fontsize=8,
                va="top", color="gray")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_xlabel("RMSE against HR (0-255, lower = less distortion)")
    ax.set_ylabel(f"{proxy.replace('_', ' ')} (output / HR)  [proxy, not PI]")
    ax.set_title("Distortion vs. detail (offline proxy)")
    return fig


