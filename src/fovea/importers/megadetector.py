"""`fovea models import megadetector`: a MegaDetector checkpoint (.pt) -> a ready model folder in a
repository: `1/model.onnx` at MegaDetector's input size and a `model.toml` with its letterbox,
colour order, labels and `[metadata]`. Written atomically; the export runs in the tools venv.
"""

from __future__ import annotations

import io
import json
import os
import pickletools
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fovea.errors import ModelImportError
from fovea.importers import _toolsenv
from fovea.importers._md_versions import Identified, identify, known_names

HERE = Path(__file__).parent
REQUIREMENTS = HERE / "requirements-tools.txt"
WORKER = HERE / "_md_worker.py"
VENV_NAME = "megadetector"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# Pickled classes that say which package built the network, and its detection head.
_FAMILIES = {
    "models.yolo": "yolov5",
    "yolov5.models.yolo": "yolov5",
    "ultralytics.nn.tasks": "ultralytics",
}
_HEADS = {"Detect", "v10Detect", "DualDDetect", "RTDETRDecoder", "Segment", "Pose", "OBB"}


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint's pickle says about it, read without PyTorch."""

    family: str  # "yolov5" | "ultralytics" | "yolov9"
    head: str  # the detection head's class, e.g. "Detect"
    md_info: dict[str, Any] | None  # MegaDetector's megadetector_info.json, when the file has one


def inspect_checkpoint(path: Path) -> Checkpoint:
    """Read a .pt file's zip directory and pickle opcodes (no code runs) to tell what it holds."""
    expected = (
        "expected a MegaDetector PyTorch checkpoint (a .pt file, which is a zip archive, as "
        f"MegaDetector releases them: {', '.join(known_names()[:3])}, ...)"
    )
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
            if len(pickles) != 1:
                raise ModelImportError(f"{path.name}: {expected}; this zip has no data.pkl")
            root = pickles[0].rsplit("/", 1)[0]
            data = archive.read(pickles[0])
            info_name = f"{root}/megadetector_info.json"
            md_info = (
                json.loads(archive.read(info_name)) if info_name in archive.namelist() else None
            )
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise ModelImportError(
            f"{path.name}: {expected}; it is not a complete one (a truncated download?): {exc}"
        ) from exc
    classes = _pickled_classes(data, path.name, expected)
    families = {_FAMILIES[m] for m, _ in classes if m in _FAMILIES}
    heads = sorted({name for _, name in classes if name in _HEADS})
    if "DualDDetect" in heads or any(m.startswith("yolov9") for m, _ in classes):
        families = {"yolov9"}
    if len(families) != 1 or len(heads) != 1:
        models = sorted(f"{m}.{n}" for m, n in classes if not m.startswith(("torch", "collect")))
        what = f"the classes {models[:8]}" if models else "weights only (a state_dict)"
        raise ModelImportError(
            f"{path.name}: {expected}, holding a pickled YOLOv5 (models.yolo) or ultralytics "
            f"(ultralytics.nn.tasks) detection network with one head; it holds {what}"
        )
    info = md_info if isinstance(md_info, dict) else None
    return Checkpoint(families.pop(), heads[0], info)


def _pickled_classes(data: bytes, name: str, expected: str) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(io.BytesIO(data)):
            if opcode.name == "GLOBAL":
                module, _, attr = str(arg).partition(" ")
                found.add((module, attr))
            elif isinstance(arg, str):
                strings.append(arg)
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.add((strings[-2], strings[-1]))
    except ValueError as exc:
        raise ModelImportError(f"{name}: {expected}; its pickle is damaged: {exc}") from exc
    return found


