"""What a job runs over: a folder scanned for images by content type (recursive, extensions in
any case; symlinks and `..` that lead outside the folder are not followed), a text file of paths
or URLs (one a line), or a JSON list of them. Each item is reported under its path relative to
the source, with forward slashes (Timelapse resolves them against its project folder)."""

from __future__ import annotations

import json
import mimetypes
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fovea.errors import FolderRefused, InvalidRequest

# What Fovea decodes (vision.FORMATS), by content type; `.jpg`, `.JPG`, `.jpeg`, `.tif`...
IMAGE_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/bmp", "image/tiff", "image/gif"}
)
_EXTRA_TYPES = {".webp": "image/webp", ".mpo": "image/jpeg"}  # missing from some mime tables


@dataclass(frozen=True)
class Item:
    """One file of a job: `file` as reported, `location` an absolute path or a URL, and its
    kind ("image"; "video" once an engine handles videos)."""

    file: str
    location: str
    kind: str = "image"

    @property
    def is_url(self) -> bool:
        return self.location.startswith(("http://", "https://"))


def kind_of(name: str) -> str | None:
    """ "image" or "video" by content type (from the name, any case), or None for other files."""
    suffix = os.path.splitext(name)[1].lower()
    guessed = _EXTRA_TYPES.get(suffix) or mimetypes.guess_type("x" + suffix)[0] or ""
    if guessed in IMAGE_TYPES:
        return "image"
    if guessed.startswith("video/"):
        return "video"
    return None


def scan_folder(
    root: Path, recursive: bool = True, kinds: frozenset[str] = frozenset({"image"})
) -> list[Item]:
    """Every file of `kinds` under `root`, sorted by reported path. A symlink (to a file or a
    folder) is followed only when it resolves inside `root`; a folder is visited once."""
    base = root.resolve(strict=True)
    if not base.is_dir():
        raise InvalidRequest(f"{root} is not a folder")
    found: list[Item] = []
    seen: set[Path] = set()
    pending = [base]
    while pending:
        folder = pending.pop()
        if folder in seen:
            continue
        seen.add(folder)
        for entry in _entries(folder):
            target = Path(entry.path).resolve() if entry.is_symlink() else Path(entry.path)
            if not _inside(target, base):
                continue
            if entry.is_dir():
                if recursive:
                    pending.append(target)
                continue
            kind = kind_of(entry.name)
            if kind in kinds and entry.is_file():
                relative = PurePosixPath(*Path(entry.path).relative_to(base).parts)
                found.append(Item(str(relative), str(target), kind))
    return sorted(found, key=lambda item: item.file)


def read_list(path: Path) -> list[Item]:
    """A `.json` file holding a list of paths or URLs, or a text file with one a line (blank
    lines and `#` comments skipped). Relative paths are relative to the list's folder."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".json":
        try:
            lines = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidRequest(f"{path}: not JSON: {exc}") from exc
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            raise InvalidRequest(f"{path}: expected a JSON list of paths or URLs")
    else:
        lines = [line.strip() for line in text.splitlines()]
        lines = [line for line in lines if line and not line.startswith("#")]
    return items_of(lines, path.parent.resolve())


def items_of(entries: Sequence[str], base: Path) -> list[Item]:
    """Paths (relative to `base`) and URLs as items, duplicates dropped, in their order."""
    items: dict[str, Item] = {}
    for raw in entries:
        if raw.startswith(("http://", "https://")):
            items.setdefault(raw, Item(raw, raw))
            continue
        given = Path(raw.replace("\\", "/"))
        location = given if given.is_absolute() else base / given
        location = Path(os.path.abspath(location))
        file = location.relative_to(base).as_posix() if _inside(location, base) else raw
        items.setdefault(file, Item(file, str(location), kind_of(raw) or "image"))
    return list(items.values())


def urls(entries: Iterable[str]) -> list[Item]:
    """URL items; anything but http(s) is refused up front."""
    bad = [u for u in entries if not u.startswith(("http://", "https://"))]
    if bad:
        raise InvalidRequest(f"only http(s) URLs are taken, not {bad[0]!r}")
    return items_of(list(entries), Path("/"))


def open_source(source: Path, recursive: bool = True) -> tuple[Path, list[Item]]:
    """(the folder reported paths are relative to, the items) of a folder or a list file."""
    if source.is_dir():
        return source.resolve(), scan_folder(source, recursive)
    if source.is_file():
        return source.parent.resolve(), read_list(source)
    raise InvalidRequest(f"{source}: no such folder or file")


def folder_under(path: str, roots: Sequence[Path]) -> Path:
    """The folder `path`, resolved, if it lies under one of `roots`; FolderRefused otherwise
    (no roots configured, `..`, or a symlink that leads out)."""
    if not roots:
        raise FolderRefused("folder jobs are off: set FOVEA_JOBS_ROOTS to the folders allowed")
    given = Path(path)
    if ".." in given.parts or not given.is_absolute():
        raise FolderRefused(f"{path!r}: give an absolute path without '..'")
    try:
        resolved = given.resolve(strict=True)
    except OSError as exc:
        raise FolderRefused(f"{path!r}: no such folder") from exc
    if not resolved.is_dir():
        raise FolderRefused(f"{path!r} is not a folder")
    if not any(_inside(resolved, root.resolve()) for root in roots):
        raise FolderRefused(f"{path!r} is not under an allowed root (FOVEA_JOBS_ROOTS)")
    return resolved


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as listing:
            return list(listing)
    except OSError:
        return []  # an unreadable folder holds nothing we can read


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
