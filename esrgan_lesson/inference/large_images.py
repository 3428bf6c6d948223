"""Images whose upscaled output may not fit in memory: check from the header, refuse or stream.

A 16000 x 16000 scan upscaled x4 is 64000 x 64000 = 4.1 Gpx: about 150 GB
as float32 RGB, far more than the input. :func:`plan_memory` estimates,
from the header alone (:func:`esrgan_lesson.image_kinds.read_header`, no
pixels decoded), what upscaling in memory needs and what streaming needs,
and compares both with :func:`available_memory`.

* In memory, the run holds the float32 input, the float32 output and the
  temporaries of conversion and encoding:
  :data:`IN_MEMORY_BYTES_PER_OUTPUT_PIXEL` per output pixel (measured, see
  there).
* Streaming (``--allow-large``, :func:`stream_upscale`) holds the decoded
  input in its native type and one band of output: ``tile * scale`` rows of
  the output's width, as float32 with its temporaries, while
  :func:`esrgan_lesson.inference.iter_upscaled_bands` runs the model tile by
  tile and a :class:`~esrgan_lesson.image_writers.PngWriter` (or TIFF strip
  writer) compresses the rows into the file.

Both estimates count image buffers only: the network's own activations come
on top and are bounded by the tile size (``--tile``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch import nn

from esrgan_lesson.errors import ESRGANError
from esrgan_lesson.fileio import atomic_path
from esrgan_lesson.image_kinds import ImageHeader, decode
from esrgan_lesson.image_writers import PngWriter, write_tiff_strips
from esrgan_lesson.imageio import output_bit_depth, to_uint, to_unit
from esrgan_lesson.inference import DEFAULT_TILE_OVERLAP, Progress, iter_upscaled_bands, model_scale, upscale_alpha

#: Memory per output pixel of the in-memory path (upscale + write_image):
#: float32 output tensor and its numpy copy (12 B each), the [0, 1] clip and
#: the scaled copy before rounding (12 B each), the integer image; alpha and
#: grey add their own channels. Measured (``/usr/bin/time``-style peak RSS
#: above the interpreter's baseline, one-conv x4 model, RGB): 33.6 B for a
#: 1000 x 1000 input and 36.2 B for 2000 x 2000; 48 leaves room for alpha.
IN_MEMORY_BYTES_PER_OUTPUT_PIXEL = 48
#: Memory per pixel of the output band of the streaming path (the float32
#: band, its clip, the grey/alpha assembly, the integer rows, the tile's
#: tensors). Measured as above with tile 128: 176 MiB (1000 x 1000 input,
#: 87 B per band pixel) and 120 MiB (2000 x 2000, 28 B) whatever the height.
STREAM_BYTES_PER_BAND_PIXEL = 96
#: Share of the available memory a run may plan to fill.
MEMORY_HEADROOM = 0.8
#: LR tile used when streaming and ``--tile`` is not given.
STREAM_TILE = 128
#: Output formats that can be written as a stream.
STREAM_EXTENSIONS = (".png", ".tif", ".tiff")
#: Bicubic reads two LR pixels either side.
_BICUBIC_RADIUS = 2


def available_memory() -> int:
    """Bytes of memory this process can still use: MemAvailable, capped by a cgroup limit."""
    candidates = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    candidates.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    for limit_file, used_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                  ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                   "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            limit = Path(limit_file).read_text().strip()
            if limit.isdigit() and int(limit) < 1 << 60:
                candidates.append(int(limit) - int(Path(used_file).read_text().strip()))
        except (OSError, ValueError):
            continue
    if not candidates:
        try:
            candidates.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            return 1 << 62  # unknown: do not refuse
    return max(0, min(candidates))


def gib(n: float) -> str:
    """``n`` bytes as a short GiB (or, under 1 GiB, MiB) figure."""
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


@dataclass(frozen=True)
class MemoryPlan:
    """Memory estimates for one image (bytes), from its header."""

    out_height: int
    out_width: int
    in_memory: int
    streaming: int
    available: int

    @property
    def fits_in_memory(self) -> bool:
        return self.in_memory <= self.available * MEMORY_HEADROOM

    @property
    def fits_streaming(self) -> bool:
        return self.streaming <= self.available * MEMORY_HEADROOM

    @property
    def output(self) -> str:
        """``"WxH (N Mpx)"`` of the output."""
        return f"{self.out_width}x{self.out_height} ({self.out_width * self.out_height / 1e6:,.0f} Mpx)"


def plan_memory(header: ImageHeader, scale: int, tile: int, available: int | None = None) -> MemoryPlan:
    """Estimate the memory of upscaling ``header``'s image by ``scale`` in memory and streamed."""
    h, w = header.size
    out_px = h * w * scale * scale
    in_memory = header.decoded_bytes + h * w * 3 * 4 * 2 + out_px * IN_MEMORY_BYTES_PER_OUTPUT_PIXEL
    band_rows = (min(tile, h) + 2 * _BICUBIC_RADIUS) * scale
    streaming = 2 * header.decoded_bytes + band_rows * w * scale * STREAM_BYTES_PER_BAND_PIXEL
    return MemoryPlan(h * scale, w * scale, in_memory, streaming,
                      available_memory() if available is None else available)


