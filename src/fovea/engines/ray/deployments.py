"""The Ray Serve application: one deployment per model (`ModelReplica`: the model, with its
stages for a pipeline, run by Fovea's own `Service`, pipeline and batcher) and the ingress
(Fovea's FastAPI app, its `Service` a `RayService` holding a handle to each model deployment).
`application(settings, options)` binds them; nothing runs until Serve deploys it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import ray
from fastapi import FastAPI
from ray import serve
from ray.serve import metrics as serve_metrics
from ray.serve.handle import DeploymentHandle

from fovea.api.app import create_app
from fovea.config import Settings
from fovea.engines.ray.run import RayOptions
from fovea.engines.ray.service import Answer, RayService, ReplicaHeaders, Tensor
from fovea.errors import FoveaError, ModelConfigError
from fovea.models import Repository, ServedModel
from fovea.serving import Local, Observer, Priority, Service
from fovea.tasks import DecodeContext

log = logging.getLogger("fovea.ray")
APP_NAME = "fovea"
INGRESS = "ingress"
_STAGES = ("decode", "preprocess", "queue", "infer", "postprocess")
_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]
_BATCHES = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]


def _tags(*keys: str) -> tuple[str]:
    """Tag keys for Ray's metrics (its annotation says a 1-tuple; any tuple is meant)."""
    return cast("tuple[str]", keys)


class _ReplicaMetrics(Observer):
    """Fovea's per-image metrics from inside a model replica, through Ray's metrics agent:
    Serve adds the `deployment`, `replica` and `application` tags (Prometheus names get
    Ray's `ray_` prefix)."""

    def __init__(self) -> None:
        self.images = serve_metrics.Counter(
            "fovea_replica_images",
            "Images run by a model replica.",
            tag_keys=_tags("model", "outcome"),
        )
        self.stages = serve_metrics.Histogram(
            "fovea_replica_stage_seconds",
            "Time per image in each stage, in a model replica.",
            boundaries=_SECONDS,
            tag_keys=_tags("model", "stage"),
        )
        self.batches = serve_metrics.Histogram(
            "fovea_replica_batch_size",
            "Images per inference batch, in a model replica.",
            boundaries=_BATCHES,
            tag_keys=_tags("model"),
        )

    def observe_prediction(
        self,
        model: str,
        timing_ms: Mapping[str, float],
        ok: bool,
        cpu_ms: Mapping[str, float] | None = None,
    ) -> None:
        self.images.inc(1, tags={"model": model, "outcome": "ok" if ok else "error"})
        for stage in _STAGES:
            if stage in timing_ms:
                self.stages.observe(timing_ms[stage] / 1000, tags={"model": model, "stage": stage})

    def observe_batch(self, model: str, size: int) -> None:
        self.batches.observe(size, tags={"model": model})


class ModelReplica:
    """One model in one replica process, served by Fovea's own `Service` (its worker threads,
    batcher and pipeline), started on the replica's event loop and kept for its lifetime."""

    async def __init__(self, settings: Settings, model: str) -> None:  # type: ignore[misc]
        _replica_grpc_on_loopback()
        self.model, self.settings = model, settings
        self.repository = Repository(settings.repository_path, settings.runtime)
        self.repository.scan()
        # Loading builds sessions and runs warm-ups: seconds of CPU, off the event loop.
        await asyncio.to_thread(self.repository.load_all, model)
        self.repository.get(model)  # a model that failed to load fails the replica, readably
        self.replica, self.node = _whoami()
        self.service = Service(
            settings.limits, settings.fetch_policy, settings.workers, _metrics_or_none()
        )
        started = asyncio.Event()
        self._serving = asyncio.create_task(self._serve(started))
        await started.wait()
        log.info("model %s replica %s ready on node %s", model, self.replica, self.node)

    async def _serve(self, started: asyncio.Event) -> None:
        async with self.service:
            started.set()
            await asyncio.Event().wait()  # until the replica stops

    async def run(
        self,
        version: str,
        source: Local,
        context: DecodeContext,
        priority: Priority,
        keep_image: bool,
        keep_outputs: bool = False,
    ) -> Answer:
        """One image through this replica's pipeline; a Fovea error is returned, not raised."""
        try:
            served = self.repository.get(self.model, version)
            prediction = await self.service.run(
                served, source, context, priority, keep_image=keep_image, keep_outputs=keep_outputs
            )
        except FoveaError as exc:
            return Answer(self.replica, self.node, error=exc)
        return Answer(self.replica, self.node, prediction=prediction)

    async def infer(self, version: str, batch: Tensor, priority: Priority) -> Answer:
        """A V2 tensor batch through this replica's batcher: every graph output, by name."""
        try:
            served = self.repository.get(self.model, version)
            if not isinstance(served, ServedModel):
                raise ModelConfigError(f"{self.model!r} is a pipeline: it takes images")
            outputs = await self.service.infer(served, np.asarray(batch), priority)
        except FoveaError as exc:
            return Answer(self.replica, self.node, error=exc)
        return Answer(self.replica, self.node, outputs=outputs)


