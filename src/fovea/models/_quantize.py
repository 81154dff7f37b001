"""`fovea models quantize`: an int8 version of a model (ONNX Runtime static quantization, QDQ,
per-channel weights), calibrated on the user's own images through the model's own
preprocessing, written as the next version folder, atomically."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fovea.errors import InputError, ModelConfigError
from fovea.models._served import ServedModel
from fovea.vision import Limits

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


def calibration_images(folder: Path, limit: int = 200) -> list[Path]:
    images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not images:
        raise InputError(f"{folder}: no images to calibrate with (JPEG, PNG, WebP, BMP, TIFF)")
    return images


def quantize(model: ServedModel, model_dir: Path, images: Sequence[Path]) -> str:
    """Write the int8 version of `model` as the next version; return its name."""
    try:
        from onnxruntime.quantization import (
            CalibrationDataReader,
            QuantFormat,
            QuantType,
            quantize_static,
        )
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except ImportError as exc:
        raise ModelConfigError(
            "quantizing needs onnx: pip install 'fovea-serve[quantize]'"
        ) from exc
    versions_dir = model_dir / model.spec.versions_dir
    source = versions_dir / model.version / "model.onnx"
    numbers = [int(p.name) for p in versions_dir.iterdir() if p.name.isdigit()]
    version = str(max(numbers, default=0) + 1)
    name = model.session.input.name

    class Reader(CalibrationDataReader):  # type: ignore[misc]
        def __init__(self) -> None:
            self.batches = _tensors(model, images)

        def get_next(self) -> dict[str, npt.NDArray[np.generic]] | None:
            tensor = next(self.batches, None)
            return None if tensor is None else {name: tensor[None]}

    with tempfile.TemporaryDirectory(dir=versions_dir) as scratch:
        staged = Path(scratch) / version
        staged.mkdir()
        prepared = Path(scratch) / "prepared.onnx"
        # Shape inference and graph cleanup first, as ONNX Runtime recommends before quantizing.
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared),
            str(staged / "model.onnx"),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            # The convolutions and matrix products are where the time goes; the head's
            # reshapes, sigmoids and concatenations stay float. Quantizing those too broke
            # `coco`: a constant-range activation got a zero scale (NaN zero point), and no
            # detection survived.
            op_types_to_quantize=["Conv", "MatMul", "Gemm"],
        )
        shutil.move(str(staged), versions_dir / version)  # a version appears whole or not at all
    return version


def _tensors(model: ServedModel, images: Sequence[Path]) -> Iterator[npt.NDArray[np.generic]]:
    for path in images:
        try:
            yield model.load(path.read_bytes(), Limits()).tensor
        except (InputError, OSError):
            continue  # an unreadable calibration image is skipped, not fatal
