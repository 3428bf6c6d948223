"""The explorer's frames: the interpolated generator (ESRGAN Eq. 4, Sec. 3.4) and one PNG per alpha.

Alpha 0 is the PSNR model, 1 the GAN model. Images are RGB in [0, 1]: tensors
(3, H, W) or numpy (H, W, 3); frames are 8-bit PNG bytes.
"""
from __future__ import annotations

import copy
import io
from typing import Iterable, Literal

import numpy as np
import torch
from torch import nn

from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.imageio import to_uint
from esrgan_lesson.paper import INTERP_ALPHA_STEP
from esrgan_lesson.weights import interpolate_images, interpolate_state_dicts

#: Step of the explorer's alpha grid: finer than the paper's 0.2 so the slider feels continuous.
ALPHA_STEP = 0.1
#: The explorer's default alphas, 0, 0.1, ..., 1 (alpha 0 = PSNR model, 1 = GAN model).
DEFAULT_ALPHAS: tuple[float, ...] = tuple(round(i * ALPHA_STEP, 10) for i in range(int(round(1 / ALPHA_STEP)) + 1))
#: The alphas ESRGAN Fig. 9 shows: 0, 0.2, ..., 1.
PAPER_ALPHAS: tuple[float, ...] = tuple(
    round(i * INTERP_ALPHA_STEP, 10) for i in range(int(round(1 / INTERP_ALPHA_STEP)) + 1)
)
#: Largest frame side (SR pixels) :func:`precompute_frames` accepts: frames are
#: embedded in the page, so a chapter keeps them small (an LR crop of 24-40 px at x4).
MAX_FRAME_SIDE = 256
#: Default on-screen magnification of the frames (CSS, nearest neighbour).
DEFAULT_ZOOM = 3

Mode = Literal["network", "image"]
MODES: tuple[Mode, ...] = ("network", "image")



# --------------------------------------------------------------------------- #
# Checking inputs
# --------------------------------------------------------------------------- #
def check_alphas(alphas: Iterable[float]) -> tuple[float, ...]:
    """Return ``alphas`` as a tuple of floats; each in [0, 1], strictly increasing, at least one.

    Raises :class:`ESRGANError` otherwise.
    """
    try:
        values = tuple(float(a) for a in alphas)
    except (TypeError, ValueError):
        raise ESRGANError(f"alphas must be numbers in [0, 1], got {alphas!r}") from None
    if not values:
        raise ESRGANError("alphas is empty; give at least one alpha in [0, 1]")
    bad = [a for a in values if not 0.0 <= a <= 1.0]
    if bad:
        raise ESRGANError(f"alpha must be in [0, 1] (0 = PSNR model, 1 = GAN model), got {bad[0]}")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ESRGANError(f"alphas must be strictly increasing, got {list(values)}")
    return values


def alpha_label(alpha: float) -> str:
    """The label shown for ``alpha``: ``"α = 0.30"``."""
    return f"\u03b1 = {alpha:.2f}"


def as_lr_batch(image: np.ndarray | torch.Tensor) -> torch.Tensor:
    """An LR image as a (1, 3, h, w) float32 CPU tensor in [0, 1].

    Accepts numpy (h, w, 3) (uint8 or float in [0, 1]) or a tensor (3, h, w) /
    (1, 3, h, w) in [0, 1]. Raises :class:`ESRGANError` for other shapes.
    """
    if isinstance(image, torch.Tensor):
        t = image.detach().to("cpu", torch.float32)
        if t.ndim == 3:
            t = t.unsqueeze(0)
        if t.ndim != 4 or t.shape[:2] != (1, 3):
            raise ESRGANError(f"expected an LR tensor (3, h, w) or (1, 3, h, w), got {tuple(image.shape)}")
        return t.contiguous()
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ESRGANError(f"expected an LR array (h, w, 3), got shape {arr.shape}")
    arr = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).unsqueeze(0)