class Ingress:
    """Fovea's FastAPI app (every route of `fovea serve`), built in each ingress replica; its
    routes' `Service` sends each image to the model's deployment."""

    def __init__(self, settings: Settings, handles: dict[str, DeploymentHandle[Any]]) -> None:
        _replica_grpc_on_loopback()
        # Hot reload and V2 over gRPC are the local engine's: a redeploy reloads models here.
        self.settings = settings.model_copy(update={"repository_poll_s": 0.0, "grpc_port": None})
        self.handles = handles

    def __serve_build_asgi_app__(self) -> FastAPI:
        def service(settings: Settings, observer: Observer) -> Service:
            return RayService(
                settings.limits, settings.fetch_policy, settings.workers, observer, self.handles
            )

        app = create_app(self.settings, service_factory=service)
        app.add_middleware(ReplicaHeaders)
        return app


def deployed_models(settings: Settings, only: Sequence[str] = ()) -> list[str]:
    """The models that get a deployment: the enabled ones of the repository (or `only`)."""
    repository = Repository(settings.repository_path, settings.runtime)
    repository.scan()
    enabled = [name for name, e in repository.entries.items() if e.status != "disabled"]
    unknown = sorted(set(only) - set(repository.entries))
    if unknown:
        raise ModelConfigError(f"no such models in {settings.repository_path}: {unknown}")
    return [name for name in enabled if not only or name in only]


def application(settings: Settings, options: RayOptions) -> serve.Application:
    """Bind the ingress to one deployment per model; `serve.run` (or a config file) deploys it."""
    models = deployed_models(settings, options.models)
    handles: dict[str, Any] = {}
    for name in models:
        deployment: Any = serve.deployment(name=f"model-{name}")(ModelReplica)
        handles[name] = deployment.options(**options.model_config()).bind(settings, name)
    ingress: Any = serve.deployment(name=INGRESS)(serve.ingress()(Ingress))
    built: serve.Application = ingress.options(
        num_replicas=options.ingress_replicas,
        max_ongoing_requests=1000,  # async routes, bounded by Fovea's own admission
        ray_actor_options={"num_cpus": 0},
    ).bind(settings, handles)
    return built


def cpus_needed(settings: Settings, options: RayOptions) -> float:
    """CPUs the model replicas reserve at their fewest (the ingress reserves none)."""
    count = len(deployed_models(settings, options.models))
    low = options.autoscale[0] if options.autoscale else options.replicas
    return count * low * options.replica_cpus


def _whoami() -> tuple[str, str]:
    """This replica's id and its Ray node's id."""
    context = serve.get_replica_context()
    return context.replica_id.unique_id, ray.get_runtime_context().get_node_id()


def _metrics_or_none() -> Observer | None:
    try:
        return _ReplicaMetrics()
    except Exception as exc:  # pragma: no cover - Ray's metrics are best effort
        log.warning("Ray metrics unavailable: %s", exc)
        return None


def _replica_grpc_on_loopback() -> None:
    """Serve binds each replica's inter-deployment gRPC server to every interface (`[::]:0` in
    ray/serve/_private/replica.py, after `__init__`); on a loopback-only node, bind it to
    127.0.0.1 instead, so a one-machine Ray listens on nothing else."""
    if ray.util.get_node_ip_address() != "127.0.0.1":  # type: ignore[no-untyped-call]
        return
    from ray.serve._private import replica

    bind: Any = replica.add_port_to_grpc_server  # type: ignore[attr-defined]
    if getattr(bind, "fovea_loopback", False):
        return

    def loopback(server: Any, address: str) -> int:
        return int(bind(server, address.replace("[::]", "127.0.0.1")))

    loopback.fovea_loopback = True  # type: ignore[attr-defined]
    replica.add_port_to_grpc_server = loopback  # type: ignore[attr-defined]
