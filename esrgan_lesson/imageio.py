"""Reading and writing images safely.

Reads 8- and 16-bit PNG, JPEG, BMP, TIFF, WebP, GIF and APNG (first frame),
float TIFF, in grey, grey+alpha, RGB, RGBA, palette and CMYK modes, turned
upright by their EXIF orientation, into float32 arrays in [0, 1]
(:mod:`esrgan_lesson.image_kinds` does the decoding and says what each kind
becomes). Every failure is an :class:`~esrgan_lesson.errors.ImageReadError`
with a one-line message. Writes go to a temporary file that is renamed into
place, so a failed or interrupted write never leaves a partial image; PNGs
and TIFFs are written by :mod:`esrgan_lesson.image_writers` (grey+alpha
stays grey+alpha; float images stay float32 in a TIFF).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from .errors import ESRGANError, ImageReadError
from .fileio import atomic_path, atomic_write_bytes
from .image_kinds import decode, read_header
from .image_writers import write_png, write_tiff_strips

#: Extensions images can be written with.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
#: Extensions that are read but not written (upscaled, they are written as PNG).
READ_ONLY_EXTENSIONS = (".gif", ".apng")
#: Extensions treated as images when a folder is scanned.
READ_EXTENSIONS = IMAGE_EXTENSIONS + READ_ONLY_EXTENSIONS


@dataclass(frozen=True)
class LoadedImage:
    """An image as float32 in [0, 1].

    Attributes:
        rgb: (H, W, 3) colour channels; a grey source is replicated to 3 channels.
        alpha: (H, W) alpha channel in [0, 1], or ``None``.
        grey: the source had a single colour channel.
        bit_depth: 8 or 16 (the source's bits per channel), or 32 for float samples.
        note: a sentence for the user when part of the file was left out
            (the frames after the first of a GIF/APNG), else ``None``.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    grey: bool
    bit_depth: int
    note: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.rgb.shape[0], self.rgb.shape[1]


def list_images(folder: str | Path) -> list[Path]:
    """Sorted image files directly inside ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ESRGANError(f"not a folder: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in READ_EXTENSIONS and p.is_file())


#: A numpy array or a torch tensor (functions return the kind they are given).
ImageT = TypeVar("ImageT")


def to_unit(arr: np.ndarray) -> tuple[np.ndarray, int]:
    """A native uint8/uint16/float array as float32 in [0, 1], and its bit depth (8, 16, or 32 for float)."""
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0, 8
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0, 16
    if arr.dtype in (np.float32, np.float64):
        return np.clip(arr.astype(np.float32), 0.0, 1.0), 32
    raise ImageReadError(f"unsupported pixel type {arr.dtype}")


def read_image(path: str | Path) -> LoadedImage:
    """Read an image file into a :class:`LoadedImage`.

    Raises :class:`ImageReadError` for a missing file, a file that is not an
    image, a corrupt image, an unsupported mode, or a zero-sized image.
    Float samples are clipped to [0, 1].
    """
    path = Path(path)
    decoded = decode(path, read_header(path))
    colour, depth = to_unit(decoded.colour)
    grey = colour.shape[2] == 1
    if grey:
        colour = np.repeat(colour, 3, axis=2)
    alpha = to_unit(decoded.alpha)[0] if decoded.alpha is not None else None
    return LoadedImage(rgb=np.ascontiguousarray(colour), alpha=alpha, grey=grey, bit_depth=depth, note=decoded.note)


def to_uint(arr: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """Round a float array in [0, 1] to uint8 or uint16 (values are clipped first)."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    peak = 255.0 if bit_depth == 8 else 65535.0
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    scaled = np.clip(arr, 0.0, 1.0)  # the one float temporary; the rest happens in place
    scaled *= peak
    return np.round(scaled, out=scaled).astype(dtype)


def quantize(img: ImageT) -> ImageT:
    """Round an image in [0, 1] to the 8-bit grid, as saving it to PNG does (values clipped first).

    A numpy array gives float32 (any shape, via :func:`to_uint`); a tensor gives a
    float tensor of its own dtype and device (round half to even, as numpy).
    The one 8-bit quantiser of the package: validation, ``evaluate``, the
    benchmarks and the chapters round outputs and LR inputs with it.
    """
    torch = sys.modules.get("torch")  # an image can only be a tensor once torch is imported
    if torch is not None and isinstance(img, torch.Tensor):
        t = img if img.is_floating_point() else img.float()
        return t.clamp(0.0, 1.0).mul(255.0).round().div(255.0)  # type: ignore[return-value]
    return (to_uint(np.asarray(img, dtype=np.float64)) / 255.0).astype(np.float32)  # type: ignore[return-value]


def write_image(
    path: str | Path,
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    grey: bool = False,
    bit_depth: int = 8,
    note: str | None = None,
) -> Path:
    """Write an (H, W, 3) float image in [0, 1] atomically.

    ``grey`` writes one channel (the mean of the three); ``alpha`` adds an alpha
    channel; ``bit_depth=16`` needs a format that holds 16 bits (PNG, TIFF),
    others get 8; ``bit_depth=32`` writes float32 samples to a TIFF (16 bits
    to a PNG). ``note`` is stored as the PNG ``Comment`` / TIFF description.
    The file appears under its final name only once it is fully written.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise ESRGANError(f"{path}: unsupported output extension {ext or '(none)'}; use one of {IMAGE_EXTENSIONS}")
    bit_depth = output_bit_depth(ext, bit_depth)
    colour = _grey_channel(rgb) if grey else rgb
    if alpha is not None:
        colour = np.concatenate([colour, alpha[..., None]], axis=2)
    out = np.clip(colour, 0.0, 1.0).astype(np.float32) if bit_depth == 32 else to_uint(colour, bit_depth)
    if ext in (".tif", ".tiff"):
        with atomic_path(path) as tmp:
            write_tiff_strips(tmp, [out], out.shape[0], out.shape[1], out.shape[2], out.dtype, description=note)
        return path
    if ext == ".png":
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            write_png(f, out, {"Comment": note} if note else None)
        return path
    if out.shape[2] >= 3:  # RGB(A) -> OpenCV's BGR(A)
        out = out[..., [2, 1, 0, 3][: out.shape[2]]]
    if out.shape[2] == 1:
        out = out[..., 0]
    elif out.shape[2] == 2:  # OpenCV cannot write grey+alpha: expand to BGRA
        out = np.concatenate([np.repeat(out[..., :1], 3, axis=2), out[..., 1:]], axis=2)
    ok, buf = cv2.imencode(ext, out)
    if not ok:
        raise ESRGANError(f"{path}: could not encode image as {ext}")
    return atomic_write_bytes(path, buf.tobytes())


def _grey_channel(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 1): the channel itself when all three are equal (exact), else their mean."""
    first = rgb[..., :1]
    return first if np.array_equal(rgb, np.broadcast_to(first, rgb.shape)) else rgb.mean(axis=2, keepdims=True)


def output_bit_depth(ext: str, bit_depth: int) -> int:
    """The bit depth a file with extension ``ext`` is written at for a ``bit_depth`` source (8, 16, 32)."""
    if bit_depth == 32:
        return 32 if ext in (".tif", ".tiff") else 16 if ext == ".png" else 8
    return bit_depth if bit_depth == 8 or ext in (".png", ".tif", ".tiff") else 8
