"""Chapter 5 (perceptual loss): training the texture net, and the chapter's experiments.

- The data: the right-most :data:`HOLDOUT_FRACTION` of every training
  picture's columns is held out; training crops come only from the left part,
  and accuracy is measured on a fixed grid of patches from the right part. The
  validation pictures (``chelsea``, ``camera``, ``gravel``) are never used.
- :func:`train_texture_net` reproduces the shipped weights of
  :class:`~esrgan_lesson.models.texture_vgg.TextureVGG` (see
  ``data_scripts/train_texture_net.py``).
- Chapter 5 helpers: :func:`relu_zero_fractions`, :func:`match_features`,
  :func:`finetune_with_perceptual`, :func:`score_outputs` (the package's one score
  record, :func:`esrgan_lesson.metrics.score_image`, per output).

All images are (N, 3, H, W) float tensors in [0, 1].
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from esrgan_lesson.errors import ConfigError
from esrgan_lesson.metrics import ImageScores, score_image
from esrgan_lesson.models.texture_vgg import (
    FEATURE_LAYER,
    FEATURE_LAYER_POST,
    TextureFeatureExtractor,
    TextureVGG,
    class_names,
    texture_layer_names,
)

#: Side of the square training/evaluation patches (HR pixels).
PATCH = 32
#: Right-most share of each training picture's columns kept out of training.
HOLDOUT_FRACTION = 0.25
#: Defaults of :func:`train_texture_net` that produced the shipped weights.
DEFAULT_SEED = 0
DEFAULT_STEPS = 1500
DEFAULT_BATCH = 32
DEFAULT_LR = 2e-3
# --- data: patches of the demo set's training pictures --------------------------------
def split_columns(img: np.ndarray, holdout_fraction: float = HOLDOUT_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """(train part, held-out part) of an (H, W, 3) picture: the right-most columns are held out."""
    if not 0 < holdout_fraction < 1:
        raise ConfigError(f"holdout_fraction must be in (0, 1), got {holdout_fraction}")
    cut = int(round(img.shape[1] * (1 - holdout_fraction)))
    return img[:, :cut], img[:, cut:]


@functools.lru_cache(maxsize=None)
def _picture(name: str) -> np.ndarray:
    """One demo picture, decoded once per process and returned read-only."""
    from esrgan_lesson.data.demo import demo_images

    img = demo_images((name,))[name]
    img.setflags(write=False)
    return img


def _pictures(names: Sequence[str]) -> list[np.ndarray]:
    """Read-only (H, W, 3) float32 pictures in [0, 1]; refuses the validation pictures."""
    from esrgan_lesson.data.demo import VAL_NAMES

    leaked = [n for n in names if n in VAL_NAMES]
    if leaked:
        raise ConfigError(f"the texture net must not see the validation pictures {leaked}")
    return [_picture(n) for n in names]


def heldout_patches(patch: int = PATCH, holdout_fraction: float = HOLDOUT_FRACTION) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-overlapping ``patch`` tiles of every training picture's held-out columns.

    Returns ``(x, y)``: x (N, 3, patch, patch) float32 in [0, 1], y (N,) int64 labels
    (indices into :func:`class_names`).
    """
    xs, ys = [], []
    for label, img in enumerate(_pictures(class_names())):
        held = split_columns(img, holdout_fraction)[1]
        for top in range(0, held.shape[0] - patch + 1, patch):
            for left in range(0, held.shape[1] - patch + 1, patch):
                xs.append(held[top:top + patch, left:left + patch])
                ys.append(label)
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).contiguous()
    return x, torch.tensor(ys, dtype=torch.int64)


