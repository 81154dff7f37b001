"""FastAPI with a plain `def` endpoint: FastAPI runs it in its default threadpool (40 threads),
all sharing one ONNX Runtime session."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI, UploadFile
from fovea_peer import ROUTE, load_model, port_argument, predict

app = FastAPI()
served = load_model()


@app.post(ROUTE)
def predict_endpoint(files: UploadFile) -> dict[str, Any]:
    return predict(served, files.file.read(), files.filename or "image")


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=port_argument(), access_log=False)
