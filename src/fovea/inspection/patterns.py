"""Inspection patterns: the TOML schema, validated with pydantic into errors worded for people,
and the patterns folder (`NAME.toml` per pattern, written atomically).

Boxes are `cxcywh` fractions of the image: centre x, centre y, width, height, each in 0..1.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import tomlkit
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fovea.errors import InvalidParameter, InvalidPattern, PatternNotFound
from fovea.inspection._atomic import write_atomic

log = logging.getLogger("fovea.inspection")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
AUTO, INLINE = "auto", "inline"  # not pattern names: `auto` picks one, `inline` came in a request
MAX_PATTERN_BYTES = 1024 * 1024

Fraction = Annotated[float, Field(gt=0.0, le=1.0)]
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Label = Annotated[str, Field(min_length=1, max_length=256)]
Box = tuple[float, float, float, float]


class Tolerance(BaseModel):
    """How far a found box may lie from its expected box, in fractions of the image. Every
    criterion given must hold; those not given are not checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    x: Fraction | None = Field(None, description="Most |found - expected| of the centre x.")
    y: Fraction | None = Field(None, description="Most |found - expected| of the centre y.")
    w: Fraction | None = Field(None, description="Most |found - expected| of the width.")
    h: Fraction | None = Field(None, description="Most |found - expected| of the height.")
    min_iou: Fraction | None = Field(None, description="Least overlap (IoU) with the expected box.")

    @model_validator(mode="after")
    def _something(self) -> Tolerance:
        if all(v is None for v in (self.x, self.y, self.w, self.h, self.min_iou)):
            raise ValueError("give at least one of x, y, w, h, min_iou")
        return self

    def merged(self, override: Tolerance | None) -> Tolerance:
        """This tolerance with the criteria `override` gives replaced."""
        if override is None:
            return self
        return self.model_copy(update=override.model_dump(exclude_none=True))


DEFAULT_TOLERANCE = Tolerance(x=0.05, y=0.05, w=0.1, h=0.1)


