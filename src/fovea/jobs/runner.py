"""A job run to a results file (the `fovea jobs run` command): what is left to do after a
checkpoint, a partial output or previous results; checkpoints every N images, each written
atomically as a valid partial results file; the final file written atomically, the checkpoint
then removed. Ctrl-C or SIGTERM leave a checkpoint of everything finished (the caller writes
it from `JobRun.done`), so `--resume` never runs an image twice."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from fovea.formats import BatchResults, ImageEntry, megadetector
from fovea.jobs.engine import Engine, Header, JobOptions
from fovea.jobs.sources import Item

DEFAULT_CHECKPOINT_EVERY = 1000


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.stem + ".checkpoint.json")


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename it over `path`:
    a reader (or a crash) sees the old file or the new one, never half of one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_entries(path: Path) -> dict[str, ImageEntry]:
    return {entry.file: entry for entry in megadetector.load(path).images}


@dataclass
class JobRun:
    """One run of a job to `out`: `done` holds every finished entry (resumed ones included)."""

    items: Sequence[Item]
    out: Path
    options: JobOptions
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    done: dict[str, ImageEntry] = field(default_factory=dict)
    header: Header | None = None
    on_entry: Callable[[ImageEntry], None] | None = None

    def resume(self, previous: Path | None = None, resume: bool = False) -> None:
        """Take finished entries from the checkpoint, else a partial `out` (with `resume`), and
        the successful ones of `previous`; only entries of this job's items are kept."""
        found: dict[str, ImageEntry] = {}
        if resume:
            for source in (checkpoint_path(self.out), self.out):
                if source.exists():
                    found = load_entries(source)
                    break
        if previous is not None:
            for file, entry in load_entries(previous).items():
                if entry.failure is None:
                    found.setdefault(file, entry)
        wanted = {item.file for item in self.items}
        self.done = {file: entry for file, entry in found.items() if file in wanted}

    @property
    def todo(self) -> list[Item]:
        return [item for item in self.items if item.file not in self.done]

    async def run(self, engine: Engine) -> BatchResults:
        self.header = await engine.header(self.options)
        since_checkpoint = 0
        writing = anyio.Lock()

        async def finished(seq: int, item: Item, entry: ImageEntry) -> None:
            nonlocal since_checkpoint
            self.done[item.file] = entry
            if self.on_entry is not None:
                self.on_entry(entry)
            since_checkpoint += 1
            if self.checkpoint_every > 0 and since_checkpoint >= self.checkpoint_every:
                since_checkpoint = 0
                data = megadetector.dumps(self.results())
                async with writing:
                    await anyio.to_thread.run_sync(write_atomic, checkpoint_path(self.out), data)

        await engine.run(list(enumerate(self.todo)), self.options, finished)
        results = self.results()
        write_atomic(self.out, megadetector.dumps(results))
        checkpoint_path(self.out).unlink(missing_ok=True)
        return results

    def results(self) -> BatchResults:
        """What is finished so far, with the model's header (or none, before it is known)."""
        header = self.header or Header({}, megadetector.info_of("unknown", 0.2, 0.1))
        results = BatchResults(
            list(self.done.values()),
            header.detection_categories,
            header.info,
            header.classification_categories,
        )
        return results if self.options.include_image_size else results.without_sizes()

    def write_checkpoint(self) -> Path:
        """Everything finished, as a partial results file (after Ctrl-C, say)."""
        path = checkpoint_path(self.out)
        write_atomic(path, megadetector.dumps(self.results()))
        return path
