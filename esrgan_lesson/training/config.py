"""Training configuration: typed dataclasses loaded from YAML with strict checks.

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

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml

from esrgan_lesson.errors import ConfigError
from esrgan_lesson.models.tables import DISCRIMINATORS, GENERATORS
from esrgan_lesson.paper import (
    ADAM_BETAS,
    BATCH_SIZE,
    EMA_DECAY,
    ETA_L1,
    GROWTH_CHANNELS,
    HR_PATCH,
    LAMBDA_ADV,
    NUM_BLOCKS,
    NUM_FEAT,
    PERCEPTUAL_LAYER,
    PSNR_LR,
)

#: Folder of the named configs shipped with the package.
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


@dataclass
class ModelConfig:
    """The generator. ``type``: a name in :data:`esrgan_lesson.models.tables.GENERATORS`:
    ``rrdbnet`` (ESRGAN) or ``srresnet`` (SRGAN, BN switchable)."""

    type: str = "rrdbnet"
    scale: int = 4
    num_feat: int = NUM_FEAT
    num_block: int = NUM_BLOCKS
    num_grow_ch: int = GROWTH_CHANNELS
    use_bn: bool = False  # srresnet only


@dataclass
class DiscriminatorConfig:
    """The discriminator. ``type``: a name in :data:`esrgan_lesson.models.tables.DISCRIMINATORS`
    (``vgg_style``, SRGAN/ESRGAN's, is the default); ``input_size`` must equal the HR patch."""

    type: str = "vgg_style"
    num_feat: int = 64
    input_size: int = HR_PATCH


@dataclass
class DataConfig:
    """Training and validation images.

    ``demo: true`` builds the course's demo set under ``demo_root`` when it is
    missing and uses its ``train``/``val`` folders (``train_hr``/``val_hr``
    are then ignored). ``train_lr``/``val_lr`` = null: LR images are made
    from HR by MATLAB bicubic. ``sampler``: ``device`` keeps all HR images on
    the training device and crops there; ``dataset`` uses a DataLoader.
    """

    demo: bool = False
    demo_root: str = "data/demo"
    train_hr: list[str] = field(default_factory=list)
    train_lr: Optional[str] = None
    val_hr: Optional[str] = None
    val_lr: Optional[str] = None
    augment: bool = True
    cache: bool = True
    sampler: Literal["device", "dataset"] = "device"
    num_workers: int = 0
    val_max_images: int = 0  # 0 = all


@dataclass
class PerceptualConfig:
    """The perceptual loss. ``network``: ``none``, ``vgg19``/``vgg16`` (local
    ImageNet weights), ``minc`` (``weights`` = VGG16minc_53 file), a
    ``package.module:factory`` returning an ``nn.Module``, or a path to a
    TorchScript feature net. ``weight`` 0 switches the loss off."""

    network: str = "vgg19"
    layer: str = PERCEPTUAL_LAYER
    weights: Optional[str] = None
    criterion: Literal["l1", "l2"] = "l1"
    weight: float = 1.0


@dataclass
class StageConfig:
    """One training stage (ESRGAN Sec. 4.1): ``psnr`` (L1 only) or ``gan``.

    The LR schedule is MultiStepLR at ``milestones`` or, when
    ``halving_period`` > 0, StepLR halving every ``halving_period`` steps.
    ``max_seconds`` > 0 stops early after that much wall time.
    """

    stage: Literal["psnr", "gan"] = "psnr"
    iterations: int = 1_000_000
    max_seconds: float = 0.0
    batch_size: int = BATCH_SIZE
    hr_patch: int = HR_PATCH
    lr_g: float = PSNR_LR
    lr_d: float = PSNR_LR
    milestones: list[int] = field(default_factory=list)
    halving_period: int = 0
    gamma: float = 0.5
    betas: tuple[float, float] = ADAM_BETAS
    pixel_weight: float = 1.0
    pixel_criterion: Literal["l1", "l2"] = "l1"
    gan_weight: float = LAMBDA_ADV
    gan_type: Literal["standard", "ragan"] = "ragan"
    perceptual: PerceptualConfig = field(default_factory=PerceptualConfig)


@dataclass
class EngineConfig:
    """How steps run: device, mixed precision, memory format, compile, EMA, NaN guard, GPU speed switches.

    ``deterministic``: on CUDA, no cuDNN autotuning and deterministic kernels
    (bitwise-repeatable GPU runs); otherwise ``cudnn.benchmark`` is on. CPU
    runs are unaffected. ``cuda_graph``: capture the whole single-GPU step as
    one CUDA graph. ``compile_blocks``: ``torch.compile`` each RRDB (one
    compiled block reused), instead of ``compile`` (the whole model). See
    :mod:`esrgan_lesson.training.graphs`.
    """

    device: str = "auto"
    amp: Literal["none", "bf16", "fp16"] = "none"
    channels_last: bool = False
    compile: bool = False
    ema_decay: float = EMA_DECAY  # 0 disables the EMA
    nan_patience: int = 10
    seed: int = 0
    threads: int = 0  # torch CPU threads; 0 = leave torch's default
    deterministic: bool = False
    cuda_graph: bool = False
    compile_blocks: bool = False


@dataclass
class LoggingConfig:
    """Validation, checkpoints and logs (``0`` disables a periodic action)."""

    log_every: int = 50
    val_every: int = 5000
    save_every: int = 5000
    keep_last: int = 3
    tensorboard: bool = False
    csv: bool = True
    sample_images: int = 2
    progress: bool = True
    val_model: Literal["g", "ema"] = "ema"  # which generator validation scores (and "best" follows)


@dataclass
class PathsConfig:
    """Output folder, PSNR checkpoint to start the GAN stage from, resume point."""

    output_dir: str = "runs/esrgan"
    pretrained_g: Optional[str] = None
    resume: Optional[str] = None  # a checkpoint path or "auto"


@dataclass
class TrainConfig:
    """A whole training run; see the module docstring."""

    name: str = "esrgan"
    description: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    network_d: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: StageConfig = field(default_factory=StageConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict (tuples as lists), loadable again by :func:`from_dict`."""
        return _plain(dataclasses.asdict(self))


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


# --- type checking ------------------------------------------------------------
def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _describe(a) for a in typing.get_args(tp))
    if origin in (list, tuple):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return f"list of {_describe(args[0])}" if args else "list"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against type ``tp``; return it (normalised) or raise ConfigError."""
    origin = typing.get_origin(tp)
    bad = ConfigError(f"{key}: expected {_describe(tp)}, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping of {sorted(f.name for f in dataclasses.fields(tp))}, got {value!r}")
        return _build(tp, value, key + ".")
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError:
                pass
        raise bad
    if origin is Literal:
        if value in typing.get_args(tp) and not isinstance(value, bool):
            return value
        raise bad
    if origin in (list, tuple):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        if isinstance(value, (str, int, float)) and origin is list and args and args[0] is str:
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise bad
        if origin is tuple and Ellipsis not in typing.get_args(tp) and len(value) != len(args):
            raise ConfigError(f"{key}: expected {len(args)} values, got {value!r}")
        items = [_coerce(v, args[i] if origin is tuple and i < len(args) else args[0], f"{key}[{i}]")
                 for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise bad
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
            try:
                return float(value)
            except ValueError:
                raise bad from None
        raise bad
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad
    raise ConfigError(f"{key}: unsupported field type {tp}")  # pragma: no cover


def _build(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key (valid keys in {prefix.rstrip('.') or 'the top level'}: {', '.join(sorted(names))})")
    kwargs = {k: _coerce(v, hints[k], prefix + k) for k, v in data.items()}
    return cls(**kwargs)


def validate(cfg: TrainConfig) -> TrainConfig:
    """Cross-field checks (positive sizes, patch divisible by scale, stage needs)."""
    t, m = cfg.train, cfg.model
    checks = [
        (t.iterations > 0, "train.iterations: must be positive"),
        (t.batch_size > 0, "train.batch_size: must be positive"),
        (t.lr_g > 0 and t.lr_d > 0, "train.lr_g/lr_d: must be positive"),
        (t.hr_patch > 0 and t.hr_patch % m.scale == 0, f"train.hr_patch: must be a positive multiple of model.scale ({m.scale})"),
        (0 < t.gamma <= 1, "train.gamma: must be in (0, 1]"),
        (0 <= cfg.engine.ema_decay < 1, "engine.ema_decay: must be in [0, 1)"),
        (cfg.engine.nan_patience > 0, "engine.nan_patience: must be positive"),
        (m.scale in (1, 2, 3, 4, 8), "model.scale: must be 1, 2, 3, 4 or 8"),
        (cfg.logging.keep_last >= 1, "logging.keep_last: must be at least 1"),
        (list(t.milestones) == sorted(t.milestones), "train.milestones: must be increasing"),
        (cfg.data.demo or bool(cfg.data.train_hr), "data.train_hr: give at least one folder (or set data.demo: true)"),
    ]
    checks += [(m.type in GENERATORS, f"model.type: unknown network {m.type!r}; known: {', '.join(GENERATORS)}"),
               (cfg.network_d.type in DISCRIMINATORS,
                f"network_d.type: unknown network {cfg.network_d.type!r}; known: {', '.join(DISCRIMINATORS)}")]
    if t.stage == "gan":
        checks.append((cfg.network_d.input_size == t.hr_patch,
                       f"network_d.input_size: must equal train.hr_patch ({t.hr_patch})"))
    for ok, msg in checks:
        if not ok:
            raise ConfigError(msg)
    return cfg


def from_dict(data: dict[str, Any]) -> TrainConfig:
    """Build and validate a :class:`TrainConfig` from a nested dict."""
    if not isinstance(data, dict):
        raise ConfigError(f"config must be a mapping at the top level, got {type(data).__name__}")
    return validate(_build(TrainConfig, data))


def named_configs() -> list[str]:
    """Names of the configs shipped in ``esrgan_lesson/configs``."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A shipped config's file for a bare name, else the path itself (must exist)."""
    text = str(name_or_path)
    shipped = CONFIG_DIR / f"{text}.yaml"
    if "/" not in text and "\\" not in text and shipped.is_file():
        return shipped
    path = Path(text)
    if not path.is_file():
        raise ConfigError(f"config {text!r} is neither a file nor one of the named configs {named_configs()}")
    return path


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Parse a YAML mapping (empty file = empty mapping)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read YAML ({' '.join(str(exc).split())})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def apply_override(data: dict[str, Any], override: str) -> None:
    """Apply one ``dotted.key=value`` to a nested dict in place (value parsed as YAML)."""
    if "=" not in override:
        raise ConfigError(f"override {override!r}: expected key=value")
    key, raw = override.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"override {override!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise ConfigError(f"{key}: {part} is not a section")
        node = nxt
    node[parts[-1]] = value


def load_config(name_or_path: str | Path | dict[str, Any], overrides: list[str] | tuple[str, ...] = ()) -> TrainConfig:
    """Load a named config, a YAML file or a dict, apply overrides, check types.

    >>> cfg = load_config("lesson-psnr", ["train.iterations=10"])
    """
    if isinstance(name_or_path, dict):
        data = dict(name_or_path)
    else:
        data = read_yaml(resolve_config_path(name_or_path))
    data = _plain(data)
    for ov in overrides:
        apply_override(data, ov)
    return from_dict(data)


def save_config(cfg: TrainConfig, path: str | Path) -> Path:
    """Write ``cfg`` as YAML atomically (temp file + rename)."""
    from esrgan_lesson.fileio import atomic_write_text

    return atomic_write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
