from __future__ import annotations

import numpy as np
from PIL import Image

from fovea.models import InputSpec
from fovea.vision import DecodedImage, prepare


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
