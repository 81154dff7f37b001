"""`RayService`: the `Service` the API's routes call when Fovea runs on Ray Serve. It is the one
seam between the routes and Ray: admission, URL fetches and model-free work (drawing, encoding)
stay in the ingress as they are, and each image (or V2 tensor batch) goes through its model's
deployment handle to a replica that runs Fovea's own pipeline and batching (`ModelReplica`).

Kept as one module because the routes, jobs, video and V2 engines all take a `Service`: a
subclass that overrides only where a model runs (`run`, `infer`) serves them all unchanged.
Every answer says which replica and node ran it (`X-Fovea-Replica`, `X-Fovea-Node` headers).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fovea.errors import FoveaError, ModelUnavailable, Overloaded
from fovea.models import Prediction, Servable, ServedModel
from fovea.serving import FetchPolicy, Observer, Priority, Service, Source
from fovea.tasks import DecodeContext
from fovea.vision import Limits

Tensor = npt.NDArray[np.generic]
log = logging.getLogger("fovea.ray")
RETRIES = 1  # a request whose replica died is sent once more


@dataclass(frozen=True)
class Answer:
    """What a model replica sends back: a prediction (or V2 outputs), or the Fovea error that
    stopped it (returned, not raised, so it crosses the process boundary as itself), and who
    ran it."""

    replica: str
    node: str
    prediction: Prediction | None = None
    outputs: dict[str, Tensor] = field(default_factory=dict)
    error: FoveaError | None = None


class _Method(Protocol):
    def remote(self, *args: Any) -> Awaitable[Answer]: ...


class ModelHandle(Protocol):
    """What the facade needs of a Serve `DeploymentHandle` to a `ModelReplica`."""

    @property
    def run(self) -> _Method: ...

    @property
    def infer(self) -> _Method: ...


# The replicas that answered the current HTTP request (set by `ReplicaHeaders`).
_answered: contextvars.ContextVar[list[Answer] | None] = contextvars.ContextVar(
    "fovea_ray_answered", default=None
)


class RayService(Service):
    def __init__(
        self,
        limits: Limits,
        fetch_policy: FetchPolicy,
        workers: int,
        observer: Observer | None,
        handles: Mapping[str, ModelHandle],
    ) -> None:
        super().__init__(limits, fetch_policy, workers, observer)
        self.handles = handles

    async def run(
        self,
        model: Servable,
        source: Source,
        context: DecodeContext,
        priority: Priority = Priority.INTERACTIVE,
        *,
        keep_image: bool = False,
        keep_outputs: bool = False,
    ) -> Prediction:
        """One image in the model's deployment (a URL is fetched here first)."""
        try:
            local = await self.fetched(source)
            answer = await self._call(
                model, "run", model.version, local, context, priority, keep_image, keep_outputs
            )
        except FoveaError:
            self._observe(model, {}, ok=False)
            raise
        assert answer.prediction is not None
        prediction = answer.prediction
        self._observe(model, prediction.timing_ms, ok=True, cpu_ms=prediction.cpu_ms)
        return prediction

    async def infer(
        self, model: ServedModel, batch: Tensor, priority: Priority = Priority.INTERACTIVE
    ) -> dict[str, Tensor]:
        """A V2 tensor batch through the model's deployment (its batcher, there)."""
        try:
            answer = await self._call(model, "infer", model.version, batch, priority)
        except FoveaError:
            self._observe(model, {}, ok=False)
            raise
        return answer.outputs

    async def _call(self, model: Servable, method: str, *args: Any) -> Answer:
        handle = self.handles.get(model.name)
        if handle is None:
            raise ModelUnavailable(f"model {model.name!r} has no deployment on Ray")
        for attempt in range(RETRIES + 1):
            try:
                answer: Answer = await getattr(handle, method).remote(*args)
                break
            except Exception as exc:
                error = _unavailable(model.name, exc)
                # The replica died under it: images are idempotent, so another replica may
                # run it again (Serve has already stopped routing to the dead one).
                if not isinstance(error, ModelUnavailable) or attempt == RETRIES:
                    raise error from exc
                log.warning("model %s: replica lost (%s); retrying", model.name, exc)
        answered = _answered.get()
        if answered is not None:
            answered.append(answer)
        if answer.error is not None:
            raise answer.error
        return answer


def _unavailable(model: str, exc: Exception) -> Exception:
    """Ray's own failures as Fovea's errors: a full deployment is a 503 `overloaded`, a replica
    that died (or none up) a 503 `model-unavailable`; anything else is left as it is."""
    from ray.exceptions import RayActorError
    from ray.serve.exceptions import (
        BackPressureError,
        DeploymentUnavailableError,
        ReplicaUnavailableError,
    )

    if isinstance(exc, BackPressureError):
        error: FoveaError = Overloaded(f"model {model!r}: every replica is full; retry shortly")
        error.retry_after_s = 1
        return error
    if isinstance(exc, RayActorError | DeploymentUnavailableError | ReplicaUnavailableError):
        error = ModelUnavailable(f"model {model!r}: its replica stopped ({type(exc).__name__})")
        error.retry_after_s = 1
        return error
    return exc


class ReplicaHeaders:
    """ASGI middleware: `X-Fovea-Replica` and `X-Fovea-Node` list (in order, once each) the
    model replicas, and their Ray nodes, that ran the request's images."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answered: list[Answer] = []
        token = _answered.set(answered)

        async def reply(message: Message) -> None:
            if message["type"] == "http.response.start" and answered:
                replicas = ",".join(dict.fromkeys(a.replica for a in answered))
                nodes = ",".join(dict.fromkeys(a.node for a in answered))
                headers = [
                    *message.get("headers", []),
                    (b"x-fovea-replica", replicas.encode()),
                    (b"x-fovea-node", nodes.encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, reply)
        finally:
            _answered.reset(token)
