"""Training checkpoints: atomic writes, exact RNG capture, keep-last-K pruning.

A checkpoint is a ``torch.save``'d dict holding only tensors and primitive
containers, so it loads with ``torch.load(..., weights_only=True)``:
``step``, ``elapsed``, ``best_psnr``, ``config`` (plain dict), the state dicts
``net_g``, ``net_d``, ``net_g_ema``, ``opt_g``, ``opt_d``, ``sched_g``,
``sched_d``, ``scaler`` (absent parts are ``None``) and ``rng`` (Python,
NumPy, torch CPU, every CUDA device, and the data sampler's generator).
"""
from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from ..fileio import atomic_path

#: Identifies files written by :func:`save_checkpoint`.
CHECKPOINT_FORMAT = "esrgan-lesson-train-v1"
_STEP_FILE = re.compile(r"^ckpt_(\d{8})\.pt$")
BEST_NAME = "best.pt"


def capture_rng(sampler_state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every random state a training step depends on, as tensors/primitives."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": (np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]),
                  int(np_state[3]), float(np_state[4])),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "sampler": sampler_state,
    }
    return state


def restore_rng(state: dict[str, Any]) -> dict[str, Any] | None:
    """Restore :func:`capture_rng`'s states; returns the sampler's state for the caller."""
    random.setstate(_tuplify(state["python"]))
    name, key, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, key.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][: torch.cuda.device_count()])
    return state.get("sampler")


def _tuplify(obj: Any) -> Any:
    if isinstance(obj, (list, tuple)):
        return tuple(_tuplify(o) for o in obj)
    return obj


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file, then ``os.replace``)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"format": CHECKPOINT_FORMAT, **state}, tmp)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a training checkpoint with ``weights_only=True`` (CPU tensors)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file
        raise CheckpointError(f"cannot read checkpoint {path}: {' '.join(str(exc).split())[:200]}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an esrgan-lesson training checkpoint")
    return state


def step_checkpoint_path(folder: str | Path, step: int) -> Path:
    """``folder/ckpt_<step:08d>.pt``."""
    return Path(folder) / f"ckpt_{step:08d}.pt"


def list_checkpoints(folder: str | Path) -> list[Path]:
    """Step checkpoints in ``folder``, oldest first (``best.pt`` excluded)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP_FILE.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The newest step checkpoint in ``folder``, or ``None``."""
    found = list_checkpoints(folder)
    return found[-1] if found else None


def prune_checkpoints(folder: str | Path, keep_last: int) -> list[Path]:
    """Delete all but the newest ``keep_last`` step checkpoints; returns the deleted paths."""
    old = list_checkpoints(folder)[:-keep_last] if keep_last > 0 else []
    for p in old:
        p.unlink(missing_ok=True)
    return old
