"""Geometric augmentation used by ESRGAN training: flips and 90-degree rotations.

ESRGAN Sec. 4.1 (following EDSR/BasicSR) augments with random horizontal
flips and 90-degree rotations. The eight combinations of (hflip, vflip,
transpose) are the eight symmetries of the square, so one code 0..7 picks one
of them. The same code must be applied to the LR and the HR patch so they
stay aligned.
"""
from __future__ import annotations

import numpy as np
import torch

#: Number of distinct flip/rotation combinations (the dihedral group D4).
NUM_AUGMENTS = 8


def augment_numpy(img: np.ndarray, code: int) -> np.ndarray:
    """Apply symmetry ``code`` (0..7; 0 is identity) to an (H, W, C) array."""
    if code & 1:
        img = img[:, ::-1]
    if code & 2:
        img = img[::-1, :]
    if code & 4:
        img = img.transpose(1, 0, 2)
    return img


def augment_torch(img: torch.Tensor, code: int) -> torch.Tensor:
    """Apply symmetry ``code`` (0..7) to a (..., H, W) tensor, like :func:`augment_numpy`."""
    if code & 1:
        img = img.flip(-1)
    if code & 2:
        img = img.flip(-2)
    if code & 4:
        img = img.transpose(-1, -2)
    return img