class TexturePatchSampler:
    """Random labelled ``patch`` crops from the training columns, class-balanced.

    Each sample picks a class uniformly, a position uniformly inside that
    picture's training part, and one of the 8 flips/90-degree rotations. All
    draws come from a CPU ``torch.Generator`` seeded with ``seed``, so a seed
    fixes the batch sequence. ``sample()`` -> (x (B, 3, p, p) in [0, 1], y (B,)).
    """

    def __init__(self, batch_size: int = DEFAULT_BATCH, patch: int = PATCH, seed: int = DEFAULT_SEED,
                 holdout_fraction: float = HOLDOUT_FRACTION) -> None:
        from esrgan_lesson.data.augment import NUM_AUGMENTS

        self.parts = [torch.from_numpy(split_columns(img, holdout_fraction)[0].copy()).permute(2, 0, 1)
                      for img in _pictures(class_names())]
        small = [n for n, t in zip(class_names(), self.parts) if min(t.shape[-2:]) < patch]
        if small:
            raise ConfigError(f"pictures {small} are smaller than the patch size {patch}")
        self.batch_size, self.patch, self.num_augments = batch_size, patch, NUM_AUGMENTS
        self.generator = torch.Generator().manual_seed(seed)

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        from esrgan_lesson.data.augment import augment_torch

        g, p = self.generator, self.patch
        labels = torch.randint(len(self.parts), (self.batch_size,), generator=g)
        crops = []
        for label in labels.tolist():
            img = self.parts[label]
            top = int(torch.randint(img.shape[-2] - p + 1, (1,), generator=g))
            left = int(torch.randint(img.shape[-1] - p + 1, (1,), generator=g))
            code = int(torch.randint(self.num_augments, (1,), generator=g))
            crops.append(augment_torch(img[:, top:top + p, left:left + p], code))
        return torch.stack(crops).contiguous(), labels


