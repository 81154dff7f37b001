"""Matching by hand-computed cases: one-to-one per label, tolerance judged after assignment,
extras, counts, the decision, and `auto`'s choice."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

from fovea.errors import ExtraNotInstalled
from fovea.inspection.matching import (
    Inspection,
    choose,
    inspect,
    iou_cxcywh,
    match,
    warm,
    within,
)
from fovea.inspection.patterns import Pattern, Tolerance
from tests.helpers import make_detections

TOL = {"x": 0.02, "y": 0.02, "w": 0.02, "h": 0.02}
BOARD = [  # label, cx, cy, w, h
    ("chip", 0.5, 0.5, 0.2, 0.2),
    ("screw", 0.1, 0.1, 0.05, 0.05),
    ("screw", 0.9, 0.1, 0.05, 0.05),
]


def pattern(objects: list[tuple[str, float, float, float, float]], **extra: Any) -> Pattern:
    return Pattern.model_validate(
        {
            "tolerance": extra.pop("tolerance", TOL),
            "objects": [{"label": o[0], "box": o[1:]} for o in objects],
            **extra,
        }
    )


def judge(
    expected: list[tuple[str, float, float, float, float]],
    found: list[tuple[str, float, float, float, float]],
    **extra: Any,
) -> Inspection:
    cxcywh = np.array([f[1:] for f in found], np.float64).reshape(-1, 4)
    labels = [f[0] for f in found]
    return match("p", pattern(expected, **extra), cxcywh, labels, np.ones(len(found)))


def statuses(result: Inspection) -> list[str]:
    return [p.status for p in result.positions]


@pytest.mark.parametrize(
    ("found", "want_statuses", "want_extras", "decision"),
    [
        (BOARD, ["found", "found", "found"], [], "OK"),
        (BOARD[:2], ["found", "found", "missing"], [], "NOK"),  # one missing
        (  # one misplaced: the right screw 0.05 too low
            [*BOARD[:2], ("screw", 0.9, 0.15, 0.05, 0.05)],
            ["found", "found", "misplaced"],
            [],
            "NOK",
        ),
        (  # one extra: a third screw
            [*BOARD, ("screw", 0.5, 0.9, 0.05, 0.05)],
            ["found", "found", "found"],
            ["screw"],
            "NOK",
        ),
        (  # a part of a label the pattern never mentions is extra too
            [*BOARD, ("cap", 0.5, 0.9, 0.1, 0.1)],
            ["found", "found", "found"],
            ["cap"],
            "NOK",
        ),
        ([], ["missing", "missing", "missing"], [], "NOK"),  # nothing detected
    ],
    ids=["all-found", "one-missing", "one-misplaced", "one-extra", "foreign-extra", "empty"],
)
def test_board_cases(
    found: list[tuple[str, float, float, float, float]],
    want_statuses: list[str],
    want_extras: list[str],
    decision: str,
) -> None:
    result = judge(BOARD, found)
    assert statuses(result) == want_statuses
    assert [e.label for e in result.extras] == want_extras
    assert result.decision == decision
    assert result.errors == sum(s != "found" for s in want_statuses) + len(want_extras)


def test_a_misplaced_position_reports_its_offset_and_delta() -> None:
    result = judge(BOARD, [*BOARD[:2], ("screw", 0.93, 0.14, 0.05, 0.05)])
    right = result.positions[2]
    assert right.status == "misplaced"
    assert right.delta == pytest.approx((0.03, 0.04, 0.0, 0.0))
    assert right.offset == pytest.approx(0.05)  # sqrt(0.03^2 + 0.04^2)
    assert result.total_offset == pytest.approx(0.05)
    assert right.detection == 2


def test_swapped_labels_are_two_misplaced_positions() -> None:
    # The chip sits where the pattern wants a screw, and a screw where it wants the chip.
    found = [("screw", 0.5, 0.5, 0.05, 0.05), ("chip", 0.1, 0.1, 0.2, 0.2), BOARD[2]]
    result = judge(BOARD, found)
    assert statuses(result) == ["misplaced", "misplaced", "found"]
    assert result.positions[0].found == (0.1, 0.1, 0.2, 0.2)  # the chip, misplaced
    assert result.extras == ()


def test_one_detection_between_two_positions_counts_once() -> None:
    # Both expected screws accept the detection (0.04 away, tolerance 0.05): it takes one.
    expected = [("screw", 0.46, 0.5, 0.05, 0.05), ("screw", 0.54, 0.5, 0.05, 0.05)]
    tolerance = {"x": 0.05, "y": 0.05}
    result = judge(expected, [("screw", 0.5, 0.5, 0.05, 0.05)], tolerance=tolerance)
    assert sorted(statuses(result)) == ["found", "missing"]
    assert [p.detection for p in result.positions if p.detection is not None] == [0]
    assert result.decision == "NOK"
    assert result.errors == 1


def test_assignment_puts_the_most_pairs_within_tolerance_before_the_least_offset() -> None:
    # A loose position at x 0.50 (0.2) and a tight one at 0.60 (0.01); screws at 0.595 and 0.70.
    # The least total offset (0.095 + 0.1) would leave the tight one out of tolerance; the
    # crossed pairs (0.2 + 0.005) put both within.
    loose_and_tight = Pattern.model_validate(
        {
            "tolerance": TOL,
            "objects": [
                {"label": "s", "box": [0.5, 0.5, 0.1, 0.1], "tolerance": {"x": 0.2}},
                {"label": "s", "box": [0.6, 0.5, 0.1, 0.1], "tolerance": {"x": 0.01}},
            ],
        }
    )
    found = np.array([[0.595, 0.5, 0.1, 0.1], [0.70, 0.5, 0.1, 0.1]])
    result = match("p", loose_and_tight, found, ["s", "s"], np.ones(2))
    assert statuses(result) == ["found", "found"]
    assert [p.detection for p in result.positions] == [1, 0]


def test_a_single_position_pattern_works() -> None:
    result = judge([BOARD[0]], [BOARD[0]])
    assert (statuses(result), result.decision) == (["found"], "OK")
    assert judge([BOARD[0]], []).decision == "NOK"
    lonely = judge([BOARD[0]], [("chip", 0.8, 0.8, 0.2, 0.2)])
    assert statuses(lonely) == ["misplaced"]


def test_extras_can_be_allowed_and_labels_ignored() -> None:
    found = [*BOARD, ("cap", 0.5, 0.9, 0.1, 0.1)]
    allowed = judge(BOARD, found, allow_extras=True)
    assert ([e.label for e in allowed.extras], allowed.decision) == (["cap"], "OK")
    ignored = judge(BOARD, found, ignore=["cap"])
    assert (ignored.extras, ignored.decision) == ((), "OK")


def test_counts_judge_a_label_wherever_its_parts_are() -> None:
    found = [*BOARD, ("clip", 0.3, 0.3, 0.05, 0.05), ("clip", 0.7, 0.7, 0.05, 0.05)]
    ok = judge(BOARD, found, counts={"clip": [1, 2]})
    assert [(e.label, e.counted) for e in ok.extras] == [("clip", True), ("clip", True)]
    assert [(c.label, c.count, c.ok) for c in ok.counts] == [("clip", 2, True)]
    assert ok.decision == "OK"
    too_many = judge(BOARD, found, counts={"clip": [0, 1]})
    assert (too_many.errors, too_many.decision) == (1, "NOK")
    # A count on a positioned label counts every detection of it; its unclaimed ones are free.
    spare = judge(BOARD, [*BOARD, ("screw", 0.5, 0.9, 0.05, 0.05)], counts={"screw": [2, 3]})
    assert (spare.decision, spare.counts[0].count) == ("OK", 3)


def test_counts_alone_make_a_pattern() -> None:
    result = judge([], [("clip", 0.3, 0.3, 0.05, 0.05)], counts={"clip": [2, 4]})
    assert (result.positions, result.decision, result.errors) == ((), "NOK", 1)


def test_the_score_threshold_drops_weak_detections_before_matching() -> None:
    cxcywh = np.array([f[1:] for f in BOARD], np.float64)
    scores = np.array([0.9, 0.9, 0.3])
    strict = pattern(BOARD, score_threshold=0.5)
    result = match("p", strict, cxcywh, [f[0] for f in BOARD], scores)
    assert statuses(result) == ["found", "found", "missing"]
    assert result.extras == ()


def test_min_iou_tolerance() -> None:
    # A box shifted by a quarter of its width overlaps 0.6 of the union.
    shifted = [("chip", 0.55, 0.5, 0.2, 0.2)]
    assert statuses(judge([BOARD[0]], shifted, tolerance={"min_iou": 0.5})) == ["found"]
    assert statuses(judge([BOARD[0]], shifted, tolerance={"min_iou": 0.7})) == ["misplaced"]
    assert judge([BOARD[0]], shifted, tolerance={"min_iou": 0.5}).positions[0].iou == 0.6


def test_per_object_tolerance_replaces_the_patterns_criteria_it_names() -> None:
    loose = Pattern.model_validate(
        {
            "tolerance": TOL,
            "objects": [{"label": "chip", "box": [0.5, 0.5, 0.2, 0.2], "tolerance": {"x": 0.1}}],
        }
    )
    assert loose.tolerance_of(0) == Tolerance(x=0.1, y=0.02, w=0.02, h=0.02)
    result = match("p", loose, np.array([[0.58, 0.5, 0.2, 0.2]]), ["chip"], np.ones(1))
    assert statuses(result) == ["found"]


@pytest.mark.parametrize(
    ("delta", "iou", "tolerance", "inside"),
    [
        ((0.02, 0.0, 0.0, 0.0), 1.0, Tolerance(x=0.02), True),  # the bound itself is inside
        ((0.0200001, 0.0, 0.0, 0.0), 1.0, Tolerance(x=0.02), True),  # float32 noise too
        ((0.021, 0.0, 0.0, 0.0), 1.0, Tolerance(x=0.02), False),
        ((0.0, -0.03, 0.0, 0.0), 1.0, Tolerance(x=0.02), True),  # y is not checked
        ((0.0, 0.0, 0.0, 0.0), 0.49, Tolerance(min_iou=0.5), False),
    ],
)
def test_within(
    delta: tuple[float, float, float, float], iou: float, tolerance: Tolerance, inside: bool
) -> None:
    assert within(delta, iou, tolerance) is inside


def test_iou_of_boxes() -> None:
    a = np.array([[0.5, 0.5, 0.2, 0.2]])
    b = np.array([[0.5, 0.5, 0.2, 0.2], [0.6, 0.5, 0.2, 0.2], [0.9, 0.9, 0.1, 0.1]])
    assert iou_cxcywh(a, b)[0].tolist() == pytest.approx([1.0, 1 / 3, 0.0])
    assert iou_cxcywh(a, np.zeros((0, 4))).shape == (1, 0)


def test_detections_in_pixels_are_judged_in_fractions_of_the_image() -> None:
    # 1000x500 image: the chip at (0.5, 0.5, 0.2, 0.2) is (400, 200, 600, 300) in pixels.
    dets = make_detections([(400, 200, 600, 300, 0.9, 0)]).replace(labels=("chip",))
    result = inspect("p", pattern([BOARD[0]]), dets, (1000, 500))
    assert result.positions[0].found == (0.5, 0.5, 0.2, 0.2)
    assert result.decision == "OK"


def test_auto_chooses_fewest_errors_then_smallest_offset_then_name() -> None:
    found = [("chip", 0.51, 0.5, 0.2, 0.2)]
    near = judge([("chip", 0.5, 0.5, 0.2, 0.2)], found)
    far = judge([("chip", 0.525, 0.5, 0.2, 0.2)], found)
    wrong = judge([("chip", 0.5, 0.5, 0.2, 0.2), ("chip", 0.1, 0.1, 0.2, 0.2)], found)
    assert (near.errors, far.errors, wrong.errors) == (0, 0, 1)
    assert choose([wrong, far, near]) is near
    twin = Inspection("a", near.positions, near.extras, near.counts)
    assert choose([near, twin]).pattern == "a"


def test_without_scipy_inspection_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "scipy.optimize", None)
    with pytest.raises(ExtraNotInstalled, match=r"fovea-serve\[inspect\]"):
        judge(BOARD, BOARD)
    warm()  # the server's startup warm-up does not fail without it
