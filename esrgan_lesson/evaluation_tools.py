"""Helpers for the course's "full recipe" and "evaluation" chapters (7 and 8).

Chapter 7 (training at the paper's scale):

- :func:`config_rows` / :func:`format_config_table`: the hyperparameters of
  several training configs side by side;
- :func:`training_step_cost`: FLOPs and memory of one training step of a
  config, counted on PyTorch's ``meta`` device (no data, no GPU needed);
- :data:`GPU_SPECS` and :func:`project_schedule`: projected wall time of a
  schedule on common GPUs from those FLOPs and each GPU's published peak
  throughput at an assumed utilisation (*projections*, not measurements);
  :data:`H100_MEASURED`: step times really measured on one H100;
- :func:`find_checkpoint`, :func:`max_weight_difference`.

Chapter 8 (evaluation):

- :data:`PUBLISHED_X4`: the ESRGAN paper's table of x4 PSNR/SSIM (Y channel)
  for SRCNN, EDSR, RCAN and the PSNR-oriented RRDB model, and
  :func:`format_paper_comparison` to print a reader's numbers beside it;
- :func:`perceptual_index`: PIRM-SR's PI = ((10 - Ma) + NIQE) / 2;
- :func:`iqa_backends`: which learned/no-reference IQA packages are importable;
- :func:`score_output` / :func:`summarise` / :func:`plot_perception_distortion`:
  distortion (Y-PSNR, SSIM, RMSE) and an offline *detail proxy* of each SR
  output. The proxy is the ratio of the output's luminance gradient energy
  (and of its high-frequency spectral share) to that of the ground truth; 1
  means "as much fine detail as the real image". It is NOT the Perceptual
  Index and says nothing about whether the detail is correct.

References: [ESRGAN] Wang et al., ECCV Workshops 2018 (arXiv:1809.00219);
[PIRM] Blau et al., "The 2018 PIRM challenge on perceptual image
super-resolution", ECCV Workshops 2018; [NIQE] Mittal et al., IEEE SPL 2013;
[Ma] Ma et al., CVIU 2017; [LPIPS] Zhang et al., CVPR 2018.
"""
from __future__ import annotations

import importlib.util
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import torch
from torch import nn

from .config import TrainConfig
from .errors import ESRGANError
from .metrics import psnr, ssim
from .training.evaluation import gradient_energy, high_frequency_energy

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# --------------------------------------------------------------------------- #
# Chapter 7: configs side by side
# --------------------------------------------------------------------------- #
#: (label, dotted config key) of the hyperparameters chapter 7 compares.
CONFIG_KEYS: tuple[tuple[str, str], ...] = (
    ("stage", "train.stage"),
    ("generator nf / nb / gc", "model"),
    ("batch size", "train.batch_size"),
    ("HR patch", "train.hr_patch"),
    ("iterations", "train.iterations"),
    ("lr G / lr D", "train.lr"),
    ("LR schedule", "train.schedule"),
    ("Adam betas", "train.betas"),
    ("L1 weight (eta)", "train.pixel_weight"),
    ("RaGAN weight (lambda)", "train.gan_weight"),
    ("perceptual", "train.perceptual"),
    ("EMA decay", "engine.ema_decay"),
)


def _config_value(cfg: TrainConfig, key: str) -> str:
    t, m = cfg.train, cfg.model
    gan = t.stage == "gan"
    if key == "model":
        return f"{m.num_feat} / {m.num_block} / {m.num_grow_ch}"
    if key == "train.lr":
        return f"{t.lr_g:g} / {t.lr_d:g}" if gan else f"{t.lr_g:g} / -"
    if key == "train.schedule":
        if t.halving_period > 0:
            return f"x{t.gamma:g} every {t.halving_period:,}"
        return f"x{t.gamma:g} at {', '.join(f'{s:,}' for s in t.milestones)}" if t.milestones else "constant"
    if key == "train.betas":
        return f"{t.betas[0]:g}, {t.betas[1]:g}"
    if key == "train.iterations":
        return f"{t.iterations:,}"
    if key == "train.gan_weight":
        return f"{t.gan_weight:g}" if gan else "-"
    if key == "train.pixel_weight":
        return f"{t.pixel_weight:g}"
    if key == "train.perceptual":
        p = t.perceptual
        return "off" if (p.weight == 0 or p.network == "none") else f"{p.network} {p.layer} ({p.criterion}, x{p.weight:g})"
    section, name = key.split(".")
    value = getattr(getattr(cfg, section), name)
    return f"{value:g}" if isinstance(value, float) else str(value)


