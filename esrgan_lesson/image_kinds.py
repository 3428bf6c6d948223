"""Reading the images people have: the header first, then the pixels.

:func:`read_header` learns an image's size, mode, frame count and EXIF
orientation from the file's header without decoding any pixels, so a caller
can refuse an image that will not fit in memory before spending the time and
memory to decode it. :func:`decode` then gives the pixels in their native
type (uint8, uint16 or float32), in RGB order, turned upright.

What each kind becomes:

* grey, grey+alpha (``LA``), RGB, RGBA: as stored; grey stays one channel.
* palette (``P``, ``PA``) and 1-bit: RGB, or RGBA when the palette has a
  transparent entry (its alpha is then exactly 0 or 1).
* GIF and animated PNG (APNG): the first frame, with a :attr:`Decoded.note`
  saying that the other frames were left out. There is no GIF writer: the
  command writes such an image as PNG.
* EXIF orientation (phone JPEGs, also TIFF/PNG/WebP): turned upright as
  image viewers show it. The written output carries no orientation tag.
* CMYK, YCbCr, LAB, HSV (e.g. CMYK JPEGs from print workflows): converted to
  RGB with Pillow's conversion. Embedded ICC profiles are not applied.
* 16-bit PNG/TIFF: uint16 (Pillow reduces 16-bit RGB to 8 bits, so these go
  through OpenCV).
* float TIFF (float16/32/64): float32. Values outside [0, 1] are kept here;
  :func:`esrgan_lesson.imageio.read_image` clips them.

Decompression bombs
-------------------
A few kilobytes of PNG can declare a 100000 x 100000 image. The policy is
explicit: :func:`read_header` refuses any input with more than
:data:`MAX_INPUT_PIXELS` pixels, from the header, before decoding. That is
the same cap OpenCV applies by default (``CV_IO_MAX_IMAGE_PIXELS = 2**30``).
Pillow's own guard (``PIL.Image.MAX_IMAGE_PIXELS``, 89.5 Mpx by default,
an error above twice that) would refuse ordinary 16000 x 16000 scans, so it
is set to :data:`MAX_INPUT_PIXELS` while this module opens a file, and put
back afterwards; the package never changes it for other code. Whether the
*upscaled* output fits in memory is a separate check, made by
:mod:`esrgan_lesson.inference.large_images`.
"""
from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import ImageReadError
from .fileio import require_file

#: Largest input accepted, in pixels (32768 x 32768; OpenCV's default cap).
MAX_INPUT_PIXELS = 2**30
#: EXIF tag number of the orientation field.
EXIF_ORIENTATION = 0x0112
#: Pillow modes decoded by Pillow (OpenCV gets them wrong or not at all).
PILLOW_MODES = frozenset({"1", "P", "PA", "LA", "La", "CMYK", "YCbCr", "LAB", "HSV"})
#: Pillow modes with a single colour channel.
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"})
_OPEN_ERRORS = (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError)


