"""What every peer shares with Fovea: the bundled `coco` model loaded through Fovea's own code
(same ONNX session options, same decode, preprocessing and postprocessing) and the same JSON
answer as Fovea's `POST /v1/models/coco/predict`. Only the serving around it differs.
"""

from __future__ import annotations

import argparse
from typing import Any

from fovea.config import Settings
from fovea.core import Params
from fovea.models import BUNDLED, Prediction, Repository, ServedModel
from fovea.vision import Limits, load_image
from fovea.wire import PredictResponse, output_of

MODEL = "coco"
ROUTE = f"/v1/models/{MODEL}/predict"
FIELD = "files"  # the multipart field Fovea reads, and `fovea.bench.load.run_load` sends


def load_model() -> ServedModel:
    """The bundled `coco` model, as `fovea serve` loads it: session options from its settings."""
    repository = Repository(BUNDLED, Settings().runtime)
    repository.scan()
    repository.load_all(only=MODEL)
    return repository.get(MODEL)


def predict(served: ServedModel, data: bytes, name: str = "image") -> dict[str, Any]:
    """Decode, preprocess, infer and postprocess one image; Fovea's response body as a dict."""
    return answer(served, name, served.predict(data))


def predict_batch(served: ServedModel, images: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    """The same for several images, with one `infer` call for all of them (batching peers)."""
    context = served.context(Params())
    prepared = [
        served.prepare(load_image(data, Limits(), draft_wh=served.input_wh)) for _, data in images
    ]
    outputs = served.infer([p.tensor for p in prepared])
    return [
        answer(served, name, served.complete(p, out, context))
        for (name, _), p, out in zip(images, prepared, outputs, strict=True)
    ]


def answer(served: ServedModel, name: str, prediction: Prediction) -> dict[str, Any]:
    body = PredictResponse(
        model=served.name,
        version=served.version,
        task=served.spec.task,
        outputs=[output_of(name, prediction.result, prediction.size_wh, prediction.timing_ms)],
    )
    return body.model_dump(mode="json", exclude_none=True)


def port_argument() -> int:
    """`--port N` from the command line: the runner picks a free loopback port."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    return int(parser.parse_args().port)
