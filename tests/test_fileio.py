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


def test_write_is_fsynced_before_rename_and_folder_after(tmp_path, monkeypatch) -> None:
    """The data reaches the disk before the rename, the folder entry after it (durable across a crash)."""
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}") if os.path.isdir("/proc/self/fd") else str(fd)
        events.append(("fsync", target))
        real_fsync(fd)

    def replace(src, dst) -> None:
        events.append(("replace", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    target = atomic_write_bytes(tmp_path / "sub" / "f.bin", b"data")
    assert [e[0] for e in events] == ["fsync", "replace", "fsync"]
    if os.path.isdir("/proc/self/fd"):
        assert events[0][1].endswith(".part") and events[2][1] == str(target.parent)


def test_partial_files_finds_leftovers_of_killed_writers(tmp_path) -> None:
    from esrgan_lesson.fileio import partial_files

    (tmp_path / ".ckpt_00000004.pt.abc123.part").write_bytes(b"half")
    (tmp_path / ".best.pt.x.part").write_bytes(b"half")
    (tmp_path / "ckpt_00000002.pt").write_bytes(b"whole")
    assert [p.name for p in partial_files(tmp_path)] == [".best.pt.x.part", ".ckpt_00000004.pt.abc123.part"]
    assert [p.name for p in partial_files(tmp_path, "ckpt_*.pt")] == [".ckpt_00000004.pt.abc123.part"]
    assert partial_files(tmp_path / "missing") == []
