"""`fovea jobs run|sort|repeats` and `fovea export`: batch jobs from the command line. Runs in
this process through the server's own `Service` (or against a server with --server); the
results file is MegaDetector's format."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

jobs_app = typer.Typer(
    help="Batch jobs over folders of images (camera traps).", no_args_is_help=True
)

ResultsArg = Annotated[
    Path,
    typer.Argument(help="A results file (MegaDetector's format).", exists=True, dir_okay=False),
]
ImagesOpt = Annotated[
    Optional[Path],  # noqa: UP045 - typer reads the annotation at run time
    typer.Option(help="Folder the results' paths are relative to (default: the results file's)."),
]


@jobs_app.command("run")
def run(
    source: Annotated[
        Path,
        typer.Argument(help="A folder, a text file of paths or URLs, or a JSON list.", exists=True),
    ],
    model: Annotated[str, typer.Option("--model", "-m", help="Detection model.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Results file to write.")],
    server: Annotated[
        str | None, typer.Option("--server", "-s", help="Use a running server at this URL.")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(envvar="FOVEA_API_KEY", help="The server's API key.")
    ] = None,
    repository: Annotated[
        Path | None,
        typer.Option("--repository", "-r", help="Model repository folder (default: bundled)."),
    ] = None,
    threshold: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Keep detections from this conf.")
    ] = 0.005,
    include_image_size: Annotated[
        bool, typer.Option(help="Write each image's width and height.")
    ] = False,
    include_exif_datetime: Annotated[
        bool, typer.Option(help="Write each image's EXIF DateTimeOriginal.")
    ] = False,
    checkpoint_every: Annotated[
        int, typer.Option(min=0, help="Write a checkpoint every N images (0: never).")
    ] = 1000,
    resume: Annotated[
        bool, typer.Option(help="Continue from the checkpoint, or a partial --out.")
    ] = False,
    previous_results: Annotated[
        Path | None,
        typer.Option(help="Run only images this results file lacks (or failed).", exists=True),
    ] = None,
    recursive: Annotated[bool, typer.Option(help="Folders: look in subfolders too.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    engine: Annotated[
        str, typer.Option(help="local (this process) or ray (Ray Data; the `ray` extra).")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(help="Ray: cluster to join (auto, HOST:PORT); default: a new one here."),
    ] = None,
    actors: Annotated[
        int | None, typer.Option(min=1, help="Ray: most model actors (default: one per CPU).")
    ] = None,
    actor_cpus: Annotated[
        float, typer.Option(min=0.01, help="Ray: CPUs each model actor reserves.")
    ] = 1.0,
) -> None:
    """Run a detector over every image of SOURCE; write MegaDetector's batch output format."""
    from fovea.client import APIError
    from fovea.errors import FoveaError
    from fovea.jobs.engine import JobOptions
    from fovea.jobs.runner import JobRun, checkpoint_path
    from fovea.jobs.sources import open_source

    if engine not in ("local", "ray") or (engine == "ray" and server):
        _fail("--engine is local or ray (and ray runs here, without --server)", 2)
    if checkpoint_path(out).exists() and not resume:
        _fail(f"{checkpoint_path(out)} exists: add --resume to continue it, or delete it", 2)
    try:
        _, items = open_source(source, recursive)
    except FoveaError as exc:
        _fail(exc.detail, 2)
    job = JobRun(
        items,
        out,
        JobOptions(
            model,
            threshold=threshold,
            include_image_size=include_image_size,
            include_exif_datetime=include_exif_datetime,
        ),
        checkpoint_every,
    )
    job.resume(previous_results, resume)
    todo = len(job.todo)
    if not quiet:
        typer.echo(
            f"{len(items)} images, {len(items) - todo} already done, {todo} to run", err=True
        )
    started = time.perf_counter()
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops as cleanly as Ctrl-C
    try:
        with _Progress(todo, quiet) as advance:
            job.on_entry = advance
            if engine == "ray":
                results = _run_on_ray(job, model, repository, address, actors, actor_cpus)
            else:
                results = _run(job, model, server, api_key, repository)
    except KeyboardInterrupt:
        path = job.write_checkpoint()
        typer.echo(
            f"\ninterrupted: {len(job.done)} of {len(items)} done, saved in {path}; "
            "run again with --resume to continue",
            err=True,
        )
        raise typer.Exit(130) from None
    except FoveaError as exc:
        _fail(exc.detail, 1)
    except APIError as exc:
        _fail(str(exc), 1)
    failed = sum(e.failure is not None for e in results.images)
    elapsed = time.perf_counter() - started
    if not quiet:
        typer.echo(
            f"{len(results.images)} images ({failed} failed) in {elapsed:.1f} s "
            f"({todo / max(elapsed, 1e-9):.1f} img/s); wrote {out}",
            err=True,
        )


