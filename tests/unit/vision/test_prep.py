from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fovea.spec import InputSpec
from fovea.vision.io import DecodedImage
from fovea.vision.prep import Geometry, prepare


@pytest.mark.parametrize(
    ("image_wh", "resize", "scale_xy", "offset_xy"),
    [
        ((1000, 600), "letterbox", (0.64, 0.64), (0.0, 128.0)),
        ((600, 1000), "letterbox", (0.64, 0.64), (128.0, 0.0)),
        ((640, 640), "letterbox", (1.0, 1.0), (0.0, 0.0)),
        ((1, 1), "letterbox", (640.0, 640.0), (0.0, 0.0)),
        ((1000, 600), "stretch", (0.64, 640 / 600), (0.0, 0.0)),
        ((1000, 600), "center-crop", (1067 / 1000, 640 / 600), (-214.0, 0.0)),
    ],
)
def test_geometry_fit(
    image_wh: tuple[int, int],
    resize: str,
    scale_xy: tuple[float, float],
    offset_xy: tuple[float, float],
) -> None:
    geometry = Geometry.fit(image_wh, (640, 640), resize)
    assert geometry.scale_xy == pytest.approx(scale_xy)
    assert geometry.offset_xy == offset_xy


@pytest.mark.parametrize("resize", ["letterbox", "stretch", "center-crop"])
@pytest.mark.parametrize("image_wh", [(1000, 600), (600, 1000), (333, 777)])
def test_boxes_round_trip_through_model_space(resize: str, image_wh: tuple[int, int]) -> None:
    geometry = Geometry.fit(image_wh, (416, 416), resize)
    w, h = image_wh
    xyxy = np.array([[0.3 * w, 0.3 * h, 0.6 * w, 0.7 * h]], np.float32)
    scale = np.array(geometry.scale_xy * 2, np.float32)
    offset = np.array(geometry.offset_xy * 2, np.float32)
    in_model = xyxy * scale + offset
    np.testing.assert_allclose(geometry.to_image_xyxy(in_model), xyxy, atol=1e-3)


def test_boxes_are_clipped_to_the_image() -> None:
    geometry = Geometry.fit((1000, 600), (640, 640), "letterbox")
    # A box reaching into the top padding and past the right edge.
    out = geometry.to_image_xyxy(np.array([[600, 100, 700, 200]], np.float32))
    np.testing.assert_allclose(out, [[937.5, 0.0, 1000.0, 112.5]])


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


def test_map_back_to_image_undoes_letterbox() -> None:
    geometry = Geometry.fit((100, 50), (64, 64), "letterbox")  # scale 0.64, pad 16 top
    model_map = np.zeros((64, 64), np.float32)
    model_map[16:48, 32:64] = 1.0  # the right half of the image
    out = geometry.to_image_map(model_map, Image.Resampling.NEAREST)
    assert out.shape == (50, 100)
    assert out[:, :50].sum() == 0
    assert (out[:, 50:] == 1).all()
