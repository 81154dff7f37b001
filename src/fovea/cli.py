"""The `fovea` command: serve, ui, predict, models, bench, jobs, export, inspect, patterns,
camera, video."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from fovea.client import APIError, Client
from fovea.inspection.commands import camera_app, inspect_command, patterns_app
from fovea.jobs.cli import export, jobs_app
from fovea.runtime.memory import tune_malloc
from fovea.wire import PredictResponse

app = typer.Typer(help="Serve image models from an ONNX model repository.", no_args_is_help=True)
models_app = typer.Typer(help="List or check models.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(jobs_app, name="jobs")
app.command("export")(export)
import_app = typer.Typer(
    help="Import a checkpoint as a ready model folder (needs no server).", no_args_is_help=True
)
models_app.add_typer(import_app, name="import")

RepositoryOpt = Annotated[
    Optional[Path],  # noqa: UP045 - typer reads the annotation at run time
    typer.Option("--repository", "-r", help="Model repository folder (default: bundled)."),
]
ServerOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--server", "-s", help="Use a running server at this URL instead."),
]


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Listen address.")] = None,  # noqa: UP045
    port: Annotated[Optional[int], typer.Option(help="Listen port.")] = None,  # noqa: UP045
    repository: RepositoryOpt = None,
    workers: Annotated[Optional[int], typer.Option(help="Inference threads.")] = None,  # noqa: UP045
    engine: Annotated[
        str, typer.Option(help="local (this process) or ray (Ray Serve; the `ray` extra).")
    ] = "local",
    replicas: Annotated[int, typer.Option(min=1, help="Ray: replicas per model.")] = 1,
    autoscale: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Ray: MIN,MAX replicas per model, scaled on ongoing requests."),
    ] = None,
    address: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Ray: cluster to join (HOST:PORT or auto); default: a new one here."),
    ] = None,
    replica_cpus: Annotated[
        float, typer.Option(min=0.0, help="Ray: CPUs each model replica reserves.")
    ] = 1.0,
    models: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Ray: comma-separated models to deploy (default: every enabled one)."),
    ] = None,
    ingress_replicas: Annotated[
        int, typer.Option(min=1, help="Ray: replicas of the API ingress (no CPU reserved).")
    ] = 1,
) -> None:
    """Serve the models of a repository over HTTP (API docs at /docs), in this process or on
    Ray Serve (--engine ray)."""
    import uvicorn

    from fovea import logs
    from fovea.api.app import create_app
    from fovea.api.middleware import ServingState
    from fovea.api.server import GracefulServer
    from fovea.config import Settings

    overrides: dict[str, Any] = {
        "host": host,
        "port": port,
        "model_repository": repository,
        "workers": workers,
    }
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    logs.configure(settings.log_level, settings.log_format)
    if engine == "ray":
        _serve_on_ray(
            settings, replicas, autoscale, address, replica_cpus, models, ingress_replicas
        )
        return
    if engine != "local":
        typer.echo(f"error: --engine is local or ray, not {engine!r}", err=True)
        raise typer.Exit(2)
    tune_malloc()
    state = ServingState()
    config = uvicorn.Config(
        create_app(settings, state),
        host=settings.host,
        port=settings.port,
        log_config=None,  # keep the handlers logs.configure installed
        access_log=False,  # the request middleware logs each request with its id
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) + 1,
    )
    GracefulServer(config, state, settings.shutdown_grace_s).run()


def _serve_on_ray(
    settings: Any,
    replicas: int,
    autoscale: str | None,
    address: str | None,
    replica_cpus: float,
    models: str | None,
    ingress_replicas: int,
) -> None:
    from fovea.errors import FoveaError

    try:
        from fovea.engines.ray.run import RayOptions, parse_autoscale, serve_forever
    except ImportError as exc:
        typer.echo(f"error: --engine ray needs: pip install 'fovea-serve[ray]' ({exc})", err=True)
        raise typer.Exit(2) from exc
    try:
        options = RayOptions(
            replicas=replicas,
            autoscale=parse_autoscale(autoscale),
            replica_cpus=replica_cpus,
            models=tuple(m.strip() for m in (models or "").split(",") if m.strip()),
            ingress_replicas=ingress_replicas,
        )
        serve_forever(settings, options, address)
    except FoveaError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Listen port.", envvar="FOVEA_UI_PORT")] = 8501,
    host: Annotated[
        str, typer.Option(help="Listen address.", envvar="FOVEA_UI_HOST")
    ] = "127.0.0.1",
    api_url: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Fovea API to talk to (default: FOVEA_API_URL, then .env)."),
    ] = None,
) -> None:
    """Start the Streamlit web UI (needs the `ui` extra)."""
    import importlib.util
    import os

    from fovea.ui.launch import streamlit_command

    if importlib.util.find_spec("streamlit") is None:
        typer.echo("error: the web UI needs Streamlit: pip install 'fovea-serve[ui]'", err=True)
        raise typer.Exit(1)
    env = {**os.environ, **({"FOVEA_API_URL": api_url} if api_url else {})}
    typer.echo(f"Fovea UI: http://{host}:{port}")
    command = streamlit_command(port, host)
    # Become Streamlit, so Ctrl-C and SIGTERM reach it directly and leave no orphan behind.
    os.execve(command[0], command, env)


@app.command()
def predict(
    images: Annotated[list[Path], typer.Argument(help="Image files.", exists=True, dir_okay=False)],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name.")],
    server: ServerOpt = None,
    repository: RepositoryOpt = None,
    out: Annotated[Optional[Path], typer.Option(help="Write the JSON here.")] = None,  # noqa: UP045
    # Bounds are checked once, by fovea.core.Params, as the API checks them.
    score_threshold: Annotated[Optional[float], typer.Option()] = None,  # noqa: UP045
    iou_threshold: Annotated[Optional[float], typer.Option()] = None,  # noqa: UP045
    max_detections: Annotated[Optional[int], typer.Option()] = None,  # noqa: UP045
    top_k: Annotated[Optional[int], typer.Option()] = None,  # noqa: UP045
    classes: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Comma-separated labels to keep."),
    ] = None,
) -> None:
    """Run a model on images, in this process or against a server; print the API's JSON."""
    from pydantic import ValidationError

    from fovea.core import Params

    try:
        params = Params(
            score_threshold=score_threshold,
            iou_threshold=iou_threshold,
            max_detections=max_detections,
            top_k=top_k,
            classes=classes,  # the validator splits the comma-separated string
        )
        if server:
            with Client(server) as client:
                response = client.predict(model, images, params)
        else:
            response = _predict_here(images, model, repository, params)
    except ValidationError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except APIError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    text = response.model_dump_json(indent=2, exclude_none=True)
    if out:
        out.write_text(text + "\n")
    else:
        typer.echo(text)


