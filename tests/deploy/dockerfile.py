"""A small Dockerfile reader: stages and instructions, as BuildKit splits them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Instruction:
    keyword: str
    flags: dict[str, str]
    args: str

    def exec_form(self) -> list[str]:
        """The JSON array of CMD or HEALTHCHECK CMD (exec form, so signals reach the server)."""
        text = self.args.removeprefix("CMD").strip() if self.keyword == "HEALTHCHECK" else self.args
        value = json.loads(text)
        assert isinstance(value, list), f"{self.keyword} is not in exec form: {self.args}"
        return [str(part) for part in value]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def last(self, keyword: str) -> Instruction | None:
        found = [i for i in self.instructions if i.keyword == keyword]
        return found[-1] if found else None


def _logical_lines(text: str) -> Iterator[str]:
    """Lines with backslash continuations joined and comments dropped, as Docker reads them."""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""
    assert not pending, "the file ends inside a continuation"


def parse_dockerfile(path: Path) -> list[Stage]:
    """The stages of a Dockerfile, with global ARG defaults substituted into FROM lines."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        flags: dict[str, str] = {}
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            key, _, value = flag[2:].partition("=")
            flags[key] = value
            rest = rest.lstrip()
        if keyword == "FROM":
            base, *alias = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], base)
            stages.append(Stage(base, alias[1] if alias else None))
        elif keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        else:
            assert stages, f"{keyword} before the first FROM in {path.name}"
            stages[-1].instructions.append(Instruction(keyword, flags, rest))
    return stages


def stage_named(stages: list[Stage], name: str) -> Stage:
    return next(s for s in stages if s.name == name)


def chain(stages: list[Stage], stage: Stage) -> list[Stage]:
    """A stage and the stages it is built on, nearest first (USER and ENV are inherited)."""
    names = {s.name: s for s in stages}
    chain = [stage]
    while chain[-1].base in names:
        chain.append(names[chain[-1].base])
    return chain


def inherited(stages: list[Stage], stage: Stage, keyword: str) -> Instruction | None:
    return next(
        (i for s in chain(stages, stage) if (i := s.last(keyword)) is not None),
        None,
    )


def ignore_patterns(dockerfile: Path) -> list[str]:
    ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
    assert ignore.is_file(), f"{ignore.name} keeps .venv and build outputs out of the context"
    lines = (line.strip() for line in ignore.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]