# --- training, accuracy, saving, loading ---------------------------------------------------
def train_texture_net(seed: int = DEFAULT_SEED, steps: int = DEFAULT_STEPS, batch_size: int = DEFAULT_BATCH,
                      lr: float = DEFAULT_LR, patch: int = PATCH, log_every: int = 50,
                      history: list[tuple[int, float]] | None = None) -> TextureVGG:
    """Train :class:`TextureVGG` on CPU with cross-entropy and Adam; deterministic for a seed.

    The weights are initialised and the batches drawn from generators seeded with
    ``seed`` (the global RNG state is left as it was). The learning rate follows a
    cosine decay from ``lr`` to 0 over ``steps``. ``history``, if given, receives
    ``(step, mean loss over the last log_every steps)``. Returns the model in eval mode.
    """
    if steps < 1:
        raise ConfigError(f"steps must be positive, got {steps}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TextureVGG()
    sampler = TexturePatchSampler(batch_size, patch, seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    model.train()
    window = 0.0
    for step in range(1, steps + 1):
        x, y = sampler.sample()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        window += float(loss.detach())
        if history is not None and step % log_every == 0:
            history.append((step, window / log_every))
        if step % log_every == 0:
            window = 0.0
    return model.eval()


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """Share of patches ``x`` (N, 3, p, p) whose arg-max logit equals label ``y`` (N,)."""
    model.eval()
    hits = 0
    for i in range(0, len(x), batch_size):
        hits += int((model(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum())
    return hits / max(1, len(x))


# --- chapter 5 helpers -------------------------------------------------------------------------
#: Feature networks :func:`feature_extractor` knows, with their deepest conv layer before and after ReLU.
NETWORK_LAYERS: dict[str, tuple[str, str]] = {
    "texture": (FEATURE_LAYER, FEATURE_LAYER_POST),
    "vgg19": ("conv5_4", "relu5_4"),  # ESRGAN Sec. 3.3 / SRGAN
    "vgg16": ("conv5_3", "relu5_3"),
}


def relu_layer_names(network: str = "texture") -> list[str]:
    """The post-activation layer names of ``network`` (``texture``, ``vgg19`` or ``vgg16``), in order."""
    if network == "texture":
        names = texture_layer_names()
    elif network in ("vgg19", "vgg16"):
        from esrgan_lesson.models.vgg import vgg_layer_names

        names = vgg_layer_names(network)
    else:
        raise ConfigError(f"network must be one of {sorted(NETWORK_LAYERS)}, got {network!r}")
    return [n for n in names if n.startswith("relu")]


def feature_extractor(network: str, layers: Sequence[str]) -> nn.Module:
    """A frozen ``{layer: features}`` extractor: the shipped texture net or ImageNet VGG.

    ``network="texture"`` never needs a download; ``"vgg19"``/``"vgg16"`` read
    torchvision's ImageNet weights from disk and raise
    :class:`~esrgan_lesson.errors.CheckpointError` when they are absent.
    """
    if network == "texture":
        return TextureFeatureExtractor(layers)
    if network in ("vgg19", "vgg16"):
        from esrgan_lesson.models.vgg import VGGFeatureExtractor

        return VGGFeatureExtractor(tuple(layers), arch=network, weights="imagenet")
    raise ConfigError(f"network must be one of {sorted(NETWORK_LAYERS)}, got {network!r}")


@torch.no_grad()
def relu_zero_fractions(extractor: nn.Module, images: Iterable[torch.Tensor]) -> dict[str, float]:
    """Share of exactly-zero values in every layer ``extractor`` returns, pooled over ``images``.

    ``extractor``: maps (N, 3, H, W) in [0, 1] to ``{name: features}`` (e.g.
    :func:`feature_extractor` with :func:`relu_layer_names`). ``images``:
    tensors (3, H, W) or (N, 3, H, W) in [0, 1]. Returns ``{name: fraction in [0, 1]}``
    in the extractor's order.
    """
    zeros: dict[str, int] = {}
    total: dict[str, int] = {}
    for img in images:
        feats = extractor(img if img.ndim == 4 else img.unsqueeze(0))
        for n, f in feats.items():
            zeros[n] = zeros.get(n, 0) + int((f == 0).sum())
            total[n] = total.get(n, 0) + f.numel()
    return {n: zeros[n] / max(1, total[n]) for n in zeros}


def feature_gradient_share(model: TextureVGG, pred: torch.Tensor, target: torch.Tensor, layer: str) -> float:
    """Share of the convolution's output entries that get a non-zero gradient from an L1 loss at ``layer``.

    ``layer`` is a convolution (``conv4_2``: loss before activation) or its ReLU
    (``relu4_2``: after). Either way the gradient is read at the convolution's
    output, so the two are comparable: after the ReLU, every entry where
    ``pred``'s pre-activation is negative passes no gradient back.
    ``pred``/``target``: (N, 3, H, W) in [0, 1]. Returns a fraction in [0, 1].
    """
    conv = "conv" + layer[4:] if layer.startswith("relu") else layer
    if not conv.startswith("conv") or conv not in texture_layer_names():
        raise ValueError(f"layer must be a texture-net conv or relu layer, got {layer!r}")
    with torch.no_grad():
        want = model.feature_maps(target, [layer])[layer]
    pred = pred.detach().clone().requires_grad_(True)  # a graph through the frozen net
    feats = model.feature_maps(pred, list(dict.fromkeys([conv, layer])))
    feats[conv].retain_grad()
    F.l1_loss(feats[layer], want).backward()
    grad = feats[conv].grad
    return float((grad != 0).float().mean()) if grad is not None else 0.0


@torch.no_grad()
def brightness_sensitivity(extractor: nn.Module, images: torch.Tensor, factors: Sequence[float]) -> dict[str, list[float]]:
    """Relative feature change ``|f(a*x) - f(x)|_1 / |f(x)|_1`` for each brightness factor ``a``.

    ``images``: (N, 3, H, W) in [0, 1] (``a*x`` is clipped to [0, 1]). Returns
    ``{layer: [change per factor]}`` for every layer ``extractor`` returns.
    """
    base = extractor(images)
    out: dict[str, list[float]] = {n: [] for n in base}
    for a in factors:
        feats = extractor((images * a).clamp(0, 1))
        for n, f in feats.items():
            out[n].append(float((f - base[n]).abs().sum() / base[n].abs().sum().clamp_min(1e-12)))
    return out


def match_features(extractor: nn.Module, layer: str, target: torch.Tensor, init: torch.Tensor,
                   steps: int = 200, lr: float = 0.01, criterion: str = "l1") -> tuple[torch.Tensor, list[float]]:
    """Optimise an image so its ``layer`` features match ``target``'s (a feature inversion).

    ``target``/``init``: (N, 3, H, W) in [0, 1]. Adam on the pixels for
    ``steps`` steps, clamping to [0, 1] after each. Returns the optimised image
    (detached) and the feature loss before each step.
    """
    from esrgan_lesson.losses import PerceptualLoss

    loss_fn = PerceptualLoss(layer=layer, criterion=criterion, feature_extractor=extractor)  # type: ignore[arg-type]
    x = init.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    losses: list[float] = []
    for _ in range(steps):
        loss = loss_fn(x, target)
        losses.append(float(loss.detach()))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    return x.detach(), losses


@dataclass
class FinetuneLog:
    """Per-step losses of :func:`finetune_with_perceptual`."""

    perceptual: list[float]
    pixel: list[float]


def finetune_with_perceptual(generator: nn.Module, sampler, perceptual: nn.Module, steps: int,
                             lr: float = 1e-4, pixel_weight: float = 1e-2) -> FinetuneLog:
    """Fine-tune ``generator`` on ``perceptual(sr, hr) + pixel_weight * L1(sr, hr)`` with Adam.

    The content part of ESRGAN's generator loss (Eq. 3) without the adversarial
    term, so two feature layers can be compared on their own. ``sampler``:
    anything with ``sample() -> (lr, hr)`` (e.g. ``DevicePatchSampler``) or an
    iterator of such pairs. Step budget only (no wall clock), so a seed fixes the result.
    """
    from esrgan_lesson.losses import pixel_loss

    generator.train()
    opt = torch.optim.Adam(generator.parameters(), lr=lr)
    draw = sampler.sample if hasattr(sampler, "sample") else iter(sampler).__next__
    log = FinetuneLog([], [])
    for _ in range(steps):
        lr_b, hr_b = draw()
        sr = generator(lr_b)
        l_per = perceptual(sr, hr_b)
        l_pix = pixel_loss(sr, hr_b)
        loss = l_per + pixel_weight * l_pix
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        log.perceptual.append(float(l_per.detach()))
        log.pixel.append(float(l_pix.detach()))
    generator.eval()
    return log


@dataclass(frozen=True)
class ModelScores:
    """One SR model over evaluation pairs: the package's score record of each output, and their means.

    ``images``: :func:`esrgan_lesson.metrics.score_image` of every output
    (8-bit, Y-PSNR with ``scale`` border pixels cropped). The means:
    ``psnr`` in dB; ``colour_error``, the mean over images and channels of
    ``|mean(SR) - mean(HR)|`` (brightness/colour shift, in [0, 1] units);
    ``sharpness``, the gradient energy of the output relative to the HR
    image's (``grad_ratio``; 1 = as sharp as HR).
    """

    images: tuple[ImageScores, ...]

    def _mean(self, key: str) -> float:
        return float(np.mean([getattr(s, key) for s in self.images]))

    @property
    def psnr(self) -> float:
        return self._mean("psnr")

    @property
    def colour_error(self) -> float:
        return self._mean("colour_error")

    @property
    def sharpness(self) -> float:
        return self._mean("grad_ratio")


def score_outputs(model: nn.Module | None, pairs: Sequence[tuple[str, torch.Tensor, torch.Tensor]], scale: int,
                  device: torch.device | str = "cpu") -> ModelScores:
    """:class:`ModelScores` of ``model`` on ``(name, lr (3,h,w), hr (3,H,W))`` pairs; ``None`` = MATLAB bicubic."""
    from esrgan_lesson.data.imresize import imresize
    from esrgan_lesson.inference import upscale

    if not pairs:
        raise ConfigError("no evaluation pairs to score")
    scores = []
    for name, lr, hr in pairs:
        sr = imresize(lr.float(), scale=float(scale)).clamp(0, 1) if model is None else upscale(model, lr.float(), device=device)
        scores.append(score_image(sr, hr, scale, name))
    return ModelScores(tuple(scores))
