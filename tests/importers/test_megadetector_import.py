"""The MegaDetector importer without PyTorch: which files it takes, what it refuses and why, and
that a model folder appears whole or not at all. (tests/megadetector runs the real export.)"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from fovea.api.app import create_app
from fovea.cli import app
from fovea.config import Settings
from fovea.errors import ModelImportError
from fovea.importers import _toolsenv, megadetector
from fovea.importers._md_versions import identify, version_from_filename
from tests.helpers import model_spec
from tests.importers.fakes import ULTRALYTICS, YOLOV5, fake_checkpoint

FAKE_WORKER = Path(__file__).with_name("fakes.py")


@pytest.fixture
def fake_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tools venv is this interpreter and the worker is tests/importers/fakes.py."""
    monkeypatch.setattr(_toolsenv, "ensure_venv", lambda *a, **k: Path(sys.executable))
    monkeypatch.setattr(megadetector, "WORKER", FAKE_WORKER)
    return


@pytest.mark.parametrize(
    ("filename", "version", "megadetector_version"),
    [
        ("md_v5a.0.0.pt", "v5a.0.0", "v5a.0.1"),  # MegaDetector names .0.0 files as .0.1
        ("md_v5b.0.1.pt", "v5b.0.1", "v5b.0.1"),
        ("MDV5A.pt", "v5a.0.1", "v5a.0.1"),
        ("md_v1000.0.0-redwood.pt", "v1000.0.0-redwood", "v1000.0.0-redwood"),
        ("md_v1000.0.0-sorrel.pt", "v1000.0.0-sorrel", "unknown"),  # MegaDetector cannot name it
        ("MDV6b-yolov9c.pt", "MDV6-yolov9-c", "unknown"),
    ],
)
def test_releases_are_named_as_megadetector_names_them(
    filename: str, version: str, megadetector_version: str
) -> None:
    found = identify(filename)
    assert found is not None
    assert (found.version, found.metadata["megadetector_version"]) == (
        version,
        megadetector_version,
    )


def test_megadetector_metadata_per_release() -> None:
    v5a = identify("md_v5a.0.0.pt")
    assert v5a is not None
    assert v5a.metadata["typical_detection_threshold"] == 0.2
    assert v5a.metadata["conservative_detection_threshold"] == 0.05
    assert (v5a.release.image_size, v5a.release.default_name) == (1280, "md-v5a")
    redwood = identify("md_v1000.0.0-redwood.pt")
    assert redwood is not None
    assert redwood.metadata["typical_detection_threshold"] == 0.3
    assert "conservative_detection_threshold" not in redwood.metadata  # as in MegaDetector
    sorrel = identify("md_v1000.0.0-sorrel.pt")
    assert sorrel is not None
    assert sorrel.release.image_size == 960
    assert sorrel.metadata["conservative_detection_threshold"] == 0.1  # MegaDetector's "unknown"
    named = identify("my-detector.pt", "md-v5b")
    assert named is not None
    assert named.metadata["megadetector_version"] == "v5b.0.0"
    assert identify("my-detector.pt") is None
    assert identify("x.pt", "v7") is None
    assert version_from_filename("nothing.pt") == "unknown"