def plan(weights: Path, version: str | None) -> tuple[Checkpoint, Identified, str]:
    """Everything decidable without PyTorch: the checkpoint, its release and Fovea's decoder.
    Refuses (ModelImportError) what cannot be imported, saying what was expected."""
    if not weights.is_file():
        raise ModelImportError(f"{weights}: no such file")
    checkpoint = inspect_checkpoint(weights)
    md_version = (checkpoint.md_info or {}).get("model_version_string")
    found = identify(weights.name, version or (md_version if isinstance(md_version, str) else None))
    if found is None:
        asked = f"--version {version!r}" if version else f"the file name {weights.name!r}"
        raise ModelImportError(
            f"{asked} names no MegaDetector release Fovea knows. Expected a release file name "
            f"({', '.join(known_names())}) or --version with one of those releases' versions "
            "(e.g. v5a.0.0, v1000.0.0-redwood, MDV6-yolov9-c)"
        )
    release = found.release
    if release.family in ("tensorflow", "yolov9"):
        raise ModelImportError(
            f"{release.title} ({release.architecture}) cannot be imported: Fovea exports "
            "MegaDetector v5, v1000 (redwood, spruce, larch, sorrel) and PyTorch-Wildlife's v6 "
            "YOLO models (yolov5 and ultralytics checkpoints)"
        )
    if checkpoint.family != release.family:
        raise ModelImportError(
            f"{weights.name} is named as {release.title}, a {release.family} "
            f"{release.architecture}, but it holds a {checkpoint.family} network: "
            "rename the file or pass --version"
        )
    decoders = {"Detect": "yolov5" if checkpoint.family == "yolov5" else "yolov8", "v10Detect": ""}
    if checkpoint.head not in decoders:
        raise ModelImportError(
            f"{weights.name}: its {checkpoint.head} head has no decoder in Fovea yet; "
            "YOLO detection heads (Detect, v10Detect) are supported"
        )
    return checkpoint, found, decoders[checkpoint.head]


def import_megadetector(
    weights: Path,
    into: Path,
    name: str | None = None,
    version: str | None = None,
    *,
    tools_dir: Path | None = None,
    verify: bool = True,
    say: Callable[[str], None] = print,
) -> Path:
    """Import `weights` as `into/name`; returns the new model folder. Nothing is left in `into`
    when it fails: the folder is built beside the others and renamed into place at the end."""
    checkpoint, found, decoder = plan(weights, version)
    release = found.release
    name = name or release.default_name
    if not _NAME.fullmatch(name):
        raise ModelImportError(f"--name {name!r}: use letters, digits, '.', '_' and '-' only")
    target = into / name
    if target.exists():
        raise ModelImportError(f"{target} already exists: remove it or choose another --name")
    size = int(checkpoint.md_info.get("image_size", 0)) if checkpoint.md_info else 0
    size = size or release.image_size
    say(f"{weights.name}: {release.title}, {release.architecture}, input {size}x{size}")
    venv = (tools_dir or _toolsenv.default_dir()) / VENV_NAME
    try:
        python = _toolsenv.ensure_venv(venv, REQUIREMENTS, no_deps=True, say=say)
    except _toolsenv.ToolsEnvError as exc:
        raise ModelImportError(
            f"cannot build the tools environment at {venv} (PyTorch, yolov5, ultralytics from "
            f"the package registries; set FOVEA_TOOLS_DIR to build it elsewhere): {exc}"
        ) from exc
    try:
        into.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".fovea-import-", dir=into))
    except OSError as exc:
        raise ModelImportError(f"cannot write into {into}: {exc}") from exc
    try:
        folder = scratch / name
        (folder / "1").mkdir(parents=True)
        report = _export(python, weights, checkpoint.family, size, folder, scratch, verify, say)
        decoder = decoder or _end_to_end_decoder(report)
        toml = model_toml(weights, found, checkpoint.family, decoder, size, report)
        (folder / "model.toml").write_text(toml, encoding="utf-8")
        os.rename(folder, target)
    except OSError as exc:
        raise ModelImportError(f"cannot write {target}: {exc}") from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    say(f"wrote {target}")
    return target


