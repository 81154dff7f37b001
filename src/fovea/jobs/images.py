"""Finding a results entry's image on disk (entries are relative to the job's source folder)
and reading its size from the header alone, EXIF orientation applied as Fovea's decoder does."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from fovea.formats import BatchResults, ImageEntry

_ROTATED = {5, 6, 7, 8}


def image_path(root: Path, entry: ImageEntry) -> Path | None:
    """The entry's file under `root` (an absolute `file` as it is), or None for a URL."""
    if entry.file.startswith(("http://", "https://")):
        return None
    path = Path(entry.file)
    return path if path.is_absolute() else root / path


def size_of(path: Path) -> tuple[int, int] | None:
    """(width, height) after EXIF orientation, from the header; None if it cannot be read."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            if image.getexif().get(0x0112) in _ROTATED:
                width, height = height, width
    except (OSError, UnidentifiedImageError, ValueError):
        return None
    return width, height


def fill_sizes(results: BatchResults, root: Path) -> BatchResults:
    """Sizes read from the images under `root` for successful entries that lack them."""
    filled = []
    for entry in results.images:
        if entry.failure is None and entry.size_wh is None:
            path = image_path(root, entry)
            size = size_of(path) if path is not None else None
            if size is not None:
                entry = replace(entry, width=size[0], height=size[1])
        filled.append(entry)
    return results.replace_images(filled)
