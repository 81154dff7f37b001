"""`fovea inspect` and `fovea patterns learn` in this process (through Service, as the server);
against a real server and camera in tests/e2e/test_inspection.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from fovea.cli import app
from fovea.inspection.patterns import parse_pattern
from tests.helpers import image_bytes
from tests.inspection.planted import BOARD, BOARD_PATTERN

runner = CliRunner()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "board.jpg"
    path.write_bytes(image_bytes((640, 640)))
    return path


@pytest.fixture
def patterns(tmp_path: Path) -> Path:
    folder = tmp_path / "patterns"
    folder.mkdir()
    (folder / "board.toml").write_text(BOARD_PATTERN)
    missing = BOARD_PATTERN + '[[objects]]\nlabel = "cap"\nbox = [0.2, 0.9, 0.1, 0.1]\n'
    (folder / "board-missing.toml").write_text(missing)
    return folder


def run(*args: str | Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def test_inspect_prints_the_answer_and_exits_0_for_ok(
    inspect_repo: Path, patterns: Path, photo: Path
) -> None:
    code, out, err = run(
        "inspect", photo, "--pattern", "board", "-r", inspect_repo, "--patterns", patterns
    )
    assert code == 0, err
    answer = json.loads(out)
    assert (answer["decision"], answer["model"], answer["image_id"]) == (
        "OK",
        "inspect-test",
        "board.jpg",
    )
    assert err.strip() == "OK: board, 0 errors"


def test_inspect_exits_3_for_nok_and_writes_the_picture(
    inspect_repo: Path, patterns: Path, photo: Path, tmp_path: Path
) -> None:
    picture, out = tmp_path / "annotated.png", tmp_path / "answer.json"
    code, _, err = run(
        "inspect", photo, "-p", "board-missing", "-r", inspect_repo, "--patterns", patterns,
        "--annotated", picture, "--out", out,
    )  # fmt: skip
    assert code == 3
    assert err.strip() == "NOK: board-missing, 1 errors"
    assert json.loads(out.read_text())["positions"][4]["status"] == "missing"
    with Image.open(picture) as drawn:
        assert drawn.size == (640, 640)


def test_inspect_takes_a_pattern_file_and_auto(
    inspect_repo: Path, patterns: Path, photo: Path, tmp_path: Path
) -> None:
    file = tmp_path / "mine.toml"
    file.write_text(BOARD_PATTERN)
    code, out, _ = run("inspect", photo, "-p", file, "-r", inspect_repo, "--patterns", patterns)
    assert (code, json.loads(out)["pattern"]) == (0, "inline")
    code, out, _ = run(
        "inspect", photo, "-m", "inspect-test", "-r", inspect_repo, "--patterns", patterns
    )
    assert (code, json.loads(out)["pattern"]) == (0, "board")  # auto: the best of both


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-p", "auto"], "--pattern auto tries every pattern of a model: give --model"),
        (["-p", "nope"], "error: no pattern named 'nope'"),
        (["-p", "board", "-m", "single-test"], "is for model 'inspect-test'"),
    ],
)
def test_inspect_errors_exit_1_with_the_reason(
    inspect_repo: Path, patterns: Path, photo: Path, args: list[str], message: str
) -> None:
    code, _, err = run("inspect", photo, *args, "-r", inspect_repo, "--patterns", patterns)
    assert code == 1
    assert message in err.replace("\n", " ")


def test_learn_from_the_models_own_detections(inspect_repo: Path, tmp_path: Path) -> None:
    examples = tmp_path / "good"
    examples.mkdir()
    for n in range(3):
        (examples / f"{n}.jpg").write_bytes(image_bytes((640, 640)))
    store = tmp_path / "patterns"
    code, out, err = run(
        "patterns", "learn", examples, "-m", "inspect-test", "-n", "learned",
        "-r", inspect_repo, "--patterns", store,
    )  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[0] == (
        "learned 4 positions from 3 of 3 examples; the pattern accepts 3 of 3 (100%)"
    )
    pattern = parse_pattern((store / "learned.toml").read_text())
    assert pattern.model == "inspect-test"
    assert [(o.label, o.box) for o in pattern.objects] == [
        (label, (cx, cy, w, h))
        for label, cx, cy, w, h, _ in sorted(BOARD, key=lambda r: (r[0], r[2]))
    ]
    code, _, _ = run(
        "inspect", examples / "0.jpg", "-p", "learned", "-r", inspect_repo, "--patterns", store
    )
    assert code == 0


def test_learn_from_yolo_labels(tmp_path: Path) -> None:
    examples = tmp_path / "dataset"
    (examples / "images").mkdir(parents=True)
    (examples / "labels").mkdir()
    (examples / "classes.txt").write_text("screw\nchip\n")
    for n, dx in enumerate([-0.01, 0.0, 0.01]):
        (examples / "images" / f"{n}.jpg").write_bytes(b"not read")
        (examples / "labels" / f"{n}.txt").write_text(
            f"1 {0.5 + dx} 0.5 0.2 0.2\n0 0.1 0.1 0.05 0.05\n"
        )
    out = tmp_path / "learned.toml"
    code, text, err = run(
        "patterns", "learn", examples, "-m", "anything", "-n", "yolo", "--out", out, "--k", "2"
    )
    assert code == 0, err
    assert text.strip().endswith(f"pattern 'yolo' written to {out}")
    chip = parse_pattern(out.read_text()).objects[0]
    assert chip.box == (0.5, 0.5, 0.2, 0.2)
    assert chip.tolerance is not None
    assert chip.tolerance.x == 0.02  # 2 sigma of (-0.01, 0, 0.01), rounded up


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "labels"], "no YOLO label file for 0.jpg"),
        (["--source", "pixels"], "--source 'pixels': auto, labels or model"),
        (["-n", "auto"], "reserved"),
    ],
)
def test_learn_errors(inspect_repo: Path, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "0.jpg").write_bytes(image_bytes((640, 640)))
    code, _, err = run(
        "patterns", "learn", tmp_path, "-m", "inspect-test", "-n", "x", *args,
        "-r", inspect_repo, "--patterns", tmp_path / "p",
    )  # fmt: skip
    assert code == 1
    assert message in err.replace("\n", " ")


def test_emulate_needs_a_folder(tmp_path: Path) -> None:
    code, _, err = run("camera", "emulate", tmp_path / "missing")
    assert code == 2
    assert "is not a folder" in err


def test_an_image_that_does_not_decode_exits_1(
    inspect_repo: Path, patterns: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    code, _, err = run("inspect", bad, "-p", "board", "-r", inspect_repo, "--patterns", patterns)
    assert code == 1
    assert err.startswith("error: ")
