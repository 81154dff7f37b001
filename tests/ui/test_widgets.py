"""The pictures widgets hand to st.image and to the PNG download, from upload bytes, checked
by pixel (Streamlit's caches run in bare mode here: no server, no session)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from fovea.core import Detections
from fovea.ui import widgets
from fovea.vision.annotators import class_colour
from tests.helpers import encode

WHITE = (255, 255, 255)
PICTURE = encode(Image.new("RGB", (200, 100), WHITE))
DOG = Detections.build([[100, 40, 180, 90]], [0.9], [1], ("cat", "dog"))


def test_annotated_draws_on_the_fitted_picture_at_the_scaled_box() -> None:
    out = widgets.annotated(PICTURE, DOG, max_side=100)
    assert out is not None
    assert out.size == (100, 50)
    assert out.getpixel((50, 35)) == class_colour(1)  # the box's left edge: x 100 -> 50
    assert out.getpixel((70, 35)) == WHITE


def test_annotated_at_full_size_matches_the_download() -> None:
    shown = widgets.annotated(PICTURE, DOG)  # 200 px fits DISPLAY_SIDE: not resized
    download = Image.open(io.BytesIO(widgets.annotated_png(PICTURE, DOG)()))
    assert shown is not None
    assert (download.format, download.size) == ("PNG", (200, 100))
    assert download.getpixel((100, 65)) == class_colour(1)
    assert np.array_equal(np.asarray(download.convert("RGB")), np.asarray(shown))


def test_annotated_of_nothing_kept_is_the_plain_picture() -> None:
    out = widgets.annotated(PICTURE, DOG[DOG.score > 1], max_side=100)
    assert out is not None
    assert (np.asarray(out) == 255).all()


def test_undecodable_bytes_give_no_picture() -> None:
    assert widgets.annotated(b"nope", DOG) is None
    assert widgets.annotated_png(b"nope", DOG)() == b""