def _predict_here(
    images: list[Path], model: str, repository: Path | None, params: Any
) -> PredictResponse:
    """The server's own path, in this process: the same admission, pipeline and answer."""
    import anyio

    from fovea.api.routes.predict import response_of
    from fovea.errors import FoveaError
    from fovea.serving import Encoded, ImageInput, Service

    settings = _settings(repository)
    repo = _loaded(settings, only=model)
    try:
        served = repo.get(model)
    except FoveaError as exc:
        raise APIError(exc.status, {"title": exc.title, "detail": exc.detail}) from exc
    inputs = [ImageInput(path.name, Encoded(path.read_bytes())) for path in images]

    async def run() -> PredictResponse:
        service = Service(settings.limits, settings.fetch_policy, settings.workers)
        async with service:
            with service.admit(served, len(inputs)):
                return response_of(served, await service.predict(served, inputs, params))

    return anyio.run(run)


@models_app.command("list")
def list_models(server: ServerOpt = None, repository: RepositoryOpt = None) -> None:
    """List the models of a server, or of a repository (loaded here), with their true status."""
    if server:
        with Client(server) as client:
            rows = [(m.name, m.status, m.task or "-", m.error or "") for m in client.models()]
    else:
        repo = _loaded(_settings(repository))
        rows = [
            (e.name, e.status, e.spec.task if e.spec else "-", e.error or "")
            for e in repo.entries.values()
        ]
    for name, status, task, error in rows:
        typer.echo(f"{name:24} {status:9} {task:9} {error}".rstrip())


