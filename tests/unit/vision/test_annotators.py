"""Annotators draw where the result says, in the class's colour, and never on the caller's image."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fovea.core import Classes, Detections, Mask
from fovea.vision.annotators import (
    BoxAnnotator,
    CaptionAnnotator,
    KeypointAnnotator,
    LabelAnnotator,
    MaskAnnotator,
    annotate,
    class_colour,
    label_texts,
    palette,
)

GREY = (128, 128, 128)
DETS = Detections.build([[20, 40, 120, 140]], [0.87], [3], ("a", "b", "c", "dog"))


def _scene() -> Image.Image:
    return Image.new("RGB", (200, 200), GREY)


def test_box_edges_are_drawn_in_the_class_colour_and_the_inside_is_untouched() -> None:
    out = BoxAnnotator(thickness=2).annotate(_scene(), DETS)
    colour = class_colour(3)
    for xy in [(20, 90), (120, 90), (70, 40), (70, 140)]:  # left, right, top, bottom edges
        assert out.getpixel(xy) == colour, xy
    assert out.getpixel((70, 90)) == GREY
    assert out.getpixel((10, 10)) == GREY


def test_label_tag_sits_above_the_box_with_its_text() -> None:
    out = LabelAnnotator().annotate(_scene(), DETS)
    tag = np.asarray(out)[20:40, 20:60]  # just above the box's top-left corner
    assert (tag == class_colour(3)).all(axis=-1).any()  # the tag's fill
    assert (tag == (0, 0, 0)).all(axis=-1).any()  # the text on it
    assert np.asarray(out)[60:200].tolist() == np.asarray(_scene())[60:200].tolist()
    assert label_texts(DETS) == ["dog 0.87"]
    tracked = DETS.replace(tracker_id=np.array([12]))
    assert label_texts(tracked, show_score=False) == ["#12 dog"]
    species = np.array([["beagle", ""]], object)
    two_stage = DETS.replace(data={"class_names": species})
    assert label_texts(two_stage) == ["dog 0.87: beagle"]


def test_keypoints_are_dots_in_the_class_colour() -> None:
    dets = DETS.replace(keypoints=np.array([[[50, 60], [100, 100]]], np.float32))
    out = KeypointAnnotator(radius=3).annotate(_scene(), dets)
    assert out.getpixel((50, 60)) == class_colour(3)
    assert out.getpixel((100, 100)) == class_colour(3)
    assert out.getpixel((75, 80)) == GREY
    assert KeypointAnnotator().annotate(_scene(), DETS).tobytes() == _scene().tobytes()


def test_mask_blends_each_class_over_the_image_and_leaves_the_background() -> None:
    classes = np.zeros((100, 100), np.uint8)
    classes[:, 50:] = 1
    out = MaskAnnotator(opacity=0.5).annotate(Image.new("RGB", (200, 200), GREY), Mask(classes))
    colour = palette(2)[1].astype(int)
    expected = np.round((np.array(GREY) + colour) / 2)
    np.testing.assert_allclose(np.asarray(out)[100, 150], expected, atol=1)  # scaled to fit
    assert out.getpixel((50, 100)) == GREY


def test_caption_writes_top_k_in_a_black_box() -> None:
    classes = Classes(np.array([1, 0]), np.array([0.9, 0.1], np.float32), ("cat", "dog"))
    out = CaptionAnnotator().annotate(_scene(), classes)
    corner = np.asarray(out)[0:30, 0:60]
    assert (corner == (0, 0, 0)).all(axis=-1).any()
    assert (corner == (255, 255, 255)).all(axis=-1).any()
    assert out.getpixel((150, 150)) == GREY


@pytest.mark.parametrize(
    "result",
    [
        DETS,
        Mask(np.ones((10, 10), np.uint8)),
        Classes(np.array([0]), np.array([1.0], np.float32), ("x",)),
    ],
)
def test_annotate_chains_the_defaults_and_returns_a_new_image(
    result: Detections | Mask | Classes,
) -> None:
    scene = _scene()
    before = scene.tobytes()
    out = annotate(scene, result)
    assert out is not scene
    assert scene.tobytes() == before  # the caller's image is untouched
    assert out.tobytes() != before


def test_a_chain_is_applied_in_order() -> None:
    boxes_then_labels = annotate(_scene(), DETS, [BoxAnnotator(), LabelAnnotator()])
    assert boxes_then_labels.tobytes() == annotate(_scene(), DETS).tobytes()  # no keypoints
    assert annotate(_scene(), DETS, []).tobytes() == _scene().tobytes()
