"""Learn a pattern from good examples: each example is a set of labelled boxes (`cxcywh`
fractions), read from YOLO txt labels or taken from the model's own detections.

Examples whose label counts differ from the most common counts are left out. The others' boxes
are assigned one to one to a reference layout (the first such example, then once more to the
means); each object's box is the mean, its tolerance k standard deviations per coordinate with
a floor. The learned pattern then judges every example, and the report says how many it accepts.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from fovea.errors import InvalidParameter
from fovea.inspection import matching
from fovea.inspection.patterns import ExpectedObject, Pattern, Tolerance

Boxes = npt.NDArray[np.float64]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
_ANY_PLACE = Tolerance(x=1.0, y=1.0, w=1.0, h=1.0)  # while learning, every pair is "inside"


@dataclass(frozen=True)
class Example:
    """One good example: labels (N,) and boxes (N, 4) as `cxcywh` fractions."""

    name: str
    labels: tuple[str, ...]
    cxcywh: Boxes
    scores: Boxes | None = None

    @property
    def score_values(self) -> Boxes:
        return np.ones(len(self.labels)) if self.scores is None else self.scores


@dataclass(frozen=True)
class Learned:
    """The pattern, and how it came about: examples used or left out (with why), and which
    examples the pattern accepts or refuses (with why)."""

    pattern: Pattern
    used: tuple[str, ...]
    left_out: Mapping[str, str]
    accepted: tuple[str, ...]
    refused: Mapping[str, str]
    sigma: Boxes = field(default_factory=lambda: np.zeros((0, 4)))

    def report(self) -> str:
        total = len(self.accepted) + len(self.refused)
        lines = [
            f"learned {len(self.pattern.objects)} positions from {len(self.used)} of {total} "
            f"examples; the pattern accepts {len(self.accepted)} of {total} "
            f"({100 * len(self.accepted) / max(total, 1):.0f}%)",
        ]
        lines += [f"  left out {name}: {why}" for name, why in self.left_out.items()]
        lines += [f"  refuses {name}: {why}" for name, why in self.refused.items()]
        for obj, sigma in zip(self.pattern.objects, self.sigma.tolist(), strict=True):
            box = ", ".join(f"{v:.4f}" for v in obj.box)
            spread = ", ".join(f"{v:.4f}" for v in sigma)
            lines.append(f"  {obj.label} at ({box}): sigma ({spread})")
        return "\n".join(lines)


def learn(
    examples: Sequence[Example],
    model: str | None = None,
    k: float = 3.0,
    floor: float = 0.01,
    score_threshold: float | None = None,
    description: str = "",
) -> Learned:
    """A pattern from `examples`, with tolerances max(k sigma, floor) per coordinate."""
    if not examples:
        raise InvalidParameter("no examples to learn from")
    if k <= 0 or not 0 < floor <= 1:
        raise InvalidParameter(f"k must be > 0 and floor in (0, 1]; got k={k}, floor={floor}")
    tallies = [Counter(e.labels) for e in examples]
    modal = Counter(frozenset(t.items()) for t in tallies).most_common(1)[0][0]
    if not modal:
        raise InvalidParameter("the most common example shows no object: nothing to learn")
    used = [e for e, t in zip(examples, tallies, strict=True) if frozenset(t.items()) == modal]
    left_out = {
        e.name: f"{_tally(t)} where most examples have {_tally(dict(modal))}"
        for e, t in zip(examples, tallies, strict=True)
        if frozenset(t.items()) != modal
    }
    labels, means = _reference(used[0])
    stacks: list[list[Boxes]] = []
    for _ in range(2):  # once against the reference example, once more against the means
        stacks = _stacks(used, labels, means)
        means = np.array([np.mean(s, axis=0) for s in stacks])
    sigma = np.array([np.std(s, axis=0, ddof=1 if len(s) > 1 else 0) for s in stacks])
    pattern = Pattern(
        model=model,
        description=description or f"learned from {len(used)} good example(s)",
        score_threshold=score_threshold,
        tolerance=Tolerance(x=floor, y=floor, w=floor, h=floor),
        objects=tuple(
            _object(lb, m, s, k, floor) for lb, m, s in zip(labels, means, sigma, strict=True)
        ),
    )
    judged = {
        e.name: matching.match("learned", pattern, e.cxcywh, e.labels, e.score_values)
        for e in examples
    }
    return Learned(
        pattern,
        tuple(e.name for e in used),
        left_out,
        tuple(name for name, i in judged.items() if i.decision == "OK"),
        {name: describe(i) for name, i in judged.items() if i.decision == "NOK"},
        sigma,
    )


def describe(inspection: matching.Inspection) -> str:
    """What is wrong, in a line: `chip #0 misplaced (offset 0.031); 1 extra screw`."""
    parts = [
        f"{p.label} #{p.index} {p.status}" + (f" (offset {p.offset:.3f})" if p.offset else "")
        for p in inspection.positions
        if p.status != "found"
    ]
    extras = Counter(e.label for e in inspection.extras if not e.counted)
    if not inspection.allow_extras:
        parts += [f"{n} extra {label}" for label, n in sorted(extras.items())]
    parts += [f"{c.count} {c.label} (want {c.min}-{c.max})" for c in inspection.counts if not c.ok]
    return "; ".join(parts) or "OK"


def read_yolo(path: Path, class_names: Sequence[str]) -> Example:
    """A YOLO label file: one `class cx cy w h` line per object, fractions of the image."""
    labels, boxes = [], []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        where = f"{path.name}:{number}"
        if len(fields) != 5:
            raise InvalidParameter(f"{where}: want 'class cx cy w h', got {len(fields)} fields")
        try:
            class_id, box = int(fields[0]), [float(v) for v in fields[1:]]
        except ValueError as exc:
            raise InvalidParameter(f"{where}: not numbers: {line.strip()!r}") from exc
        if not 0 <= class_id < len(class_names):
            raise InvalidParameter(f"{where}: class {class_id}, but there are {len(class_names)}")
        labels.append(class_names[class_id])
        boxes.append(box)
    return Example(path.stem, tuple(labels), np.array(boxes, np.float64).reshape(-1, 4))


def example_images(folder: Path) -> list[Path]:
    """The images of a folder, or of its `images/` subfolder (a YOLO dataset's layout)."""
    for place in (folder, folder / "images"):
        if place.is_dir():
            found = sorted(p for p in place.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if found:
                return found
    raise InvalidParameter(f"{folder}: no images (jpg, png, bmp, webp, tif) in it or in images/")


def label_file(image: Path) -> Path | None:
    """`photo.txt` beside `photo.jpg`, or in the sibling `labels/` folder of `images/`."""
    labels_folder = image.parent.parent / "labels"
    for candidate in (image.with_suffix(".txt"), labels_folder / f"{image.stem}.txt"):
        if candidate.is_file():
            return candidate
    return None


def _reference(example: Example) -> tuple[list[str], Boxes]:
    """The reference layout, ordered by label, then top to bottom, then left to right."""
    order = sorted(
        range(len(example.labels)),
        key=lambda i: (example.labels[i], round(example.cxcywh[i, 1], 3), example.cxcywh[i, 0]),
    )
    return [example.labels[i] for i in order], example.cxcywh[order]


def _stacks(examples: Sequence[Example], labels: Sequence[str], means: Boxes) -> list[list[Boxes]]:
    """For each position of the layout, the box each example puts there."""
    stacks: list[list[Boxes]] = [[] for _ in labels]
    for example in examples:
        for label in sorted(set(labels)):
            rows = [i for i, lb in enumerate(labels) if lb == label]
            columns = [j for j, lb in enumerate(example.labels) if lb == label]
            found = example.cxcywh[columns]
            for pair in matching.assign(means[rows], found, [_ANY_PLACE] * len(rows)):
                stacks[rows[pair.row]].append(found[pair.column])
    return stacks


def _object(label: str, mean: Boxes, sigma: Boxes, k: float, floor: float) -> ExpectedObject:
    # Rounded up to 1e-4, but not for float noise: 2 x 0.0100000001 stays 0.02.
    x, y, w, h = (min(1.0, max(floor, math.ceil(k * s * 1e4 - 1e-6) / 1e4)) for s in sigma)
    cx, cy = (min(1.0, max(0.0, round(float(v), 5))) for v in mean[:2])
    width, height = (min(1.0, max(1e-5, round(float(v), 5))) for v in mean[2:])
    return ExpectedObject(
        label=label, box=(cx, cy, width, height), tolerance=Tolerance(x=x, y=y, w=w, h=h)
    )


def _tally(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {label}" for label, n in sorted(counts.items())) or "nothing"