def _export(
    python: Path,
    weights: Path,
    family: str,
    size: int,
    folder: Path,
    scratch: Path,
    verify: bool,
    say: Callable[[str], None],
) -> dict[str, Any]:
    report_path, log = scratch / "report.json", scratch / "export.log"
    command = [str(python), str(WORKER), "--weights", str(weights.absolute())]
    command += ["--family", family, "--image-size", str(size)]
    command += ["--out", str(folder / "1" / "model.onnx"), "--report", str(report_path)]
    env = {**os.environ, "YOLO_OFFLINE": "1", "PYTHONNOUSERSITE": "1"}
    config = python.parent.parent / "config"  # ultralytics and yolov5 write settings files
    env.update(YOLO_CONFIG_DIR=str(config), YOLOV5_CONFIG_DIR=str(config))
    try:
        _toolsenv.run([*command, *([] if verify else ["--no-verify"])], say, 3600.0, log, env)
    except _toolsenv.ToolsEnvError as exc:
        failed = json.loads(report_path.read_text()) if report_path.exists() else {}
        reason = failed.get("error") or str(exc)
        raise ModelImportError(f"{weights.name}: cannot export it: {reason}") from exc
    report: dict[str, Any] = json.loads(report_path.read_text())
    if "verify" in report:
        say(f"checked: ONNX Runtime vs PyTorch, max |diff| {report['verify']['max_abs_diff']:.2g}")
    return report


def _end_to_end_decoder(report: dict[str, Any]) -> str:
    """A v10Detect head exports either NMS-free (N, 300, 6) rows or the usual (N, 4 + C, A)."""
    return "boxes" if report["output_shape"][-1] == 6 else "yolov8"


def model_toml(
    weights: Path,
    found: Identified,
    family: str,
    decoder: str,
    size: int,
    report: dict[str, Any],
) -> str:
    """The model.toml text: MegaDetector's preprocessing, labels, NMS and metadata."""
    release = found.release
    versions = ", ".join(f"{k} {v}" for k, v in report["versions"].items() if v)
    checked = report.get("verify", {}).get("max_abs_diff")
    metadata = {"detector": weights.name, **found.metadata}
    threshold = float(metadata.get("typical_detection_threshold", 0.2))
    lines = [
        f"# {release.title} ({release.architecture}), imported from {weights.name}",
        "# by `fovea models import megadetector`; the file's sha256:",
        f"# {_toolsenv.sha256(weights)}",
        f"# Exported to ONNX (opset 17) by {family} with {versions}.",
        *(
            [f"# ONNX Runtime vs PyTorch on one {size}x{size} input: max |diff| {checked:.2g}."]
            if checked is not None
            else []
        ),
        "# MegaDetector's preprocessing: RGB scaled to 0..1, letterboxed with grey 114. Its own",
        "# PyTorch pipeline pads only to a multiple of the stride, not to a square (see README).",
        "# Class ids here count from 0; MegaDetector's categories are id + 1 (1 animal, 2 person,",
        "# 3 vehicle). [metadata]: `detector` is the file name; the other keys are MegaDetector's",
        "# detector_metadata for that name.",
        'task = "detect"',
        f"decoder = {_value(decoder)}",
        f"description = {_value(f'{release.title} ({release.architecture}, {size}) from {weights.name}')}",  # noqa: E501
        'labels = ["animal", "person", "vehicle"]',
        "",
        "[input]",
        f"size = [{size}, {size}]",
        'resize = "letterbox"',
        "pad_value = 114",
        'layout = "NCHW"',
        'color = "RGB"',
        f"scale = {1 / 255!r}",
        'dtype = "float32"',
        f"name = {_value(report['input_name'])}",
        "",
        "[postprocess]",
        f"score_threshold = {threshold!r}",
        f"iou_threshold = {release.iou_threshold!r}",
        "max_detections = 300",
        "",
        "[outputs]",
        f"output = {_value(report['output_name'])}",
        "",
        "[metadata]",
        *(f"{key} = {_value(value)}" for key, value in metadata.items()),
    ]
    return "\n".join(lines) + "\n"


def _value(value: str | int | float) -> str:
    """A TOML scalar: JSON's string escapes are TOML's too."""
    return json.dumps(value) if isinstance(value, str) else repr(value)
