"""Training checkpoints: durable atomic writes, exact RNG capture, keep-last-K pruning.

A checkpoint is a ``torch.save``'d dict holding only tensors and primitive
containers, so it loads with ``torch.load(..., weights_only=True)``:
``step``, ``elapsed``, ``best_psnr``, ``config`` (plain dict), the state dicts
``net_g``, ``net_d``, ``net_g_ema``, ``opt_g``, ``opt_d``, ``sched_g``,
``sched_d``, ``scaler`` (absent parts are ``None``) and ``rng`` (Python,
NumPy, torch CPU, every CUDA device, and the data sampler's generator).

Crash safety: :func:`save_checkpoint` writes through
:func:`~esrgan_lesson.fileio.atomic_path` (temporary file, fsync, rename,
fsync of the folder), so a step checkpoint is either complete or absent. A
kill during the write leaves a hidden ``.ckpt_<step>.pt.<random>.part``;
:func:`prune_checkpoints` removes such leftovers. Resuming with ``auto``
(:func:`load_latest_checkpoint`) takes the newest step checkpoint that
*loads*, so a damaged newest file (a disk that lost it) falls back to the
previous one, and pruning keeps the ``K`` newest checkpoints that load.
"""
from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from ..fileio import atomic_path, partial_files

#: Identifies files written by :func:`save_checkpoint`.
CHECKPOINT_FORMAT = "esrgan-lesson-train-v1"
_STEP_FILE = re.compile(r"^ckpt_(\d{8})\.pt$")
BEST_NAME = "best.pt"


def capture_rng(sampler_state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every random state a training step depends on, as tensors/primitives."""
    np_state = np.random.get_state(legacy=True)
    assert isinstance(np_state, tuple)  # numpy's global RandomState is MT19937: the legacy 5-tuple
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


def load_checkpoint(path: str | Path, mmap: bool = False) -> dict[str, Any]:
    """Load a training checkpoint with ``weights_only=True`` (CPU tensors).

    ``mmap=True`` maps the tensors instead of reading them (a cheap check that
    the file is whole: a truncated zip has no central directory).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception as exc:  # corrupt or foreign file
        raise CheckpointError(f"cannot read checkpoint {path}: {' '.join(str(exc).split())[:200]}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an esrgan-lesson training checkpoint")
    return state


def checkpoint_loads(path: str | Path) -> bool:
    """True when ``path`` opens as a training checkpoint (tensors memory-mapped, not read)."""
    try:
        load_checkpoint(path, mmap=True)
    except CheckpointError:
        return False
    return True


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
    """The newest step checkpoint in ``folder`` that loads, or ``None``."""
    for path in reversed(list_checkpoints(folder)):
        if checkpoint_loads(path):
            return path
    return None


def load_latest_checkpoint(folder: str | Path) -> tuple[Path, dict[str, Any], list[str]] | None:
    """``(path, state, problems)`` of the newest step checkpoint that loads, or ``None``.

    ``problems`` holds one line per newer checkpoint that was skipped because it
    does not load (e.g. truncated by a crash of the disk before it was flushed).
    """
    problems: list[str] = []
    for path in reversed(list_checkpoints(folder)):
        try:
            return path, load_checkpoint(path), problems
        except CheckpointError as exc:
            problems.append(str(exc))
    return None


def prune_checkpoints(folder: str | Path, keep_last: int) -> list[Path]:
    """Keep the newest ``keep_last`` step checkpoints that load; delete the rest.

    Deleted: older step checkpoints, step checkpoints that do not load, and the
    temporary files of writes that were killed (``.ckpt_*.pt.*.part``,
    ``.best.pt.*.part``). Call it only when no checkpoint write is in progress.
    Returns the deleted paths.
    """
    kept, gone = 0, []
    for path in reversed(list_checkpoints(folder)):
        if kept < keep_last and checkpoint_loads(path):
            kept += 1
        else:
            gone.append(path)
    gone += partial_files(folder, "ckpt_*.pt") + partial_files(folder, BEST_NAME)
    for path in gone:
        path.unlink(missing_ok=True)
    return gone
