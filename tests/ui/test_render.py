"""Pictures the UI shows: decoding and fitting, results mapped onto the fitted copy, and the
annotators drawing there, checked by pixel."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fovea.core import Detections, Mask
from fovea.ui import render
from fovea.vision.annotators import MaskAnnotator, annotate, class_colour
from tests.helpers import encode

WHITE = (255, 255, 255)
GREY = (100, 100, 100)


def test_open_image_applies_exif_orientation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    data = encode(Image.new("RGB", (40, 20), (10, 20, 30)), "JPEG", exif=exif)
    image = render.open_image(data)
    assert image is not None
    assert (image.size, image.mode) == ((20, 40), "RGB")


@pytest.mark.parametrize("data", [b"", b"not an image", encode(Image.new("RGB", (9, 9)))[:30]])
def test_open_image_of_undecodable_bytes_is_none(data: bytes) -> None:
    assert render.open_image(data) is None


@pytest.mark.parametrize(
    ("size_wh", "max_side", "fitted_wh"),
    [
        ((1000, 600), 500, (500, 300)),
        ((600, 1000), 500, (300, 500)),
        ((400, 300), 500, (400, 300)),
        ((1000, 600), None, (1000, 600)),
        ((1000, 1), 10, (10, 1)),
        ((1, 1), 10, (1, 1)),
    ],
)
def test_fit(size_wh: tuple[int, int], max_side: int | None, fitted_wh: tuple[int, int]) -> None:
    image = Image.new("RGB", size_wh)
    fitted = render.fit(image, max_side)
    assert fitted.size == fitted_wh
    assert fitted is not image


def boxes(
    *xyxy: list[float], class_id: int = 0, keypoints: list[list[list[float]]] | None = None
) -> Detections:
    return Detections.build(
        list(xyxy) or np.zeros((0, 4)),
        [0.5] * len(xyxy),
        [class_id] * len(xyxy),
        ("cat", "dog"),
        keypoints,
    )


@pytest.mark.parametrize(
    ("xyxy", "scale", "expected"),
    [
        ([[100, 40, 180, 90]], 0.5, [[50, 20, 90, 45]]),
        ([[100, 40, 180, 90], [0, 0, 10, 10]], 1.0, [[100, 40, 180, 90], [0, 0, 10, 10]]),
        ([[3, 6, 9, 12]], 1 / 3, [[1, 2, 3, 4]]),
        ([], 0.5, []),
    ],
)
def test_scaled_maps_boxes_onto_the_fitted_copy(
    xyxy: list[list[float]], scale: float, expected: list[list[float]]
) -> None:
    dets = boxes(*xyxy)
    moved = render.scaled(dets, scale)
    np.testing.assert_allclose(moved.xyxy, np.reshape(expected, (-1, 4)), rtol=1e-6)
    assert moved.xyxy.dtype == np.float32
    assert (moved.class_name, moved.score.tolist()) == (dets.class_name, dets.score.tolist())
    np.testing.assert_array_equal(dets.xyxy, np.reshape(xyxy, (-1, 4)))  # untouched


def test_scaled_maps_keypoints_too() -> None:
    dets = boxes([0, 0, 100, 100], keypoints=[[[40, 60], [10, 0]]])
    moved = render.scaled(dets, 0.25)
    assert moved.keypoints is not None
    assert moved.keypoints.tolist() == [[[10, 15], [2.5, 0]]]
    assert render.scaled(boxes([0, 0, 4, 4]), 0.5).keypoints is None


def test_png_bytes_round_trip() -> None:
    image = Image.new("RGB", (3, 2), (1, 2, 3))
    again = Image.open(io.BytesIO(render.png_bytes(image)))
    assert (again.format, again.size, again.getpixel((2, 1))) == ("PNG", (3, 2), (1, 2, 3))


def pixels(image: Image.Image, xyxy: tuple[int, int, int, int]) -> set[tuple[int, ...]]:
    """Every colour inside a region (x1, y1, x2, y2), ends excluded."""
    region = np.asarray(image.crop(xyxy)).reshape(-1, 3)
    return {tuple(int(v) for v in rgb) for rgb in region}


def test_boxes_drawn_on_the_fitted_copy_land_where_the_scaled_result_says() -> None:
    fitted = render.fit(Image.new("RGB", (200, 100), WHITE), 100)
    out = annotate(fitted, render.scaled(boxes([100, 40, 180, 90], class_id=1), 0.5))
    green = class_colour(1)
    assert out.size == (100, 50)
    assert out.getpixel((50, 35)) == green  # left edge: x 100 -> 50
    assert out.getpixel((89, 35)) == green  # right edge: x 180 -> 90, drawn inside
    assert out.getpixel((70, 35)) == WHITE  # inside stays clear
    assert green in pixels(out, (50, 0, 90, 20))  # the tag sits above the box
    assert fitted.getpixel((50, 35)) == WHITE  # drawn on a copy


def test_keypoints_drawn_on_the_fitted_copy() -> None:
    fitted = render.fit(Image.new("RGB", (200, 200), WHITE), 100)
    dets = boxes([20, 100, 180, 190], keypoints=[[[120, 160]]])
    out = annotate(fitted, render.scaled(dets, 0.5))
    assert out.getpixel((60, 80)) == class_colour(0)
    assert out.getpixel((60, 70)) == WHITE


def test_nothing_to_draw_is_a_plain_copy() -> None:
    image = Image.new("RGB", (8, 8), WHITE)
    out = annotate(image, render.scaled(boxes(), 0.5))
    assert np.array_equal(np.asarray(out), np.asarray(image))


@pytest.mark.parametrize(
    ("opacity", "pixel"),
    [(0.0, GREY), (0.5, (165, 62, 87)), (1.0, (230, 25, 75))],
)
def test_mask_overlay_on_the_fitted_copy(opacity: float, pixel: tuple[int, int, int]) -> None:
    # A full-size mask (left half background, right half class 1) over a picture half as big.
    mask = Mask(np.repeat(np.array([[0, 0, 1, 1]], np.uint8), 2, axis=0), ("background", "red"))
    fitted = render.fit(Image.new("RGB", (4, 2), GREY), 2)
    out = MaskAnnotator(opacity=opacity).annotate(fitted, mask)
    assert out.size == (2, 1)
    assert out.getpixel((0, 0)) == GREY  # class 0 stays clear
    assert out.getpixel((1, 0)) == pixel