def config_rows(configs: Mapping[str, TrainConfig]) -> list[list[str]]:
    """One row per :data:`CONFIG_KEYS` entry: ``[label, value in config 1, ...]``."""
    if not configs:
        raise ESRGANError("config_rows needs at least one config")
    return [[label] + [_config_value(cfg, key) for cfg in configs.values()] for label, key in CONFIG_KEYS]


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table with left-aligned, padded columns."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def format_config_table(configs: Mapping[str, TrainConfig]) -> str:
    """The hyperparameters of ``configs`` (name -> config) side by side, as text."""
    return format_table(["", *configs], config_rows(configs))


# --------------------------------------------------------------------------- #
# Chapter 7: cost of one training step, counted on the meta device
# --------------------------------------------------------------------------- #
#: Bytes per fp32 value.
FP32_BYTES = 4
#: Adam keeps two moments per parameter, the gradient is a third copy: weights
#: + gradient + exp_avg + exp_avg_sq = 4 fp32 values per trainable parameter.
ADAM_COPIES = 4


@dataclass(frozen=True)
class StepCost:
    """FLOPs and memory of one training step (see :func:`training_step_cost`).

    ``flops``: forward + backward of every network in the step, as counted by
    ``torch.utils.flop_counter`` (a multiply-add is 2 FLOPs). ``activation_bytes``:
    the largest set of tensors autograd saves for one backward pass (G step or
    D step), fp32, deduplicated by storage. ``state_bytes``: weights, gradients
    and Adam moments of the trained networks plus the frozen feature net.
    """

    stage: str
    batch: int
    hr_patch: int
    flops: float
    params_g: int
    params_d: int
    activation_bytes: int
    state_bytes: int

    @property
    def memory_bytes(self) -> int:
        """Lower bound of the training memory: activations + network state."""
        return self.activation_bytes + self.state_bytes


class _SavedBytes:
    """Context that sums the bytes of distinct storages autograd saves for backward."""

    def __init__(self, exclude: Iterable[torch.Tensor]) -> None:
        self.exclude = {p.untyped_storage()._cdata for p in exclude}
        self.seen: dict[int, int] = {}
        self._ctx = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)

    def _pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage._cdata not in self.exclude:
            self.seen[storage._cdata] = storage.nbytes()
        return t

    @property
    def total(self) -> int:
        return sum(self.seen.values())

    def __enter__(self) -> "_SavedBytes":
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)


def _count(model: nn.Module | None) -> int:
    return 0 if model is None else sum(p.numel() for p in model.parameters())


