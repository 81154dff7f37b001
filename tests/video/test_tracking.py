"""The ByteTrack adapter: ids across frames, every detection kept in its own order."""

from __future__ import annotations

import numpy as np

from fovea.video.tracking import UNTRACKED, Tracker
from tests.helpers import make_detections

LABELS = ("cat", "dog", "person")


def frame(shift: float) -> list[tuple[float, float, float, float, float, int]]:
    """A dog moving right, a person standing still, and a faint cat."""
    return [
        (10 + shift, 10, 60 + shift, 60, 0.9, 1),
        (200, 100, 260, 220, 0.8, 2),
        (300, 300, 320, 320, 0.2, 0),
    ]


def test_ids_hold_across_frames_and_order_is_kept() -> None:
    tracker = Tracker(30.0)
    answers = []
    for i in range(5):
        dets = make_detections(frame(3.0 * i)).replace(labels=LABELS)
        tracked = tracker.update(dets, i / 30)
        assert tracked.class_id.tolist() == [1, 2, 0]  # the input's order, every detection
        assert tracked.xyxy[0, 0] == 10 + 3.0 * i
        assert tracked.tracker_id is not None
        answers.append(tracked.tracker_id.tolist())
    # Confirmed on their second frame; the faint cat never starts a track.
    assert answers[0] == [UNTRACKED, UNTRACKED, UNTRACKED]
    dog, person = answers[1][:2]
    assert dog != person
    assert all(a == [dog, person, UNTRACKED] for a in answers[1:])
    assert tracker.objects_per_class(LABELS) == {"dog": 1, "person": 1}


def test_empty_frames_and_repeated_times_are_fine() -> None:
    tracker = Tracker(0.0)  # an unknown rate: 30 is assumed
    empty = make_detections([])
    assert len(tracker.update(empty, 0.0)) == 0
    dets = make_detections(frame(0))
    tracker.update(dets, 0.5)
    again = tracker.update(dets, 0.5)  # a repeated timestamp is nudged forward, not skipped
    assert again.tracker_id is not None
    assert again.tracker_id[0] >= 0
    assert tracker.objects_per_class(()) == {"1": 1, "2": 1}  # unnamed classes by number
    assert np.array_equal(again.xyxy, dets.xyxy)
