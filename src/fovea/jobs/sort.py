"""Sort a job's images into folders by what was found: `animal/`, `person/`, `vehicle/` (each a
category's name), `animal_person/` for images with several (as MegaDetector's
separate_detections_into_folders does), `empty/`, and `failed/`. Subfolders are kept below each.
A plan first (the dry run's counts); then copy, hard-link (a symlink across file systems) or
move. An existing destination is never overwritten."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fovea.formats import BatchResults, ImageEntry
from fovea.jobs.images import image_path

Mode = Literal["copy", "link", "move"]
EMPTY, FAILED = "empty", "failed"


@dataclass(frozen=True)
class SortPlan:
    moves: list[tuple[Path, Path]]  # (source, destination)
    counts: Counter[str] = field(default_factory=Counter)
    skipped: list[str] = field(default_factory=list)  # URLs and missing files


def folder_of(entry: ImageEntry, categories: Mapping[str, str], threshold: float) -> str:
    if entry.failure is not None:
        return FAILED
    found = {det.category for det in entry.kept(threshold)}
    order = sorted(found, key=lambda c: (int(c) if c.isdigit() else 1 << 62, c))
    return "_".join(categories.get(c, c) for c in order) or EMPTY


def plan(results: BatchResults, images: Path, into: Path, threshold: float) -> SortPlan:
    sorted_plan = SortPlan([])
    for entry in results.sorted_images():
        source = image_path(images, entry)
        if source is None or not source.is_file():
            sorted_plan.skipped.append(entry.file)
            continue
        folder = folder_of(entry, results.detection_categories, threshold)
        relative = (
            Path(entry.file).relative_to("/")
            if Path(entry.file).is_absolute()
            else Path(entry.file)
        )
        sorted_plan.moves.append((source, into / folder / relative))
        sorted_plan.counts[folder] += 1
    return sorted_plan


def apply(sort_plan: SortPlan, mode: Mode) -> int:
    """Carry the plan out; the number of files placed (existing destinations are skipped)."""
    placed = 0
    for source, destination in sort_plan.moves:
        if destination.exists():
            continue
        destination.parent.mkdir(parents=True, exist_ok=True)
        if mode == "copy":
            shutil.copy2(source, destination)
        elif mode == "move":
            shutil.move(source, destination)
        else:
            _link(source, destination)
        placed += 1
    return placed


def _link(source: Path, destination: Path) -> None:
    try:
        os.link(source, destination)
    except OSError:  # another file system: a hard link cannot cross it
        destination.symlink_to(source.resolve())
