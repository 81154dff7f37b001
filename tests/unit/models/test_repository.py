from __future__ import annotations

from pathlib import Path

import pytest

from fovea.errors import ModelConfigError, ModelNotFound, ModelUnavailable
from fovea.models import Repository
from tests.helpers import single


@pytest.fixture(scope="module")
def repository(model_repo: Path) -> Repository:
    repo = Repository(model_repo)
    repo.scan()
    repo.load_all()
    return repo


def test_statuses(repository: Repository) -> None:
    statuses = {name: entry.status for name, entry in repository.entries.items()}
    assert statuses == {
        "broken-onnx": "failed",
        "broken-toml": "failed",
        "camtrap-test": "ready",
        "channel-test": "ready",
        "colour-test": "ready",
        "colour-batched": "ready",
        "channel-batched": "ready",
        "overload-test": "ready",
        "pipeline-broken": "failed",
        "pipeline-test": "ready",
        "red-test": "ready",
        "yolov5-test": "ready",
        "yolov8-test": "ready",
    }
    assert not repository.ready


def test_failed_models_keep_their_reason(repository: Repository) -> None:
    assert "INVALID_PROTOBUF" in (repository.entries["broken-onnx"].error or "")
    assert "input: Field required" in (repository.entries["broken-toml"].error or "")
    assert repository.entries["pipeline-broken"].error == (
        "pipeline stage 'nope' is not a model of the repository"
    )
    with pytest.raises(ModelUnavailable, match="failed"):
        repository.get("broken-onnx")


def test_highest_version_is_served_unless_asked(repository: Repository) -> None:
    assert repository.get("yolov8-test").version == "2"
    assert repository.get("yolov8-test", "1").version == "1"
    with pytest.raises(ModelNotFound, match="no version '7'"):
        repository.get("yolov8-test", "7")
    with pytest.raises(ModelNotFound, match="no model named 'nope'"):
        repository.get("nope")


def test_shared_weights_share_one_session(repository: Repository) -> None:
    camtrap = single(repository, "camtrap-test")
    assert camtrap.version == "2"  # pinned in its model.toml
    assert camtrap.session is single(repository, "yolov8-test", "2").session
    assert camtrap.labels == ("animal", "human")


def test_fixed_and_dynamic_batch_are_detected(repository: Repository) -> None:
    assert single(repository, "yolov5-test").session.fixed_batch == 1
    assert single(repository, "yolov8-test").session.fixed_batch is None


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ModelConfigError, match="is not a folder"):
        Repository(tmp_path / "absent").scan()


def test_input_size_must_match_the_graph(model_repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "wrong-size"
    folder.mkdir()
    toml = (model_repo / "yolov8-test" / "model.toml").read_text()
    (folder / "model.toml").write_text(toml.replace("[640, 640]", "[320, 320]"))
    (folder / "1").mkdir()
    (folder / "1" / "model.onnx").write_bytes(
        (model_repo / "yolov8-test/2/model.onnx").read_bytes()
    )
    repo = Repository(tmp_path)
    repo.scan()
    repo.load_all()
    assert "does not match the graph's input shape" in (repo.entries["wrong-size"].error or "")
