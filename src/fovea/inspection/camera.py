"""A client of the Basler camera adapter's REST interface (github.com/max-scw/BaslerCameraAdapter,
v0.4.x): `GET /basler/single-frame-acquisition/take-photo?<query>` answers the photo's bytes.
Any failure becomes CameraUnavailable (502) or CameraTimeout (504) within the deadline.

The query parameters and their bounds are the adapter's (its `DataModels.py`:
BaslerCameraSettings, ImageParams and PhotoParams); `TakePhotoParams` defines them once for this
client and for the emulator. None leaves the adapter's own default.
"""

from __future__ import annotations

import io
import urllib.parse
from dataclasses import dataclass, field
from typing import Annotated, Literal

import anyio
import httpx
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fovea.errors import CameraTimeout, CameraUnavailable

TAKE_PHOTO_PATH = "/basler/single-frame-acquisition/take-photo"
_NAME = Annotated[str, Field(max_length=64, pattern=r"^[A-Za-z0-9_]+$")]


class TakePhotoParams(BaseModel):
    """The adapter's query parameters for one photo."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # which camera, and how it sends (BaslerCameraSettings)
    serial_number: int | None = Field(None, description="The camera's serial number.")
    ip_address: str | None = Field(None, max_length=64, description="A GigE camera's address.")
    subnet_mask: str | None = Field(None, max_length=64)
    transmission_type: Literal["Unicast", "Multicast", "Broadcast"] | None = None
    destination_ip_address: str | None = Field(None, max_length=64)
    destination_port: Annotated[int, Field(ge=26, le=65535)] | None = None
    convert_to_format: Literal["RGB", "BGR", "Mono", "null"] | None = None
    pixel_format: _NAME | None = Field(None, description="A pylon pixel type, e.g. Mono8.")
    timeout_ms: Annotated[int, Field(ge=200)] | None = Field(
        None, description="How long the adapter waits for the camera's frame (adapter: 5000)."
    )
    # the photo (PhotoParams)
    exposure_time_microseconds: Annotated[int, Field(ge=500)] | None = Field(
        None, description="Exposure time (adapter: 1000)."
    )
    emulate_camera: bool | None = Field(None, description="The adapter's test picture instead.")
    # the image it answers (ImageParams)
    format: Literal["jpeg", "jpg", "png", "bmp", "tiff", "webp"] | None = Field(
        None, description="Encoding of the answer (adapter: jpeg)."
    )
    quality: Annotated[int, Field(ge=10, le=100)] | None = Field(None, description="JPEG quality.")
    rotation_angle: float | None = Field(None, description="Degrees, counter-clockwise.")
    rotation_expand: bool | None = None
    roi_left: Annotated[float, Field(ge=0)] | None = Field(
        None, description="Crop: a fraction of the width (<= 1) or pixels."
    )
    roi_top: Annotated[float, Field(ge=0)] | None = None
    roi_right: Annotated[float, Field(ge=0)] | None = None
    roi_bottom: Annotated[float, Field(ge=0)] | None = None

    @classmethod
    def from_query(cls, query: str) -> TakePhotoParams:
        """From `exposure_time_microseconds=20000&format=png`; ValueError says what is wrong."""
        try:
            pairs = urllib.parse.parse_qsl(query, keep_blank_values=True, strict_parsing=True)
        except ValueError as exc:
            raise ValueError(f"not a query string (a=1&b=2): {query!r}") from exc
        try:
            return cls.model_validate(dict(pairs))
        except ValidationError as exc:
            wrong = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: "
                + ("unknown parameter" if e["type"] == "extra_forbidden" else e["msg"])
                for e in exc.errors(include_url=False)
            )
            raise ValueError(f"camera parameters: {wrong}") from exc

    def merged(self, override: TakePhotoParams | None) -> TakePhotoParams:
        if override is None:
            return self
        return self.model_copy(update=override.model_dump(exclude_none=True))

    def query(self) -> dict[str, str]:
        """The parameters given, as the adapter reads them (booleans as true/false)."""
        return {
            key: str(value).lower() if isinstance(value, bool) else str(value)
            for key, value in self.model_dump(exclude_none=True).items()
        }


@dataclass(frozen=True)
class CameraConfig:
    """Where the adapter is, what to ask it, and how long a photo may take in all."""

    url: str
    params: TakePhotoParams = field(default_factory=TakePhotoParams)
    timeout_s: float = 10.0
    max_bytes: int = 20 * 1024 * 1024

    @classmethod
    def build(
        cls, url: str, params: TakePhotoParams, timeout_s: float, max_bytes: int
    ) -> CameraConfig:
        """A base URL (`http://host:5051`) gets the adapter's take-photo path; a URL with a path
        is used as it is (newer adapters answer at /basler/take-photo)."""
        parts = urllib.parse.urlsplit(url)
        if parts.path in ("", "/"):
            url = url.rstrip("/") + TAKE_PHOTO_PATH
        return cls(url, params, timeout_s, max_bytes)


async def take_photo(
    config: CameraConfig,
    override: TakePhotoParams | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> bytes:
    """One photo's encoded bytes, or CameraUnavailable / CameraTimeout within `timeout_s`."""
    query = config.params.merged(override).query()
    # httpx bounds each read; the deadline bounds the whole, a camera that trickles included.
    timeout = httpx.Timeout(config.timeout_s, connect=min(config.timeout_s, 3.0))
    try:
        with anyio.fail_after(config.timeout_s):
            async with httpx.AsyncClient(
                timeout=timeout, trust_env=False, follow_redirects=False, transport=transport
            ) as http:
                data = await _get(http, config, query)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise CameraTimeout(
            f"the camera at {config.url} sent no photo within {config.timeout_s:g} s "
            "(FOVEA_CAMERA_TIMEOUT_S)"
        ) from exc
    except httpx.HTTPError as exc:
        raise CameraUnavailable(
            f"cannot reach the camera at {config.url}: {type(exc).__name__}: {exc}"
        ) from exc
    _check_image(data, config.url)
    return data


async def _get(http: httpx.AsyncClient, config: CameraConfig, query: dict[str, str]) -> bytes:
    async with http.stream("GET", config.url, params=query) as response:
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > config.max_bytes:
                raise CameraUnavailable(
                    f"the camera's answer is over {config.max_bytes} bytes (FOVEA_MAX_IMAGE_BYTES)"
                )
        if response.status_code != 200:
            text = body[:300].decode("utf-8", "replace").strip()
            raise CameraUnavailable(
                f"the camera at {config.url} answered {response.status_code}: {text or 'no body'}"
            )
        return bytes(body)


def _check_image(data: bytes, url: str) -> None:
    """Only the header is read: enough to tell a photo from an HTML page or an error text."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.size  # noqa: B018 - opening parses the header; the size proves it did
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        start = data[:40]
        raise CameraUnavailable(
            f"the camera at {url} answered {len(data)} bytes that are not an image "
            f"(they start {start!r})"
        ) from exc
