"""Ray Serve the way its docs serve a model over HTTP: a deployment with a FastAPI ingress and a
plain `def` route (run in the replica's threadpool, at most 5 requests at once per replica by
Ray's default), on a local Ray instance with the machine's cores. `--replicas 2` runs two copies
of the model in two replica processes.

No `from __future__ import annotations`: Ray's ingress would then not see `files` as an upload.
"""

import argparse
import os
import signal
from typing import Any

# Ray takes the node's routable address unless told this is a one-machine "cluster"; with the
# loopback address its gRPC servers, dashboard and agents listen on 127.0.0.1 only.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import ray
from fastapi import FastAPI, UploadFile
from fovea_peer import ROUTE, load_model, predict
from ray import serve

app = FastAPI()


def _bind_replica_grpc_to_loopback() -> None:
    """Ray Serve binds each replica's inter-deployment gRPC server to every interface (`[::]:0`
    is hard-coded in ray/serve/_private/replica.py, started after `__init__`): loopback instead.
    """
    from ray.serve._private import replica

    bind = replica.add_port_to_grpc_server

    def loopback(server: Any, address: str) -> int:
        return int(bind(server, address.replace("[::]", "127.0.0.1")))

    replica.add_port_to_grpc_server = loopback


@serve.deployment
@serve.ingress(app)
class Coco:
    def __init__(self) -> None:
        _bind_replica_grpc_to_loopback()
        self.served = load_model()

    @app.post(ROUTE)
    def predict(self, files: UploadFile) -> dict[str, Any]:
        return predict(self.served, files.file.read(), files.filename or "image")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--replicas", type=int, default=1)
    args = parser.parse_args()
    # A fresh local instance without the dashboard UI; access logs off as in `fovea serve`.
    ray.init(address="local", include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": args.port})
    serve.run(
        Coco.options(num_replicas=args.replicas).bind(),
        route_prefix="/",
        logging_config={"enable_access_log": False},
    )
    signal.sigwait({signal.SIGINT, signal.SIGTERM})  # serve until the runner's SIGTERM
    serve.shutdown()


if __name__ == "__main__":
    main()
