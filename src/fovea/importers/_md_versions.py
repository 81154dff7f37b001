# ruff: noqa: E501  (MegaDetector's URLs and hashes stay on one line)
"""MegaDetector's releases: how a file name names a version, and each version's metadata.

Mirrors `megadetector.detection.run_detector` (MegaDetector 10.0.24): `model_string_to_model_version`
(ordered; the first substring of the lower-cased file name that matches wins) and `known_models`,
whose entry, plus `megadetector_version`, is what MegaDetector writes as `detector_metadata`.
PyTorch-Wildlife's MegaDetectorV6 files (microsoft/CameraTraps, `megadetectorv6.py`) are not in
MegaDetector's table; MegaDetector writes its "unknown" metadata for them, and so does Fovea.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# model_string_to_model_version, in MegaDetector's order.
NAME_TO_VERSION: tuple[tuple[str, str], ...] = (
    ("mdv2", "v2.0.0"),
    ("mdv3", "v3.0.0"),
    ("mdv4", "v4.1.0"),
    ("mdv5a", "v5a.0.1"),
    ("mdv5b", "v5b.0.1"),
    ("v2", "v2.0.0"),
    ("v3", "v3.0.0"),
    ("v4", "v4.1.0"),
    ("v4.1", "v4.1.0"),
    ("v5a.0.0", "v5a.0.1"),
    ("v5b.0.0", "v5b.0.1"),
    ("v5a.0.1", "v5a.0.1"),
    ("v5b.0.1", "v5b.0.1"),
    *(
        (f"{prefix}-{tree}", f"v1000.0.0-{tree}")
        for prefix in ("md1000", "mdv1000", "v1000")
        for tree in ("redwood", "cedar", "larch", "sorrel", "spruce")
    ),
    ("redwood", "v1000.0.0-redwood"),
    ("spruce", "v1000.0.0-spruce"),
    ("cedar", "v1000.0.0-cedar"),
    ("larch", "v1000.0.0-larch"),
    ("mdv5", "v5a.0.1"),
    ("md5", "v5a.0.1"),
    ("mdv1000", "v1000.0.0-redwood"),
    ("md1000", "v1000.0.0-redwood"),
    ("default", "v5a.0.1"),
    ("megadetector", "v5a.0.1"),
)

# MegaDetector's metadata for a version it does not know.
UNKNOWN_METADATA: dict[str, str | float] = {
    "megadetector_version": "unknown",
    "typical_detection_threshold": 0.2,
    "conservative_detection_threshold": 0.1,
}


@dataclass(frozen=True)
class Release:
    """One MegaDetector release: what Fovea needs to export and serve it."""

    title: str  # for people: "MegaDetector v5a"
    architecture: str  # e.g. "YOLOv5x6"
    family: str  # the package that exports it: "yolov5" | "ultralytics" | "yolov9" | "tensorflow"
    image_size: int  # the long side MegaDetector runs it at
    default_name: str  # the model folder's name unless --name says otherwise
    iou_threshold: float = 0.45  # MegaDetector's NMS ('classic' mode)
    metadata: dict[str, str | int | float] = field(default_factory=dict)  # known_models entry


def _v5(letter: str, patch: str, md5: str) -> Release:
    return Release(
        f"MegaDetector v5{letter}",
        "YOLOv5x6",
        "yolov5",
        1280,
        f"md-v5{letter}",
        metadata={
            "url": f"https://github.com/agentmorris/MegaDetector/releases/download/v5.0/md_v5{letter}.0.{patch}.pt",
            "typical_detection_threshold": 0.2,
            "conservative_detection_threshold": 0.05,
            "image_size": 1280,
            "model_type": "yolov5",
            "normalized_typical_inference_speed": 1.0,
            "md5": md5,
            "megadetector_version": f"v5{letter}.0.{patch}",
        },
    )


def _v1000(
    tree: str,
    architecture: str,
    family: str,
    size: int,
    speed: float,
    md5: str,
    typical: float | None = None,
) -> Release:
    # Only redwood has a typical threshold in MegaDetector's table; none has a conservative one.
    extra = {} if typical is None else {"typical_detection_threshold": typical}
    return Release(
        f"MegaDetector v1000-{tree}",
        architecture,
        family,
        size,
        f"md-v1000-{tree}",
        metadata={
            "url": f"https://github.com/agentmorris/MegaDetector/releases/download/v1000.0/md_v1000.0.0-{tree}.pt",
            "normalized_typical_inference_speed": speed,
            "md5": md5,
            **extra,
            "megadetector_version": f"v1000.0.0-{tree}",
        },
    )


def _tf(version: str, name: str) -> Release:
    metadata: dict[str, str | int | float] = {
        "typical_detection_threshold": 0.8,
        "conservative_detection_threshold": 0.3,
        "megadetector_version": version,
    }
    return Release(
        f"MegaDetector {name}", "Faster R-CNN", "tensorflow", 0, f"md-{name}", 0.45, metadata
    )


# known_models, with the architectures and sizes of MDv1000 from MegaDetector's release notes
# (docs/release-notes/mdv1000-release.md).
RELEASES: dict[str, Release] = {
    "v2.0.0": _tf("v2.0.0", "v2"),
    "v3.0.0": _tf("v3.0.0", "v3"),
    "v4.1.0": _tf("v4.1.0", "v4.1"),
    "v5a.0.0": _v5("a", "0", "ec1d7603ec8cf642d6e0cd008ba2be8c"),
    "v5b.0.0": _v5("b", "0", "bc235e73f53c5c95e66ea0d1b2cbf542"),
    "v5a.0.1": _v5("a", "1", "60f8e7ec1308554df258ed1f4040bc4f"),
    "v5b.0.1": _v5("b", "1", "f17ed6fedfac2e403606a08c89984905"),
    "v1000.0.0-redwood": _v1000(
        "redwood",
        "YOLOv5x6",
        "yolov5",
        1280,
        1.0,
        "74474b3aec9cf1a990da38b37ddf9197",
        typical=0.3,
    ),
    "v1000.0.0-spruce": _v1000(
        "spruce", "YOLOv5s", "yolov5", 640, 12.7, "1c9d1d2b3ba54931881471fdd508e6f2"
    ),
    "v1000.0.0-larch": _v1000(
        "larch", "YOLO11L", "ultralytics", 640, 2.4, "cab94ebd190c2278e12fb70ffd548b6d"
    ),
    "v1000.0.0-cedar": _v1000(
        "cedar", "YOLOv9c (yolov9pip)", "yolov9", 640, 2.0, "3d6472c9b95ba687b59ebe255f7c576b"
    ),
    "v1000.0.0-sorrel": _v1000(
        "sorrel", "YOLO11s", "ultralytics", 960, 7.0, "4339a2c8af7a381f18ded7ac2a4df03e"
    ),
}


def _pw(version: str, architecture: str) -> Release:
    # PyTorch-Wildlife runs these with ultralytics' predictor at 640, NMS IoU 0.7 (its default).
    return Release(
        f"MegaDetector {version} (PyTorch-Wildlife)",
        architecture,
        "ultralytics",
        640,
        "md-" + version.lower().removeprefix("md"),
        iou_threshold=0.7,
        metadata=dict(UNKNOWN_METADATA),
    )


# PyTorch-Wildlife's versions and their release file names.
PYTORCH_WILDLIFE_V6: dict[str, tuple[str, Release]] = {
    "MDV6-yolov9-c": ("MDV6b-yolov9c.pt", _pw("MDV6-yolov9-c", "YOLOv9c")),
    "MDV6-yolov9-e": ("MDV6-yolov9e.pt", _pw("MDV6-yolov9-e", "YOLOv9e")),
    "MDV6-yolov10-c": ("MDV6-yolov10n.pt", _pw("MDV6-yolov10-c", "YOLOv10n")),
    "MDV6-yolov10-e": ("MDV6-yolov10x.pt", _pw("MDV6-yolov10-e", "YOLOv10x")),
    "MDV6-rtdetr-c": ("MDV6b-rtdetrl.pt", _pw("MDV6-rtdetr-c", "RT-DETR-l")),
}


def version_from_filename(filename: str) -> str:
    """MegaDetector's `get_detector_version_from_filename`: a version string, or 'unknown'."""
    lowered = filename.lower()
    return next((version for key, version in NAME_TO_VERSION if key in lowered), "unknown")