@jobs_app.command("sort")
def sort(
    results: ResultsArg,
    into: Annotated[Path, typer.Option(help="Folder to sort into.")],
    threshold: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Count detections from this conf.")
    ] = 0.2,
    images: ImagesOpt = None,
    copy: Annotated[bool, typer.Option("--copy", help="Copy the images.")] = False,
    link: Annotated[
        bool, typer.Option("--link", help="Hard-link them (symlink across disks).")
    ] = False,
    move: Annotated[bool, typer.Option("--move", help="Move them.")] = False,
) -> None:
    """Separate images into animal/, person/, vehicle/, empty/ folders (a dry run by default)."""
    from fovea.jobs import sort as sorting

    if copy + link + move > 1:
        _fail("give one of --copy, --link or --move", 2)
    batch = _load(results)
    plan = sorting.plan(batch, images or results.parent, into, threshold)
    for folder, count in sorted(plan.counts.items()):
        typer.echo(f"{folder:24} {count}")
    if plan.skipped:
        typer.echo(f"{'(not found, skipped)':24} {len(plan.skipped)}")
    mode = "copy" if copy else "link" if link else "move" if move else None
    if mode is None:
        typer.echo(f"dry run: nothing changed; add --copy, --link or --move to sort into {into}")
        return
    placed = sorting.apply(plan, mode)  # type: ignore[arg-type]
    typer.echo(f"{mode}: {placed} images into {into}")


@jobs_app.command("repeats")
def repeats(
    results: ResultsArg,
    images: ImagesOpt = None,
    report: Annotated[
        Path | None, typer.Option(help="Report folder (default: RESULTS-repeats/).")
    ] = None,
    min_images: Annotated[
        int, typer.Option(min=2, help="A box in this many images of one camera is a suspect.")
    ] = 20,
    iou: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Boxes overlapping this much are the same place."),
    ] = 0.9,
    max_size: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Largest suspect box, as a fraction of the image."),
    ] = 0.2,
    apply: Annotated[
        bool, typer.Option("--apply", help="Write results with the suspects marked (conf negated).")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="With --apply: the new results file (default: RESULTS-rde.json)."),
    ] = None,
) -> None:
    """Find detections that recur at one place across a camera's images (rocks, branches):
    write a report and a contact sheet per suspect; with --apply, mark them in a new file.
    Delete a sheet to reject its suspect before --apply."""
    from fovea.formats import megadetector
    from fovea.jobs import repeats as rde
    from fovea.jobs.runner import write_atomic

    batch = _load(results)
    report = report or results.with_name(results.stem + "-repeats")
    if apply and (report / rde.REPORT).exists():
        suspects = rde.load_report(report)
        typer.echo(f"{len(suspects)} suspects kept in {report} (their sheets are still there)")
    else:
        options = rde.RepeatOptions(iou=iou, min_images=min_images, max_size=max_size)
        suspects = rde.find(batch, options)
        rde.write_report(
            suspects, report, images or results.parent, dict(batch.detection_categories)
        )
        for s in suspects:
            name = batch.detection_categories.get(s.category, s.category)
            typer.echo(
                f"suspect {s.id}: {name} at {[round(v, 3) for v in s.bbox]} in "
                f"{s.images} images of {s.folder or '.'} -> {report / s.sheet}"
            )
        typer.echo(f"{len(suspects)} suspects; report in {report}")
    if apply:
        target = out or results.with_name(results.stem + "-rde.json")
        marked = rde.mark(batch, suspects)
        write_atomic(target, megadetector.dumps(marked))
        count = sum(len(s.instances) for s in suspects)
        typer.echo(f"marked {count} detections (conf negated); wrote {target}")


