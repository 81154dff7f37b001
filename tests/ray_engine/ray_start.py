"""`ray start` for a second node on this machine, on 127.0.0.1 (tests/ray_engine/cluster.py):
Ray refuses a worker node unless multi-node clusters are enabled, and then swaps 127.0.0.1 for
the machine's routable address (`resolve_ip_for_localhost`). Both are undone here, in this
process only; Ray's own CLI then runs with the arguments given."""

from __future__ import annotations

import sys

import ray._private.ray_constants as constants
import ray._private.services as services
from ray.scripts.scripts import main

constants.ENABLE_RAY_CLUSTER = True
services.resolve_ip_for_localhost = lambda host: host

if __name__ == "__main__":
    sys.argv[0] = "ray"
    main()  # type: ignore[no-untyped-call]