@pytest.mark.parametrize(
    ("name", "classes", "message"),
    [
        ("md_v5a.0.0.pt", [], "weights only (a state_dict)"),
        ("md_v5a.0.0.pt", [("collections", "OrderedDict")], "weights only (a state_dict)"),
        ("md_v5a.0.0.pt", [("mynet", "Net")], "it holds the classes ['mynet.Net']"),
        (
            "md_v5a.0.0.pt",
            ULTRALYTICS,
            "named as MegaDetector v5a, a yolov5 YOLOv5x6, but it holds",
        ),
        ("MDV6b-yolov9c.pt", YOLOV5, "a ultralytics YOLOv9c, but it holds a yolov5 network"),
        (
            "md_v1000.0.0-cedar.pt",
            [*YOLOV5[:2], ("models.yolo", "DualDDetect")],
            "cannot be imported",
        ),
        (
            "MDV6b-rtdetrl.pt",
            [*ULTRALYTICS[:1], ("ultralytics.nn.modules.head", "RTDETRDecoder")],
            "RTDETRDecoder head has no decoder",
        ),
        ("md_v4.1.0.pt", YOLOV5, "MegaDetector v4.1 (Faster R-CNN) cannot be imported"),
        ("camera.pt", YOLOV5, "the file name 'camera.pt' names no MegaDetector release"),
    ],
)
def test_bad_checkpoints_are_refused_saying_what_was_expected(
    tmp_path: Path, name: str, classes: list[tuple[str, str]], message: str
) -> None:
    weights = fake_checkpoint(tmp_path / name, classes)
    with pytest.raises(ModelImportError) as caught:
        megadetector.plan(weights, None)
    assert message in caught.value.detail
    if "state_dict" in message or "mynet" in message:
        assert "expected a MegaDetector PyTorch checkpoint" in caught.value.detail


def test_files_that_are_not_checkpoints(tmp_path: Path) -> None:
    real = fake_checkpoint(tmp_path / "whole.pt", YOLOV5)
    truncated = tmp_path / "md_v5a.0.0.pt"
    truncated.write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    with pytest.raises(ModelImportError, match="truncated download"):
        megadetector.plan(truncated, None)
    plain_zip = tmp_path / "md_v5b.0.0.pt"
    with zipfile.ZipFile(plain_zip, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ModelImportError, match=r"this zip has no data\.pkl"):
        megadetector.plan(plain_zip, None)
    with pytest.raises(ModelImportError, match="no such file"):
        megadetector.plan(tmp_path / "absent.pt", None)


def test_what_a_checkpoint_holds_is_read_without_running_it(tmp_path: Path) -> None:
    v5 = megadetector.inspect_checkpoint(fake_checkpoint(tmp_path / "a.pt", YOLOV5))
    assert (v5.family, v5.head, v5.md_info) == ("yolov5", "Detect", None)
    v10 = [*ULTRALYTICS[:1], ("ultralytics.nn.modules.head", "v10Detect")]
    u = megadetector.inspect_checkpoint(fake_checkpoint(tmp_path / "b.pt", v10, stack_global=True))
    assert (u.family, u.head) == ("ultralytics", "v10Detect")
    info = {"model_version_string": "v1000.0.0-spruce", "image_size": 640}
    checkpoint = fake_checkpoint(tmp_path / "renamed.pt", YOLOV5, md_info=info)
    _, found, decoder = megadetector.plan(checkpoint, None)  # the version inside the file wins
    assert (found.version, decoder) == ("v1000.0.0-spruce", "yolov5")


@pytest.mark.usefixtures("fake_tools")
def test_import_writes_a_model_fovea_serves_with_megadetector_metadata(tmp_path: Path) -> None:
    weights = fake_checkpoint(tmp_path / "md_v5a.0.0.pt", YOLOV5)
    repository = tmp_path / "models"
    said: list[str] = []
    folder = megadetector.import_megadetector(weights, repository, say=said.append)
    assert folder == repository / "md-v5a"
    assert sorted(p.name for p in repository.iterdir()) == ["md-v5a"]  # no scratch left
    spec = model_spec(folder)
    assert (spec.decoder, spec.labels) == ("yolov5", ("animal", "person", "vehicle"))
    assert (spec.input.size, spec.input.color, spec.input.pad_value) == ((1280, 1280), "RGB", 114)
    assert spec.input.resize == "letterbox"
    assert spec.input.scale == pytest.approx(1 / 255)
    assert (spec.postprocess.score_threshold, spec.postprocess.iou_threshold) == (0.2, 0.45)
    assert spec.metadata["detector"] == "md_v5a.0.0.pt"
    assert spec.metadata["megadetector_version"] == "v5a.0.1"
    assert spec.metadata["conservative_detection_threshold"] == 0.05
    assert spec.metadata["image_size"] == 1280
    assert any("max |diff| 1.5e-05" in line for line in said)
    assert "the file's sha256:" in (folder / "model.toml").read_text()
    with TestClient(create_app(Settings(model_repository=repository))) as client:
        info = client.get("/v1/models/md-v5a").json()
        assert info["status"] == "ready", info
        assert info["metadata"]["typical_detection_threshold"] == 0.2
        assert info["labels"] == ["animal", "person", "vehicle"]


