"""A small trained VGG-style feature network for the lesson's perceptual loss.

ESRGAN's perceptual loss reads features of a *trained* VGG19 (ImageNet) before
their ReLU (ESRGAN Sec. 3.3); the authors also tried a VGG16 fine-tuned for
material recognition on MINC (Bell et al., CVPR 2015). Neither set of weights
can be downloaded on the course's offline machines, and random weights make a
meaningless loss. The package therefore ships a small trained stand-in:

- :class:`TextureVGG`: four VGG blocks of 3x3 convolutions and ReLUs (widths
  16-32-64-64, two convolutions each, 2x2 max-pools between blocks) with
  torchvision-style layer names ``conv1_1``, ``relu1_1``, ..., ``pool1``, ...,
  then global average pooling and a linear classifier. Its classes are the demo
  set's training pictures (:data:`esrgan_lesson.data.demo.TRAIN_NAMES`): which
  picture does a 32x32 patch come from? (a small texture/material recognition
  problem, the idea behind MINC). :mod:`esrgan_lesson.course.texture` trains it.
- :func:`load_texture_net` / :func:`save_texture_net`: the shipped weights
  (``esrgan_lesson/assets/texture_vgg.safetensors``).
- :class:`TextureFeatureExtractor`: ``{layer_name: features}`` for named layers,
  before (``conv4_2``) or after (``relu4_2``) activation, the interface of
  :class:`~esrgan_lesson.models.VGGFeatureExtractor`, so it plugs into
  :class:`~esrgan_lesson.losses.PerceptualLoss`.
- :func:`texture_feature_network`: the no-argument factory a training config
  names as ``train.perceptual.network: esrgan_lesson.models.texture_vgg:texture_feature_network``
  (:data:`CONFIG_NETWORK`).

All images are (N, 3, H, W) float tensors in [0, 1].
"""
from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from esrgan_lesson.errors import CheckpointError
from esrgan_lesson.fileio import atomic_path
from esrgan_lesson.paper import IMAGENET_MEAN, IMAGENET_STD

#: Convolutions per block and their widths (lesson-sized; VGG19 uses 2-2-4-4-4 and 64-512).
BLOCKS: tuple[int, ...] = (2, 2, 2, 2)
WIDTHS: tuple[int, ...] = (16, 32, 64, 64)
#: The deepest convolution, read *before* its ReLU: the lesson's stand-in for
#: VGG19 ``conv5_4`` (ESRGAN Sec. 3.3).
FEATURE_LAYER = "conv4_2"
#: The same layer *after* its ReLU (SRGAN's choice).
FEATURE_LAYER_POST = "relu4_2"
#: The shipped weights (package data).
WEIGHTS_PATH = Path(__file__).resolve().parent.parent / "assets" / "texture_vgg.safetensors"
#: What a training config writes as ``train.perceptual.network`` to use this net.
CONFIG_NETWORK = "esrgan_lesson.models.texture_vgg:texture_feature_network"


def class_names() -> tuple[str, ...]:
    """The classes, in label order: the demo set's training pictures."""
    from esrgan_lesson.data.demo import TRAIN_NAMES

    return tuple(TRAIN_NAMES)


def texture_layer_names() -> list[str]:
    """Layer names of :attr:`TextureVGG.features` in order: ``conv1_1``, ``relu1_1``, ..., ``relu4_2``."""
    names: list[str] = []
    for b, n in enumerate(BLOCKS, start=1):
        for i in range(1, n + 1):
            names += [f"conv{b}_{i}", f"relu{b}_{i}"]
        if b < len(BLOCKS):
            names.append(f"pool{b}")
    return names