def training_step_cost(cfg: TrainConfig, batch: int | None = None, hr_patch: int | None = None) -> StepCost:
    """Count FLOPs and memory of one training step of ``cfg`` on the ``meta`` device.

    Builds the config's generator (and, for the GAN stage, its discriminator
    and perceptual feature network with random weights: cost does not depend
    on the weights) on ``meta`` tensors, which have shapes but no data, and
    runs the step's forward and backward passes exactly as
    :meth:`esrgan_lesson.training.Trainer._step` orders them: G step (L1,
    perceptual, RaGAN), then D step. ``batch``/``hr_patch`` default to the
    config's. Nothing is allocated, so the paper's batch 16 at HR 128 counts
    in a second on a CPU.
    """
    from torch.utils.flop_counter import FlopCounterMode

    from .losses import GANLoss
    from .models import VGGFeatureExtractor
    from .training.builders import build_discriminator, build_generator

    t, m = cfg.train, cfg.model
    batch = batch or t.batch_size
    hr_patch = hr_patch or t.hr_patch
    if hr_patch % m.scale:
        raise ESRGANError(f"hr_patch {hr_patch} is not a multiple of the scale {m.scale}")
    gan = t.stage == "gan"
    percep_on = gan and t.perceptual.weight > 0 and t.perceptual.network in ("vgg19", "vgg16")
    with torch.device("meta"):
        g = build_generator(m)
        d = build_discriminator(cfg) if gan else None
        vgg = VGGFeatureExtractor((t.perceptual.layer,), arch=t.perceptual.network, weights=None) if percep_on else None
        lr = torch.empty(batch, 3, hr_patch // m.scale, hr_patch // m.scale)
        hr = torch.empty(batch, 3, hr_patch, hr_patch)
    frozen = list(vgg.parameters()) if vgg is not None else []
    params = list(g.parameters()) + (list(d.parameters()) if d is not None else []) + frozen
    gan_loss = GANLoss(t.gan_type, t.gan_weight)
    with FlopCounterMode(display=False) as counter:
        with _SavedBytes(params) as g_saved:
            sr = g(lr)
            loss = t.pixel_weight * (sr - hr).abs().mean()
            if vgg is not None:
                layer = t.perceptual.layer
                with torch.no_grad():
                    target = vgg(hr)[layer]
                loss = loss + t.perceptual.weight * (vgg(sr)[layer] - target).abs().mean()
            if d is not None:
                for p in d.parameters():
                    p.requires_grad_(False)
                with torch.no_grad():
                    real = d(hr)
                loss = loss + gan_loss.g_loss(real, d(sr))
                for p in d.parameters():
                    p.requires_grad_(True)
        loss.backward()
        d_bytes = 0
        if d is not None:
            with _SavedBytes(params) as d_saved:
                l_d = gan_loss.d_loss(d(hr), d(sr.detach()))
            l_d.backward()
            d_bytes = d_saved.total
    trainable = _count(g) + _count(d)
    state = trainable * FP32_BYTES * ADAM_COPIES + sum(p.numel() for p in frozen) * FP32_BYTES
    return StepCost(stage=t.stage, batch=batch, hr_patch=hr_patch, flops=float(counter.get_total_flops()),
                    params_g=_count(g), params_d=_count(d), activation_bytes=max(g_saved.total, d_bytes),
                    state_bytes=state)


# --------------------------------------------------------------------------- #
# Chapter 7: projecting a schedule onto GPUs
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class GPUSpec:
    """Published figures of one GPU: dense peak TFLOP/s and memory (GiB)."""

    name: str
    fp32_tflops: float
    bf16_tflops: float | None  # tensor-core bf16 dense; None if unsupported
    memory_gib: float


#: Dense (no sparsity) peak throughput and memory, from NVIDIA's datasheets
#: ("NVIDIA A100 Tensor Core GPU", "NVIDIA H100 Tensor Core GPU" (SXM5),
#: "NVIDIA L4 Tensor Core GPU", "NVIDIA T4 Tensor Core GPU", "NVIDIA Tesla
#: V100" (SXM2)); the same figures as ``benchmarks/train_step.py``. T4 and
#: V100 have no bf16.
GPU_SPECS: tuple[GPUSpec, ...] = (
    GPUSpec("T4", 8.1, None, 16),
    GPUSpec("V100 SXM2", 15.7, None, 16),
    GPUSpec("L4", 30.3, 121.0, 24),
    GPUSpec("A100 80GB", 19.5, 312.0, 80),
    GPUSpec("H100 SXM", 67.0, 989.4, 80),
)


def project_schedule(step_flops: float, iterations: int, tflops: float, utilisation: float) -> float:
    """Projected seconds for ``iterations`` steps of ``step_flops`` each.

    ``tflops`` is a peak rate, ``utilisation`` the fraction of it the training
    loop is assumed to sustain (in (0, 1]). A projection, not a measurement.
    """
    if not 0 < utilisation <= 1:
        raise ESRGANError(f"utilisation must be in (0, 1], got {utilisation}")
    if tflops <= 0 or step_flops < 0 or iterations < 0:
        raise ESRGANError("tflops must be positive; step_flops and iterations non-negative")
    return step_flops * iterations / (tflops * 1e12 * utilisation)


# --------------------------------------------------------------------------- #
# Chapter 7: checkpoints
# --------------------------------------------------------------------------- #
#: The official ESRGAN generator files (github.com/xinntao/ESRGAN, "models" folder).
OFFICIAL_CHECKPOINTS = ("RRDB_ESRGAN_x4.pth", "RRDB_PSNR_x4.pth")
#: Environment variable naming an extra folder to search for checkpoints.
WEIGHTS_DIR_ENV = "ESRGAN_WEIGHTS_DIR"


def find_checkpoint(name: str, folders: Iterable[str | Path] = ()) -> Path | None:
    """The first ``folder/name`` that is a file, searching ``$ESRGAN_WEIGHTS_DIR`` first; else ``None``."""
    env = os.environ.get(WEIGHTS_DIR_ENV)
    for folder in ([env] if env else []) + list(folders):
        path = Path(folder).expanduser() / name
        if path.is_file():
            return path
    return None


def max_weight_difference(a: nn.Module, b: nn.Module) -> float:
    """Largest absolute difference between matching floating-point entries of two state dicts."""
    sa, sb = a.state_dict(), b.state_dict()
    if sa.keys() != sb.keys():
        raise ESRGANError("the two models have different parameter names")
    worst = 0.0
    for k, x in sa.items():
        if x.shape != sb[k].shape:
            raise ESRGANError(f"{k}: shapes differ, {tuple(x.shape)} vs {tuple(sb[k].shape)}")
        if x.is_floating_point() and x.numel():
            worst = max(worst, float((x.detach().double().cpu() - sb[k].detach().double().cpu()).abs().max()))
    return worst


# --------------------------------------------------------------------------- #
# Chapter 8: the paper's published numbers
# --------------------------------------------------------------------------- #
#: Benchmark sets in the paper's column order; our folder names (EDSR benchmark.tar).
PAPER_SETS: tuple[tuple[str, str], ...] = (
    ("Set5", "Set5"), ("Set14", "Set14"), ("BSD100", "B100"), ("Urban100", "Urban100"), ("Manga109", "Manga109"),
)
#: x4 PSNR (dB) / SSIM on Y with a ``scale``-pixel border crop, as published in
#: the ESRGAN paper's comparison of PSNR-oriented methods [ESRGAN].
PUBLISHED_X4: dict[str, dict[str, tuple[float, float]]] = {
    "SRCNN": {"Set5": (30.48, 0.8628), "Set14": (27.50, 0.7513), "BSD100": (26.90, 0.7101),
              "Urban100": (24.52, 0.7221), "Manga109": (27.58, 0.8555)},
    "EDSR": {"Set5": (32.46, 0.8968), "Set14": (28.80, 0.7876), "BSD100": (27.71, 0.7420),
             "Urban100": (26.64, 0.8033), "Manga109": (31.02, 0.9148)},
    "RCAN": {"Set5": (32.63, 0.9002), "Set14": (28.87, 0.7889), "BSD100": (27.77, 0.7436),
             "Urban100": (26.82, 0.8087), "Manga109": (31.22, 0.9173)},
    "RRDB (PSNR-oriented, DF2K)": {"Set5": (32.73, 0.9011), "Set14": (28.99, 0.7917), "BSD100": (27.85, 0.7455),
                                   "Urban100": (27.03, 0.8153), "Manga109": (31.66, 0.9196)},
}
#: ESRGAN's entry in the PIRM-SR 2018 challenge (test set): Perceptual Index and RMSE [PIRM, ESRGAN].
PIRM_ESRGAN = {"PI": 1.978, "RMSE": 15.30}


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
#: Ma et al.'s score lies in [0, 10] (higher = better); PI subtracts it from this.
MA_SCORE_MAX = 10.0


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
class OutputScores:
    """Distortion and detail-proxy scores of one SR output against its HR image.

    ``psnr``/``ssim``: Y channel, ``scale``-pixel border crop. ``rmse``: RMSE of
    the RGB values in 0-255 units over the same cropped region (the PIRM
    challenge's distortion axis). ``grad_ratio``: gradient energy of the
    output / that of the HR image; ``hf_ratio``: high-frequency share of the
    output / that of the HR image (both on BT.601 luma; 1 = as much fine
    detail as the ground truth). A proxy for sharpness, not for quality.
    """

    name: str
    method: str
    psnr: float
    ssim: float
    rmse: float
    grad_ratio: float
    hf_ratio: float


def _chw(img: torch.Tensor) -> torch.Tensor:
    if img.ndim == 4 and img.shape[0] == 1:
        img = img[0]
    if img.ndim != 3 or img.shape[0] != 3:
        raise ESRGANError(f"expected an image tensor (3, H, W), got {tuple(img.shape)}")
    return img.detach().float().cpu().clamp(0, 1)


def score_output(name: str, method: str, sr: torch.Tensor, hr: torch.Tensor, scale: int) -> OutputScores:
    """Score one SR output (3, H, W) in [0, 1] against ``hr`` (3, H, W) in [0, 1].

    ``sr`` is rounded to 8 bits first, as a saved output file would be (the
    papers' convention); ``hr`` is used as given.
    """
    sr, hr = _chw(sr), _chw(hr)
    sr = (sr * 255.0).round() / 255.0
    if sr.shape != hr.shape:
        raise ESRGANError(f"SR {tuple(sr.shape)} and HR {tuple(hr.shape)} differ in shape")
    c = scale
    crop = (slice(None), slice(c, -c or None), slice(c, -c or None))
    rmse = float(((sr[crop].double() - hr[crop].double()) * 255.0).pow(2).mean().sqrt())
    ge_hr, hf_hr = gradient_energy(hr), high_frequency_energy(hr)
    if ge_hr <= 0 or hf_hr <= 0:
        raise ESRGANError(f"{name}: the HR image is flat; detail ratios are undefined")
    return OutputScores(name=name, method=method, psnr=float(psnr(sr, hr, crop_border=scale)),
                        ssim=float(ssim(sr, hr, crop_border=scale)), rmse=rmse,
                        grad_ratio=gradient_energy(sr) / ge_hr, hf_ratio=high_frequency_energy(sr) / hf_hr)


def mean_colour_shift(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """Mean of ``sr - hr`` per RGB channel, in 8-bit grey levels: a (3,) float64 tensor.

    Both (3, H, W) in [0, 1]. A faithful model gives values near 0; a colour
    cast (e.g. a GAN drifting warmer) shows as a consistent sign per channel.
    """
    sr, hr = _chw(sr).double(), _chw(hr).double()
    if sr.shape != hr.shape:
        raise ESRGANError(f"SR {tuple(sr.shape)} and HR {tuple(hr.shape)} differ in shape")
    return (sr - hr).mean(dim=(1, 2)) * 255.0


SCORE_FIELDS = ("psnr", "ssim", "rmse", "grad_ratio", "hf_ratio")


def summarise(scores: Iterable[OutputScores]) -> dict[str, dict[str, float]]:
    """``{method: {field: mean over images}}`` in first-seen method order.

    ``grad_ratio`` and ``hf_ratio`` are averaged geometrically (they are
    ratios); the other fields arithmetically.
    """
    groups: dict[str, list[OutputScores]] = {}
    for s in scores:
        groups.setdefault(s.method, []).append(s)
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

    A dashed line marks proxy = 1, the ground truth's own level of detail. The
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
    xs = [r["rmse"] for r in summary.values()]
    ys = [r[proxy] for r in summary.values()]
    ax.plot(xs, ys, "o-", color="tab:blue", alpha=0.6)
    for (method, r), x, y in zip(summary.items(), xs, ys):
        ax.annotate(method, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.axhline(1.0, color="gray", linestyle="--", linewidth=1)
    ax.set_xlabel("RMSE against HR (0-255, lower = less distortion)")
    ax.set_ylabel(f"{proxy.replace('_', ' ')} (output / HR)  [proxy, not PI]")
    ax.set_title("Distortion vs. detail (offline proxy)")
    return fig


# --------------------------------------------------------------------------- #
# Chapter 7: what one GPU really did
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class MeasuredStep:
    """One measured row: a paper-size training step under one engine switch.

    ``seconds``: wall seconds per step (mean over a timed window after
    warm-up, device synchronised). ``peak_gib``: ``torch.cuda.max_memory_allocated``
    during that row, in GiB (tensors only: the CUDA context is not counted).
    """

    stage: str      # "psnr" or "gan"
    switch: str     # label as printed by benchmarks/train_step.py, e.g. "fp32 eager"
    seconds: float
    peak_gib: float


@dataclass(frozen=True)
class MeasuredGPU:
    """Step times of the real :class:`~esrgan_lesson.training.Trainer` measured on one GPU.

    Copied from the paper-size rows of ``source`` (written by
    ``benchmarks/train_step.py``); ``tests/test_measured_gpu.py`` parses that
    file and checks that every number here equals the table. Conditions of
    the measurement: random input tensors already on the GPU (no data
    loading), the paper generator (nf64 nb23 gc32) and discriminator, and a
    GAN stage *without* the VGG perceptual loss (``perceptual`` is False):
    its pretrained weights cannot be downloaded offline, and a random VGG
    would cost the same FLOPs but was left out of the benchmark.
    """

    device: str
    torch_version: str
    batch: int
    hr_patch: int
    perceptual: bool
    source: str
    steps: tuple[MeasuredStep, ...]

    def step(self, stage: str, switch: str = "fp32 eager") -> MeasuredStep:
        """The row of ``stage`` under ``switch``."""
        for row in self.steps:
            if row.stage == stage and row.switch == switch:
                return row
        known = sorted({r.switch for r in self.steps if r.stage == stage})
        raise ESRGANError(f"no measured {stage!r} row for switch {switch!r}; measured: {known}")

    def fastest(self, stage: str) -> MeasuredStep:
        """The quickest measured switch of ``stage``."""
        rows = [r for r in self.steps if r.stage == stage]
        if not rows:
            raise ESRGANError(f"no measured rows for stage {stage!r}")
        return min(rows, key=lambda r: r.seconds)

    def schedule_days(self, iterations: Mapping[str, int], switch: str | None = "fp32 eager") -> float:
        """Days for ``iterations`` (stage -> steps) at the measured step times.

        ``switch=None`` takes each stage's fastest switch. This still
        extrapolates a few seconds of timing to days, but from a measured
        rate, not an assumed utilisation.
        """
        secs = 0.0
        for stage, n in iterations.items():
            row = self.fastest(stage) if switch is None else self.step(stage, switch)
            secs += n * row.seconds
        return secs / 86400


#: The paper-size rows measured on an NVIDIA H100 80GB HBM3 (SXM) with
#: torch 2.11.0+cu130 and cuDNN 9.19, batch 16, HR patch 128. fp32 convs run
#: in TF32 there (PyTorch's cuDNN default). Every number equals the table in
#: ``source``.
H100_MEASURED = MeasuredGPU(
    device="NVIDIA H100 80GB HBM3",
    torch_version="2.11.0+cu130",
    batch=16,
    hr_patch=128,
    perceptual=False,
    source="benchmarks/results/train_step-cuda.md",
    steps=(
        MeasuredStep("psnr", "fp32 eager", 0.115, 3.98),
        MeasuredStep("psnr", "bf16 autocast", 0.159, 2.18),
        MeasuredStep("psnr", "fp16 autocast + GradScaler", 0.172, 2.18),
        MeasuredStep("psnr", "channels_last", 0.111, 3.92),
        MeasuredStep("psnr", "bf16 + channels_last", 0.142, 2.16),
        MeasuredStep("gan", "fp32 eager", 0.170, 4.22),
        MeasuredStep("gan", "bf16 autocast", 0.206, 2.41),
        MeasuredStep("gan", "fp16 autocast + GradScaler", 0.209, 2.41),
        MeasuredStep("gan", "channels_last", 0.143, 4.21),
        MeasuredStep("gan", "bf16 + channels_last", 0.167, 2.41),
    ),
)


__all__ = [
    "CONFIG_KEYS", "GPU_SPECS", "H100_MEASURED", "IQA_PACKAGES", "OFFICIAL_CHECKPOINTS", "PAPER_SETS",
    "PIRM_ESRGAN", "PUBLISHED_X4", "GPUSpec", "MeasuredGPU", "MeasuredStep", "OutputScores", "StepCost",
    "available_benchmarks", "config_rows",
    "find_checkpoint", "format_config_table", "format_paper_comparison", "format_summary", "format_table",
    "iqa_backends", "mean_colour_shift", "max_weight_difference", "perceptual_index", "plot_perception_distortion",
    "project_schedule", "score_output", "summarise", "training_step_cost",
]