@dataclass(frozen=True)
class ImageHeader:
    """What a file's header says, before any pixel is decoded.

    Attributes:
        width, height: the stored size in pixels (before orientation).
        format: ``"PNG"``, ``"JPEG"``, ``"GIF"``, ``"TIFF"``, ...
        mode: the Pillow mode (``"RGB"``, ``"LA"``, ``"P"``, ...), or
            ``"tifffile"`` for a TIFF only tifffile can open.
        channels: samples per pixel once decoded (1-4, alpha included).
        bytes_per_sample: 1, 2 or 4 (float) in the decoded array.
        frames: number of frames (GIF/APNG animations have more than one).
        orientation: EXIF orientation 1-8 (1 = upright as stored).
    """

    width: int
    height: int
    format: str
    mode: str
    channels: int
    bytes_per_sample: int
    frames: int = 1
    orientation: int = 1

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) as displayed, i.e. after the EXIF orientation."""
        return (self.width, self.height) if self.orientation in (5, 6, 7, 8) else (self.height, self.width)

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def decoded_bytes(self) -> int:
        """Bytes of the decoded native array."""
        return self.pixels * self.channels * self.bytes_per_sample


@dataclass(frozen=True)
class Decoded:
    """Pixels in their native type, RGB order, upright.

    Attributes:
        colour: (H, W, 1) grey or (H, W, 3) RGB; uint8, uint16 or float32.
        alpha: (H, W) of the same dtype, or ``None``.
        note: a sentence for the user when something was left out (animation frames).
    """

    colour: np.ndarray
    alpha: np.ndarray | None
    note: str | None = None


@contextlib.contextmanager
def _pillow_pixel_limit() -> Iterator[None]:
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = MAX_INPUT_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = old


def _check_file(path: Path) -> None:
    require_file(path, ImageReadError)


def _png_bit_depth(path: Path) -> int:
    with open(path, "rb") as f:
        head = f.read(26)
    return head[24] if len(head) == 26 and head[12:16] == b"IHDR" else 8


def _pillow_header(path: Path) -> ImageHeader | None:
    # Pillow compares the declared size with MAX_IMAGE_PIXELS while opening;
    # the header is only read here, so its limit is lifted and ours applied below.
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with Image.open(path) as im:
            mode, fmt, (w, h) = im.mode, im.format or "?", im.size
            frames = int(getattr(im, "n_frames", 1) or 1)
            try:
                orientation = int(im.getexif().get(EXIF_ORIENTATION, 1) or 1)
            except Exception:  # a broken EXIF block: show the image as stored
                orientation = 1
    except _OPEN_ERRORS:
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = old
    if orientation not in range(1, 9):
        orientation = 1
    if mode in ("P", "PA", "1", "CMYK", "YCbCr", "LAB", "HSV") or fmt == "GIF" or frames > 1:
        channels, nbytes = 4, 1  # worst case: RGBA
    else:
        channels = Image.getmodebands(mode) if mode not in ("I", "F") and not mode.startswith("I;") else 1
        nbytes = 4 if mode in ("I", "F") else 2 if mode.startswith("I;16") else 1
        if fmt == "PNG" and _png_bit_depth(path) == 16:
            nbytes = 2
    return ImageHeader(w, h, fmt, mode, channels, nbytes, frames, orientation)


def _tifffile_header(path: Path) -> ImageHeader | None:
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            shape, dtype = page.shape, np.dtype(page.dtype)
            orient_tag = page.tags.get(274)
            orientation = int(orient_tag.value) if orient_tag is not None else 1
    except Exception:  # tifffile raises many kinds for a non-TIFF
        return None
    if len(shape) == 2:
        h, w, c = shape[0], shape[1], 1
    elif len(shape) == 3 and shape[2] <= 4:
        h, w, c = shape
    else:
        raise ImageReadError(f"{path}: unsupported TIFF layout {shape}")
    nbytes = 4 if dtype.kind == "f" else dtype.itemsize
    return ImageHeader(w, h, "TIFF", "tifffile", c, nbytes, 1, orientation if orientation in range(1, 9) else 1)


def read_header(path: str | Path) -> ImageHeader:
    """Read an image's size, mode, frames and orientation without decoding pixels.

    Raises :class:`ImageReadError` for a missing, empty or unreadable file, a
    zero-sized image, and an image over :data:`MAX_INPUT_PIXELS`.
    """
    path = Path(path)
    _check_file(path)
    header = _pillow_header(path) or _tifffile_header(path)
    if header is None:
        raise ImageReadError(f"{path}: not a readable image (no image format recognises its header)")
    if header.width < 1 or header.height < 1:
        raise ImageReadError(f"{path}: image has no pixels")
    if header.pixels > MAX_INPUT_PIXELS:
        raise ImageReadError(
            f"{path}: {header.width}x{header.height} is {header.pixels:,} pixels, over the "
            f"{MAX_INPUT_PIXELS:,}-pixel input limit (decompression-bomb guard, image_kinds.MAX_INPUT_PIXELS)"
        )
    return header


def orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an (H, W, ...) array stored with EXIF ``orientation`` upright (as viewers show it)."""
    ops = {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.swapaxes(0, 1),
        6: lambda a: a[::-1].swapaxes(0, 1),
        7: lambda a: a[::-1, ::-1].swapaxes(0, 1),
        8: lambda a: a[:, ::-1].swapaxes(0, 1),
    }
    return np.ascontiguousarray(ops.get(orientation, ops[1])(arr))


