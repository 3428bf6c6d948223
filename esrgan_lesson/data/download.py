"""Resumable, verified dataset downloads and safe archive extraction.

:func:`download` streams a URL into ``<name>.part`` and renames it to
``<name>`` only after the size (and a SHA-256, when one is known) checks out,
so no half-written file ever carries the final name. An interrupted download
leaves the ``.part`` file; the next call resumes it with an HTTP ``Range``
request (or starts over when the server ignores ranges). :func:`extract`
unpacks zip/tar archives after checking that no member escapes the target
folder (absolute paths, ``..``, links, devices), and leaves a marker so a
finished extraction is skipped next time.

:data:`SOURCES` lists the training and benchmark sets of ESRGAN (paper Sec.
4.1: DIV2K, Flickr2K, OST; evaluation on Set5, Set14, BSD100, Urban100 and
Manga109). None of these hosts publishes checksums, so sizes are checked
against the server's ``Content-Length``/``Content-Range``; pass ``sha256`` to
pin a file you have verified once.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import stat
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from ..errors import DataError
from ..fileio import atomic_path

#: Bytes read per chunk while streaming.
CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """One downloadable file: ``url``, the archive's file name, an optional SHA-256."""

    url: str
    filename: str
    sha256: str | None = None


#: Dataset name -> files. Manga109 is distributed on request (manga109.org) and has no URL here.
SOURCES: dict[str, tuple[Source, ...]] = {
    "div2k": (
        Source("http://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_train_HR.zip", "DIV2K_train_HR.zip"),
        Source("http://data.vision.ee.ethz.ch/cvl/DIV2K/DIV2K_valid_HR.zip", "DIV2K_valid_HR.zip"),
    ),
    "flickr2k": (Source("https://cv.snu.ac.kr/research/EDSR/Flickr2K.tar", "Flickr2K.tar"),),
    "ost": (Source("https://openmmlab.oss-cn-hangzhou.aliyuncs.com/datasets/OST_dataset.zip", "OST_dataset.zip"),),
    "benchmark": (Source("https://cv.snu.ac.kr/research/EDSR/benchmark.tar", "benchmark.tar"),),
    "manga109": (),
}
#: What to tell users about sets that cannot be fetched automatically.
MANUAL = {"manga109": "Manga109 is shared on request: apply at http://www.manga109.org/en/download.html, "
                      "then unpack it and pass its image folder to --data"}


def cache_dir(kind: str = "weights") -> Path:
    """The package's download cache for ``kind``: ``$ESRGAN_LESSON_CACHE/<kind>``.

    Without the variable, ``$XDG_CACHE_HOME/esrgan_lesson/<kind>`` (default
    ``~/.cache``). Pretrained generators and the VGG weights of the
    perceptual loss are cached under ``weights``.
    """
    root = os.environ.get("ESRGAN_LESSON_CACHE")
    base = Path(root) if root else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "esrgan_lesson"
    return base / kind


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _total_from_headers(resp: http.client.HTTPResponse, start: int) -> int | None:
    cr = resp.headers.get("Content-Range")
    if resp.status == 206 and cr and "/" in cr and not cr.endswith("/*"):
        return int(cr.rsplit("/", 1)[1])
    cl = resp.headers.get("Content-Length")
    if cl is None:
        return None
    return int(cl) + (start if resp.status == 206 else 0)


def download(url: str, dest: str | Path, sha256: str | None = None, progress: bool = True,
             timeout: float = 60.0, sha256_prefix: str | None = None) -> Path:
    """Fetch ``url`` to ``dest``, resuming ``dest.part``; verify; rename into place.

    Returns ``dest``. An existing ``dest`` is kept (and checked when ``sha256``
    or ``sha256_prefix`` is given). ``sha256_prefix`` checks only the first hex
    digits of the digest, as BasicSR and torchvision file names carry them
    (``...-ff704c30.pth``). Raises :class:`DataError` when the connection breaks
    (the ``.part`` file stays, so a rerun resumes), when the size is short, when
    the server sends a web page instead of a file, or when the checksum
    differs (the ``.part`` file is deleted: it is corrupt).
    """
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    if dest.exists():
        if not _digest_ok(dest, sha256, sha256_prefix):
            raise DataError(f"{dest} exists but its SHA-256 does not match; delete it to download again")
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    start = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"Range": f"bytes={start}-"} if start else {})
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # nothing left to fetch: the .part file is complete
            return _finish(part, dest, sha256, None, sha256_prefix)
        raise DataError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(f"{url}: cannot connect ({getattr(exc, 'reason', exc)})") from None
    with resp:
        if start and resp.status != 206:
            start = 0  # the server ignored Range: start over
        if resp.headers.get_content_type() == "text/html" and not dest.name.endswith((".html", ".htm")):
            raise DataError(f"{url}: the server sent a web page, not {dest.name} (a sign-in or confirmation "
                            f"page?); download it in a browser and save it as {dest}")
        total = _total_from_headers(resp, start)
        mode = "ab" if start else "wb"
        bar = tqdm(total=total, initial=start, unit="B", unit_scale=True, desc=dest.name, disable=not progress)
        try:
            with open(part, mode) as fh, bar:
                for block in iter(lambda: resp.read(CHUNK), b""):
                    fh.write(block)
                    bar.update(len(block))
        except (OSError, http.client.HTTPException) as exc:
            raise DataError(f"{url}: download interrupted ({exc.__class__.__name__}); "
                            f"rerun to resume from {part}") from None
    return _finish(part, dest, sha256, total, sha256_prefix)


