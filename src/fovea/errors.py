"""Fovea's errors. No web imports here: `api/errors.py` turns them into RFC 9457 problem+json.

FoveaError
├── InputError (also ValueError)      the request's content is wrong: a 4xx
│   ├── ImageDecodeError              422 image-decode
│   ├── UnsupportedMediaType          415 unsupported-media-type
│   ├── PayloadTooLarge               413 payload-too-large
│   ├── TooManyPixels                 413 too-many-pixels
│   ├── TooManyImages                 413 too-many-images
│   ├── RequestTooLarge               413 request-too-large
│   ├── InvalidBase64                 400 invalid-base64
│   ├── InvalidRequest                400 invalid-request
│   ├── InvalidParameter              422 invalid-parameter
│   ├── URLRefused                    400 url-refused
│   ├── URLFetchFailed                422 url-fetch-failed
│   ├── InvalidPattern                422 invalid-pattern
│   ├── VideoDecodeError              422 video-decode
│   ├── VideoTooLong                  413 video-too-long
│   ├── FolderRefused                 403 folder-refused
│   └── ArchiveRefused                400 archive-refused
├── Unauthorized                      401 unauthorized
├── RateLimited                       429 rate-limited
├── ModelNotFound                     404 model-not-found
├── JobNotFound                       404 job-not-found
├── ModelUnavailable                  503 model-unavailable
├── Overloaded                        503 overloaded
├── ShuttingDown                      503 shutting-down
├── PatternNotFound                   404 pattern-not-found
├── InspectionNotFound                404 inspection-not-found
├── CameraNotConfigured               503 camera-not-configured
├── CameraUnavailable                 502 camera-unavailable
├── CameraTimeout                     504 camera-timeout
├── ExtraNotInstalled                 501 extra-not-installed
├── BackendUnavailable                503 backend-unavailable
├── BackendError                      502 backend-error
├── VideoUnavailable                  501 video-unavailable
├── ModelConfigError (also ValueError) a broken model.toml or ONNX file, found at load time
└── ModelImportError (also ValueError) `fovea models import` cannot take a checkpoint
"""

from __future__ import annotations

from typing import ClassVar


class FoveaError(Exception):
    """Base of every error Fovea raises on purpose."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"
    retry_after_s: int | None = None  # seconds for Retry-After; one error may set its own

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InputError(FoveaError, ValueError):
    """The request's content is wrong; the client should change it."""

    status = 400
    type = "invalid-input"
    title = "Invalid input"


class ImageDecodeError(InputError):
    """The bytes are not an image Fovea can decode."""

    status = 422
    type = "image-decode"
    title = "Image could not be decoded"


class UnsupportedMediaType(InputError):
    """The request body or an input is of a media type Fovea does not take."""

    status = 415
    type = "unsupported-media-type"
    title = "Unsupported media type"


class PayloadTooLarge(InputError):
    """An image or a request body is larger than the configured byte limit."""

    status = 413
    type = "payload-too-large"
    title = "Payload too large"


class TooManyPixels(InputError):
    """An image has more pixels than the configured limit (decompression bomb guard)."""

    status = 413
    type = "too-many-pixels"
    title = "Image has too many pixels"


class TooManyImages(InputError):
    """A request carries more images than the configured limit."""

    status = 413
    type = "too-many-images"
    title = "Too many images in one request"


class InvalidBase64(InputError):
    """An `image` field is not valid base64 or a base64 data URI."""

    status = 400
    type = "invalid-base64"
    title = "Invalid base64 image"


class InvalidRequest(InputError):
    """The request body is malformed: no inputs, bad JSON, missing fields."""

    status = 400
    type = "invalid-request"
    title = "Invalid request"


class InvalidParameter(InputError):
    """A parameter is out of range or names something that does not exist."""

    status = 422
    type = "invalid-parameter"
    title = "Invalid parameter"


class URLRefused(InputError):
    """A URL input is not allowed: bad scheme, or a private address not allow-listed."""

    status = 400
    type = "url-refused"
    title = "URL refused"


class URLFetchFailed(InputError):
    """A URL input could not be fetched: network error, timeout, bad status or too large."""

    status = 422
    type = "url-fetch-failed"
    title = "URL could not be fetched"


class VideoDecodeError(InputError):
    """The bytes are not a video PyAV can read, have no video stream, or break off halfway."""

    status = 422
    type = "video-decode"
    title = "Video could not be decoded"


class VideoTooLong(InputError):
    """The part of a video to process is longer than FOVEA_VIDEO_MAX_DURATION_S."""

    status = 413
    type = "video-too-long"
    title = "Video too long"


class VideoUnavailable(FoveaError):
    """This installation lacks the `video` extra (PyAV, the tracker)."""

    status = 501
    type = "video-unavailable"
    title = "Video support not installed"


