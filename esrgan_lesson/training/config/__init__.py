"""Training configuration: typed dataclasses (:mod:`.schema`) loaded from YAML with strict checks (:mod:`.loader`).

A config is a :class:`TrainConfig` with sections ``model`` (the generator),
``network_d``, ``data``, ``train``, ``engine``, ``logging`` and ``paths``.
:func:`load_config` reads a named config shipped in ``esrgan_lesson/configs``
(``lesson-psnr``, ``lesson-gan``, ``paper-psnr``, ``paper-gan``) or a YAML
file, applies ``key=value`` overrides with dotted keys, and type-checks every
value. An unknown key or an ill-typed value is a one-line
:class:`~esrgan_lesson.errors.ConfigError` naming the dotted key, e.g.
``train.lr_g: expected float, got 'abc'``.
"""
from __future__ import annotations

from .loader import (
    CONFIG_DIR,
    apply_override,
    from_dict,
    load_config,
    named_configs,
    read_yaml,
    resolve_config_path,
    save_config,
    validate,
)
from .schema import (
    DataConfig,
    DiscriminatorConfig,
    EngineConfig,
    LoggingConfig,
    ModelConfig,
    PathsConfig,
    PerceptualConfig,
    StageConfig,
    TrainConfig,
)

__all__ = [
    "CONFIG_DIR",
    "DataConfig",
    "DiscriminatorConfig",
    "EngineConfig",
    "LoggingConfig",
    "ModelConfig",
    "PathsConfig",
    "PerceptualConfig",
    "StageConfig",
    "TrainConfig",
    "apply_override",
    "from_dict",
    "load_config",
    "named_configs",
    "read_yaml",
    "resolve_config_path",
    "save_config",
    "validate",
]
