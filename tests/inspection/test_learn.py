"""Learning a pattern from good examples: means, k-sigma tolerances with a floor, the examples
left out, and how many examples the pattern accepts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fovea.errors import InvalidParameter
from fovea.inspection.learn import Example, example_images, label_file, learn, read_yolo
from fovea.inspection.patterns import dump_pattern, parse_pattern


def board(name: str, dx: float = 0.0, extra: bool = False) -> Example:
    """The chip and two screws, the chip shifted right by dx; in a scrambled order."""
    rows = [
        ("screw", 0.9, 0.1, 0.05, 0.05),
        ("chip", 0.5 + dx, 0.5, 0.2, 0.2),
        ("screw", 0.1, 0.1, 0.05, 0.05),
    ]
    if extra:
        rows.append(("screw", 0.5, 0.9, 0.05, 0.05))
    return Example(name, tuple(r[0] for r in rows), np.array([r[1:] for r in rows], np.float64))


def test_positions_are_means_and_tolerances_k_sigma_with_a_floor() -> None:
    examples = [board("a", -0.01), board("b", 0.0), board("c", 0.01), board("d", 0.0)]
    learned = learn(examples, "inspect-test", k=3.0, floor=0.005)
    pattern = learned.pattern
    assert pattern.model == "inspect-test"
    # Ordered by label, then top to bottom, then left to right.
    assert [(o.label, o.box) for o in pattern.objects] == [
        ("chip", (0.5, 0.5, 0.2, 0.2)),
        ("screw", (0.1, 0.1, 0.05, 0.05)),
        ("screw", (0.9, 0.1, 0.05, 0.05)),
    ]
    sigma_x = float(np.std([-0.01, 0.0, 0.01, 0.0], ddof=1))  # 0.00816
    chip = pattern.objects[0].tolerance
    assert chip is not None
    assert chip.x == pytest.approx(np.ceil(3 * sigma_x * 1e4) / 1e4)  # 0.0245
    assert (chip.y, chip.w, chip.h) == (0.005, 0.005, 0.005)  # no spread: the floor
    assert learned.used == ("a", "b", "c", "d")
    assert learned.accepted == ("a", "b", "c", "d")
    assert dict(learned.refused) == {}
    assert parse_pattern(dump_pattern(pattern)) == pattern


def test_examples_with_other_counts_are_left_out_and_refused() -> None:
    examples = [board("a"), board("b"), board("odd", extra=True), board("far", 0.2)]
    learned = learn(examples, floor=0.01)
    assert learned.used == ("a", "b", "far")
    assert dict(learned.left_out) == {
        "odd": "1 chip, 3 screw where most examples have 1 chip, 2 screw"
    }
    assert "odd" in learned.refused
    assert learned.refused["odd"] == "1 extra screw"
    report = learned.report()
    assert report.splitlines()[0] == (
        "learned 3 positions from 3 of 4 examples; the pattern accepts "
        f"{len(learned.accepted)} of 4 ({100 * len(learned.accepted) / 4:.0f}%)"
    )
    assert "left out odd: 1 chip, 3 screw" in report
    assert "refuses odd: 1 extra screw" in report


def test_one_example_learns_floor_tolerances() -> None:
    learned = learn([board("only")], floor=0.02)
    assert all(o.tolerance == learned.pattern.tolerance for o in learned.pattern.objects)
    assert learned.accepted == ("only",)


@pytest.mark.parametrize(
    ("examples", "k", "floor", "message"),
    [
        ([], 3.0, 0.01, "no examples"),
        ([board("a")], 0.0, 0.01, "k must be > 0"),
        ([board("a")], 3.0, 0.0, "floor in"),
        ([Example("e", (), np.zeros((0, 4)))], 3.0, 0.01, "shows no object"),
    ],
)
def test_learning_refuses_what_it_cannot_use(
    examples: list[Example], k: float, floor: float, message: str
) -> None:
    with pytest.raises(InvalidParameter, match=message):
        learn(examples, k=k, floor=floor)


def test_yolo_labels_read_as_examples(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("# a comment\n1 0.5 0.5 0.2 0.2\n\n0 0.1 0.1 0.05 0.05\n")
    example = read_yolo(path, ["screw", "chip"])
    assert (example.name, example.labels) == ("a", ("chip", "screw"))
    assert example.cxcywh.tolist() == [[0.5, 0.5, 0.2, 0.2], [0.1, 0.1, 0.05, 0.05]]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1 0.5 0.5 0.2", r"a.txt:1: want 'class cx cy w h', got 4 fields"),
        ("x 0.5 0.5 0.2 0.2", "a.txt:1: not numbers"),
        ("7 0.5 0.5 0.2 0.2", "a.txt:1: class 7, but there are 2"),
    ],
)
def test_bad_yolo_lines_say_where(tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "a.txt").write_text(line + "\n")
    with pytest.raises(InvalidParameter, match=message):
        read_yolo(tmp_path / "a.txt", ["screw", "chip"])


def test_examples_are_found_beside_their_labels_or_in_a_yolo_dataset(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "a.jpg").write_bytes(b"")
    (flat / "a.txt").write_text("")
    (flat / "b.PNG").write_bytes(b"")
    assert [p.name for p in example_images(flat)] == ["a.jpg", "b.PNG"]
    assert label_file(flat / "a.jpg") == flat / "a.txt"
    assert label_file(flat / "b.PNG") is None
    dataset = tmp_path / "dataset"
    (dataset / "images").mkdir(parents=True)
    (dataset / "labels").mkdir()
    (dataset / "images" / "c.v2.jpg").write_bytes(b"")
    (dataset / "labels" / "c.v2.txt").write_text("")
    assert example_images(dataset) == [dataset / "images" / "c.v2.jpg"]
    assert label_file(dataset / "images" / "c.v2.jpg") == dataset / "labels" / "c.v2.txt"
    with pytest.raises(InvalidParameter, match="no images"):
        example_images(tmp_path / "missing")
