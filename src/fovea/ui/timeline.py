"""A video's answer as the Video page shows it: counts per class over time, one row per tracked
object, and the NDJSON to download. Pure functions of `fovea.client.VideoAnswer`."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from fovea.client import VideoAnswer

Json = dict[str, Any]


def counts_over_time(answer: VideoAnswer) -> list[Json]:
    """One row per frame and class seen anywhere in the video: time (s), label, count (0 where
    the class is absent, so a chart's line drops to zero instead of skipping the frame)."""
    per_frame = [Counter(d.label for d in f.detections or []) for f in answer.frames]
    labels = sorted({label for counts in per_frame for label in counts})
    return [
        {"time_s": round(frame.time_ms / 1000, 3), "label": label, "count": counts[label]}
        for frame, counts in zip(answer.frames, per_frame, strict=True)
        for label in labels
    ]


def tracked_objects(answer: VideoAnswer) -> list[Json]:
    """One row per confirmed track, by first appearance: its class (the one it was seen as
    most), when it was first and last seen, in how many processed frames, its best score."""
    seen: dict[int, list[tuple[float, str, float]]] = defaultdict(list)
    for frame in answer.frames:
        for d in frame.detections or []:
            if d.tracker_id is not None:
                seen[d.tracker_id].append((frame.time_ms / 1000, d.label, d.score))
    rows = []
    for track, sightings in seen.items():
        times = [t for t, _, _ in sightings]
        label = Counter(lbl for _, lbl, _ in sightings).most_common(1)[0][0]
        rows.append(
            {
                "track": track,
                "label": label,
                "first_s": round(min(times), 3),
                "last_s": round(max(times), 3),
                "frames": len(sightings),
                "best_score": round(max(s for _, _, s in sightings), 3),
            }
        )
    return sorted(rows, key=lambda r: (r["first_s"], r["track"]))


def headline(answer: VideoAnswer) -> str:
    """What was processed, and what was found, in one sentence."""
    header = answer.header
    done = f"{len(answer.frames)} frames of {header.frame_count or '?'} ({header.fps:g} fps)"
    summary = answer.summary
    if summary is None:
        return done
    found = summary.objects if summary.objects is not None else summary.max_in_frame
    noun = "tracked objects" if summary.objects is not None else "most in one frame"
    listed = ", ".join(f"{count} {label}" for label, count in found.items()) or "nothing"
    return f"{done} in {summary.elapsed_ms / 1000:.1f} s; {noun}: {listed}"


def ndjson_text(answer: VideoAnswer) -> str:
    """The answer as the NDJSON the API sent (what the download button gives)."""
    lines = [answer.header, *answer.frames, answer.summary or answer.error]
    return "".join(line.model_dump_json(exclude_none=True) + "\n" for line in lines if line)
