"""Feature networks for the perceptual loss (ESRGAN Sec. 3.3).

- :class:`VGGFeatureExtractor`: torchvision VGG19/VGG16 features read out at
  named layers, so ``conv5_4`` (before activation, ESRGAN's choice) and
  ``relu5_4`` (after activation, SRGAN's choice) are one argument apart.
- :class:`MINCNet`: the VGG16 the ESRGAN authors fine-tuned for material
  recognition (MINC), read out at ``conv5_3`` before its ReLU.

Weights are never downloaded silently. ``weights="imagenet"`` looks for
torchvision's file in the torch hub cache (or ``$ESRGAN_VGG_WEIGHTS``) and, when
it is absent, raises an error that names :func:`download_vgg_weights`, the
explicit download step.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..errors import CheckpointError
from ..paper import IMAGENET_MEAN, IMAGENET_STD

#: Convolutions per block for the two VGG configurations.
_BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}

#: torchvision's ImageNet weights: file name (the hash prefix is part of it).
TORCHVISION_WEIGHTS = {
    "vgg19": "vgg19-dcbb9e9d.pth",
    "vgg16": "vgg16-397923af.pth",
}
TORCHVISION_URL = "https://download.pytorch.org/models/{}"


def vgg_layer_names(arch: str = "vgg19") -> list[str]:
    """Names of ``torchvision.models.<arch>().features`` children, in order.

    ``conv{b}_{i}``, ``relu{b}_{i}`` and ``pool{b}``; e.g. for VGG19 index 34 is
    ``conv5_4`` and 35 is ``relu5_4``.
    """
    if arch not in _BLOCKS:
        raise ValueError(f"arch must be one of {sorted(_BLOCKS)}, got {arch!r}")
    names: list[str] = []
    for b, n in enumerate(_BLOCKS[arch], start=1):
        for i in range(1, n + 1):
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
        names.append(f"pool{b}")
    return names


def hub_weights_path(arch: str = "vgg19") -> Path:
    """Where torchvision caches the ImageNet weights of ``arch``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_WEIGHTS[arch]


def cached_weights_path(arch: str = "vgg19") -> Path:
    """Where :func:`download_vgg_weights` puts the weights: the package's weights cache."""
    from ..data.download import cache_dir

    return cache_dir("weights") / TORCHVISION_WEIGHTS[arch]


def find_vgg_weights(arch: str = "vgg19") -> Path | None:
    """A local ImageNet weight file for ``arch``, or ``None`` (never downloads).

    Looks at ``$ESRGAN_VGG_WEIGHTS`` (a file or a folder), the package's
    weights cache (where pretrained generators go too) and torchvision's hub cache.
    """
    env = os.environ.get("ESRGAN_VGG_WEIGHTS")
    candidates = []
    if env:
        p = Path(env)
        candidates.append(p / TORCHVISION_WEIGHTS[arch] if p.is_dir() else p)
    candidates += [cached_weights_path(arch), hub_weights_path(arch)]
    for c in candidates:
        if c.is_file():
            return c
    return None


def download_vgg_weights(
    arch: str = "vgg19", dest: str | Path | None = None, url: str | None = None, progress: bool = True
) -> Path:
    """Explicitly download torchvision's ImageNet VGG weights (about 550 MB).

    Goes through the package's one downloader
    (:func:`esrgan_lesson.data.download.download`): resumable, written under
    a ``.part`` name and renamed only when complete, into the package's
    weights cache unless ``dest`` says otherwise. The SHA-256 prefix in
    torchvision's file name is checked when the default URL is used.
    """
    from ..data.download import download

    name = TORCHVISION_WEIGHTS[arch]
    dest = Path(dest) if dest is not None else cached_weights_path(arch)
    if dest.is_dir():
        dest = dest / name
    hash_prefix = name.rsplit("-", 1)[1].split(".")[0] if url is None else None
    return download(url or TORCHVISION_URL.format(name), dest, progress=progress, sha256_prefix=hash_prefix)


def _load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weight file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt file, wrong format
        raise CheckpointError(f"cannot read weight file {path}: {exc}") from None


