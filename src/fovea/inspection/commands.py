"""The inspection commands: `fovea inspect IMAGE`, `fovea patterns learn EXAMPLES` and
`fovea camera emulate DIR`. In this process through `Service` (as the server runs them), or
against a running server with `--server`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer

from fovea.client import APIError, Client
from fovea.errors import FoveaError
from fovea.inspection.learn import Example, example_images, label_file, read_yolo
from fovea.inspection.patterns import AUTO, Pattern, PatternStore, parse_pattern
from fovea.wire.inspection import InspectResponse

patterns_app = typer.Typer(help="Inspection patterns: learn one from good examples.")
camera_app = typer.Typer(help="Cameras: emulate the Basler camera adapter.", no_args_is_help=True)
NOK_EXIT = 3  # `fovea inspect` exits 0 for OK, 3 for NOK, 1 or 2 when it could not judge

ServerOpt = Annotated[
    Optional[str],  # noqa: UP045 - typer reads the annotation at run time
    typer.Option("--server", "-s", help="Use a running server at this URL instead."),
]
RepositoryOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--repository", "-r", help="Model repository folder (default: bundled)."),
]
PatternsOpt = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option("--patterns", help="Patterns folder (default: FOVEA_PATTERNS_DIR)."),
]


@patterns_app.callback()
def _patterns() -> None:
    """Inspection patterns."""


def inspect_command(
    image: Annotated[Path, typer.Argument(help="The image.", exists=True, dir_okay=False)],
    pattern: Annotated[
        str, typer.Option("--pattern", "-p", help="A pattern name, `auto`, or a .toml file.")
    ] = AUTO,
    model: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--model", "-m", help="Model (default: the one the pattern names)."),
    ] = None,
    server: ServerOpt = None,
    repository: RepositoryOpt = None,
    patterns: PatternsOpt = None,
    annotated: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Write the annotated image (PNG) here."),
    ] = None,
    out: Annotated[Optional[Path], typer.Option(help="Write the JSON here.")] = None,  # noqa: UP045
) -> None:
    """Judge an image against a pattern: print the answer's JSON; exit 0 for OK, 3 for NOK."""
    try:
        ref: str | Pattern = pattern
        if pattern.endswith(".toml") and Path(pattern).is_file():
            ref = parse_pattern(Path(pattern).read_text(), pattern)
        if server:
            with Client(server) as client:
                name = model or _model_of(ref, lambda n: client.pattern(n).pattern)
                answer = client.inspect(name, image, ref, annotate=annotated is not None)
        else:
            answer = _inspect_here(image, ref, model, repository, patterns, annotated is not None)
    except (APIError, FoveaError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if annotated is not None and answer.annotated:
        annotated.write_bytes(base64.b64decode(answer.annotated))
    text = answer.model_dump_json(indent=2, exclude_none=True, exclude={"annotated"})
    if out:
        out.write_text(text + "\n")
    else:
        typer.echo(text)
    typer.echo(f"{answer.decision}: {answer.pattern}, {answer.errors} errors", err=True)
    if answer.decision != "OK":
        raise typer.Exit(NOK_EXIT)


@patterns_app.command("learn")
def learn_command(
    examples: Annotated[Path, typer.Argument(help="Folder of good examples.", file_okay=False)],
    model: Annotated[str, typer.Option("--model", "-m", help="The detector.")],
    name: Annotated[str, typer.Option("--name", "-n", help="The new pattern's name.")],
    source: Annotated[
        str, typer.Option(help="auto (labels if every image has one), labels or model.")
    ] = "auto",
    k: Annotated[float, typer.Option(help="Tolerance: k standard deviations.")] = 3.0,
    floor: Annotated[float, typer.Option(help="Least tolerance, fraction of the image.")] = 0.01,
    score_threshold: Annotated[Optional[float], typer.Option()] = None,  # noqa: UP045
    description: Annotated[str, typer.Option()] = "",
    server: ServerOpt = None,
    repository: RepositoryOpt = None,
    patterns: PatternsOpt = None,
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Write the TOML here instead of storing it."),
    ] = None,
) -> None:
    """Learn a pattern from good examples (YOLO txt labels, or the model's detections) and
    report how many of them it accepts."""
    from fovea.inspection import learn

    try:
        images = example_images(examples)
        use_labels = _use_labels(images, source)
        with _Detector(model, server, repository) as detector:
            if use_labels:
                names = _class_names(examples) or detector.labels()
                found = [_yolo(image, names) for image in images]
            else:
                found = detector.examples(images, score_threshold)
            learned = learn.learn(found, model, k, floor, score_threshold, description)
            where = _store(learned.pattern, name, out, detector.client, patterns)
    except (APIError, FoveaError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(learned.report())
    typer.echo(f"pattern {name!r} written to {where}")


@camera_app.command("emulate")
def emulate_command(
    folder: Annotated[Path, typer.Argument(help="Folder of images.", file_okay=False)],
    port: Annotated[int, typer.Option(help="Listen port (the adapter's is 5051).")] = 5051,
    host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
) -> None:
    """Serve the images of a folder, in name order and round again, through the Basler camera
    adapter's REST interface (for demos and tests)."""
    import uvicorn

    from fovea.inspection.camera import TAKE_PHOTO_PATH
    from fovea.inspection.emulator import create_emulator, folder_images

    if not folder.is_dir():
        typer.echo(f"error: {folder} is not a folder", err=True)
        raise typer.Exit(2)
    count = len(folder_images(folder))
    typer.echo(f"camera emulator: http://{host}:{port}{TAKE_PHOTO_PATH} ({count} images)")
    uvicorn.run(create_emulator(folder), host=host, port=port, log_level="warning")


def _model_of(ref: str | Pattern, lookup: Callable[[str], Pattern]) -> str:
    """The model a pattern names, for when --model is left out."""
    if ref == AUTO:
        raise FoveaError("--pattern auto tries every pattern of a model: give --model")
    pattern = ref if isinstance(ref, Pattern) else lookup(ref)
    if pattern.model is None:
        raise FoveaError("the pattern names no model: give --model")
    return pattern.model


def _inspect_here(
    image: Path,
    ref: str | Pattern,
    model: str | None,
    repository: Path | None,
    patterns: Path | None,
    annotate: bool,
) -> InspectResponse:
    """The server's own path, in this process: Service, Inspector, the same answer."""
    import anyio

    from fovea.cli import _loaded
    from fovea.config import Settings
    from fovea.inspection.inspector import Inspector
    from fovea.serving import Encoded, Service

    overrides: dict[str, Any] = {"model_repository": repository, "patterns_dir": patterns}
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    store = PatternStore(settings.patterns_path)
    model = model or _model_of(ref, lambda name: _stored(store, name))
    served = _loaded(settings, only=model).get(model)

    service = Service(settings.limits, settings.fetch_policy, settings.workers)
    inspector = Inspector(service, store)
    chosen = inspector.resolve(served, ref)

    async def run() -> InspectResponse | FoveaError:
        async with service:
            try:
                with service.admit(served):
                    source = Encoded(image.read_bytes())
                    return await inspector.inspect(
                        served, source, chosen, image_id=image.name, annotate=annotate
                    )
            except FoveaError as exc:  # returned: the service's task group would wrap it
                return exc

    answer = anyio.run(run)
    if isinstance(answer, FoveaError):
        raise answer
    return answer


def _stored(store: PatternStore, name: str) -> Pattern:
    pattern = store.read(name).pattern
    assert pattern is not None  # read() raises for a pattern that does not load
    return pattern


def _use_labels(images: list[Path], source: str) -> bool:
    if source not in ("auto", "labels", "model"):
        raise FoveaError(f"--source {source!r}: auto, labels or model")
    unlabelled = [p.name for p in images if label_file(p) is None]
    if source == "labels" and unlabelled:
        raise FoveaError(f"no YOLO label file for {', '.join(unlabelled[:5])}")
    return source == "labels" or (source == "auto" and not unlabelled)


def _class_names(folder: Path) -> list[str]:
    """classes.txt of a YOLO export, one name a line, if there is one."""
    for candidate in (folder / "classes.txt", folder / "labels" / "classes.txt"):
        if candidate.is_file():
            return [line.strip() for line in candidate.read_text().splitlines() if line.strip()]
    return []


def _yolo(image: Path, names: list[str]) -> Example:
    path = label_file(image)
    assert path is not None  # _use_labels checked that every image has one
    return read_yolo(path, names)


def _store(
    pattern: Pattern, name: str, out: Path | None, client: Client | None, patterns: Path | None
) -> str:
    from fovea.config import Settings
    from fovea.inspection.patterns import check_name, dump_pattern

    check_name(name)
    if out is not None:
        out.write_text(dump_pattern(pattern))
        return str(out)
    if client is not None:
        client.put_pattern(name, pattern)
        return f"{client.http.base_url}/v1/patterns/{name}"
    store = PatternStore(patterns or Settings().patterns_path)
    store.put(name, pattern)
    return str(store.folder / f"{name}.toml")


class _Detector:
    """The model's labels and detections, from a server or from this process."""

    def __init__(self, model: str, server: str | None, repository: Path | None) -> None:
        self.model, self.repository = model, repository
        self.client = Client(server) if server else None

    def __enter__(self) -> _Detector:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()

    def labels(self) -> list[str]:
        if self.client is not None:
            return self.client.model(self.model).labels
        from fovea.cli import _loaded, _settings

        return list(_loaded(_settings(self.repository), only=self.model).get(self.model).labels)

    def examples(self, images: list[Path], score_threshold: float | None) -> list[Example]:
        from fovea.cli import _predict_here
        from fovea.core import Params

        params = Params(score_threshold=score_threshold)
        if self.client is not None:
            response = self.client.predict(self.model, images, params)
        else:
            response = _predict_here(images, self.model, self.repository, params)
        found = []
        for output in response.outputs:
            dets = output.detections or []
            boxes = [[x + w / 2, y + h / 2, w, h] for x, y, w, h in (d.bbox_norm for d in dets)]
            cxcywh = np.array(boxes, np.float64).reshape(-1, 4)
            scores = np.array([d.score for d in dets], np.float64)
            found.append(
                Example(Path(output.id).stem, tuple(d.label for d in dets), cxcywh, scores)
            )
        return found
