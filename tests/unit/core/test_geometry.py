"""Geometry: fitting an image into a model input, and mapping every result type back."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fovea.core import Classes, Detections, Geometry, Heatmap, Mask


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


def test_map_back_to_image_undoes_letterbox() -> None:
    geometry = Geometry.fit((100, 50), (64, 64), "letterbox")  # scale 0.64, pad 16 top
    model_map = np.zeros((64, 64), np.float32)
    model_map[16:48, 32:64] = 1.0  # the right half of the image
    out = geometry.to_image_map(model_map, Image.Resampling.NEAREST)
    assert out.shape == (50, 100)
    assert out[:, :50].sum() == 0
    assert (out[:, 50:] == 1).all()


LETTERBOX = Geometry.fit((100, 50), (64, 64), "letterbox")  # scale 0.64, 16 px padding on top


def test_to_image_maps_boxes_and_keypoints_and_keeps_the_rest() -> None:
    dets = Detections.build(
        [[0, 16, 32, 48]], [0.7], [1], ("a", "b"), keypoints=[[[32, 32], [0, 16]]]
    ).replace(tracker_id=np.array([5]))
    out = LETTERBOX.to_image(dets)
    np.testing.assert_allclose(out.xyxy, [[0, 0, 50, 50]])
    assert out.keypoints is not None
    np.testing.assert_allclose(out.keypoints, [[[50, 25], [0, 0]]])
    assert (out.class_name, out.score.tolist(), out.tracker_id is not None) == (
        ["b"],
        pytest.approx([0.7]),
        True,
    )
    assert dets.xyxy.tolist() == [[0, 16, 32, 48]]  # the model-space result is left as it was


def test_to_image_maps_class_masks_nearest_and_probabilities_smoothly() -> None:
    classes = np.zeros((64, 64), np.uint8)
    classes[16:48, 32:] = 2
    mapped = LETTERBOX.to_image(Mask(classes, ("bg", "x", "y")))
    assert mapped.shape_hw == (50, 100)
    assert set(np.unique(mapped.class_map_hw).tolist()) == {0, 2}  # nearest: no class in between
    assert (mapped.class_map_hw[:, 50:] == 2).all()
    probability = np.zeros((64, 64), np.float32)
    probability[16:48, 32:] = 1.0
    soft = LETTERBOX.to_image(Mask.from_probability(probability, 0.5, ("bg", "fg")))
    assert soft.probability_hw is not None
    assert 0 < soft.probability_hw[25, 49] < 1  # resized bilinearly before the threshold
    assert (soft.class_map_hw[:, 51:] == 1).all()
    assert (soft.class_map_hw[:, :49] == 0).all()


def test_to_image_maps_heatmaps_and_leaves_classes_alone() -> None:
    heat = Heatmap(np.ones((8, 8), np.float32), class_id=3, label="cat", score=0.5)
    mapped = LETTERBOX.to_image(heat)
    assert mapped.values_hw.shape == (50, 100)
    assert (mapped.label, mapped.class_id) == ("cat", 3)
    classes = Classes(np.array([1]), np.array([0.9], np.float32))
    assert LETTERBOX.to_image(classes) is classes
