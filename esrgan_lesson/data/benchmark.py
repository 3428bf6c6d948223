"""Evaluation sets: the demo validation split, EDSR-layout benchmarks, plain folders.

:func:`resolve_eval_set` turns what a user types after ``--data`` into a list
of (HR, optional LR) files:

* ``demo``: the demo validation split (:mod:`esrgan_lesson.data.demo`), built
  under ``demo_root`` if missing;
* a benchmark name (``Set5``, ``Set14``, ``B100``/``BSD100``, ``Urban100``,
  ``Manga109``): the folder ``<benchmark_root>/<name>`` (what
  ``data_scripts/download.py benchmark`` extracts);
* a folder holding ``HR/`` (and optionally ``LR_bicubic/X<scale>/``), the
  EDSR benchmark layout;
* a plain folder of HR images (LR made with MATLAB bicubic).

:func:`load_eval_pair` reads one pair the way SR papers evaluate: HR cropped
so its size is LR x scale, LR either read or made by ``data.pairs.make_pair`` (MATLAB bicubic) and rounded
to 8 bits (like a saved LR file).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..imageio import list_images, read_image
from .demo import build_demo_set
from .pairs import make_pair
from .paired import pair_files

#: Benchmark names and their folder names in the EDSR ``benchmark.tar``.
BENCHMARK_ALIASES = {"set5": "Set5", "set14": "Set14", "b100": "B100", "bsd100": "B100",
                     "urban100": "Urban100", "manga109": "Manga109"}


@dataclass(frozen=True)
class EvalSet:
    """A named list of ``(name, hr_path, lr_path or None)``."""

    name: str
    items: tuple[tuple[str, Path, Path | None], ...]


def _from_folders(name: str, hr_dir: Path, lr_dir: Path | None, scale: int) -> EvalSet:
    if lr_dir is not None and lr_dir.is_dir():
        pairs = pair_files(hr_dir, lr_dir, scale)
        return EvalSet(name, tuple((h.stem, h, lo) for h, lo in pairs))
    files = list_images(hr_dir) if hr_dir.is_dir() else []
    if not files:
        raise DataError(f"no HR images in {hr_dir}")
    return EvalSet(name, tuple((h.stem, h, None) for h in files))


def resolve_eval_set(spec: str, scale: int = 4, demo_root: str | Path = "data/demo",
                     benchmark_root: str | Path = "data/benchmark") -> EvalSet:
    """Interpret a ``--data`` value (see the module docstring)."""
    if spec == "demo":
        paths = build_demo_set(demo_root, scale)
        return _from_folders("demo", paths.val_hr, paths.val_lr, scale)
    path = Path(spec)
    if not path.exists() and spec.lower() in BENCHMARK_ALIASES:
        path = Path(benchmark_root) / BENCHMARK_ALIASES[spec.lower()]
        if not path.is_dir():
            raise DataError(f"benchmark {spec} not found at {path}; run "
                            f"`python data_scripts/download.py benchmark` or pass the folder")
    if not path.exists():
        raise DataError(f"--data {spec}: no such folder, and not 'demo' or a benchmark name "
                        f"({', '.join(sorted(set(BENCHMARK_ALIASES.values())))})")
    if not path.is_dir():
        raise DataError(f"--data {spec}: not a folder")
    if (path / "HR").is_dir():
        return _from_folders(path.name, path / "HR", path / "LR_bicubic" / f"X{scale}", scale)
    return _from_folders(path.name, path, None, scale)


def load_eval_pair(hr_path: Path, lr_path: Path | None, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """``(hr, lr)`` float32 (H, W, 3) arrays in [0, 1] with ``hr`` exactly ``lr`` x ``scale``.

    With an LR file, HR is cropped (bottom/right) to LR x scale when it is up
    to ``scale - 1`` pixels larger, as benchmark code does; other mismatches
    are a :class:`DataError`. Without one, HR is mod-cropped and LR is its
    MATLAB-bicubic downscale rounded to 8 bits.
    """
    hr = read_image(hr_path).rgb
    if lr_path is None:
        lr, hr = make_pair(hr, scale)
        return hr, lr
    lr = read_image(lr_path).rgb
    th, tw = lr.shape[0] * scale, lr.shape[1] * scale
    if not (th <= hr.shape[0] < th + scale and tw <= hr.shape[1] < tw + scale):
        raise DataError(f"size mismatch: HR {hr_path.name} is {hr.shape[0]}x{hr.shape[1]}, LR {lr_path.name} is "
                        f"{lr.shape[0]}x{lr.shape[1]} (x{scale} = {th}x{tw})")
    return np.ascontiguousarray(hr[:th, :tw]), lr


__all__ = ["BENCHMARK_ALIASES", "EvalSet", "load_eval_pair", "resolve_eval_set"]
