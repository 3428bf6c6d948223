"""Checkpoint key layouts: read any ESRGAN generator layout into the package's names.

Three key layouts of the same RRDBNet exist in the wild (see the facts table
in the course reference):

* **old arch** (``RRDB_ESRGAN_x4_old_arch.pth``): one ``nn.Sequential`` called
  ``model``; ``model.0`` first conv, ``model.1.sub.{i}.RDB{j}.conv{k}.0`` the
  dense convs, ``model.1.sub.{nb}`` the trunk conv, then for each upsampling
  stage three modules (upsample, conv, LeakyReLU) so the stage convs sit at
  ``model.3``, ``model.6``, ``model.9``..., followed by ``HR conv`` and
  ``LeakyReLU`` and the last conv;
* **ESRGAN repository since 2019** (``conv_first``, ``RRDB_trunk``,
  ``trunk_conv``, ``upconv1/2``, ``HRconv``, ``conv_last``);
* **BasicSR / Real-ESRGAN**, the package's own names (``conv_first``,
  ``body.{i}.rdb{j}.conv{k}``, ``conv_body``, ``conv_up{n}``, ``conv_hr``,
  ``conv_last``), often wrapped as ``{"params_ema": ...}`` or ``{"params": ...}``
  and sometimes prefixed ``module.`` by ``DataParallel``.

:func:`convert_state_dict` maps any of them to the package's names and infers
the :class:`~esrgan_lesson.models.RRDBNet` constructor arguments from tensor
shapes. (ncnn ``.param``/``.bin`` files are read by :mod:`.ncnn`.)
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

from ..errors import CheckpointError
from ..models.rrdbnet import SUPPORTED_SCALES

#: The keys of the constructor arguments :func:`convert_state_dict` infers.
ARCH_KEYS = ("num_in_ch", "num_out_ch", "scale", "num_feat", "num_block", "num_grow_ch")
_MAX_KEYS_SHOWN = 4

StateDict = dict[str, torch.Tensor]


def _show_keys(keys: list[str]) -> str:
    shown = ", ".join(keys[:_MAX_KEYS_SHOWN])
    more = len(keys) - _MAX_KEYS_SHOWN
    return shown + (f", ... ({more} more)" if more > 0 else "")


def unwrap_state_dict(obj: Any) -> StateDict:
    """Return the flat ``{name: tensor}`` dict inside a checkpoint object.

    Prefers ``params_ema`` over ``params`` (BasicSR saves the EMA generator
    under ``params_ema``; it is the one the authors evaluate), also accepts
    ``state_dict``, and strips a ``module.`` prefix left by ``DataParallel``.
    Raises :class:`CheckpointError` if no tensors are found.
    """
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"checkpoint is a {type(obj).__name__}, not a dict of tensors")
    for wrapper in ("params_ema", "params", "state_dict"):
        inner = obj.get(wrapper)
        if isinstance(inner, Mapping):
            obj = inner
            break
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        keys = [str(k) for k in obj]
        found = f"keys {_show_keys(keys)}" if keys else "an empty dict"
        raise CheckpointError(f"no tensors found in checkpoint (found {found})")
    if all(k.startswith("module.") for k in tensors):
        tensors = {k[len("module."):]: v for k, v in tensors.items()}
    return tensors


def _detect_layout(keys: set[str]) -> str:
    if "model.0.weight" in keys and any(k.startswith("model.1.sub.") for k in keys):
        return "old"
    if "conv_first.weight" in keys and any(k.startswith("RRDB_trunk.") for k in keys):
        return "esrgan"
    if "conv_first.weight" in keys and any(k.startswith("body.") for k in keys) and "conv_body.weight" in keys:
        return "basicsr"
    return "unknown"


def _not_a_generator(keys: list[str]) -> CheckpointError:
    keyset = set(keys)
    if any(re.fullmatch(r"conv\d+_\d+\.weight", k) for k in keyset) or "linear1.weight" in keyset:
        what = "a discriminator checkpoint"
    elif any(k.startswith(("features.", "vgg.")) for k in keyset) or "conv11.weight" in keyset:
        what = "a VGG/feature-extractor checkpoint"
    elif any(k.startswith(("optimizer", "state.", "param_groups")) for k in keyset):
        what = "an optimiser state"
    else:
        what = "something other than an RRDBNet generator"
    return CheckpointError(f"looks like {what}: keys {_show_keys(keys)}")


_OLD_RDB = re.compile(r"model\.1\.sub\.(\d+)\.RDB([123])\.conv([1-5])\.0\.(weight|bias)")
_OLD_TOP = re.compile(r"model\.(\d+)\.(weight|bias)")
_OLD_TRUNK = re.compile(r"model\.1\.sub\.(\d+)\.(weight|bias)")
_ESRGAN_RDB = re.compile(r"RRDB_trunk\.(\d+)\.RDB([123])\.conv([1-5])\.(weight|bias)")
_ESRGAN_TOP = {"trunk_conv": "conv_body", "HRconv": "conv_hr", "conv_first": "conv_first", "conv_last": "conv_last"}
_ESRGAN_UP = re.compile(r"upconv(\d+)\.(weight|bias)")


def _convert_old(sd: StateDict) -> StateDict:
    """Old-arch Sequential indices -> package names.

    The old ``model`` Sequential is ``[first conv, ShortcutBlock(RRDBs + trunk
    conv), (upsample, conv, lrelu) * n_up, HR conv, lrelu, last conv]`` with
    nested Sequentials flattened, so stage ``s`` (1-based) has its conv at
    index ``3 * s``; the HR conv follows at ``3 * n_up + 2`` and the last conv
    at ``3 * n_up + 4`` (x4: 3, 6, 8, 10; x3: 3, 5, 7; x8: 3, 6, 9, 11, 13).
    """
    top = sorted({int(m.group(1)) for k in sd if (m := _OLD_TOP.fullmatch(k))} - {0})
    if len(top) < 3:
        raise CheckpointError(f"old-arch checkpoint has too few top-level layers: model.{top}")
    n_up = len(top) - 2
    expected = [3 * s for s in range(1, n_up + 1)] + [3 * n_up + 2, 3 * n_up + 4]
    if top != expected:
        raise CheckpointError(
            f"old-arch checkpoint has layers at model.{top}; expected model.{expected} for {n_up} upsampling stage(s)"
        )
    names = {3 * s: f"conv_up{s}" for s in range(1, n_up + 1)}
    names[0] = "conv_first"
    names[3 * n_up + 2] = "conv_hr"
    names[3 * n_up + 4] = "conv_last"
    # The trunk conv is model.1.sub.{nb}: it follows the nb RRDBs 0..nb-1.
    n_blocks = len({int(m.group(1)) for k in sd if (m := _OLD_RDB.fullmatch(k))})
    trunk = {int(m.group(1)) for k in sd if (m := _OLD_TRUNK.fullmatch(k))}
    if trunk != {n_blocks}:
        raise CheckpointError(
            f"old-arch checkpoint has {n_blocks} RRDBs but its trunk conv at model.1.sub.{sorted(trunk)}"
        )
    out: StateDict = {}
    for key, value in sd.items():
        if m := _OLD_RDB.fullmatch(key):
            block, rdb, conv, kind = m.groups()
            out[f"body.{block}.rdb{rdb}.conv{conv}.{kind}"] = value
        elif m := _OLD_TRUNK.fullmatch(key):
            out[f"conv_body.{m.group(2)}"] = value
        elif m := _OLD_TOP.fullmatch(key):
            out[f"{names[int(m.group(1))]}.{m.group(2)}"] = value
        else:
            raise CheckpointError(f"unexpected key in old-arch checkpoint: {key}")
    return out


def _convert_esrgan(sd: StateDict) -> StateDict:
    """ESRGAN-repository (2019+) names -> package names."""
    out: StateDict = {}
    for key, value in sd.items():
        if m := _ESRGAN_RDB.fullmatch(key):
            block, rdb, conv, kind = m.groups()
            out[f"body.{block}.rdb{rdb}.conv{conv}.{kind}"] = value
        elif m := _ESRGAN_UP.fullmatch(key):
            out[f"conv_up{m.group(1)}.{m.group(2)}"] = value
        else:
            module, _, kind = key.partition(".")
            if module not in _ESRGAN_TOP or kind not in ("weight", "bias"):
                raise CheckpointError(f"unexpected key in ESRGAN checkpoint: {key}")
            out[f"{_ESRGAN_TOP[module]}.{kind}"] = value
    return out


def infer_arch(sd: StateDict, scale: int | None = None) -> dict[str, int]:
    """RRDBNet constructor arguments from a state dict in the package's names.

    ``num_feat``/``num_in_ch`` come from ``conv_first``, ``num_out_ch`` from
    ``conv_last``, ``num_grow_ch`` from ``body.0.rdb1.conv1``, ``num_block``
    from the ``body.{i}`` indices. The scale follows from the upsampling
    stages: one ``conv_up`` is x3, three are x8, two are x4 unless
    ``conv_first`` sees 4x (x2, pixel-unshuffle 2) or 16x (x1, unshuffle 4)
    the output channels. ``scale``, if given, overrides that guess and must be
    consistent with the stage count.
    """
    try:
        first, last = sd["conv_first.weight"], sd["conv_last.weight"]
        grow = sd["body.0.rdb1.conv1.weight"]
    except KeyError as exc:
        raise CheckpointError(f"generator checkpoint lacks {exc.args[0]}") from None
    blocks = {int(m.group(1)) for k in sd if (m := re.match(r"body\.(\d+)\.", k))}
    n_up = len({k.split(".")[0] for k in sd if re.match(r"conv_up\d+\.weight$", k)})
    in_ch, out_ch = int(first.shape[1]), int(last.shape[0])
    stage_scales = {1: (3,), 2: (4, 2, 1), 3: (8,)}
    if n_up not in stage_scales:
        raise CheckpointError(f"generator checkpoint has {n_up} upsampling convs; RRDBNet has 1 (x3), 2 (x1/x2/x4) or 3 (x8)")
    if scale is None:
        if n_up == 2 and in_ch == 16 * out_ch:
            scale = 1
        elif n_up == 2 and in_ch == 4 * out_ch:
            scale = 2
        else:
            scale = stage_scales[n_up][0]
    if scale not in SUPPORTED_SCALES or scale not in stage_scales[n_up]:
        raise CheckpointError(f"scale x{scale} does not fit a checkpoint with {n_up} upsampling conv(s)")
    unshuffle = {2: 2, 1: 4}.get(scale, 1)
    if in_ch % (unshuffle * unshuffle):
        raise CheckpointError(f"conv_first has {in_ch} input channels, not a multiple of {unshuffle**2} as x{scale} needs")
    return {
        "num_in_ch": in_ch // (unshuffle * unshuffle),
        "num_out_ch": out_ch,
        "scale": int(scale),
        "num_feat": int(first.shape[0]),
        "num_block": len(blocks),
        "num_grow_ch": int(grow.shape[0]),
    }


def convert_state_dict(sd: Mapping[str, Any], scale: int | None = None) -> tuple[StateDict, dict[str, int]]:
    """Convert a generator checkpoint in any known layout to the package's names.

    Args:
        sd: a state dict (or a BasicSR wrapper ``{"params_ema": ...}``, or a
            ``module.``-prefixed ``DataParallel`` dict) in the old-arch,
            ESRGAN-2019 or BasicSR layout.
        scale: the upscaling factor, when it cannot be told from the keys
            (see :func:`infer_arch`); ``None`` to infer it.

    Returns:
        ``(state_dict, arch)``: tensors under RRDBNet's names (the same tensor
        objects, not copies) and the constructor arguments ``num_in_ch``,
        ``num_out_ch``, ``scale``, ``num_feat``, ``num_block``, ``num_grow_ch``.

    Raises:
        CheckpointError: not a generator (names what was found instead), or an
            incomplete/inconsistent one.
    """
    tensors = unwrap_state_dict(sd)
    layout = _detect_layout(set(tensors))
    if layout == "old":
        converted = _convert_old(tensors)
    elif layout == "esrgan":
        converted = _convert_esrgan(tensors)
    elif layout == "basicsr":
        converted = dict(tensors)
    else:
        raise _not_a_generator(list(tensors))
    return converted, infer_arch(converted, scale)
