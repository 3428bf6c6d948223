"""Atomic file writes: a file appears under its final name only when complete.

Every writer in the package (images, generator weights, training checkpoints,
configs, notebooks, explorer pages) goes through :func:`atomic_path`, so an
error or an interrupt mid-write never leaves a truncated file behind. The
write is also durable: the data is fsync'd before the rename and the folder
after it, so a power cut cannot leave an empty or truncated file under the
final name either (rename alone orders nothing on ext4/XFS without fsync).

A process killed mid-write (SIGKILL, power loss) cannot delete its temporary
file; :func:`partial_files` finds such leftovers so their owner can remove them.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Temporary files are named ``.<final name>.<random>`` + this suffix.
PART_SUFFIX = ".part"


def _final_mode(path: Path) -> int:
    """The permissions the file should end with: those it has, else the umask's default."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_path(path: str | Path, directory: bool = False) -> None:
    """Flush ``path``'s data (or a folder's entries) to the disk."""
    if directory and os.name == "nt":  # Windows cannot open a folder for fsync; NTFS journals renames
        return
    fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    The temporary file lives in the same folder (so the rename is atomic on
    POSIX), is hidden (``.name.XXXX.part``), and is deleted if the block
    raises. On success it is fsync'd, renamed over ``path``, and the folder is
    fsync'd, so the new file survives a crash once the block has returned. The
    final file keeps the permissions an existing file had, or gets the usual
    umask default (``mkstemp`` alone would leave it owner-only).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=PART_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _final_mode(path))
        _fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_path(path.parent, directory=True)


def partial_files(folder: str | Path, name: str = "*") -> list[Path]:
    """Temporary files :func:`atomic_path` left in ``folder`` for final names matching ``name`` (a glob).

    Only a killed process leaves them (an exception removes its own), so when
    no write to ``folder`` is in progress every one of them is stale.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f".{name}.*{PART_SUFFIX}") if p.is_file())


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``Path(path)``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``Path(path)``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def require_file(path: Path, error: type[Exception]) -> None:
    """Raise ``error`` with one line when ``path`` is missing, not a file, or empty."""
    if not path.exists():
        raise error(f"{path}: no such file")
    if not path.is_file():
        raise error(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise error(f"{path}: empty file")
