"""The two-stage ESRGAN training engine.

- :func:`train` / :class:`Trainer`: a whole run from a config (both stages).
- :func:`fit_l1`: a small L1 loop for equal-budget comparisons in chapters.
- :mod:`.evaluation`: PSNR/SSIM vs bicubic and sharpness of trained models.
- :mod:`.checkpoint`: atomic, ``weights_only`` checkpoints with RNG states.
"""
from __future__ import annotations

from .evaluation import EvalReport, evaluate_generator, gradient_energy, high_frequency_energy
from .fit import fit_l1
from .trainer import Trainer, TrainingError, TrainResult, train

__all__ = [
    "EvalReport",
    "TrainResult",
    "Trainer",
    "TrainingError",
    "evaluate_generator",
    "fit_l1",
    "gradient_energy",
    "high_frequency_energy",
    "train",
]