@models_app.command("quantize")
def quantize_model(
    model: Annotated[str, typer.Argument(help="Model name.")],
    calibrate: Annotated[
        Path, typer.Option(help="Folder of images like the ones the model will see.")
    ],
    repository: RepositoryOpt = None,
) -> None:
    """Write an int8 version of a model (static quantization, calibrated on your images) as its
    next version, then compare it with the current one on those images."""
    from fovea.bench.agreement import compare
    from fovea.errors import FoveaError
    from fovea.models._quantize import calibration_images, quantize

    settings = _settings(repository)
    repo = _loaded(settings, only=model)
    try:
        served = repo.get(model)
        images = calibration_images(calibrate)
        version = quantize(served, repo.entries[model].path, images)
    except FoveaError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"wrote {model} version {version} (int8, calibrated on {len(images)} images)")
    int8 = _loaded(settings, only=model).get(model, version)
    result = compare(served, int8, [p.read_bytes() for p in images[:20]])
    found = result.total
    typer.echo(
        f"agreement on {result.images} images: {found.matched}/{found.reference} answers matched "
        f"(same label, IoU >= 0.9), {found.extra} extra, largest score change "
        f"{found.max_score_delta:.3f}"
    )
    typer.echo(
        f"inference: {result.reference_ms:.1f} ms -> {result.variant_ms:.1f} ms "
        f"({result.speedup:.2f}x)"
    )


@models_app.command("check")
def check_models(path: Annotated[Path, typer.Argument(help="Repository folder.")]) -> None:
    """Load every model of a repository; exit 1 if any fails, saying why."""
    repo = _loaded(_settings(path))
    failed = [e for e in repo.entries.values() if e.status == "failed"]
    for entry in repo.entries.values():
        mark = "FAILED" if entry.status == "failed" else entry.status
        typer.echo(f"{entry.name}: {mark}" + (f": {entry.error}" if entry.error else ""))
    if not repo.entries:
        typer.echo(f"{path}: no model folders (a folder with a model.toml)", err=True)
    if failed or not repo.entries:
        raise typer.Exit(1)


@import_app.command("megadetector")
def import_megadetector(
    weights: Annotated[Path, typer.Argument(help="MegaDetector .pt file, e.g. md_v5a.0.0.pt.")],
    into: Annotated[Path, typer.Option(help="Model repository folder to add it to.")],
    name: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Model name (default from the release: md-v5a, md-v1000-redwood...)."),
    ] = None,
    version: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="The release, when the file name does not say (e.g. v5a.0.0)."),
    ] = None,
    verify: Annotated[bool, typer.Option(help="Check ONNX Runtime against PyTorch.")] = True,
) -> None:
    """Export a MegaDetector checkpoint to ONNX with MegaDetector's preprocessing and metadata.

    The export runs in a tools venv (PyTorch, yolov5, ultralytics) built on first use under
    FOVEA_TOOLS_DIR; the server never needs them.
    """
    from fovea.config import Settings
    from fovea.errors import ModelImportError
    from fovea.importers import import_megadetector as run_import

    try:
        tools_dir = Settings().tools_dir
        run_import(weights, into, name, version, tools_dir=tools_dir, verify=verify, say=typer.echo)
    except ModelImportError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc


@app.command()
def bench(
    image: Annotated[Path, typer.Option(help="The photo every request sends.", exists=True)] = Path(
        "benchmarks/photo-1280x960.jpg"
    ),
    model: Annotated[str, typer.Option("--model", "-m")] = "coco",
    server: ServerOpt = None,
    repository: RepositoryOpt = None,
    concurrency: Annotated[str, typer.Option(help="Concurrent clients, comma-separated.")] = (
        "1,4,16,64"
    ),
    images_per_request: Annotated[str, typer.Option(help="Comma-separated.")] = "1,16",
    duration: Annotated[float, typer.Option(help="Seconds measured per row.")] = 10.0,
    out_dir: Annotated[Path, typer.Option(help="Where bench.md/json/png go.")] = Path(
        "benchmarks/results"
    ),
) -> None:
    """Load a server (started here, or --server) and compare each row with the in-process
    ceiling measured in the same run."""
    from fovea.bench import report, run
    from fovea.models import BUNDLED

    rows, ceilings = run.run(
        model=model,
        image=image.read_bytes(),
        repository=repository or BUNDLED,
        server=server,
        concurrencies=[int(c) for c in concurrency.split(",")],
        per_request=[int(n) for n in images_per_request.split(",")],
        duration_s=duration,
        say=typer.echo,
    )
    command = "fovea bench " + " ".join(sys.argv[2:])
    for path in report.write(out_dir, rows, ceilings, command.strip()):
        typer.echo(f"wrote {path}")


