"""Atomic writes leave either the old file or the complete new one, never a part."""
from __future__ import annotations

import os

import pytest

from esrgan_lesson.fileio import atomic_path, atomic_write_bytes, atomic_write_text


def test_write_creates_folders_and_content(tmp_path) -> None:
    target = tmp_path / "a" / "b" / "file.txt"
    atomic_write_text(target, "héllo")
    assert target.read_text(encoding="utf-8") == "héllo"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]


def test_error_keeps_old_file_and_removes_temp(tmp_path) -> None:
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_permissions_are_not_owner_only(tmp_path) -> None:
    umask = os.umask(0o022)
    try:
        target = atomic_write_bytes(tmp_path / "new.bin", b"x")
        assert target.stat().st_mode & 0o777 == 0o644
        target.chmod(0o600)
        atomic_write_bytes(target, b"y")
        assert target.stat().st_mode & 0o777 == 0o600  # an existing file keeps its mode
    finally:
        os.umask(umask)
