"""Result types: building, indexing, the empty case and validation messages."""

from __future__ import annotations

import numpy as np
import pytest

from fovea.core import Classes, Detections, Heatmap, Mask, labels_of
from tests.helpers import make_detections

LABELS = ("cat", "dog", "person")


def _three() -> Detections:
    dets = make_detections([(0, 0, 10, 10, 0.9, 1), (5, 5, 20, 20, 0.5, 2), (1, 2, 3, 4, 0.1, 0)])
    return dets.replace(labels=LABELS, tracker_id=np.array([7, 8, 9]), data={"n": np.arange(3)})


def test_build_casts_to_canonical_dtypes_and_names_classes() -> None:
    dets = Detections.build([[1, 2, 3, 4]], [0.5], [2], LABELS)
    assert [dets.xyxy.dtype.name, dets.score.dtype.name, dets.class_id.dtype.name] == [
        "float32",
        "float32",
        "int64",
    ]
    assert dets.class_name == ["person"]


@pytest.mark.parametrize(
    ("index", "rows"),
    [
        (1, [1]),
        (slice(0, 2), [0, 1]),
        (np.array([True, False, True]), [0, 2]),
        (np.array([2, 0]), [2, 0]),
    ],
)
def test_indexing_keeps_every_field_aligned(index: object, rows: list[int]) -> None:
    dets = _three()
    picked = dets[index]  # type: ignore[index]
    np.testing.assert_array_equal(picked.xyxy, dets.xyxy[rows])
    assert picked.score.tolist() == dets.score[rows].tolist()
    assert picked.class_name == [dets.class_name[i] for i in rows]
    assert picked.tracker_id is not None
    assert picked.tracker_id.tolist() == [[7, 8, 9][i] for i in rows]
    assert picked.data["n"].tolist() == rows


def test_filtering_reads_like_supervision() -> None:
    dets = _three()
    kept = dets[dets.score >= 0.5]
    assert kept.class_name == ["dog", "person"]
    assert len(dets[dets.score > 1]) == 0


def test_empty() -> None:
    empty = Detections.empty(LABELS)
    assert len(empty) == 0
    assert empty.xyxy.shape == (0, 4)
    assert empty.class_name == []
    assert len(empty[empty.score > 0.5]) == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"xyxy": np.zeros((3, 5), np.float32)},
            r"xyxy: expected \(3, 4\) float32, got \(3, 5\) float32",
        ),
        ({"xyxy": np.zeros((3, 4))}, r"xyxy: expected \(3, 4\) float32, got \(3, 4\) float64"),
        ({"score": np.zeros(2, np.float32)}, r"score: expected \(3,\) float32, got \(2,\)"),
        ({"class_id": np.zeros(3, np.int32)}, r"class_id: expected \(3,\) int64, got \(3,\) int32"),
        ({"keypoints": np.zeros((3, 5, 3), np.float32)}, r"keypoints: expected \(3, N, 2\)"),
        ({"tracker_id": np.zeros(4, np.int64)}, r"tracker_id: expected \(3,\) int64"),
        ({"data": {"species": np.zeros(2)}}, r"data\['species'\]: expected length 3, got 2"),
    ],
)
def test_validation_says_what_was_expected_and_what_came(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _three().replace(**fields)


def test_classes_and_labels_outside_the_table() -> None:
    classes = Classes(np.array([2, 7]), np.array([0.6, 0.3], np.float32), LABELS)
    assert classes.class_name == ["person", "7"]
    assert len(classes) == 2
    assert labels_of([0, -1], LABELS) == ["cat", "-1"]
    with pytest.raises(ValueError, match=r"score: expected \(2,\) float32"):
        Classes(np.array([2, 7]), np.array([0.6], np.float32))


def test_mask_fractions_and_probability() -> None:
    probability = np.array([[0.1, 0.9], [0.6, 0.4]], np.float32)
    mask = Mask.from_probability(probability, 0.5, ("background", "person"))
    assert mask.class_map_hw.tolist() == [[0, 1], [1, 0]]
    assert mask.fractions().tolist() == [0.5, 0.5]
    assert mask.shape_hw == (2, 2)
    with pytest.raises(ValueError, match=r"class_map_hw: expected \(N, N\) uint8"):
        Mask(np.zeros((2, 2), np.int32))
    with pytest.raises(ValueError, match=r"class 5 has no label; labels are \['bg', 'fg'\]"):
        Mask(np.full((2, 2), 5, np.uint8), ("bg", "fg"))
    with pytest.raises(ValueError, match=r"probability_hw: expected \(2, 2\) float32"):
        Mask(np.zeros((2, 2), np.uint8), probability_hw=np.zeros((3, 3), np.float32))


def test_heatmap_checks_its_map() -> None:
    assert Heatmap(np.zeros((4, 5), np.float32)).values_hw.shape == (4, 5)
    with pytest.raises(ValueError, match="values_hw"):
        Heatmap(np.zeros((4, 5, 1), np.float32))
