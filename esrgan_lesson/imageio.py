"""Reading and writing images safely.

Reads 8- and 16-bit PNG, JPEG, BMP, TIFF, WebP (whatever OpenCV or Pillow
decodes) in grey, grey+alpha, RGB, RGBA and palette modes into float32 arrays
in [0, 1]. Every failure is an :class:`~esrgan_lesson.errors.ImageReadError`
with a one-line message. Writes go to a temporary file that is renamed into
place, so a failed or interrupted write never leaves a partial image.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import ESRGANError, ImageReadError
from .fileio import atomic_write_bytes

#: Extensions treated as images when a folder is scanned.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")


@dataclass(frozen=True)
class LoadedImage:
    """An image as float32 in [0, 1].

    Attributes:
        rgb: (H, W, 3) colour channels; a grey source is replicated to 3 channels.
        alpha: (H, W) alpha channel in [0, 1], or ``None``.
        grey: the source had a single colour channel.
        bit_depth: 8 or 16 (the source's bits per channel).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    grey: bool
    bit_depth: int

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return self.rgb.shape[0], self.rgb.shape[1]


def list_images(folder: str | Path) -> list[Path]:
    """Sorted image files directly inside ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ESRGANError(f"not a folder: {folder}")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def _to_unit(arr: np.ndarray, path: Path) -> tuple[np.ndarray, int]:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0, 8
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0, 16
    if arr.dtype in (np.float32, np.float64):
        return np.clip(arr.astype(np.float32), 0.0, 1.0), 16
    raise ImageReadError(f"{path}: unsupported pixel type {arr.dtype}")


def _decode_with_pillow(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in ("1", "P", "CMYK", "YCbCr", "LAB", "HSV", "PA"):
                im = im.convert("RGBA" if ("transparency" in im.info or mode == "PA") else "RGB")
            elif mode in ("I", "F"):
                arr = np.asarray(im, dtype=np.float64)
                return (np.clip(arr, 0, 65535)).astype(np.uint16)
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageReadError(f"{path}: not a readable image ({exc.__class__.__name__}: {exc})") from None
    if arr.ndim == 3:  # Pillow gives RGB(A); match OpenCV's BGR(A) order
        arr = arr[..., [2, 1, 0, 3][: arr.shape[2]]] if arr.shape[2] in (3, 4) else arr
    return arr


#: Pillow modes whose pixels have a single colour channel.
_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"}


def _header_is_grey(path: Path) -> bool:
    """Whether the file declares a single colour channel (reads the header only)."""
    try:
        with Image.open(path) as im:
            return im.mode in _GREY_MODES
    except (UnidentifiedImageError, OSError, ValueError):
        return False


def read_image(path: str | Path) -> LoadedImage:
    """Read an image file into a :class:`LoadedImage`.

    Raises :class:`ImageReadError` for a missing file, a file that is not an
    image, a corrupt image, an unsupported mode, or a zero-sized image.
    """
    path = Path(path)
    if not path.exists():
        raise ImageReadError(f"{path}: no such file")
    if not path.is_file():
        raise ImageReadError(f"{path}: not a file")
    data = np.fromfile(path, dtype=np.uint8)
    if data.size == 0:
        raise ImageReadError(f"{path}: empty file")
    arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if arr is None:  # formats OpenCV lacks (GIF, palette quirks): try Pillow
        arr = _decode_with_pillow(path)
    if arr.size == 0 or min(arr.shape[:2]) < 1:
        raise ImageReadError(f"{path}: image has no pixels")
    alpha = None
    if arr.ndim == 2:
        grey, colour = True, arr[..., None]
    elif arr.ndim == 3 and arr.shape[2] == 1:
        grey, colour = True, arr
    elif arr.ndim == 3 and arr.shape[2] == 2:  # grey + alpha
        grey, colour, alpha = True, arr[..., :1], arr[..., 1]
    elif arr.ndim == 3 and arr.shape[2] == 3:
        grey, colour = False, arr[..., ::-1]
    elif arr.ndim == 3 and arr.shape[2] == 4:
        grey, colour, alpha = False, arr[..., 2::-1], arr[..., 3]
    else:
        raise ImageReadError(f"{path}: unsupported image layout {arr.shape}")
    if not grey and _header_is_grey(path):  # OpenCV expands grey+alpha PNGs to BGRA
        grey = True
    colour, depth = _to_unit(np.ascontiguousarray(colour), path)
    if grey:
        colour = np.repeat(colour, 3, axis=2)
    if alpha is not None:
        alpha, _ = _to_unit(np.ascontiguousarray(alpha), path)
    return LoadedImage(rgb=np.ascontiguousarray(colour), alpha=alpha, grey=grey, bit_depth=depth)


def to_uint(arr: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """Round a float array in [0, 1] to uint8 or uint16 (values are clipped first)."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got {bit_depth}")
    peak = 255.0 if bit_depth == 8 else 65535.0
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    return np.round(np.clip(arr, 0.0, 1.0) * peak).astype(dtype)


def write_image(
    path: str | Path,
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    grey: bool = False,
    bit_depth: int = 8,
) -> Path:
    """Write an (H, W, 3) float image in [0, 1] atomically.

    ``grey`` writes one channel (the mean of the three); ``alpha`` adds an alpha
    channel; ``bit_depth=16`` needs a format that holds 16 bits (PNG, TIFF).
    The file appears under its final name only once it is fully written.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise ESRGANError(f"{path}: unsupported output extension {ext or '(none)'}; use one of {IMAGE_EXTENSIONS}")
    if bit_depth == 16 and ext not in (".png", ".tif", ".tiff"):
        bit_depth = 8
    colour = rgb.mean(axis=2, keepdims=True) if grey else rgb[..., ::-1]
    if alpha is not None:
        colour = np.concatenate([colour, alpha[..., None]], axis=2)
    out = to_uint(colour, bit_depth)
    if out.shape[2] == 1:
        out = out[..., 0]
    elif out.shape[2] == 2:  # OpenCV cannot write grey+alpha: expand to BGRA
        out = np.concatenate([np.repeat(out[..., :1], 3, axis=2), out[..., 1:]], axis=2)
    ok, buf = cv2.imencode(ext, out)
    if not ok:
        raise ESRGANError(f"{path}: could not encode image as {ext}")
    return atomic_write_bytes(path, buf.tobytes())
