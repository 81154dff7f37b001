"""`fovea serve --engine ray`: connect to a Ray cluster (or start a one-machine Ray on loopback),
start Serve's HTTP proxies on the settings' host and port, deploy the application, serve until
SIGINT or SIGTERM, then take the application down (and the one-machine Ray with it)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fovea.config import Settings
from fovea.errors import ModelConfigError

log = logging.getLogger("fovea.ray")
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class RayOptions:
    """How the application is laid out: fixed `replicas` per model, or `autoscale` (min, max)
    on ongoing requests; the CPUs each model replica reserves (one per core is Ray's
    unit); which models get a deployment (default: every enabled one)."""

    replicas: int = 1
    autoscale: tuple[int, int] | None = None
    replica_cpus: float = 1.0
    models: tuple[str, ...] = ()
    ingress_replicas: int = 1
    # Per replica: requests Serve hands one model replica at once (its batcher groups them),
    # and the average it aims at when autoscaling.
    max_ongoing_requests: int = 16
    target_ongoing_requests: float = 4.0

    def model_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "max_ongoing_requests": self.max_ongoing_requests,
            "ray_actor_options": {"num_cpus": self.replica_cpus},
        }
        if self.autoscale is None:
            config["num_replicas"] = self.replicas
        else:
            low, high = self.autoscale
            config["autoscaling_config"] = {
                "min_replicas": low,
                "max_replicas": high,
                "target_ongoing_requests": self.target_ongoing_requests,
                # Seconds, not Serve's defaults of 10/30/600: a burst of images is short.
                "metrics_interval_s": 2.0,
                "look_back_period_s": 10.0,
                "upscale_delay_s": 5.0,
                "downscale_delay_s": 60.0,
            }
        return config


def parse_autoscale(text: str | None) -> tuple[int, int] | None:
    """ "MIN,MAX" (1 <= MIN <= MAX), or None."""
    if text is None:
        return None
    try:
        low, high = (int(part) for part in text.split(","))
    except ValueError as exc:
        raise ModelConfigError(f"--autoscale takes MIN,MAX (two integers), not {text!r}") from exc
    if not 0 <= low <= high or high < 1:
        raise ModelConfigError(f"--autoscale {text}: need 0 <= MIN <= MAX and MAX >= 1")
    return low, high


def connect(address: str | None) -> bool:
    """Join the cluster at `address` ("auto", "HOST:PORT" or "ray://HOST:PORT"); without one,
    start a private one-machine Ray whose every server listens on 127.0.0.1. True when this
    process started the Ray it is connected to."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not address or _is_loopback(address):
        loopback_only()
    import ray

    if address:
        ray.init(address=address, log_to_driver=False)
        return False
    ray.init(
        address="local",
        _node_ip_address="127.0.0.1",
        include_dashboard=False,
        log_to_driver=False,
    )
    return True


def _is_loopback(address: str) -> bool:
    """A cluster on this machine's loopback (127.0.0.1:PORT, localhost:PORT)."""
    host = address.removeprefix("ray://").rsplit(":", 1)[0]
    return host in ("127.0.0.1", "localhost")


def loopback_only() -> None:
    """Make the Ray this process starts (or joins) a one on 127.0.0.1. Ray otherwise swaps
    127.0.0.1 for the machine's routable address (`resolve_ip_for_localhost`), read once from
    RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER when Ray is imported; the processes it starts inherit
    the variable."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:  # imported already (tests): the flag is read from here
        constants.ENABLE_RAY_CLUSTER = False  # type: ignore[attr-defined]


def cluster_cpus() -> float:
    """CPUs of the connected cluster."""
    import ray

    return float(ray.cluster_resources().get("CPU", 0))  # type: ignore[no-untyped-call]


def alive_nodes() -> list[dict[str, Any]]:
    """The connected cluster's live nodes, as `ray.nodes()` describes them."""
    import ray

    nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
    return [node for node in nodes if node.get("Alive")]


def serve_forever(settings: Settings, options: RayOptions, address: str | None) -> None:
    """Deploy and serve until a signal; the caller's process is the Serve driver."""
    started_ray = connect(address)
    import ray
    from ray import serve

    from fovea.engines.ray.deployments import APP_NAME, application, cpus_needed

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        total = cluster_cpus()
        needed = cpus_needed(settings, options)
        if needed > total:
            raise ModelConfigError(
                f"the model replicas need {needed:g} CPUs and the cluster has {total:g}: "
                "add nodes, or lower --replicas, --replica-cpus or the models (--models)"
            )
        serve.start(
            http_options={"host": settings.host, "port": settings.port},
            proxy_location="EveryNode",
            logging_config={"enable_access_log": False},
        )
        serve.run(
            application(settings, options),
            name=APP_NAME,
            route_prefix="/",
            logging_config={"enable_access_log": False},
        )
        log.info("Fovea on Ray Serve: http://%s:%d", settings.host, settings.port)
        print(f"Fovea on Ray Serve: http://{settings.host}:{settings.port}", flush=True)
        for node in alive_nodes():  # Ray's metrics, Fovea's replica metrics among them
            if node.get("MetricsExportPort"):
                address = f"{node['NodeManagerAddress']}:{node['MetricsExportPort']}"
                print(f"Ray metrics: http://{address}/metrics", flush=True)
        while not stop.wait(0.5):
            pass
        # Bounded: a Ray whose processes took the signal too (Ctrl-C reaches the whole
        # process group) cannot answer, and stopping must not hang on it.
        log.info("stopping: deleting application %s", APP_NAME)
        _bounded(lambda: serve.delete(APP_NAME), STOP_TIMEOUT_S)
        if started_ray:
            _bounded(serve.shutdown, STOP_TIMEOUT_S)
    finally:
        ray.shutdown()


def _bounded(call: Callable[[], object], timeout_s: float) -> None:
    """Run `call` in a daemon thread; give up waiting for it after `timeout_s`."""

    def run() -> None:
        try:
            call()
        except Exception as exc:
            log.warning("while stopping: %s", exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout_s)
