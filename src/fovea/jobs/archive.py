"""Unpack an uploaded zip of images, refusing what could hurt: names that are absolute or climb
out with `..`, symlinks, more files or more bytes than allowed. Sizes are counted as the bytes
come out, not as the archive declares them, so a lying zip bomb stops at the limit too."""

from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from fovea.errors import ArchiveRefused

MAX_FILES = 1_000_000
_CHUNK = 1 << 20


def unpack(archive: BinaryIO, dest: Path, max_bytes: int, max_files: int = MAX_FILES) -> int:
    """Unpack `archive` into `dest` (created); the number of files. On refusal, `dest` is
    removed and ArchiveRefused raised."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.infolist() if not m.is_dir()]
            if len(members) > max_files:
                raise ArchiveRefused(
                    f"the zip holds {len(members)} files; the limit is {max_files}"
                )
            for member in members:
                _check(member)
            dest.mkdir(parents=True, exist_ok=True)
            budget = max_bytes
            for member in members:
                budget = _extract(zipped, member, dest, budget)
    except ArchiveRefused:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise ArchiveRefused(f"not a readable zip archive: {exc}") from exc
    return len(members)


def _check(member: zipfile.ZipInfo) -> None:
    name = member.filename.replace("\\", "/")
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ArchiveRefused(f"the zip names a path outside itself: {member.filename!r}")
    if stat.S_ISLNK(member.external_attr >> 16):
        raise ArchiveRefused(f"the zip holds a symlink: {member.filename!r}")


def _extract(zipped: zipfile.ZipFile, member: zipfile.ZipInfo, dest: Path, budget: int) -> int:
    if member.file_size > budget:
        raise _too_large()
    target = dest / PurePosixPath(member.filename.replace("\\", "/"))
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipped.open(member) as source, target.open("wb") as out:
        while chunk := source.read(_CHUNK):
            budget -= len(chunk)
            if budget < 0:
                raise _too_large()
            out.write(chunk)
    return budget


def _too_large() -> ArchiveRefused:
    return ArchiveRefused("the zip unpacks to more than FOVEA_JOBS_MAX_UNZIPPED_BYTES")
