"""Where a trained file came from: the metadata every exported generator carries.

:func:`run_provenance` returns string fields for a safetensors header:

- ``config``: the whole resolved config as JSON (so the run can be repeated
  from the file alone), ``config_name``, ``stage``, ``arch`` (the generator
  type; its sizes are in ``esrgan_lesson.arch``), ``seed``, ``steps``;
- ``threads``: torch's CPU thread count during the run (float sums, and so
  the weights, depend on it on the CPU);
- ``torch``: the torch version, ``commit``: the git commit of the package's
  checkout (``<sha>-dirty`` when tracked files differ from it, ``unknown``
  outside a git checkout), ``argv``: the command line of the process.

The course's shipped checkpoints add ``command``, the one shell command that
rebuilds the file in place (see :mod:`esrgan_lesson.course.checkpoints`).
"""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

import torch

#: Metadata keys every exported generator carries (besides the architecture).
PROVENANCE_KEYS = ("config", "config_name", "stage", "arch", "seed", "steps", "threads", "torch", "commit", "argv")


def git_commit(path: str | Path | None = None) -> str:
    """The commit checked out at ``path`` (default: this package's folder).

    Returns ``<40-hex sha>``, with ``-dirty`` appended when tracked files have
    uncommitted changes, or ``unknown`` when ``path`` is not in a git checkout
    or git is not installed.
    """
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


def run_provenance(config: Mapping[str, Any], config_name: str, stage: str, seed: int, steps: int,
                   threads: int | None = None) -> dict[str, str]:
    """String metadata (:data:`PROVENANCE_KEYS`) describing one finished training run.

    Args:
        config: the resolved config as a plain dict (``TrainConfig.to_dict()``).
        config_name, stage, seed, steps: as in the config; ``steps`` = optimiser steps done.
        threads: torch CPU threads used; ``None`` reads :func:`torch.get_num_threads`.
    """
    return {
        "config": json.dumps(config, sort_keys=True),
        "config_name": str(config_name),
        "stage": str(stage),
        "arch": str(config.get("model", {}).get("type", "unknown")),
        "seed": str(int(seed)),
        "steps": str(int(steps)),
        "threads": str(int(threads if threads is not None else torch.get_num_threads())),
        "torch": torch.__version__,
        "commit": git_commit(),
        "argv": shlex.join(sys.argv),
    }
