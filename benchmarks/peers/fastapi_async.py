"""FastAPI as the tutorials write it: an `async def` endpoint that runs the model directly, on the
event loop, so one request is served at a time."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI, UploadFile
from fovea_peer import ROUTE, load_model, port_argument, predict

app = FastAPI()
served = load_model()


@app.post(ROUTE)
async def predict_endpoint(files: UploadFile) -> dict[str, Any]:
    data = await files.read()
    return predict(served, data, files.filename or "image")


if __name__ == "__main__":
    # Access logs off, as in `fovea serve`: the comparison is of serving, not of logging.
    uvicorn.run(app, host="127.0.0.1", port=port_argument(), access_log=False)