def export(
    results: ResultsArg,
    to: Annotated[str, typer.Option("--to", help="coco, yolo, voc, csv or megadetector.")],
    out: Annotated[
        Path | None, typer.Option(help="File (one-file formats) or folder to write.")
    ] = None,
    threshold: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Leave out detections below this conf.")
    ] = 0.0,
    images: ImagesOpt = None,
) -> None:
    """Convert a results file (MegaDetector's format) to COCO, YOLO, Pascal VOC or CSV."""
    from fovea import formats
    from fovea.errors import FoveaError
    from fovea.jobs.images import fill_sizes

    batch = _load(results)
    if formats.FORMATS.get(to) is not None and formats.FORMATS[to].NEEDS_SIZE:
        batch = fill_sizes(batch, images or results.parent)
    try:
        files = formats.export(batch, to, threshold)
    except FoveaError as exc:
        _fail(exc.detail + " (--images)", 2)
    if len(files) == 1:
        name, body = next(iter(files.items()))
        target = out or results.with_name(f"{results.stem}-{to}{Path(name).suffix}")
        target.write_bytes(body)
        typer.echo(f"wrote {target}")
        return
    folder = out or results.with_name(f"{results.stem}-{to}")
    for name, body in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    typer.echo(f"wrote {len(files)} files in {folder}")


def _run(
    job: Any, model: str, server: str | None, api_key: str | None, repository: Path | None
) -> Any:
    import anyio

    if server:
        from fovea.jobs.remote import RemoteEngine

        return anyio.run(job.run, RemoteEngine(server, api_key))
    from fovea.cli import _loaded, _settings
    from fovea.jobs.engine import LocalEngine, detector
    from fovea.serving import Service

    settings = _settings(repository)
    repo = _loaded(settings, only=model)
    detector(repo, job.options)  # an unknown model or a classifier: said before anything runs

    async def local() -> Any:
        service = Service(settings.limits, settings.fetch_policy, settings.workers)
        async with service:
            return await job.run(LocalEngine(service, repo))

    return anyio.run(local)


def _run_on_ray(
    job: Any,
    model: str,
    repository: Path | None,
    address: str | None,
    actors: int | None,
    actor_cpus: float,
) -> Any:
    import anyio

    from fovea.cli import _loaded, _settings
    from fovea.jobs.engine import detector

    try:
        from fovea.engines.ray.data import RayDataEngine
        from fovea.engines.ray.run import connect
    except ImportError as exc:
        _fail(f"--engine ray needs: pip install 'fovea-serve[ray]' ({exc})", 2)
    settings = _settings(repository)
    repo = _loaded(settings, only=model)
    detector(repo, job.options)  # an unknown model or a classifier: said before Ray starts
    connect(address)
    import ray

    try:
        return anyio.run(job.run, RayDataEngine(settings, repo, actors, actor_cpus))
    finally:
        ray.shutdown()


class _Progress:
    """A rich progress bar (images/s, failures, ETA) advanced per entry; nothing when quiet."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.total, self.quiet, self.failed = total, quiet, 0
        self._bar: Any = None

    def __enter__(self) -> Any:
        if self.quiet or not self.total:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]images"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} img/s"),
            TextColumn("failures {task.fields[failed]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("images", total=self.total, rate="-", failed=0)
        return self.advance

    def advance(self, entry: Any) -> None:
        self.failed += entry.failure is not None
        self._bar.advance(self._task)
        speed = self._bar.tasks[0].speed
        self._bar.update(self._task, failed=self.failed, rate=f"{speed:.1f}" if speed else "-")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _load(path: Path) -> Any:
    from fovea.formats import megadetector

    try:
        return megadetector.load(path)
    except (ValueError, KeyError, TypeError) as exc:
        _fail(f"{path}: not a MegaDetector results file: {exc}", 2)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _fail(message: str, code: int) -> Any:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
