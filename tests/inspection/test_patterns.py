"""Patterns: the TOML schema with readable errors, names, and the folder store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fovea.errors import InvalidParameter, InvalidPattern, PatternNotFound
from fovea.inspection.patterns import (
    DEFAULT_TOLERANCE,
    Pattern,
    PatternStore,
    Tolerance,
    check_name,
    dump_pattern,
    parse_pattern,
    pattern_of,
)
from tests.inspection.planted import BOARD_PATTERN

GOOD = """
model = "inspect-test"  # comments are kept when stored as TOML
[[objects]]
label = "chip"
box = [0.5, 0.5, 0.2, 0.2]
"""


def test_a_pattern_reads_with_defaults() -> None:
    pattern = parse_pattern(GOOD)
    assert pattern.model == "inspect-test"
    assert pattern.tolerance == DEFAULT_TOLERANCE
    assert (pattern.allow_extras, pattern.ignore, pattern.counts) == (False, (), {})
    assert pattern.objects[0].box == (0.5, 0.5, 0.2, 0.2)
    assert pattern.labels == {"chip"}


def test_the_board_pattern_round_trips_through_toml() -> None:
    pattern = parse_pattern(BOARD_PATTERN)
    assert len(pattern.objects) == 4
    assert parse_pattern(dump_pattern(pattern)) == pattern


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model = ", "not valid TOML: Invalid value (at end of document)"),
        ("colour = 1\n" + GOOD, "colour: unknown key"),
        (
            '[[objects]]\nlabel = "chip"\nbox = [0.5, 1.5, 0.2, 0.2]\n',
            "objects[0].box[1]: Input should be less than or equal to 1",
        ),
        (
            '[[objects]]\nlabel = "chip"\nbox = [0.5, 0.5, 0.2]\n',
            "objects[0].box[3]: Field required",
        ),
        (
            '[[objects]]\nlabel = ""\nbox = [0.5, 0.5, 0.2, 0.2]\n',
            "objects[0].label: String should have at least 1 character",
        ),
        ('description = "nothing"\n', "pattern: a pattern needs at least one of [[objects]]"),
        ("[counts]\nscrew = [3, 2]\n", "pattern: counts.screw: min 3 is more than max 2"),
        (GOOD + "[counts]\nchip = [0, 0]\n", "counts.chip: at most 0, but 1 objects expect it"),
        ('ignore = ["chip"]\n' + GOOD, "labels both judged and ignored: chip"),
        (GOOD + 'ignore = ["chip"]\n', "objects[0].ignore: unknown key (in TOML, keys after"),
        (GOOD.replace("[[objects]]", "[tolerance]\n[[objects]]"), "tolerance: give at least one"),
        (GOOD.replace("[[objects]]", "[tolerance]\nx = 0\n[[objects]]"), "tolerance.x: Input"),
    ],
)
def test_a_broken_pattern_says_what_and_where(text: str, message: str) -> None:
    with pytest.raises(InvalidPattern) as caught:
        parse_pattern(text, "board.toml")
    assert caught.value.detail.startswith("board.toml: ")
    assert message in caught.value.detail


def test_json_patterns_are_checked_alike() -> None:
    with pytest.raises(InvalidPattern, match=r"objects\[0\]\.box: Field required"):
        pattern_of({"objects": [{"label": "chip"}]})
    assert pattern_of({"counts": {"clip": [1, 2]}}).counts == {"clip": (1, 2)}


def test_tolerances_merge_criterion_by_criterion() -> None:
    base = Tolerance(x=0.02, y=0.02, min_iou=0.5)
    assert base.merged(Tolerance(x=0.1)) == Tolerance(x=0.1, y=0.02, min_iou=0.5)
    assert base.merged(None) is base


@pytest.mark.parametrize("name", ["board", "Board-2.b_3", "a" * 64])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "auto", "inline", "../x", ".hidden", "a b", "a" * 65])
def test_bad_names(name: str) -> None:
    with pytest.raises(InvalidParameter, match="reserved"):
        check_name(name)


def test_the_store_writes_reads_lists_and_deletes(tmp_path: Path) -> None:
    store = PatternStore(tmp_path / "patterns")
    assert (store.names(), store.entries()) == ([], [])
    pattern = parse_pattern(GOOD)
    assert store.put("board", pattern, GOOD) is True  # new
    assert store.put("board", pattern, GOOD) is False  # replaced
    assert store.read("board").text == GOOD  # as sent, comments and all
    assert store.put("other", parse_pattern(BOARD_PATTERN.replace("inspect-test", "x"))) is True
    assert parse_pattern((tmp_path / "patterns" / "other.toml").read_text()).model == "x"
    assert [e.name for e in store.for_model("inspect-test")] == ["board"]
    assert sorted(os.listdir(tmp_path / "patterns")) == ["board.toml", "other.toml"]
    store.delete("board")
    assert store.names() == ["other"]
    with pytest.raises(PatternNotFound):
        store.delete("board")
    with pytest.raises(PatternNotFound):
        store.read("board")


def test_a_broken_file_is_listed_with_its_reason_and_skipped_by_auto(tmp_path: Path) -> None:
    folder = tmp_path / "patterns"
    folder.mkdir()
    (folder / "good.toml").write_text(GOOD)
    (folder / "broken.toml").write_text("objects = 3\n")
    (folder / "binary.toml").write_bytes(b"\xff\xfe")
    (folder / "not a name.toml").write_text(GOOD)  # not a pattern name: not listed
    store = PatternStore(folder)
    entries = {e.name: e for e in store.entries()}
    assert sorted(entries) == ["binary", "broken", "good"]
    assert entries["broken"].error is not None
    assert entries["broken"].error.startswith("broken.toml: objects: Input should be")
    assert entries["binary"].error is not None
    assert "cannot be read" in entries["binary"].error
    assert [e.name for e in store.for_model("inspect-test")] == ["good"]
    with pytest.raises(InvalidPattern, match=r"broken\.toml"):
        store.read("broken")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PatternStore(tmp_path)
    store.put("board", parse_pattern(GOOD), GOOD)

    def broken_replace(source: str, target: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.put("board", parse_pattern(BOARD_PATTERN))
    assert os.listdir(tmp_path) == ["board.toml"]
    assert store.read("board").text == GOOD


def test_pattern_models_are_frozen() -> None:
    pattern = Pattern.model_validate({"counts": {"clip": [1, 1]}})
    with pytest.raises(ValueError, match="frozen"):
        pattern.model = "other"  # type: ignore[misc]
