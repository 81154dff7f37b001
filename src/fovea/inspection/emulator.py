"""`fovea camera emulate DIR`: a stand-in for the Basler camera adapter that answers its REST
interface with the images of a folder, in name order and round again, for demos and tests.

It reads the adapter's query parameters (`TakePhotoParams`) and honours those that make sense
without a camera: format, quality, crop (roi_*), rotation, convert_to_format, and exposure as a
wait; an exposure longer than `timeout_ms` answers 400 as the adapter does when no frame came.
"""

from __future__ import annotations

import io
import itertools
import time
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, HTTPException, Query
from PIL import Image
from pydantic import ConfigDict
from starlette.responses import Response

from fovea.inspection.camera import TAKE_PHOTO_PATH, TakePhotoParams

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
# The adapter's defaults (DataModels.py) for what a request leaves out.
_DEFAULT_EXPOSURE_US, _DEFAULT_TIMEOUT_MS, _DEFAULT_QUALITY = 1000, 5000, 100


class EmulatedParams(TakePhotoParams):
    """As the adapter, parameters it does not know are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def folder_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def photo(path: Path, params: TakePhotoParams) -> tuple[bytes, str]:
    """The file as the adapter would answer it: cropped, rotated, converted, encoded."""
    with Image.open(path) as opened:
        image = opened.convert("L" if params.convert_to_format == "Mono" else "RGB")
    image = _crop(image, params)
    if params.rotation_angle:
        image = image.rotate(params.rotation_angle, expand=bool(params.rotation_expand))
    if params.convert_to_format == "BGR":
        red, green, blue = image.split()
        image = Image.merge("RGB", (blue, green, red))
    image_format = "jpeg" if params.format in (None, "jpg") else params.format
    buffer = io.BytesIO()
    image.save(buffer, format=image_format.upper(), quality=params.quality or _DEFAULT_QUALITY)
    return buffer.getvalue(), f"image/{image_format}"


def create_emulator(folder: Path) -> FastAPI:
    """The adapter's take-photo endpoint (both paths it has had) over the images in `folder`."""
    app = FastAPI(title="Fovea camera emulator", summary=f"Images from {folder}")
    turn = itertools.count()

    def take_photo(params: Annotated[EmulatedParams, Query()]) -> Response:
        exposure_s = (params.exposure_time_microseconds or _DEFAULT_EXPOSURE_US) / 1e6
        timeout_s = (params.timeout_ms or _DEFAULT_TIMEOUT_MS) / 1000
        time.sleep(min(exposure_s, timeout_s))  # a sync route: FastAPI runs it in a thread
        images = folder_images(folder) if folder.is_dir() else []
        if exposure_s > timeout_s or not images:
            raise HTTPException(400, "No image retrieved.")
        body, media_type = photo(images[next(turn) % len(images)], params)
        return Response(body, media_type=media_type)

    app.get(TAKE_PHOTO_PATH, summary="Take a photo (the next image of the folder)")(take_photo)
    app.get("/basler/take-photo", summary="Take a photo (newer adapters' path)")(take_photo)

    @app.get("/basler/get-camera-info", summary="What this emulated camera serves")
    def camera_info() -> dict[str, object]:
        images = folder_images(folder) if folder.is_dir() else []
        return {"emulated": True, "folder": str(folder), "images": [p.name for p in images]}

    return app


def _crop(image: Image.Image, params: TakePhotoParams) -> Image.Image:
    """The adapter's ROI: each edge a fraction of the size when <= 1, else pixels."""
    width, height = image.size
    left, top = _edge(params.roi_left, 0, width), _edge(params.roi_top, 0, height)
    right, bottom = _edge(params.roi_right, 1, width), _edge(params.roi_bottom, 1, height)
    if (left, top, right, bottom) == (0, 0, width, height):
        return image
    if right <= left or bottom <= top:
        raise HTTPException(422, f"the crop {[left, top, right, bottom]} leaves no image")
    return image.crop((left, top, right, bottom))


def _edge(value: float | None, default: float, size: int) -> int:
    value = default if value is None else value
    return round(value * size if value <= 1 else value)
