"""Generator checkpoints: read any ESRGAN key layout, save safetensors, interpolate.

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
shapes, so :func:`load_generator` can rebuild the network and load it with
``strict=True``. :func:`save_generator` writes safetensors with the
architecture in the file's metadata.

Network interpolation (ESRGAN Sec. 3.4, Eq. 4):
``theta = (1 - alpha) * theta_PSNR + alpha * theta_GAN``; alpha = 0 is the
PSNR-oriented model and alpha = 1 the GAN model.
"""
from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import CheckpointError, ESRGANError
from .fileio import atomic_path
from .models.rrdbnet import SUPPORTED_SCALES, RRDBNet

#: safetensors metadata key holding the RRDBNet constructor arguments (JSON).
ARCH_METADATA_KEY = "esrgan_lesson.arch"
#: The keys of the constructor arguments :func:`convert_state_dict` infers.
ARCH_KEYS = ("num_in_ch", "num_out_ch", "scale", "num_feat", "num_block", "num_grow_ch")

_SAFETENSORS_HEADER_LIMIT = 100_000_000  # bytes; a larger JSON header is not a safetensors file
_MAX_KEYS_SHOWN = 4

StateDict = dict[str, torch.Tensor]


# --------------------------------------------------------------------------- #
# Layout detection and conversion
# --------------------------------------------------------------------------- #
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


# --------------------------------------------------------------------------- #
# Files
# --------------------------------------------------------------------------- #
def _is_safetensors(path: Path) -> bool:
    """Sniff the safetensors header: an 8-byte little-endian length, then ``{``."""
    with path.open("rb") as fh:
        head = fh.read(9)
    if len(head) < 9 or head[8:9] != b"{":
        return False
    return 0 < int.from_bytes(head[:8], "little") < _SAFETENSORS_HEADER_LIMIT


def load_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Read a checkpoint file: ``(contents, safetensors metadata or {})``.

    The format is recognised from the bytes, not the extension: safetensors
    files go through :mod:`safetensors`, anything else through
    ``torch.load(..., weights_only=True)`` on the CPU (no arbitrary pickles).
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file")
    if _is_safetensors(path):
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt", device="cpu") as fh:
                meta = dict(fh.metadata() or {})
                data: dict[str, Any] = {k: fh.get_tensor(k) for k in fh.keys()}
        except Exception as exc:  # safetensors raises its own error types
            raise CheckpointError(f"{path}: corrupt safetensors file ({_one_line(exc)})") from None
        return data, meta
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt zip, truncated pickle, refused global ...
        raise CheckpointError(
            f"{path}: cannot be read as a PyTorch checkpoint with weights_only=True ({_one_line(exc)})"
        ) from None
    if not isinstance(obj, Mapping):
        raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a dict of tensors")
    return dict(obj), {}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def load_state_dict_file(path: str | Path) -> dict[str, Any]:
    """Read a ``.safetensors`` or ``.pth`` file into a dict (weights only).

    Raises :class:`CheckpointError` for a missing, empty, corrupt or non-dict file.
    """
    return load_checkpoint(path)[0]


def _arch_from_metadata(meta: Mapping[str, str]) -> dict[str, int] | None:
    raw = meta.get(ARCH_METADATA_KEY)
    if raw is None:
        return None
    try:
        arch = json.loads(raw)
        return {k: int(arch[k]) for k in ARCH_KEYS}
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"bad {ARCH_METADATA_KEY} metadata: {_one_line(exc)}") from None


def read_generator(
    source: str | Path | Mapping[str, Any], scale: int | None = None
) -> tuple[StateDict, dict[str, int]]:
    """State dict in package names plus RRDBNet arguments, from a file or a dict.

    Architecture metadata written by :func:`save_generator` wins over the
    inferred one (and over ``scale``) when present.
    """
    meta: dict[str, str] = {}
    if isinstance(source, (str, Path)):
        obj, meta = load_checkpoint(source)
    else:
        obj = source
    try:
        sd, arch = convert_state_dict(obj, scale=scale)
    except CheckpointError as exc:
        if isinstance(source, (str, Path)):
            raise CheckpointError(f"{source}: {exc}") from None
        raise
    stored = _arch_from_metadata(meta)
    return sd, (stored if stored is not None else arch)


def build_generator(sd: Mapping[str, torch.Tensor], arch: Mapping[str, int], device: str | torch.device = "cpu") -> RRDBNet:
    """Build ``RRDBNet(**arch)``, load ``sd`` with ``strict=True``, move to ``device``, eval mode."""
    model = RRDBNet(**arch, small_init=False)
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[1:3]) if len(first) > 1 else first[0]
        raise CheckpointError(f"checkpoint does not fit RRDBNet({_fmt_arch(arch)}): {detail[:300]}") from None
    return model.to(torch.device(device)).eval()


def _fmt_arch(arch: Mapping[str, int]) -> str:
    return ", ".join(f"{k}={arch[k]}" for k in ARCH_KEYS if k in arch)