def refusal(src: Path, plan: MemoryPlan, scale: int, allow_large: bool) -> str | None:
    """The one-line reason to refuse ``src``, or ``None`` if the run can go ahead."""
    if plan.fits_in_memory:
        return None
    head = (f"{src}: the x{scale} output is {plan.output} and needs about {gib(plan.in_memory)} "
            f"to upscale in memory; {gib(plan.available)} is available")
    if not allow_large:
        how = f"about {gib(plan.streaming)}" if plan.fits_streaming else "but even that does not fit"
        return f"{head}; --allow-large streams it into the PNG/TIFF file tile by tile ({how})"
    if not plan.fits_streaming:
        return f"{head}, and streaming needs about {gib(plan.streaming)} (the decoded input and one band of tiles)"
    return None


def _peak(dtype: np.dtype) -> float:
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else 1.0


def stream_upscale(model: nn.Module, src: Path, header: ImageHeader, dst: Path, tile: int = STREAM_TILE,
                   tile_overlap: int = DEFAULT_TILE_OVERLAP, device=None, progress: Progress = None) -> str | None:
    """Upscale ``src`` into ``dst`` (PNG or TIFF) band by band; returns the image's note (or ``None``).

    The output equals ``upscale(model, read_image(src), tile=tile)`` written
    by :func:`~esrgan_lesson.imageio.write_image`: the same tiles, grey
    handling, alpha (:func:`~esrgan_lesson.inference.upscale_alpha`) and
    bit depth. The file appears only once complete.
    """
    ext = dst.suffix.lower()
    if ext not in STREAM_EXTENSIONS:
        raise ESRGANError(f"{dst}: --allow-large streams into PNG or TIFF only; give an -o ending in .png or .tif")
    decoded = decode(src, header)
    colour, alpha = decoded.colour, decoded.alpha
    h, w, grey = colour.shape[0], colour.shape[1], colour.shape[2] == 1
    scale = model_scale(model)
    depth = output_bit_depth(ext, {1: 8, 2: 16}.get(colour.dtype.itemsize, 32))
    binary = alpha is not None and bool(np.isin(alpha, (0, _peak(alpha.dtype))).all())

    def fetch(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        patch = to_unit(colour[np.ix_(rows, cols)])[0]
        return np.repeat(patch, 3, axis=2) if grey else patch

    def bands():
        for r0, r1, band in iter_upscaled_bands(model, fetch, (h, w), tile, tile_overlap, device, progress=progress):
            out = band.mean(axis=2, keepdims=True) if grey else band
            if alpha is not None:
                a0, a1 = max(0, r0 - _BICUBIC_RADIUS), min(h, r1 + _BICUBIC_RADIUS)
                up = upscale_alpha(to_unit(alpha[a0:a1])[0], scale, binary)
                out = np.concatenate([out, up[(r0 - a0) * scale : (r1 - a0) * scale, :, None]], axis=2)
            yield out.astype(np.float32) if depth == 32 else to_uint(out, depth)

    channels = (1 if grey else 3) + (alpha is not None)
    with atomic_path(dst) as tmp:
        if ext == ".png":
            with open(tmp, "wb") as f:
                writer = PngWriter(f, w * scale, h * scale, channels, depth,
                                   {"Comment": decoded.note} if decoded.note else None)
                for rows in bands():
                    writer.write_rows(rows)
                writer.close()
        else:
            write_tiff_strips(tmp, bands(), h * scale, w * scale, channels,
                              np.float32 if depth == 32 else np.uint8 if depth == 8 else np.uint16, decoded.note)
    return decoded.note

