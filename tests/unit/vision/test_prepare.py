from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fovea.models import InputSpec
from fovea.vision import DecodedImage, neutral_rgb, place, prepare


def _decoded(image: Image.Image) -> DecodedImage:
    return DecodedImage(image, image.size)


def test_letterbox_tensor_pads_with_the_pad_value_and_normalises() -> None:
    spec = InputSpec(size=(8, 8), scale=1.0, mean=(100.0, 100.0, 100.0), std=(2.0, 2.0, 2.0))
    red = Image.new("RGB", (8, 4), (200, 0, 0))
    tensor, geometry = prepare(_decoded(red), spec)
    assert tensor.shape == (3, 8, 8)
    assert tensor.dtype == np.float32
    assert geometry.offset_xy == (0.0, 2.0)
    assert tensor[:, 0, 0].tolist() == [7.0, 7.0, 7.0]  # (114 - 100) / 2 in the padding
    assert tensor[:, 4, 4].tolist() == [50.0, -50.0, -50.0]  # (200 - 100) / 2, (0 - 100) / 2


def test_bgr_nhwc_and_uint8() -> None:
    red = _decoded(Image.new("RGB", (4, 4), (255, 0, 0)))
    bgr, _ = prepare(red, InputSpec(size=(4, 4), layout="NHWC", color="BGR"))
    assert bgr.shape == (4, 4, 3)
    assert bgr[0, 0].tolist() == [0.0, 0.0, 1.0]
    raw, _ = prepare(red, InputSpec(size=(4, 4), dtype="uint8"))
    assert raw.dtype == np.uint8
    assert raw[:, 0, 0].tolist() == [255, 0, 0]
    half, _ = prepare(red, InputSpec(size=(4, 4), dtype="float16"))
    assert half.dtype == np.float16


def test_center_crop_keeps_the_middle() -> None:
    stripes = Image.new("RGB", (30, 10), (0, 0, 255))
    stripes.paste((255, 0, 0), (10, 0, 20, 10))  # red in the middle third
    tensor, geometry = prepare(
        _decoded(stripes), InputSpec(size=(10, 10), resize="center-crop", dtype="uint8")
    )
    assert geometry.offset_xy == (-10.0, 0.0)
    assert (tensor[0] == 255).all()
    assert (tensor[2] == 0).all()


def test_place_is_what_prepare_normalises() -> None:
    spec = InputSpec(size=(16, 24), scale=1.0, mean=(127.0, 127.0, 127.0))
    photo = _decoded(Image.new("RGB", (48, 16), (10, 200, 30)))
    pixels, geometry = place(photo, spec)
    assert pixels.shape == (16, 24, 3)
    assert pixels.dtype == np.uint8
    assert pixels[0, 0].tolist() == [114, 114, 114]  # letterbox padding
    tensor, same = prepare(photo, spec)
    assert same == geometry
    placed = _decoded(Image.fromarray(pixels))
    assert np.array_equal(prepare(placed, spec)[0], tensor)  # placing again changes nothing


@pytest.mark.parametrize(
    ("spec", "rgb"),
    [
        (InputSpec(size=(4, 4), scale=1.0, mean=(127.0, 127.0, 127.0)), (127, 127, 127)),
        (InputSpec(size=(4, 4)), (0, 0, 0)),
        (InputSpec(size=(4, 4), dtype="uint8", mean=(9.0, 9.0, 9.0)), (0, 0, 0)),
        (
            InputSpec(size=(4, 4), color="BGR", scale=1.0, mean=(103.53, 116.28, 123.675)),
            (124, 116, 104),
        ),
        (InputSpec(size=(4, 4), scale=1 / 255, mean=(0.5, 2.0, -1.0)), (128, 255, 0)),
    ],
)
def test_the_neutral_pixel_is_what_the_model_reads_as_zero(
    spec: InputSpec, rgb: tuple[int, int, int]
) -> None:
    assert neutral_rgb(spec) == rgb
