"""The annotator contract: `annotate(scene, result) -> a new image`, styles set in `__init__`.

Annotators compose by chaining (each one's output is the next one's scene), as supervision's do,
but never draw on the caller's image: one decoded image may feed the JSON and the picture.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from PIL import Image

from fovea.core import Classes, Detections, Heatmap, Mask

R_contra = TypeVar("R_contra", Detections, Classes, Mask, Heatmap, contravariant=True)


class Annotator(Protocol[R_contra]):
    def annotate(self, scene: Image.Image, result: R_contra) -> Image.Image: ...


def fresh(scene: Image.Image) -> Image.Image:
    """A copy to draw on, in RGB."""
    return scene.convert("RGB") if scene.mode != "RGB" else scene.copy()