class FolderRefused(InputError):
    """A job's folder is not under an allowed root (FOVEA_JOBS_ROOTS), or escapes one."""

    status = 403
    type = "folder-refused"
    title = "Folder refused"


class ArchiveRefused(InputError):
    """An uploaded zip is not a zip, unpacks too large, or names paths outside itself."""

    status = 400
    type = "archive-refused"
    title = "Archive refused"


class JobNotFound(FoveaError):
    """No batch job with this id."""

    status = 404
    type = "job-not-found"
    title = "Job not found"


class Unauthorized(FoveaError):
    """No API key, or one that is not valid, where the server needs one."""

    status = 401
    type = "unauthorized"
    title = "Unauthorized"


class RateLimited(FoveaError):
    """Too many requests from one key or client: retry after the given time."""

    status = 429
    type = "rate-limited"
    title = "Too many requests"
    retry_after_s = 1  # each error sets its own from the client's bucket


class RequestTooLarge(InputError):
    """The whole request body is larger than the configured limit."""

    status = 413
    type = "request-too-large"
    title = "Request body too large"


class ShuttingDown(FoveaError):
    """The server is draining before it stops: send the request elsewhere."""

    status = 503
    type = "shutting-down"
    title = "Server shutting down"
    retry_after_s = 1


class ModelNotFound(FoveaError):
    """No model (or no such version of it) in the repository."""

    status = 404
    type = "model-not-found"
    title = "Model not found"


class ModelUnavailable(FoveaError):
    """The model exists but failed to load, or is not loaded yet."""

    status = 503
    type = "model-unavailable"
    title = "Model unavailable"
    retry_after_s = 5


class Overloaded(FoveaError):
    """The model's queue is full: retry later."""

    status = 503
    type = "overloaded"
    title = "Server overloaded"
    retry_after_s = 1


class BackendUnavailable(FoveaError):
    """A model's remote backend cannot be reached, times out, or is refusing work for now."""

    status = 503
    type = "backend-unavailable"
    title = "Backend unavailable"
    retry_after_s = 5


class BackendError(FoveaError):
    """A model's remote backend answered with an error or with something that is not an answer."""

    status = 502
    type = "backend-error"
    title = "Backend error"


class ModelConfigError(FoveaError, ValueError):
    """A model.toml or ONNX file is broken; the model is reported as failed."""

    type = "model-config"
    title = "Model configuration error"


class InvalidPattern(InputError):
    """An inspection pattern is not valid TOML, or breaks the pattern schema."""

    status = 422
    type = "invalid-pattern"
    title = "Invalid inspection pattern"


class PatternNotFound(FoveaError):
    """No inspection pattern of that name (or none for that model)."""

    status = 404
    type = "pattern-not-found"
    title = "Pattern not found"


class InspectionNotFound(FoveaError):
    """No inspection record of that id (it may have passed the retention limit)."""

    status = 404
    type = "inspection-not-found"
    title = "Inspection not found"


class CameraNotConfigured(FoveaError):
    """A camera trigger, but FOVEA_CAMERA_URL is not set."""

    status = 503
    type = "camera-not-configured"
    title = "No camera configured"


class CameraUnavailable(FoveaError):
    """The camera could not be reached, answered an error, or sent something not an image."""

    status = 502
    type = "camera-unavailable"
    title = "Camera unavailable"


class CameraTimeout(FoveaError):
    """The camera did not deliver a photo within FOVEA_CAMERA_TIMEOUT_S."""

    status = 504
    type = "camera-timeout"
    title = "Camera timed out"


class ExtraNotInstalled(FoveaError):
    """The feature needs an optional extra that this installation lacks."""

    status = 501
    type = "extra-not-installed"
    title = "Optional extra not installed"


class ModelImportError(FoveaError, ValueError):
    """A checkpoint cannot be imported into a repository; the detail says what was expected."""

    type = "model-import"
    title = "Model import failed"


PROBLEM_TYPES: tuple[type[FoveaError], ...] = (
    InvalidRequest,
    InvalidParameter,
    InvalidBase64,
    ImageDecodeError,
    UnsupportedMediaType,
    PayloadTooLarge,
    TooManyPixels,
    TooManyImages,
    URLRefused,
    URLFetchFailed,
    VideoDecodeError,
    VideoTooLong,
    VideoUnavailable,
    FolderRefused,
    ArchiveRefused,
    JobNotFound,
    RequestTooLarge,
    Unauthorized,
    RateLimited,
    ModelNotFound,
    ModelUnavailable,
    Overloaded,
    ShuttingDown,
    InvalidPattern,
    PatternNotFound,
    InspectionNotFound,
    CameraNotConfigured,
    CameraUnavailable,
    CameraTimeout,
    ExtraNotInstalled,
    BackendUnavailable,
    BackendError,
)