def _split(arr: np.ndarray, grey_header: bool, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(colour (H, W, 1|3), alpha) from an RGB-ordered array of 1-4 channels."""
    if arr.ndim == 2:
        return arr[..., None], None
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ImageReadError(f"{path}: unsupported image layout {arr.shape}")
    c = arr.shape[2]
    alpha = arr[..., c - 1] if c in (2, 4) else None
    colour = arr[..., :1] if c in (1, 2) or grey_header else arr[..., :3]
    return colour, alpha


def _decode_pillow(path: Path, header: ImageHeader) -> tuple[np.ndarray, str | None]:
    note = None
    try:
        with _pillow_pixel_limit(), Image.open(path) as im:
            im.seek(0)
            im.load()
            mode = im.mode
            if mode in ("P", "PA"):
                im = im.convert("RGBA" if ("transparency" in im.info or mode == "PA") else "RGB")
            elif mode in ("LA", "La"):
                im = im.convert("LA")
            elif mode == "1":
                im = im.convert("L")
            elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGB")
            if im.mode in ("I", "F") or im.mode.startswith("I;"):
                arr = np.asarray(im)
                arr = arr.astype(np.float32) if im.mode == "F" else np.clip(arr, 0, 65535).astype(np.uint16)
            else:
                arr = np.asarray(im)
    except _OPEN_ERRORS as exc:
        raise ImageReadError(f"{path}: not a readable image ({exc.__class__.__name__}: {exc})") from None
    if header.frames > 1:
        kind = "APNG" if header.format == "PNG" else header.format
        note = f"{path.name} is an animated {kind} with {header.frames} frames; only the first frame was upscaled"
    return arr, note


def _decode_opencv(path: Path) -> np.ndarray | None:
    arr = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        return None
    if arr.ndim == 3 and arr.shape[2] in (3, 4):  # BGR(A) -> RGB(A)
        arr = arr[..., [2, 1, 0, 3][: arr.shape[2]]]
    return arr


def decode(path: str | Path, header: ImageHeader | None = None) -> Decoded:
    """Decode an image's pixels (see the module docstring for each kind).

    ``header`` is the result of :func:`read_header` (read again if omitted).
    """
    path = Path(path)
    header = header or read_header(path)
    note = None
    if header.mode in PILLOW_MODES or header.format == "GIF" or header.frames > 1:
        arr, note = _decode_pillow(path, header)
    elif header.mode == "tifffile":  # a TIFF neither Pillow nor (perhaps) OpenCV reads, e.g. float grey+alpha
        import tifffile

        arr = tifffile.imread(path, key=0)
    else:
        decoded = _decode_opencv(path)
        if decoded is None:
            arr, note = _decode_pillow(path, header)
        else:
            arr = decoded
    if arr.dtype in (np.float16, np.float64):
        arr = arr.astype(np.float32)
    if arr.dtype not in (np.uint8, np.uint16, np.float32):
        raise ImageReadError(f"{path}: unsupported pixel type {arr.dtype}")
    if arr.size == 0:
        raise ImageReadError(f"{path}: image has no pixels")
    colour, alpha = _split(arr, header.mode in GREY_MODES, path)
    colour = orient(colour, header.orientation)
    alpha = orient(alpha, header.orientation) if alpha is not None else None
    return Decoded(colour=colour, alpha=alpha, note=note)
