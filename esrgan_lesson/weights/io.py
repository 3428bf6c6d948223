"""Generator files: read checkpoints safely, build RRDBNet with ``strict=True``, save safetensors.

:func:`load_generator` accepts a ``.safetensors``/``.pth`` file in any key
layout (:mod:`.layouts`), an ncnn ``.param``/``.bin`` pair (:mod:`.ncnn`), the
name of a pretrained model in the catalogue (:mod:`.catalogue`), or a state
dict. :func:`save_generator` writes safetensors with the architecture in the
file's metadata.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import CheckpointError, ESRGANError
from ..fileio import atomic_path, require_file
from ..models.rrdbnet import RRDBNet
from .layouts import ARCH_KEYS, StateDict, convert_state_dict

#: safetensors metadata key holding the RRDBNet constructor arguments (JSON).
ARCH_METADATA_KEY = "esrgan_lesson.arch"

_SAFETENSORS_HEADER_LIMIT = 100_000_000  # bytes; a larger JSON header is not a safetensors file


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
    require_file(path, CheckpointError)
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


#: File suffixes that mark a path as a file rather than a catalogue name.
_FILE_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors", ".param", ".bin")


def resolve_source(source: str | Path) -> Path:
    """The file behind ``source``: an existing path, or a pretrained model's name.

    A string with no folder part and no checkpoint suffix that is not an
    existing file is looked up in :mod:`.catalogue` (``"realesrgan-x4plus"``,
    ``"RRDB_PSNR_x4"``); its error says how to install or fetch the model.
    """
    path = Path(source)
    if path.exists() or isinstance(source, Path) or "/" in str(source) or "\\" in str(source) \
            or path.suffix.lower() in _FILE_SUFFIXES:
        return path
    from .catalogue import resolve

    return resolve(str(source))


def is_ncnn(path: Path) -> bool:
    """Whether ``path`` is an ncnn model: a ``.param``, or a ``.bin`` with a ``.param`` beside it."""
    suffix = path.suffix.lower()
    return suffix == ".param" or (suffix == ".bin" and path.with_suffix(".param").is_file())


def read_generator(
    source: str | Path | Mapping[str, Any], scale: int | None = None
) -> tuple[StateDict, dict[str, int]]:
    """State dict in package names plus RRDBNet arguments, from a file or a dict.

    Architecture metadata written by :func:`save_generator` wins over the
    inferred one (and over ``scale``) when present.
    """
    meta: dict[str, str] = {}
    obj: Mapping[str, Any]
    if isinstance(source, (str, Path)):
        source = resolve_source(source)
        if is_ncnn(source):
            from .ncnn import read_ncnn_generator

            sd, arch = read_ncnn_generator(source)
            if scale is not None and scale != arch["scale"]:
                raise CheckpointError(f"{source}: an x{arch['scale']} model, not x{scale}")
            return sd, arch
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
        source: path to a ``.safetensors``/``.pth`` file or an ncnn ``.param``/``.bin``,
            the name of a pretrained model (:mod:`.catalogue`), or a state dict.
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

    For an :class:`RRDBNet` the architecture (:data:`ARCH_KEYS`) goes into the
    file's metadata under :data:`ARCH_METADATA_KEY` so :func:`load_generator`
    rebuilds the network exactly; another network's file holds its state dict
    and ``metadata`` only (its reader builds the network itself, e.g.
    :func:`esrgan_lesson.lesson.load_course_model` from the recorded config).
    ``metadata`` values are stored as strings (non-strings as JSON).
    The file is written under a temporary name and renamed into place.
    """
    from safetensors.torch import save_file

    path = Path(path)
    meta = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in (metadata or {}).items()}
    if isinstance(model, RRDBNet):
        meta[ARCH_METADATA_KEY] = json.dumps(generator_arch(model))
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path