def _device_of(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


# --------------------------------------------------------------------------- #
# Running the interpolated network
# --------------------------------------------------------------------------- #
class InterpolatedGenerator:
    """Runs ``(1 - alpha) * theta_PSNR + alpha * theta_GAN`` on LR images (ESRGAN Eq. 4).

    Keeps one working copy of ``psnr_model`` and, on every call, loads into it
    the blend of the two models' *current* weights -- so training or editing
    either model afterwards is reflected at once (nothing is cached). The
    working copy lives on ``psnr_model``'s device and runs in eval mode.
    """

    def __init__(self, psnr_model: nn.Module, gan_model: nn.Module) -> None:
        self.psnr_model = psnr_model
        self.gan_model = gan_model
        # Fails early, naming the keys, if the two models are not the same network.
        interpolate_state_dicts(psnr_model.state_dict(), gan_model.state_dict(), 0.0)
        self._work = copy.deepcopy(psnr_model).eval()

    def network(self, alpha: float) -> nn.Module:
        """The working copy holding the interpolated weights for ``alpha`` (eval mode)."""
        mixed = interpolate_state_dicts(self.psnr_model.state_dict(), self.gan_model.state_dict(), alpha)
        self._work.load_state_dict(mixed, strict=True)
        return self._work.eval()

    @torch.no_grad()
    def __call__(self, lr: np.ndarray | torch.Tensor, alpha: float) -> torch.Tensor:
        """Upscale one LR image with the network at ``alpha``; returns (3, H, W) on CPU, clamped to [0, 1]."""
        net = self.network(alpha)
        x = as_lr_batch(lr).to(_device_of(net))
        return net(x)[0].clamp(0, 1).float().cpu()


def network_interpolation(psnr_model: nn.Module, gan_model: nn.Module, lr: np.ndarray | torch.Tensor,
                          alphas: Iterable[float] = DEFAULT_ALPHAS) -> list[torch.Tensor]:
    """SR outputs (3, H, W) in [0, 1] of the *interpolated network* at each alpha."""
    gen = InterpolatedGenerator(psnr_model, gan_model)
    return [gen(lr, a) for a in check_alphas(alphas)]


def image_interpolation(psnr_model: nn.Module, gan_model: nn.Module, lr: np.ndarray | torch.Tensor,
                        alphas: Iterable[float] = DEFAULT_ALPHAS) -> list[torch.Tensor]:
    """``(1 - alpha) * SR_PSNR + alpha * SR_GAN`` (3, H, W) in [0, 1]: blending the two *outputs* (ESRGAN Fig. 9)."""
    gen = InterpolatedGenerator(psnr_model, gan_model)
    sr_psnr, sr_gan = gen(lr, 0.0), gen(lr, 1.0)
    return [interpolate_images(sr_psnr, sr_gan, a) for a in check_alphas(alphas)]


def interpolation_outputs(psnr_model: nn.Module, gan_model: nn.Module, lr: np.ndarray | torch.Tensor,
                          alphas: Iterable[float] = DEFAULT_ALPHAS, mode: Mode = "network") -> list[torch.Tensor]:
    """:func:`network_interpolation` or :func:`image_interpolation`, chosen by ``mode``."""
    if mode == "network":
        return network_interpolation(psnr_model, gan_model, lr, alphas)
    if mode == "image":
        return image_interpolation(psnr_model, gan_model, lr, alphas)
    raise ESRGANError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")


# --------------------------------------------------------------------------- #
# PNG frames
# --------------------------------------------------------------------------- #
def to_uint8(img: np.ndarray | torch.Tensor) -> np.ndarray:
    """(3, H, W) tensor or (H, W, 3) array in [0, 1] -> (H, W, 3) uint8 (rounded, clipped)."""
    if isinstance(img, torch.Tensor):
        t = img.detach().float().cpu()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim != 3 or t.shape[0] != 3:
            raise ESRGANError(f"expected an image tensor (3, H, W), got {tuple(img.shape)}")
        arr = t.permute(1, 2, 0).numpy()
    else:
        arr = np.asarray(img)
        if arr.dtype == np.uint8:
            return np.ascontiguousarray(arr)
        arr = arr.astype(np.float32)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ESRGANError(f"expected an RGB image (H, W, 3), got shape {arr.shape}")
    return np.ascontiguousarray(to_uint(arr))


def to_png(img: np.ndarray | torch.Tensor) -> bytes:
    """Encode an RGB image in [0, 1] (or uint8) as PNG bytes (lossless; same pixels -> same bytes)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(to_uint8(img), mode="RGB").save(buf, format="PNG", compress_level=9)
    return buf.getvalue()


def from_png(data: bytes) -> np.ndarray:
    """Decode PNG bytes to an (H, W, 3) uint8 array."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB")).copy()
    except (OSError, ValueError) as exc:
        raise ESRGANError(f"not a readable PNG frame: {exc}") from None


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) of a PNG from its IHDR header."""
    if len(data) < 24 or data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ESRGANError("frame is not PNG data")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def precompute_frames(psnr_model: nn.Module, gan_model: nn.Module, lr_image: np.ndarray | torch.Tensor,
                      alphas: Iterable[float] = DEFAULT_ALPHAS, mode: Mode = "network",
                      max_side: int = MAX_FRAME_SIDE) -> list[bytes]:
    """One PNG frame per alpha: the SR output of ``lr_image`` at that alpha.

    Args:
        psnr_model, gan_model: the two generators (same architecture).
        lr_image: a small LR crop, (h, w, 3) array or (3, h, w) tensor in [0, 1].
        alphas: increasing values in [0, 1] (default 0, 0.1, ..., 1).
        mode: ``"network"`` interpolates the weights (ESRGAN Eq. 4); ``"image"``
            blends the two models' output images.
        max_side: refuse SR frames larger than this many pixels per side, so
            pages that embed the frames stay small.

    Returns:
        ``len(alphas)`` PNG byte strings, each (H, W) = the SR output size.
    """
    alphas = check_alphas(alphas)
    lr = as_lr_batch(lr_image)
    scale = int(getattr(psnr_model, "scale", 1) or 1)
    side = max(lr.shape[-2:]) * scale
    if side > max_side:
        raise ESRGANError(
            f"an LR crop of {lr.shape[-1]}x{lr.shape[-2]} gives {side}-pixel frames at x{scale}; "
            f"crop it so frames stay within max_side={max_side} (they are embedded in the page)"
        )
    return [to_png(img) for img in interpolation_outputs(psnr_model, gan_model, lr, alphas, mode)]