class VGGFeatureExtractor(nn.Module):
    """VGG features at named layers, before or after activation.

    Args:
        layer_names: layers to return, e.g. ``("conv5_4",)`` (ESRGAN) or
            ``("relu5_4",)`` (SRGAN); see :func:`vgg_layer_names`.
        arch: ``"vgg19"`` or ``"vgg16"``.
        weights: ``"imagenet"`` (local torchvision file, see module docs), a path
            to a state dict of ``torchvision.models.<arch>`` or of its
            ``features``, or ``None`` for random weights (tests only: random
            features make a meaningless perceptual loss).
        use_input_norm: normalise inputs with ImageNet mean/std.
        range_norm: map inputs from [-1, 1] to [0, 1] first.

    Input: (N, 3, H, W) in [0, 1]. Output: ``{name: (N, C, H', W')}``.
    The network is frozen (``requires_grad=False``) and kept in eval mode.
    """

    mean: torch.Tensor  # ImageNet normalisation buffers, (1, 3, 1, 1)
    std: torch.Tensor

    def __init__(
        self,
        layer_names: tuple[str, ...] | list[str] = ("conv5_4",),
        arch: str = "vgg19",
        weights: str | Path | None = "imagenet",
        use_input_norm: bool = True,
        range_norm: bool = False,
    ) -> None:
        super().__init__()
        names = vgg_layer_names(arch)
        unknown = [n for n in layer_names if n not in names]
        if unknown:
            raise ValueError(f"unknown {arch} layer(s) {unknown}; valid names: {names}")
        self.arch = arch
        self.layer_names = list(layer_names)
        self.use_input_norm = use_input_norm
        self.range_norm = range_norm
        from torchvision import models as tv_models  # imported here: torchvision is slow to import

        net = getattr(tv_models, arch)(weights=None)
        if weights is not None:
            path = find_vgg_weights(arch) if weights == "imagenet" else Path(weights)
            if path is None:
                raise CheckpointError(
                    f"ImageNet {arch} weights not found in {cached_weights_path(arch).parent}, "
                    f"{hub_weights_path(arch).parent} or $ESRGAN_VGG_WEIGHTS; "
                    f"download them once with `python -c \"from esrgan_lesson.models.vgg import "
                    f"download_vgg_weights; download_vgg_weights('{arch}')\"`"
                )
            state = _load_state_dict(path)
            target = net if any(k.startswith("features.") for k in state) else net.features
            try:
                target.load_state_dict(state, strict=True)
            except RuntimeError as exc:
                raise CheckpointError(f"{path} is not a torchvision {arch} state dict: {exc}") from None
        last = max(names.index(n) for n in layer_names)
        self.features = nn.Sequential(*list(net.features.children())[: last + 1])
        self._index = {names.index(n): n for n in layer_names}
        # A ReLU with inplace=True would overwrite a returned pre-activation map.
        for m in self.features:
            if isinstance(m, nn.ReLU):
                m.inplace = False
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> "VGGFeatureExtractor":
        """The extractor stays in eval mode; ``train()`` is a no-op for it."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.range_norm:
            x = (x + 1) / 2
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        out: dict[str, torch.Tensor] = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._index:
                out[self._index[i]] = x
        return out


class MINCNet(nn.Module):
    """VGG16 fine-tuned for material recognition, as used by ESRGAN (Sec. 3.3).

    Same layout as VGG16's ``features`` up to ``conv5_3``, with BasicSR's
    parameter names (``conv11`` ... ``conv53``) so the authors'
    ``VGG16minc_53.pth`` loads with ``strict=True``. The output is ``conv5_3``
    *before* its ReLU.

    Input (N, 3, H, W) in [0, 1] (ImageNet-normalised inside when
    ``use_input_norm``); output (N, 512, ceil(H/16), ceil(W/16)).
    """

    mean: torch.Tensor  # ImageNet normalisation buffers, (1, 3, 1, 1)
    std: torch.Tensor

    def __init__(self, use_input_norm: bool = True) -> None:
        super().__init__()
        self.use_input_norm = use_input_norm
        chans = {1: (3, 64), 2: (64, 128), 3: (128, 256), 4: (256, 512), 5: (512, 512)}
        self.layout: list[str] = []
        for b, n in enumerate(_BLOCKS["vgg16"], start=1):
            cin, cout = chans[b]
            for i in range(1, n + 1):
                setattr(self, f"conv{b}{i}", nn.Conv2d(cin if i == 1 else cout, cout, 3, 1, 1))
                self.layout.append(f"conv{b}{i}")
            if b < 5:
                setattr(self, f"maxpool{b}", nn.MaxPool2d(2, stride=2, padding=0, ceil_mode=True))
                self.layout.append(f"maxpool{b}")
        self.relu = nn.ReLU(inplace=False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        for name in self.layout:
            x = getattr(self, name)(x)
            if name.startswith("conv") and name != "conv53":
                x = self.relu(x)
        return x

    @classmethod
    def from_file(cls, path: str | Path, use_input_norm: bool = True) -> "MINCNet":
        """Load ``VGG16minc_53.pth`` (or a safetensors copy) with ``strict=True``, frozen."""
        net = cls(use_input_norm)
        state = _load_state_dict(path)
        state = {k: v for k, v in state.items() if not k.startswith(("mean", "std"))}
        try:
            net.load_state_dict({**state, "mean": net.mean, "std": net.std}, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"{path} is not a MINC VGG16 checkpoint: {exc}") from None
        for p in net.parameters():
            p.requires_grad_(False)
        return net.eval()