@pytest.mark.usefixtures("fake_tools")
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("md_v5a-crash.pt", "something deep inside PyTorch broke"),
        ("md_v5a-refuse.pt", "cannot export it: its classes are ['cat']"),
    ],
)
def test_a_failed_export_leaves_nothing_behind(tmp_path: Path, name: str, message: str) -> None:
    weights = fake_checkpoint(tmp_path / name, YOLOV5)
    repository = tmp_path / "models"
    (repository / "other").mkdir(parents=True)
    with pytest.raises(ModelImportError, match=None) as caught:
        megadetector.import_megadetector(weights, repository, version="v5a.0.0", say=print)
    assert message in caught.value.detail
    assert [p.name for p in repository.iterdir()] == ["other"]


@pytest.mark.usefixtures("fake_tools")
def test_name_clashes_and_bad_names_are_refused_before_any_work(tmp_path: Path) -> None:
    weights = fake_checkpoint(tmp_path / "md_v5b.0.0.pt", YOLOV5)
    (tmp_path / "models" / "md-v5b").mkdir(parents=True)
    with pytest.raises(ModelImportError, match="already exists"):
        megadetector.import_megadetector(weights, tmp_path / "models", say=print)
    with pytest.raises(ModelImportError, match="letters, digits"):
        megadetector.import_megadetector(weights, tmp_path / "models", "../up", say=print)
    folder = megadetector.import_megadetector(weights, tmp_path / "models", "mine", verify=False)
    assert "max |diff|" not in (folder / "model.toml").read_text()


@pytest.mark.usefixtures("fake_tools")
def test_cli_imports_and_reports_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    weights = fake_checkpoint(tmp_path / "md_v5a.0.0.pt", YOLOV5)
    into = str(tmp_path / "models")
    done = runner.invoke(app, ["models", "import", "megadetector", str(weights), "--into", into])
    assert done.exit_code == 0, done.output
    assert "wrote" in done.output
    again = runner.invoke(app, ["models", "import", "megadetector", str(weights), "--into", into])
    assert again.exit_code == 1
    assert "already exists" in again.output


def test_a_v10_head_is_read_by_the_shape_it_exports() -> None:
    assert megadetector._end_to_end_decoder({"output_shape": ["batch", 300, 6]}) == "boxes"
    assert megadetector._end_to_end_decoder({"output_shape": ["batch", 7, "anchors"]}) == "yolov8"


def test_a_tools_environment_that_cannot_be_built_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*args: object, **kwargs: object) -> Path:
        raise _toolsenv.ToolsEnvError("pip install ... failed (exit 1): no network")

    monkeypatch.setattr(_toolsenv, "ensure_venv", offline)
    weights = fake_checkpoint(tmp_path / "md_v5a.0.0.pt", YOLOV5)
    with pytest.raises(ModelImportError, match="cannot build the tools environment") as caught:
        megadetector.import_megadetector(weights, tmp_path / "models", say=print)
    assert "no network" in caught.value.detail
    assert not (tmp_path / "models").exists()


@pytest.mark.usefixtures("fake_tools")
def test_a_repository_that_cannot_be_written_is_explained(tmp_path: Path) -> None:
    weights = fake_checkpoint(tmp_path / "md_v5a.0.0.pt", YOLOV5)
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ModelImportError, match="cannot write into"):
        megadetector.import_megadetector(weights, tmp_path / "a-file", say=print)
