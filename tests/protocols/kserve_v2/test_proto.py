"""The committed protobuf module is what protoc makes of the committed .proto today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import fovea.protocols.kserve_v2._proto as proto

FOLDER = Path(proto.__file__).parent


def _body(text: str) -> list[str]:
    # protoc's header names its own version: only what follows must match.
    return [line for line in text.splitlines() if "Protobuf Python Version" not in line]


def test_generated_code_is_current(tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{FOLDER}",
        f"--python_out={tmp_path}",
        f"--pyi_out={tmp_path}",
        str(FOLDER / "kserve_v2.proto"),
    ]
    subprocess.run(command, check=True)
    for name in ("kserve_v2_pb2.py", "kserve_v2_pb2.pyi"):
        fresh = (tmp_path / name).read_text()
        committed = (FOLDER / name).read_text()
        assert _body(fresh) == _body(committed), f"regenerate {name}: see kserve_v2.proto"


def test_the_messages_are_the_protocols_own_numbers() -> None:
    from fovea.protocols.kserve_v2._proto import kserve_v2_pb2 as pb

    fields = {f.name: f.number for f in pb.ModelInferRequest.DESCRIPTOR.fields}
    assert fields == {
        "model_name": 1,
        "model_version": 2,
        "id": 3,
        "parameters": 4,
        "inputs": 5,
        "outputs": 6,
        "raw_input_contents": 7,
    }
    out = {f.name: f.number for f in pb.ModelInferResponse.DESCRIPTOR.fields}
    assert out["raw_output_contents"] == 6
