from __future__ import annotations

import numpy as np
import pytest

from fovea.core import Geometry, Mask
from fovea.tasks import DecodeContext
from fovea.tasks.segment import decode as decode_in_model_space

STRETCH = Geometry.fit((8, 4), (4, 4), "stretch")  # x scale 0.5, y scale 1


def decode(
    output: np.ndarray, kind: str, layout: str, geometry: Geometry, threshold: float
) -> Mask:
    """Decode, then map back to the image as the served model does."""
    context = DecodeContext(geometry.input_wh, output_layout=layout, mask_threshold=threshold)
    return geometry.to_image(decode_in_model_space({"output": output}, context, kind))


def test_argmax_nchw_resized_nearest_to_the_image() -> None:
    logits = np.zeros((3, 4, 4), np.float32)
    logits[2, :, 2:] = 1.0  # class 2 on the right half
    logits[1, 0, :2] = 1.0  # class 1 on the top-left row
    mask = decode(logits, "argmax", "NCHW", STRETCH, 0.5)
    assert mask.class_map_hw.shape == (4, 8)
    expected = np.zeros((4, 8), np.uint8)
    expected[:, 4:] = 2
    expected[0, :4] = 1
    np.testing.assert_array_equal(mask.class_map_hw, expected)
    assert mask.fractions().tolist() == pytest.approx([12 / 32, 4 / 32, 16 / 32])


def test_argmax_nhwc_is_the_same() -> None:
    logits = np.zeros((4, 4, 3), np.float32)
    logits[:, 2:, 2] = 1.0
    mask = decode(logits, "argmax", "NHWC", STRETCH, 0.5)
    assert (mask.class_map_hw[:, 4:] == 2).all()
    assert (mask.class_map_hw[:, :4] == 0).all()


@pytest.mark.parametrize(
    ("kind", "inside", "outside"), [("sigmoid", 5.0, -5.0), ("probability", 0.9, 0.1)]
)
def test_one_channel_thresholds(kind: str, inside: float, outside: float) -> None:
    values = np.full((1, 4, 4), outside, np.float32)
    values[0, 1:3, 1:3] = inside
    mask = decode(values, kind, "NCHW", Geometry.fit((4, 4), (4, 4), "stretch"), 0.5)
    assert mask.class_map_hw.tolist() == [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]


def test_one_channel_decoder_refuses_several_channels() -> None:
    with pytest.raises(ValueError, match="one channel"):
        decode(np.zeros((2, 4, 4), np.float32), "sigmoid", "NCHW", STRETCH, 0.5)
