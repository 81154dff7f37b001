"""YOLO text labels: `classes.txt` (one name a line; line i is class i) and one
`labels/<image path>.txt` per image with a line `class cx cy w h conf` per detection, normalised
0..1 (ultralytics' `save_txt` with `save_conf`). An image with nothing gets an empty file; a failed
image gets none."""

from __future__ import annotations

from fovea.formats._batch import BatchResults, safe_relative

NAME = "yolo"
NEEDS_SIZE = False
DESCRIPTION = "YOLO labels/*.txt (class cx cy w h conf) and classes.txt"


def encode(results: BatchResults, threshold: float = 0.0) -> dict[str, bytes]:
    order = results.category_ids()
    index = {key: n for n, key in enumerate(order)}
    files = {"classes.txt": "".join(results.detection_categories[k] + "\n" for k in order).encode()}
    for entry in results.sorted_images():
        if entry.failure is not None:
            continue
        lines = []
        for det in entry.kept(threshold):
            x, y, w, h = det.bbox_xywh
            values = (x + w / 2, y + h / 2, w, h, det.conf)
            lines.append(f"{index[det.category]} " + " ".join(f"{v:.6f}" for v in values) + "\n")
        files["labels/" + safe_relative(entry.file, ".txt")] = "".join(lines).encode()
    return files
