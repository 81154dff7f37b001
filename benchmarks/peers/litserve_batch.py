"""LitServe with dynamic batching: up to 8 requests (waiting at most 10 ms) per `predict` call,
one `infer` call for the batch."""

from typing import Any

from fovea_peer import ROUTE, predict_batch
from litserve_app import CocoAPI, serve


class BatchedCocoAPI(CocoAPI):
    def predict(self, x: list[tuple[str, bytes]]) -> list[dict[str, Any]]:  # type: ignore[override]
        return predict_batch(self.served, x)


if __name__ == "__main__":
    serve(BatchedCocoAPI(api_path=ROUTE, max_batch_size=8, batch_timeout=0.01))
