"""The inspection overlay: expected boxes dashed, found ones solid, coloured by status, built
from an inspection answer by `overlay_of`."""

from __future__ import annotations

import numpy as np
from PIL import Image

from fovea.core import Detections
from fovea.vision.annotators import STATUS_COLOURS, InspectionAnnotator
from fovea.wire.inspection import Extra, InspectResponse, InspectTiming, Position, overlay_of

GREY = (128, 128, 128)


def answer(positions: list[Position], extras: list[Extra]) -> InspectResponse:
    return InspectResponse(
        id="x",
        time="t",
        source="upload",
        image_id="a.jpg",
        model="m",
        version="1",
        pattern="p",
        decision="NOK",
        errors=1,
        total_offset=0.0,
        width=200,
        height=100,
        positions=positions,
        extras=extras,
        candidates=[],
        timing=InspectTiming(),
    )


ANSWER = answer(
    [
        Position(index=0, label="chip", status="missing", expected=[0.25, 0.5, 0.2, 0.4]),
        Position(
            index=1,
            label="screw",
            status="misplaced",
            expected=[0.6, 0.5, 0.1, 0.2],
            found=[0.7, 0.5, 0.1, 0.2],
            score=0.9,
        ),
    ],
    [
        Extra(label="cap", score=0.5, box=[0.9, 0.8, 0.1, 0.2]),
        Extra(label="clip", score=0.4, box=[0.1, 0.1, 0.1, 0.1], counted=True),
    ],
)


def test_overlay_of_gives_each_box_in_pixels_with_kind_status_and_tag() -> None:
    overlay = overlay_of(ANSWER)
    assert overlay.xyxy.tolist() == [
        [30.0, 30.0, 70.0, 70.0],  # the missing chip's expected box
        [110.0, 40.0, 130.0, 60.0],  # the screw's expected box
        [130.0, 40.0, 150.0, 60.0],  # where it was found
        [170.0, 70.0, 190.0, 90.0],  # the extra cap
        [10.0, 5.0, 30.0, 15.0],  # a counted clip
    ]
    assert list(overlay.data["kind"]) == ["expected", "expected", "found", "found", "found"]
    assert list(overlay.data["status"]) == ["missing", "misplaced", "misplaced", "extra", "counted"]
    assert list(overlay.data["tag"]) == [
        "chip missing",
        "",
        "screw misplaced",
        "cap extra",
        "clip counted",
    ]
    assert overlay.class_name == ["chip", "screw", "screw", "cap", "clip"]
    assert len(overlay_of(answer([], []))) == 0


def test_expected_boxes_are_dashed_and_found_boxes_solid_in_the_status_colour() -> None:
    scene = Image.new("RGB", (200, 100), GREY)
    out = np.asarray(InspectionAnnotator(thickness=1).annotate(scene, overlay_of(ANSWER)))
    missing, misplaced = STATUS_COLOURS["missing"], STATUS_COLOURS["misplaced"]
    left_edge = [tuple(p) for p in out[30:71, 30]]  # the missing chip's dashed left edge
    assert left_edge.count(missing) >= 15
    assert left_edge.count(GREY) >= 8  # the gaps
    found_edge = [tuple(p) for p in out[40:61, 130]]  # the screw's found box: solid
    assert found_edge.count(misplaced) == len(found_edge)
    assert tuple(out[50, 180]) == GREY  # inside the extra cap
    assert (out[70:91, 190] == STATUS_COLOURS["extra"]).all(axis=-1).sum() > 15
    assert scene.getpixel((30, 50)) == GREY  # the caller's image is untouched


def test_a_tag_near_the_right_edge_stays_inside_the_image() -> None:
    dets = Detections.build([[190, 50, 199, 60]], [1.0], [0], ("a-long-label",))
    dets = dets.replace(
        data={
            "kind": np.array(["found"], dtype=object),
            "status": np.array(["found"], dtype=object),
            "tag": np.array(["a-long-label found"], dtype=object),
        }
    )
    out = np.asarray(InspectionAnnotator().annotate(Image.new("RGB", (200, 100), GREY), dets))
    assert (out[30:50, 100:190] == STATUS_COLOURS["found"]).all(axis=-1).any()


def test_plain_detections_draw_as_found_boxes() -> None:
    dets = Detections.build([[20, 20, 60, 60]], [1.0], [0], ("a",))
    out = InspectionAnnotator(thickness=2).annotate(Image.new("RGB", (100, 100), GREY), dets)
    assert out.getpixel((20, 40)) == STATUS_COLOURS["found"]