@dataclass(frozen=True)
class Identified:
    """A checkpoint's release, and the `detector_metadata` MegaDetector writes for its file."""

    version: str
    release: Release
    metadata: dict[str, str | int | float]


def identify(filename: str, version: str | None = None) -> Identified | None:
    """The release a file is: by `version` (a version, or a default model name), else by its
    release file name, else by its name as MegaDetector reads it; None when nothing matches.

    The metadata is what MegaDetector's batch writer derives from the file name alone (so a file
    it cannot name, e.g. md_v1000.0.0-sorrel.pt, gets its "unknown" block), except when the
    caller names the version.
    """
    by_name = version_from_filename(filename)
    md_metadata = RELEASES[by_name].metadata if by_name in RELEASES else UNKNOWN_METADATA
    every = {**RELEASES, **{v: release for v, (_, release) in PYTORCH_WILDLIFE_V6.items()}}
    if version is not None:
        wanted = version.lower()
        for v, release in every.items():
            if wanted in (v.lower(), release.default_name):
                return Identified(v, release, dict(release.metadata))
        return None
    for v, release_file in _release_files().items():
        if filename.lower() == release_file.lower():
            return Identified(v, every[v], dict(md_metadata))
    if by_name in RELEASES:
        return Identified(by_name, RELEASES[by_name], dict(md_metadata))
    return None


def _release_files() -> dict[str, str]:
    files = {
        v: str(r.metadata["url"]).rsplit("/", 1)[-1]
        for v, r in RELEASES.items()
        if "url" in r.metadata
    }
    return {**files, **{v: name for v, (name, _) in PYTORCH_WILDLIFE_V6.items()}}


def known_names() -> list[str]:
    """The PyTorch release file names Fovea recognises, for error messages."""
    return [f for v, f in _release_files().items() if f.endswith(".pt")]