def load_generator(
    source: str | Path | Mapping[str, Any], device: str | torch.device = "cpu", scale: int | None = None
) -> RRDBNet:
    """Load an RRDBNet generator from a file or state dict in any known layout.

    Args:
        source: path to a ``.safetensors``/``.pth`` file, or a state dict.
        device: where to put the model.
        scale: the upscaling factor when the keys cannot tell (see :func:`infer_arch`).

    Returns:
        The network in eval mode, every parameter loaded (``strict=True``).
    """
    sd, arch = read_generator(source, scale=scale)
    return build_generator(sd, arch, device)


def generator_arch(model: nn.Module) -> dict[str, int]:
    """The RRDBNet constructor arguments of ``model``."""
    try:
        return {k: int(getattr(model, k)) for k in ARCH_KEYS}
    except AttributeError as exc:
        raise ESRGANError(f"not an RRDBNet: {exc}") from None


def save_generator(model: nn.Module, path: str | Path, metadata: Mapping[str, Any] | None = None) -> Path:
    """Write ``model``'s weights as safetensors, atomically.

    The architecture (:data:`ARCH_KEYS`) goes into the file's metadata under
    :data:`ARCH_METADATA_KEY` so :func:`load_generator` rebuilds the network
    exactly; ``metadata`` values are stored as strings (non-strings as JSON).
    The file is written under a temporary name and renamed into place.
    """
    from safetensors.torch import save_file

    path = Path(path)
    meta = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()}
    meta[ARCH_METADATA_KEY] = json.dumps(generator_arch(model))
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


# --------------------------------------------------------------------------- #
# Network interpolation (ESRGAN Sec. 3.4, Eq. 4)
# --------------------------------------------------------------------------- #
def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise ESRGANError(f"alpha must be in [0, 1] (0 = PSNR model, 1 = GAN model), got {alpha}")
    return alpha


def interpolate_state_dicts(
    psnr: Mapping[str, torch.Tensor], gan: Mapping[str, torch.Tensor], alpha: float
) -> StateDict:
    """``(1 - alpha) * psnr + alpha * gan`` for every floating-point tensor (ESRGAN Eq. 4).

    Both dicts must have the same keys and shapes (mismatches are named in a
    :class:`CheckpointError`). The sum is taken in float64 and cast back, so
    alpha = 0 returns the PSNR tensors and alpha = 1 the GAN tensors exactly.
    Non-float tensors (e.g. BatchNorm ``num_batches_tracked``) are copied
    from ``psnr``.
    """
    alpha = _check_alpha(alpha)
    only_psnr = sorted(set(psnr) - set(gan))
    only_gan = sorted(set(gan) - set(psnr))
    if only_psnr or only_gan:
        parts = []
        if only_psnr:
            parts.append(f"only in the PSNR model: {_show_keys(only_psnr)}")
        if only_gan:
            parts.append(f"only in the GAN model: {_show_keys(only_gan)}")
        raise CheckpointError("cannot interpolate, keys differ; " + "; ".join(parts))
    shapes = [f"{k} {tuple(psnr[k].shape)} vs {tuple(gan[k].shape)}" for k in psnr if psnr[k].shape != gan[k].shape]
    if shapes:
        raise CheckpointError("cannot interpolate, shapes differ: " + ", ".join(shapes[:_MAX_KEYS_SHOWN]))
    out: StateDict = {}
    for key, a in psnr.items():
        b = gan[key]
        if a.is_floating_point():
            mixed = (1.0 - alpha) * a.detach().double() + alpha * b.detach().to(a.device).double()
            out[key] = mixed.to(a.dtype)
        else:
            out[key] = a.detach().clone()
    return out


def interpolate_generators(psnr_model: nn.Module, gan_model: nn.Module, alpha: float) -> nn.Module:
    """A copy of ``psnr_model`` holding the interpolated weights (ESRGAN Eq. 4)."""
    mixed = interpolate_state_dicts(psnr_model.state_dict(), gan_model.state_dict(), alpha)
    model = copy.deepcopy(psnr_model)
    model.load_state_dict(mixed, strict=True)
    return model


def interpolate_images(img_psnr: Any, img_gan: Any, alpha: float) -> Any:
    """Pixel-space blend ``(1 - alpha) * img_psnr + alpha * img_gan``.

    The paper's baseline for network interpolation (ESRGAN Fig. 9). Accepts
    numpy arrays or tensors of equal shape (any layout, values in [0, 1]);
    returns the same kind.
    """
    alpha = _check_alpha(alpha)
    if tuple(img_psnr.shape) != tuple(img_gan.shape):
        raise ESRGANError(f"images differ in shape: {tuple(img_psnr.shape)} vs {tuple(img_gan.shape)}")
    if isinstance(img_psnr, torch.Tensor):
        return (1.0 - alpha) * img_psnr + alpha * img_gan.to(img_psnr)
    a = np.asarray(img_psnr)
    return ((1.0 - alpha) * a + alpha * np.asarray(img_gan)).astype(a.dtype, copy=False)