class ExpectedObject(BaseModel):
    """One expected part: its label, its box, and optionally its own tolerance."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: Label
    box: tuple[Unit, Unit, Fraction, Fraction] = Field(
        description="Centre x, centre y, width, height: fractions of the image."
    )
    tolerance: Tolerance | None = Field(
        None, description="Criteria that replace the pattern's for this object."
    )


class Pattern(BaseModel):
    """The expected layout of parts for one kind of assembly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(None, max_length=256, description="The model it is for.")
    description: str = Field("", max_length=4096)
    score_threshold: Unit | None = Field(
        None, description="Detections scoring below this are not judged; default: the model's."
    )
    allow_extras: bool = Field(False, description="Unexpected detections do not make it NOK.")
    ignore: tuple[Label, ...] = Field((), max_length=1000, description="Labels never judged.")
    tolerance: Tolerance = Field(DEFAULT_TOLERANCE, description="Each object's, unless its own.")
    objects: tuple[ExpectedObject, ...] = Field((), max_length=1000)
    counts: dict[Label, tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)]]] = Field(
        default_factory=dict,
        description="label = [min, max]: how many detections of that label, wherever they are.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Pattern:
        if not self.objects and not self.counts:
            raise ValueError("a pattern needs at least one of [[objects]] or [counts]")
        expected = Counter(o.label for o in self.objects)
        for label, (low, high) in self.counts.items():
            if low > high:
                raise ValueError(f"counts.{label}: min {low} is more than max {high}")
            if high < expected[label]:
                raise ValueError(
                    f"counts.{label}: at most {high}, but {expected[label]} objects expect it"
                )
        both = sorted(set(self.ignore) & (set(expected) | set(self.counts)))
        if both:
            raise ValueError(f"labels both judged and ignored: {', '.join(both)}")
        return self

    @property
    def labels(self) -> set[str]:
        """Every label the pattern judges (positions and counts)."""
        return {o.label for o in self.objects} | set(self.counts)

    def tolerance_of(self, index: int) -> Tolerance:
        return self.tolerance.merged(self.objects[index].tolerance)


def check_name(name: str) -> str:
    """A pattern name, or InvalidParameter: letters, digits, `_.-`, not `auto` or `inline`."""
    if not NAME.match(name) or name in (AUTO, INLINE):
        raise InvalidParameter(
            f"pattern name {name!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a "
            f"letter or digit; {AUTO!r} and {INLINE!r} are reserved"
        )
    return name


def parse_pattern(text: str, source: str = "pattern") -> Pattern:
    """A pattern from TOML text; InvalidPattern says what is wrong and where."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidPattern(f"{source}: not valid TOML: {exc}") from exc
    return pattern_of(data, source)


def pattern_of(data: Any, source: str = "pattern") -> Pattern:
    """A pattern from parsed TOML or JSON; InvalidPattern says what is wrong and where."""
    try:
        return Pattern.model_validate(data)
    except ValidationError as exc:
        raise InvalidPattern(f"{source}: {readable(exc)}") from exc


def readable(exc: ValidationError) -> str:
    """pydantic's errors as `where: what` lines joined with '; ', e.g. `objects[2].box[0]:
    Input should be less than or equal to 1`."""
    parts = []
    for error in exc.errors(include_url=False):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        what = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            what = "unknown key"
            if error["loc"][0] == "objects" and error["loc"][-1] in Pattern.model_fields:
                what += " (in TOML, keys after [[objects]] belong to that object: move it up)"
        parts.append(f"{where.lstrip('.') or 'pattern'}: {what}")
    return "; ".join(parts)


def dump_pattern(pattern: Pattern) -> str:
    """The pattern as TOML text that `parse_pattern` reads back: defaults left out but the
    tolerance, boxes on one line, an object's own tolerance as an inline table."""
    data = pattern.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    data["tolerance"] = pattern.tolerance.model_dump(exclude_none=True)
    for obj in data.get("objects", []):
        if "tolerance" in obj:
            inline = tomlkit.inline_table()
            inline.update(obj["tolerance"])
            obj["tolerance"] = inline
    ordered = {key: data[key] for key in Pattern.model_fields if key in data}
    return tomlkit.dumps(ordered)


@dataclass(frozen=True)
class StoredPattern:
    """A file of the patterns folder: its pattern and text, or why it does not load."""

    name: str
    pattern: Pattern | None
    text: str
    error: str | None = None


class PatternStore:
    """The patterns folder: `NAME.toml` each. Reads go to the disk every time, so a file edited
    by hand counts at once; writes are atomic, so a reader never sees half a file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.toml") if NAME.match(p.stem))

    def entries(self) -> list[StoredPattern]:
        return [self._load(name) for name in self.names()]

    def read(self, name: str) -> StoredPattern:
        """The stored pattern; PatternNotFound if there is none, InvalidPattern if it is broken."""
        entry = self._load(check_name(name))
        if entry.pattern is None:
            raise InvalidPattern(entry.error or f"pattern {name!r} does not load")
        return entry

    def for_model(self, model: str) -> list[StoredPattern]:
        """Every loadable pattern for `model` (or for any model); broken files are logged."""
        found = []
        for entry in self.entries():
            if entry.pattern is None:
                log.warning("pattern %s skipped: %s", entry.name, entry.error)
            elif entry.pattern.model in (None, model):
                found.append(entry)
        return found

    def put(self, name: str, pattern: Pattern, text: str | None = None) -> bool:
        """Store `pattern` (as `text`, keeping its comments, when given); True if it is new."""
        path = self._path(check_name(name))
        created = not path.exists()
        write_atomic(path, (text if text is not None else dump_pattern(pattern)).encode())
        return created

    def delete(self, name: str) -> None:
        path = self._path(check_name(name))
        try:
            path.unlink()
        except FileNotFoundError as exc:
            raise PatternNotFound(
                f"no pattern named {name!r}; GET /v1/patterns lists them"
            ) from exc

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}.toml"

    def _load(self, name: str) -> StoredPattern:
        path = self._path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise PatternNotFound(
                f"no pattern named {name!r}; GET /v1/patterns lists them"
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            return StoredPattern(name, None, "", f"{path.name}: cannot be read: {exc}")
        try:
            return StoredPattern(name, parse_pattern(text, path.name), text)
        except InvalidPattern as exc:
            return StoredPattern(name, None, text, exc.detail)


def _not_found(name: str) -> PatternNotFound:
    return PatternNotFound(f"no pattern named {name!r}; GET /v1/patterns lists them")
