"""LitServe with its defaults: one inference worker process fed through a queue by the uvicorn
API process (`LitServer(api).run()`), one request per `predict` call."""

from typing import Any

import litserve as ls
from fovea_peer import FIELD, ROUTE, load_model, port_argument, predict


class CocoAPI(ls.LitAPI):
    def setup(self, device: str) -> None:
        self.served = load_model()

    # Unannotated, as in LitServe's docs: the handler then hands over the parsed multipart form.
    def decode_request(self, request):
        upload = request[FIELD]
        return upload.filename or "image", upload.file.read()

    def predict(self, x: tuple[str, bytes]) -> dict[str, Any]:
        name, data = x
        return predict(self.served, data, name)

    def encode_response(self, output: dict[str, Any]) -> dict[str, Any]:
        return output


def serve(api: ls.LitAPI) -> None:
    server = ls.LitServer(api, accelerator="cpu")
    # Loopback only, no client.py written into the working folder, no access log.
    server.run(host="127.0.0.1", port=port_argument(), generate_client_file=False, access_log=False)


if __name__ == "__main__":
    serve(CocoAPI(api_path=ROUTE))