@app.command()
def video(
    file: Annotated[Path, typer.Argument(help="A video file.", exists=True, dir_okay=False)],
    model: Annotated[str, typer.Option("--model", "-m", help="Model name.")],
    server: ServerOpt = None,
    repository: RepositoryOpt = None,
    mode: Annotated[
        list[str],
        typer.Option(help="sequential, concurrent or stream; repeat or comma-separate."),
    ] = ["sequential", "concurrent", "stream"],  # noqa: B006 - typer needs a list default
    batch: Annotated[int, typer.Option(help="Frames per request (concurrent).")] = 8,
    concurrency: Annotated[int, typer.Option(help="Requests, or frames, in flight.")] = 4,
    streams: Annotated[str, typer.Option(help="Clients at once, comma-separated.")] = "1",
    fps: Annotated[Optional[float], typer.Option(help="Frames a second to send.")] = None,  # noqa: UP045
    max_frames: Annotated[Optional[int], typer.Option(help="Most frames to send.")] = None,  # noqa: UP045
    out: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Write the video with the first mode's results drawn on it (MP4)."),
    ] = None,
    api_key: Annotated[Optional[str], typer.Option(envvar="FOVEA_API_KEY")] = None,  # noqa: UP045
) -> None:
    """Send a video's frames to a server one by one, in concurrent batches, or over the
    WebSocket, and print frames, total time, frames/s and p50/p99 per frame for each mode."""
    import functools
    from contextlib import AbstractContextManager, nullcontext

    import anyio

    from fovea.bench.server import started_server
    from fovea.errors import FoveaError
    from fovea.models import BUNDLED
    from fovea.video import clients
    from fovea.video.options import Sampling

    modes = [m.strip() for item in mode for m in item.split(",") if m.strip()]
    unknown = sorted(set(modes) - set(clients.MODES))
    if unknown or not modes:
        typer.echo(f"error: unknown mode {unknown}; choose from {list(clients.MODES)}", err=True)
        raise typer.Exit(2)
    try:
        clip = clients.load_clip(file, Sampling(fps=fps, max_frames=max_frames))
    except FoveaError as exc:
        typer.echo(f"error: {file}: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{file.name}: {len(clip.jpegs)} frames to send")
    target: AbstractContextManager[tuple[str, int | None]] = (
        nullcontext((server, None)) if server else started_server(repository or BUNDLED)
    )
    results = []
    with target as (url, _):
        for name in modes:
            for count in (int(n) for n in streams.split(",")):
                run = functools.partial(
                    clients.run_mode,
                    url,
                    model,
                    clip,
                    name,  # type: ignore[arg-type]
                    streams=count,
                    batch=batch,
                    concurrency=concurrency,
                    api_key=api_key,
                )
                results.append(anyio.run(run))
    typer.echo(clients.table(results))
    if out is not None:
        rate = fps or clip.fps
        written = clients.write_annotated(out, clip, results[0].outputs, rate)
        typer.echo(f"wrote {out} ({written} frames)")


def _settings(repository: Path | None) -> Any:
    from fovea.config import Settings

    return Settings(model_repository=repository) if repository else Settings()


def _loaded(settings: Any, only: str | None = None) -> Any:
    """The settings' repository, scanned, with every model (or `only`) loaded."""
    from fovea.errors import FoveaError
    from fovea.models import Repository

    logging.getLogger("fovea").setLevel(logging.CRITICAL)  # the command prints errors itself
    repo = Repository(settings.repository_path, settings.runtime)
    try:
        repo.scan()
    except FoveaError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(2) from exc
    repo.load_all(only=only)
    return repo


# Visual inspection (fovea.inspection.commands), listed after the commands above.
app.add_typer(patterns_app, name="patterns")
app.add_typer(camera_app, name="camera")
app.command("inspect")(inspect_command)
