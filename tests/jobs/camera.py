"""Camera-trap style folders for the job tests, built from the project's real photos."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image

from tests.helpers import image_bytes

PHOTOS = Path(__file__).parents[1] / "fixtures" / "photos"
EXPECTED_FILES = [
    "cam1/a.jpg",
    "cam1/night/B.JPG",
    "cam2/c.jpeg",
    "cam2/corrupt.jpg",
    "cam2/empty.jpg",
    "cam2/zero.jpg",
]


def nested_folder(root: Path) -> Path:
    """cam1/a.jpg (a cat), cam1/night/B.JPG (a motorcycle, upper-case), cam2/c.jpeg (a person),
    a truncated JPEG, a zero-byte .jpg, a grey photo with nothing in it, and a text file."""
    (root / "cam1" / "night").mkdir(parents=True)
    (root / "cam2").mkdir()
    shutil.copy(PHOTOS / "chelsea.jpg", root / "cam1" / "a.jpg")
    shutil.copy(PHOTOS / "motorcycle.jpg", root / "cam1" / "night" / "B.JPG")
    shutil.copy(PHOTOS / "astronaut.jpg", root / "cam2" / "c.jpeg")
    data = (PHOTOS / "coffee.jpg").read_bytes()
    (root / "cam2" / "corrupt.jpg").write_bytes(data[: len(data) // 3])
    (root / "cam2" / "zero.jpg").write_bytes(b"")
    (root / "cam2" / "empty.jpg").write_bytes(image_bytes((320, 240), (128, 128, 128)))
    (root / "cam2" / "notes.txt").write_text("battery changed 2026-05-01\n")
    return root


def planted_folder(root: Path, count: int, size_wh: tuple[int, int] = (1000, 600)) -> Path:
    """`count` distinct JPEGs under root/site/ (the synthetic planted models see a dog and a
    person in each)."""
    folder = root / "site"
    folder.mkdir(parents=True)
    for n in range(count):
        colour = (40 + n % 200, 90, 150 - n % 100)
        Image.new("RGB", size_wh, colour).save(folder / f"img-{n:04d}.jpg", quality=80)
    return root