class TextureVGG(nn.Module):
    """VGG-style patch classifier with torchvision-style layer names.

    ``features``: an ``nn.Sequential`` whose children are named as in
    :func:`texture_layer_names`; ``classifier``: ``Linear(64, num_classes)``
    on the globally average-pooled ``relu4_2``. Inputs are ImageNet-normalised
    inside (the same convention as the VGG extractors).

    ``forward``: (N, 3, H, W) in [0, 1] -> logits (N, num_classes). The feature
    maps at block ``b`` have ``WIDTHS[b-1]`` channels and side ``H / 2**(b-1)``.
    """

    mean: torch.Tensor  # ImageNet normalisation buffers, (1, 3, 1, 1)
    std: torch.Tensor

    def __init__(self, num_classes: int | None = None) -> None:
        super().__init__()
        num_classes = len(class_names()) if num_classes is None else num_classes
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        cin = 3
        for b, (n, width) in enumerate(zip(BLOCKS, WIDTHS), start=1):
            for i in range(1, n + 1):
                layers[f"conv{b}_{i}"] = nn.Conv2d(cin, width, 3, 1, 1)
                layers[f"relu{b}_{i}"] = nn.ReLU(inplace=False)  # never overwrite a returned conv map
                cin = width
            if b < len(BLOCKS):
                layers[f"pool{b}"] = nn.MaxPool2d(2, 2)
        self.features = nn.Sequential(layers)
        self.classifier = nn.Linear(cin, num_classes)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] -> ImageNet-normalised input of ``features``."""
        return (x - self.mean) / self.std

    def feature_maps(self, x: torch.Tensor, names: Sequence[str]) -> dict[str, torch.Tensor]:
        """``{name: (N, C, H', W')}`` for the requested layer names; stops after the deepest."""
        order = texture_layer_names()
        unknown = [n for n in names if n not in order]
        if unknown:
            raise ValueError(f"unknown texture-net layer(s) {unknown}; valid names: {order}")
        wanted, last = set(names), max(order.index(n) for n in names)
        out: dict[str, torch.Tensor] = {}
        x = self.normalise(x)
        for i, (name, layer) in enumerate(self.features.named_children()):
            x = layer(x)
            if name in wanted:
                out[name] = x
            if i == last:
                break
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(self.normalise(x))
        return self.classifier(h.mean(dim=(-2, -1)))


def save_texture_net(model: TextureVGG, path: str | Path, metadata: dict[str, str] | None = None) -> Path:
    """Write ``model``'s weights as safetensors, atomically (:func:`esrgan_lesson.fileio.atomic_path`)."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"classes": json.dumps(list(class_names())), **(metadata or {})}
    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, str(tmp), metadata=meta)
    return path


def load_texture_net(path: str | Path | None = None) -> TextureVGG:
    """The trained :class:`TextureVGG` (shipped weights by default), frozen and in eval mode.

    Loads with ``strict=True``; a missing, unreadable or mismatched file raises
    :class:`~esrgan_lesson.errors.CheckpointError`.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path) if path is not None else WEIGHTS_PATH
    if not path.is_file():
        raise CheckpointError(f"texture-net weights not found: {path} (rebuild with data_scripts/train_texture_net.py)")
    try:
        state = load_file(str(path))
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except Exception as exc:
        raise CheckpointError(f"cannot read texture-net weights {path}: {exc}") from None
    classes = json.loads(meta.get("classes", "[]")) if meta.get("classes") else list(class_names())
    if list(classes) != list(class_names()):
        raise CheckpointError(f"{path} was trained on classes {classes}, not {list(class_names())}")
    model = TextureVGG(len(classes))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path} is not a TextureVGG state dict: {' '.join(str(exc).split())}") from None
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


# --- feature extraction for the perceptual loss ----------------------------------------------
class TextureFeatureExtractor(nn.Module):
    """Frozen :class:`TextureVGG` features at named layers, like ``VGGFeatureExtractor``.

    Args:
        layer_names: e.g. ``("conv4_2",)`` (before activation, ESRGAN's choice)
            or ``("relu4_2",)`` (after, SRGAN's); see :func:`texture_layer_names`.
        model: the network to read; the shipped one by default.

    Input (N, 3, H, W) in [0, 1]; output ``{name: (N, C, H', W')}``. The
    network never leaves eval mode and has ``requires_grad=False``.
    """

    def __init__(self, layer_names: Sequence[str] = (FEATURE_LAYER,), model: TextureVGG | None = None) -> None:
        super().__init__()
        order = texture_layer_names()
        unknown = [n for n in layer_names if n not in order]
        if unknown:
            raise ValueError(f"unknown texture-net layer(s) {unknown}; valid names: {order}")
        if not layer_names:
            raise ValueError("give at least one layer name")
        self.layer_names = list(layer_names)
        self.net = model if model is not None else load_texture_net()
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.net.eval()

    def train(self, mode: bool = True) -> "TextureFeatureExtractor":
        """The extractor stays in eval mode; ``train()`` is a no-op for it."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.net.feature_maps(x, self.layer_names)


def texture_feature_extractor(layers: Sequence[str] = (FEATURE_LAYER,), model: TextureVGG | None = None) -> TextureFeatureExtractor:
    """:class:`TextureFeatureExtractor` for ``layers`` (the shipped weights unless ``model`` is given)."""
    return TextureFeatureExtractor(layers, model)


def texture_feature_network() -> TextureFeatureExtractor:
    """Config hook: every layer of the shipped net, so ``train.perceptual.layer`` picks any one.

    ``esrgan_lesson.training.builders.build_feature_network`` calls
    ``package.module:factory`` with no arguments; write
    ``train.perceptual.network: esrgan_lesson.models.texture_vgg:texture_feature_network``
    and e.g. ``train.perceptual.layer: conv4_2``.
    """
    return TextureFeatureExtractor(tuple(texture_layer_names()))


