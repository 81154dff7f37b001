"""OpenVINO runs the same ONNX file with the same answers; bf16 is refused where the CPU has it
not, with a message that says what to do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fovea.errors import ModelConfigError
from fovea.runtime.onnx import OnnxModel, RuntimeOptions
from fovea.runtime.openvino import OpenVinoModel, cpu_has_bf16
from tests import onnx_models


def test_openvino_gives_onnx_runtimes_answers(tmp_path: Path) -> None:
    path = onnx_models.red_segmenter(tmp_path / "seg.onnx")
    reference = OnnxModel(path, RuntimeOptions())
    variant = OpenVinoModel(path, RuntimeOptions(), "fp32")
    assert (variant.input.name, variant.output_names) == (reference.input.name, ["logits"])
    assert variant.fixed_batch is None
    assert variant.input.datatype == "FP32"
    batch = np.random.default_rng(5).random((3, 3, 64, 64), np.float32)
    got, want = variant.run(batch)["logits"], reference.run(batch)["logits"]
    np.testing.assert_allclose(np.asarray(got, np.float32), np.asarray(want, np.float32), atol=1e-4)


def test_bf16_is_refused_on_a_cpu_without_it(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu sse2 avx2 fma\n")
    path = onnx_models.red_segmenter(tmp_path / "seg.onnx")
    with pytest.raises(ModelConfigError, match="needs a CPU with AVX-512 BF16 or AMX"):
        OpenVinoModel(path, RuntimeOptions(), "bf16", cpuinfo=cpuinfo)
    cpuinfo.write_text("flags\t\t: avx512f avx512_bf16\n")
    assert cpu_has_bf16(cpuinfo)


@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no bf16 (AVX-512 BF16 or AMX)")
def test_bf16_runs_close_to_fp32(tmp_path: Path) -> None:
    path = onnx_models.colour_classifier(tmp_path / "cls.onnx")
    batch = np.random.default_rng(6).random((2, 3, 32, 32), np.float32)
    fp32 = np.asarray(OnnxModel(path, RuntimeOptions()).run(batch)["logits"], np.float32)
    bf16 = np.asarray(
        OpenVinoModel(path, RuntimeOptions(), "bf16").run(batch)["logits"], np.float32
    )
    np.testing.assert_allclose(bf16, fp32, rtol=2e-2, atol=2e-2)  # 8 bits of mantissa
