"""The camera emulator answers the adapter's interface with a folder's images, in name order."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from fovea.inspection.camera import TAKE_PHOTO_PATH
from fovea.inspection.emulator import create_emulator
from tests.helpers import encode


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    # Two photos told apart by colour and size; a text file that is not an image.
    (tmp_path / "b.png").write_bytes(encode(Image.new("RGB", (40, 20), (0, 0, 255))))
    (tmp_path / "a.jpg").write_bytes(encode(Image.new("RGB", (80, 60), (255, 0, 0)), "JPEG"))
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


@pytest.fixture
def camera(folder: Path) -> Iterator[TestClient]:
    with TestClient(create_emulator(folder)) as client:
        yield client


def photo(camera: TestClient, path: str = TAKE_PHOTO_PATH, **query: str | float) -> Image.Image:
    response = camera.get(path, params=query)
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(response.content))
    assert response.headers["content-type"] == f"image/{image.format.lower()}"  # type: ignore[union-attr]
    return image


def test_photos_come_in_name_order_and_round_again(camera: TestClient) -> None:
    sizes = [photo(camera).size for _ in range(3)]
    assert sizes == [(80, 60), (40, 20), (80, 60)]
    assert photo(camera, "/basler/take-photo").size == (40, 20)  # newer adapters' path


def test_format_quality_and_colour_conversion(camera: TestClient) -> None:
    assert photo(camera, format="png").format == "PNG"
    assert photo(camera, format="jpeg", quality=10).format == "JPEG"
    assert photo(camera).format == "JPEG"  # the adapter's default
    swapped = photo(camera, format="png", convert_to_format="BGR")  # b.png, pure blue
    assert swapped.getpixel((10, 10)) == (255, 0, 0)  # blue came back in the red channel
    assert photo(camera, format="png", convert_to_format="Mono").mode == "L"


def test_crop_by_fraction_or_pixels_then_rotate(camera: TestClient) -> None:
    assert photo(camera, roi_left=0.5, roi_bottom=0.5).size == (40, 30)
    assert photo(camera, roi_left=10, roi_right=30).size == (20, 20)
    assert photo(camera, rotation_angle=90, rotation_expand=True).size == (60, 80)
    response = camera.get(TAKE_PHOTO_PATH, params={"roi_left": 0.8, "roi_right": 0.2})
    assert response.status_code == 422


def test_exposure_longer_than_the_timeout_gets_no_image(camera: TestClient) -> None:
    response = camera.get(
        TAKE_PHOTO_PATH, params={"exposure_time_microseconds": 400_000, "timeout_ms": 200}
    )
    assert response.status_code == 400
    assert response.json() == {"detail": "No image retrieved."}


def test_bad_parameters_are_422_and_unknown_ones_ignored(camera: TestClient) -> None:
    assert camera.get(TAKE_PHOTO_PATH, params={"quality": 1}).status_code == 422
    assert (
        camera.get(TAKE_PHOTO_PATH, params={"serial_number": 7, "whatever": 1}).status_code == 200
    )


def test_an_empty_folder_gets_no_image(tmp_path: Path) -> None:
    with TestClient(create_emulator(tmp_path)) as empty:
        assert empty.get(TAKE_PHOTO_PATH).status_code == 400
        assert empty.get("/basler/get-camera-info").json()["images"] == []


def test_camera_info_lists_the_images(camera: TestClient, folder: Path) -> None:
    info = camera.get("/basler/get-camera-info").json()
    assert info == {"emulated": True, "folder": str(folder), "images": ["a.jpg", "b.png"]}
