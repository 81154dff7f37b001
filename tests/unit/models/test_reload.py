"""Repository.reload and unload: what loads, what unloads, what swaps, what stays."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from fovea.core import Classes
from fovea.errors import ModelNotFound
from fovea.models import Repository
from tests.helpers import single, write_model

COLOUR = """
task = "classify"
decoder = "softmax"
labels = ["red", "green", "blue"]
[input]
size = [32, 32]
resize = "stretch"
"""


@pytest.fixture
def folder(model_repo: Path, tmp_path: Path) -> Path:
    """A repository of two copies of the colour classifier."""
    onnx = model_repo / "colour-test" / "1" / "model.onnx"
    root = tmp_path / "models"
    write_model(root, "a", COLOUR, {"1": onnx})
    write_model(root, "b", COLOUR, {"1": onnx})
    return root


def _loaded(root: Path) -> Repository:
    repo = Repository(root)
    repo.scan()
    repo.load_all()
    return repo


def _top(repo: Repository, name: str) -> str:
    result = repo.get(name).predict(np.full((8, 8, 3), (250, 5, 5), np.uint8)).result
    assert isinstance(result, Classes)
    return result.class_name[0]


def test_nothing_changed_nothing_done(folder: Path) -> None:
    repo = _loaded(folder)
    before = repo.get("a")
    report = repo.reload()
    assert (report.loaded, report.reloaded, report.unloaded, report.failed) == ([], [], [], {})
    assert repo.get("a") is before


def test_new_removed_and_changed_models(folder: Path, model_repo: Path) -> None:
    repo = _loaded(folder)
    old_a, old_b = repo.get("a"), repo.get("b")
    write_model(folder, "c", COLOUR, {"1": model_repo / "colour-test" / "1" / "model.onnx"})
    shutil.rmtree(folder / "b")
    write_model(folder, "a", COLOUR, {"2": model_repo / "colour-test" / "1" / "model.onnx"})
    report = repo.reload()
    assert (report.loaded, report.reloaded, report.unloaded) == (["c"], ["a"], ["b"])
    assert set(report.retired) == {old_a, old_b}
    assert report.closed == [old_b.session]  # type: ignore[union-attr]  # a's version 1 is the same file: still in use
    assert repo.get("a").version == "2"
    assert repo.entries["a"].versions == ["1", "2"]
    assert _top(repo, "c") == "red"
    with pytest.raises(ModelNotFound):
        repo.get("b")


def test_a_broken_new_config_leaves_the_old_one_serving(folder: Path) -> None:
    repo = _loaded(folder)
    serving = repo.get("a")
    (folder / "a" / "model.toml").write_text(COLOUR.replace("softmax", "no-such-decoder"))
    report = repo.reload()
    assert "no-such-decoder" in report.failed["a"]
    assert repo.get("a") is serving
    assert repo.entries["a"].status == "ready"
    assert repo.reload().failed == {}  # reported once, not at every poll
    (folder / "a" / "model.toml").write_text("description = 'fixed'\n" + COLOUR)
    assert repo.reload().reloaded == ["a"]
    assert repo.get("a") is not serving


def test_a_replaced_file_is_a_new_session(folder: Path, model_repo: Path) -> None:
    repo = _loaded(folder)
    shutil.rmtree(folder / "b")
    onnx = folder / "a" / "1" / "model.onnx"
    old_session = single(repo, "a").session
    onnx.write_bytes((model_repo / "colour-test" / "1" / "model.onnx").read_bytes())
    os.utime(onnx, ns=(1, 1))  # a different modification time, for coarse file systems too
    report = repo.reload()
    assert report.reloaded == ["a"]
    assert single(repo, "a").session is not old_session
    assert old_session in report.closed  # nothing uses it any more, nor b's
    assert len(report.closed) == 2


def test_failed_models_are_retried_on_request_not_on_polls(folder: Path) -> None:
    (folder / "b" / "1" / "model.onnx").write_bytes(b"not onnx")
    repo = _loaded(folder)
    assert repo.entries["b"].status == "failed"
    assert repo.reload(retry_failed=False).failed == {}
    assert "INVALID_PROTOBUF" in repo.reload(retry_failed=True).failed["b"]


def test_unload_then_load(folder: Path) -> None:
    repo = _loaded(folder)
    served = repo.get("b")
    report = repo.unload("b")
    assert (report.unloaded, report.retired) == (["b"], [served])
    assert "b" not in repo.entries
    assert repo.reload().loaded == []  # unloaded by request: a reload leaves it out
    assert repo.reload("b").loaded == ["b"]
    assert _top(repo, "b") == "red"
    with pytest.raises(ModelNotFound):
        repo.unload("zzz")
    with pytest.raises(ModelNotFound, match="no model folder named 'zzz'"):
        repo.reload("zzz")