def _digest_ok(path: Path, sha256: str | None, prefix: str | None) -> bool:
    if not sha256 and not prefix:
        return True
    digest = sha256_file(path)
    return (not sha256 or digest == sha256.lower()) and (not prefix or digest.startswith(prefix.lower()))


def _finish(part: Path, dest: Path, sha256: str | None, expected: int | None,
            sha256_prefix: str | None = None) -> Path:
    size = part.stat().st_size
    if expected is not None and size != expected:
        raise DataError(f"{dest.name}: got {size} of {expected} bytes; rerun to resume from {part}")
    if not _digest_ok(part, sha256, sha256_prefix):
        part.unlink()
        raise DataError(f"{dest.name}: SHA-256 mismatch, the download is corrupt and was deleted; rerun to retry")
    os.replace(part, dest)
    return dest


def _check_member(name: str, root: Path) -> None:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or (p.parts and p.parts[0].endswith(":")):
        raise DataError(f"unsafe path in archive: {name!r}")
    if not (root / p).resolve().is_relative_to(root.resolve()):
        raise DataError(f"unsafe path in archive: {name!r}")


def extract(archive: str | Path, dest_dir: str | Path) -> Path:
    """Unpack a zip or tar(.gz/.bz2/.xz) archive into ``dest_dir`` safely; skip if done before.

    Members with absolute paths, ``..`` components, symbolic/hard links or
    device files are refused (:class:`DataError`) before anything is written.
    A marker ``.<archive name>.extracted`` records a completed extraction.
    """
    archive, dest_dir = Path(archive), Path(dest_dir)
    marker = dest_dir / f".{archive.name}.extracted"
    if marker.exists():
        return dest_dir
    dest_dir.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _check_member(info.filename, dest_dir)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise DataError(f"{archive.name}: refusing link member {info.filename!r}")
            zf.extractall(dest_dir)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for m in members:
                _check_member(m.name, dest_dir)
                if not (m.isfile() or m.isdir()):
                    raise DataError(f"{archive.name}: refusing non-regular member {m.name!r}")
            for m in members:
                target = dest_dir / m.name
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(m)
                assert src is not None
                with src, atomic_path(target) as tmp, open(tmp, "wb") as out:
                    shutil.copyfileobj(src, out, CHUNK)
    else:
        raise DataError(f"{archive}: not a zip or tar archive")
    marker.touch()
    return dest_dir


def fetch(name: str, root: str | Path = "data", extract_archives: bool = True, progress: bool = True,
          url: str | None = None, sha256: str | None = None) -> list[Path]:
    """Download (and unpack) dataset ``name`` of :data:`SOURCES` under ``root``.

    Archives go to ``root/downloads/`` and are unpacked into ``root`` (their
    own top folders: ``DIV2K_train_HR/``, ``Flickr2K/``, ``benchmark/{Set5,
    Set14,B100,Urban100}/``, which is where ``evaluate --data Set5`` looks).
    ``url``/``sha256`` override a single-file source (mirrors, tests).
    """
    key = name.lower()
    if key not in SOURCES:
        raise DataError(f"unknown dataset {name!r}; choose from {', '.join(SOURCES)}")
    sources = SOURCES[key]
    if url is not None:
        sources = (Source(url, Path(urllib.parse.urlparse(url).path).name or f"{key}.bin", sha256),)
    if not sources:
        raise DataError(MANUAL.get(key, f"{name} cannot be downloaded automatically"))
    root = Path(root)
    out = []
    for src in sources:
        path = download(src.url, root / "downloads" / src.filename, src.sha256 or sha256, progress)
        out.append(extract(path, root) if extract_archives else path)
    return out
