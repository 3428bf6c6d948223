"""Chapter 7 (the full recipe): training configs side by side, and finding checkpoints.

- :func:`config_rows` / :func:`format_config_table`: the hyperparameters of
  several training configs side by side (:func:`format_table` prints any table);
- :func:`find_checkpoint`, :func:`max_weight_difference`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from torch import nn

from esrgan_lesson.training.config import TrainConfig
from esrgan_lesson.errors import ESRGANError

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
        within = [s for s in t.milestones if s < t.iterations]
        if not t.milestones:
            return "constant"
        steps = ", ".join(f"{s:,}" for s in t.milestones)
        # a milestone at or past the last iteration never halves anything: say so
        return f"x{t.gamma:g} at {steps}" if within == list(t.milestones) else (
            f"constant (x{t.gamma:g} at {steps}: past the budget)" if not within
            else f"x{t.gamma:g} at {', '.join(f'{s:,}' for s in within)}")
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


