"""Track ids across the frames of one video with ByteTrack from Roboflow's `trackers` package: the
one place that converts Fovea's Detections to supervision's and back.

Why `trackers`: it is where Roboflow maintains ByteTrack since supervision deprecated `sv.ByteTrack`
(0.28) and removed it (0.31); it takes frame timestamps (variable rate, sampled frames) and
returns every detection, unconfirmed ones with id -1, so no detection is lost to tracking.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from fovea.core import Detections
from fovea.errors import VideoUnavailable

UNTRACKED = -1  # a detection not (yet) part of a confirmed track


class Tracker:
    """ByteTrack for one video or stream: call `update` once per processed frame, in order.

    Defaults suit Fovea's detectors, whose scores run lower than YOLOX's that ByteTrack's own
    defaults (0.6 / 0.7) were tuned on: detections at 0.5 or more start and extend tracks, lower
    ones only extend them, and a track is confirmed on its second frame.
    """

    def __init__(
        self,
        frame_rate: float,
        *,
        high_score: float = 0.5,
        lost_track_buffer: int = 30,
        minimum_consecutive_frames: int = 2,
    ) -> None:
        try:
            # Imported here: `trackers` loads supervision and OpenCV (about a second), and only
            # tracked requests need it.
            from trackers import ByteTrackTracker
        except ImportError as exc:  # pragma: no cover - a base install without `video`
            raise VideoUnavailable(
                "tracking needs `trackers`: pip install 'fovea-serve[video]'"
            ) from exc
        self._tracker = ByteTrackTracker(
            lost_track_buffer=lost_track_buffer,
            frame_rate=frame_rate or 30.0,
            track_activation_threshold=high_score,
            high_conf_det_threshold=high_score,
            minimum_consecutive_frames=minimum_consecutive_frames,
        )
        self._last_time_s: float | None = None
        self.classes: dict[int, Counter[int]] = defaultdict(Counter)  # track id -> class votes

    def update(self, dets: Detections, time_s: float) -> Detections:
        """`dets` in their own order with `tracker_id` set (UNTRACKED where not confirmed)."""
        import supervision as sv

        # ByteTrack skips a frame whose timestamp does not advance (and warns): never send one.
        if self._last_time_s is not None and time_s <= self._last_time_s:
            time_s = self._last_time_s + 1e-6
        self._last_time_s = time_s
        rows = np.arange(len(dets))
        tracked = self._tracker.update(
            sv.Detections(
                xyxy=dets.xyxy.astype(np.float32),
                confidence=dets.score,
                class_id=dets.class_id,
                data={"row": rows},
            ),
            timestamp=time_s,
        )
        ids = np.full(len(dets), UNTRACKED, np.int64)
        if len(tracked):
            assert tracked.tracker_id is not None
            ids[np.asarray(tracked.data["row"], np.intp)] = tracked.tracker_id
        for track, class_id in zip(ids.tolist(), dets.class_id.tolist(), strict=True):
            if track != UNTRACKED:
                self.classes[track][class_id] += 1
        return dets.replace(tracker_id=ids)

    def objects_per_class(self, labels: tuple[str, ...]) -> dict[str, int]:
        """Confirmed tracks so far, each counted once under the class it was seen as most."""
        counts: Counter[str] = Counter()
        for votes in self.classes.values():
            class_id = votes.most_common(1)[0][0]
            counts[labels[class_id] if 0 <= class_id < len(labels) else str(class_id)] += 1
        return dict(sorted(counts.items()))
