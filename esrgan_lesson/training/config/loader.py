"""Loading a training config: YAML or a named config, ``key=value`` overrides, strict type checks.

:func:`load_config` reads a named config shipped in ``esrgan_lesson/configs``
(``lesson-psnr``, ``lesson-gan``, ``paper-psnr``, ``paper-gan``) or a YAML
file, applies ``key=value`` overrides with dotted keys, and type-checks every
value against :mod:`.schema`. An unknown key or an ill-typed value is a one-line
:class:`~esrgan_lesson.errors.ConfigError` naming the dotted key, e.g.
``train.lr_g: expected float, got 'abc'``.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import yaml

from esrgan_lesson.errors import ConfigError
from esrgan_lesson.models.tables import DISCRIMINATORS, GENERATORS

from .schema import TrainConfig, plain_data

#: Folder of the named configs shipped with the package.
CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"


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
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
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
        item_types = [a for a in typing.get_args(tp) if a is not Ellipsis]
        if isinstance(value, (str, int, float)) and origin is list and item_types and item_types[0] is str:
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise bad
        if origin is tuple and Ellipsis not in typing.get_args(tp) and len(value) != len(item_types):
            raise ConfigError(f"{key}: expected {len(item_types)} values, got {value!r}")
        items = [_coerce(v, item_types[i] if origin is tuple and i < len(item_types) else item_types[0], f"{key}[{i}]")
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
    data = plain_data(data)
    for ov in overrides:
        apply_override(data, ov)
    return from_dict(data)


def save_config(cfg: TrainConfig, path: str | Path) -> Path:
    """Write ``cfg`` as YAML atomically (temp file + rename)."""
    from esrgan_lesson.fileio import atomic_write_text

    return atomic_write_text(path, yaml.safe_dump(cfg.to_dict(), sort_keys=False))
