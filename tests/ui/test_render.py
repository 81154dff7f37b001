from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from fovea.ui import render
from tests.helpers import encode

WHITE = (255, 255, 255)


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
    ("class_id", "colour"),
    [(0, (230, 25, 75)), (1, (60, 180, 75)), (19, (128, 128, 128)), (20, (230, 25, 75))],
)
def test_class_colour_matches_the_server_palette(class_id: int, colour: tuple[int, ...]) -> None:
    assert render.class_colour(class_id) == colour


@pytest.mark.parametrize(
    ("size_wh", "max_side", "fitted_wh"),
    [
        ((1000, 600), 500, (500, 300)),
        ((600, 1000), 500, (300, 500)),
        ((400, 300), 500, (400, 300)),
        ((1000, 600), None, (1000, 600)),
        ((1000, 1), 10, (10, 1)),
    ],
)
def test_fit(size_wh: tuple[int, int], max_side: int | None, fitted_wh: tuple[int, int]) -> None:
    image = Image.new("RGB", size_wh)
    fitted = render.fit(image, max_side)
    assert fitted.size == fitted_wh
    assert fitted is not image


def detection(box: list[float], class_id: int = 0, **extra: object) -> dict[str, object]:
    return {"label": "cat", "class_id": class_id, "score": 0.5, "box": box, **extra}


def test_draw_detections_outlines_each_box_on_a_copy() -> None:
    image = Image.new("RGB", (100, 100), WHITE)
    out = render.draw_detections(image, [detection([10, 40, 50, 80], class_id=1)])
    assert out.getpixel((10, 60)) == (60, 180, 75)  # left edge, class 1's colour
    assert out.getpixel((30, 60)) == WHITE  # inside stays clear
    assert out.getpixel((30, 35)) == (60, 180, 75)  # the tag sits above the box
    assert image.getpixel((10, 60)) == WHITE


def test_draw_detections_scales_boxes_onto_a_resized_picture() -> None:
    image = render.fit(Image.new("RGB", (200, 100), WHITE), 100)
    out = render.draw_detections(image, [detection([100, 40, 180, 90])], scale=0.5)
    assert out.size == (100, 50)
    assert out.getpixel((50, 35)) == (230, 25, 75)  # x 100 -> 50
    assert out.getpixel((70, 35)) == WHITE


def test_draw_detections_marks_keypoints() -> None:
    image = Image.new("RGB", (100, 100), WHITE)
    out = render.draw_detections(image, [detection([10, 40, 90, 90], keypoints=[[50, 60]])])
    assert out.getpixel((50, 60)) == (230, 25, 75)


def test_draw_nothing_is_a_plain_copy() -> None:
    image = Image.new("RGB", (8, 8), WHITE)
    assert np.array_equal(np.asarray(render.draw_detections(image, [])), np.asarray(image))


def mask_json(class_ids: list[list[int]], colours: list[int]) -> dict[str, object]:
    png = Image.new("P", (len(class_ids[0]), len(class_ids)))
    png.putdata([v for row in class_ids for v in row])
    png.putpalette(colours)
    buffer = io.BytesIO()
    png.save(buffer, format="PNG")
    return {"png": base64.b64encode(buffer.getvalue()).decode("ascii")}


def test_decode_mask_reads_class_ids_and_palette() -> None:
    png = render.decode_mask(mask_json([[0, 1], [2, 1]], [0, 0, 0, 200, 0, 0, 0, 0, 200]))
    assert png.mode == "P"
    assert np.asarray(png).tolist() == [[0, 1], [2, 1]]
    assert render.mask_colours(png, 3) == [(0, 0, 0), (200, 0, 0), (0, 0, 200)]


@pytest.mark.parametrize(
    ("opacity", "pixel"),
    [(0.0, (100, 100, 100)), (0.5, (150, 50, 50)), (1.0, (200, 0, 0))],
)
def test_overlay_mask_blends_classes_above_zero(opacity: float, pixel: tuple[int, ...]) -> None:
    png = render.decode_mask(mask_json([[0, 1]], [0, 0, 0, 200, 0, 0]))
    image = Image.new("RGB", (2, 1), (100, 100, 100))
    out = render.overlay_mask(image, png, opacity)
    assert out.getpixel((0, 0)) == (100, 100, 100)  # class 0 stays clear
    assert out.getpixel((1, 0)) == pixel


def test_overlay_mask_resizes_the_mask_to_the_picture() -> None:
    png = render.decode_mask(mask_json([[0, 1]], [0, 0, 0, 200, 0, 0]))
    out = render.overlay_mask(Image.new("RGB", (4, 2), (100, 100, 100)), png, 1.0)
    assert out.getpixel((1, 1)) == (100, 100, 100)
    assert out.getpixel((2, 1)) == (200, 0, 0)


def test_png_bytes_round_trip() -> None:
    image = Image.new("RGB", (3, 2), (1, 2, 3))
    again = Image.open(io.BytesIO(render.png_bytes(image)))
    assert (again.format, again.size, again.getpixel((2, 1))) == ("PNG", (3, 2), (1, 2, 3))
