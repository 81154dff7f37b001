"""BentoML with its defaults: a `@bentoml.service` class whose sync `@bentoml.api` method takes
the upload as a file (BentoML reads multipart fields by parameter name). Defaults: one worker
process, one thread running the method."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bentoml
from fovea_peer import ROUTE, load_model, predict


# Access log off, as in `fovea serve`: the comparison is of serving, not of logging.
@bentoml.service(logging={"access": {"enabled": False}})
class Coco:
    def __init__(self) -> None:
        self.served = load_model()

    @bentoml.api(route=ROUTE)
    def predict(self, files: Path) -> dict[str, Any]:
        return predict(self.served, files.read_bytes(), files.name)
