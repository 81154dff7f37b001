"""The JSON contract of explanations, and heatmaps to and from it. A heatmap travels as an 8-bit
grayscale PNG at the image's size (pixel / 255 = heat) plus a coarse grid of numbers to read."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from fovea.core import ExplainParams, Heatmap
from fovea.wire._schemas import InputItem

GRID_CELLS = 32  # the coarse grid's longer side, in cells


class HeatmapOut(BaseModel):
    png: str = Field(
        description="Base64 8-bit grayscale PNG at the image's size; heat = pixel/255."
    )
    width: int
    height: int
    grid: list[list[float]] = Field(
        description="The heatmap averaged over at most 32 cells a side: rows top to bottom, 0..1."
    )


class ExplainRequest(BaseModel):
    """One image, and the parameters of its explanation."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "inputs": [{"url": "https://example.org/cat.jpg"}],
                    "params": {"method": "rise", "masks": 128},
                }
            ]
        },
    )

    inputs: list[InputItem] = Field(min_length=1, description="Exactly one image.")
    params: ExplainParams = ExplainParams()


class ExplainResponse(BaseModel):
    """Where the model looked for one answer: a class (and, for detectors, a box)."""

    model: str
    version: str
    task: str
    method: str
    label: str
    class_id: int
    score: float = Field(description="The class's score (detectors: the box's) on the image.")
    box: list[float] | None = Field(None, description="Detectors: x1, y1, x2, y2 explained.")
    evaluations: int = Field(description="Perturbed images run through the model.")
    width: int
    height: int
    heatmap: HeatmapOut
    timing: dict[str, float] = Field(description="Milliseconds: base run, sweep, total.")

    def result(self) -> Heatmap:
        """The heatmap as Fovea's result type (as the PNG carries it: 256 levels)."""
        return heatmap_of(self.heatmap, self.class_id, self.label, self.score)


class Base64ExplainRequest(BaseModel):
    """The original containerised classification API's request: one base64 image."""

    model_config = ConfigDict(extra="forbid")

    img: str = Field(description="Base64 image bytes, or a data: URI.")


class Base64ExplainResponse(BaseModel):
    """The original API's answer: the class, and the heatmap over the image as base64."""

    label: str
    class_id: int
    score: float
    method: str
    heatmap: str = Field(description="Base64 PNG (or JPEG) of the heatmap over the image.")


def heatmap_out(heatmap: Heatmap, cells: int = GRID_CELLS) -> HeatmapOut:
    values = np.clip(np.nan_to_num(heatmap.values_hw), 0.0, 1.0)
    height, width = values.shape
    buffer = io.BytesIO()
    Image.fromarray(np.rint(values * 255).astype(np.uint8)).save(buffer, format="PNG")
    scale = min(1.0, cells / max(width, height, 1))  # never more cells than pixels
    grid_wh = (max(1, round(width * scale)), max(1, round(height * scale)))
    coarse = Image.fromarray(values.astype(np.float32)).resize(grid_wh, Image.Resampling.BOX)
    grid = np.round(np.asarray(coarse, np.float64), 3).tolist()
    return HeatmapOut(
        png=base64.b64encode(buffer.getvalue()).decode("ascii"),
        width=width,
        height=height,
        grid=grid,
    )


def heatmap_of(out: HeatmapOut, class_id: int = -1, label: str = "", score: float = 0.0) -> Heatmap:
    with Image.open(io.BytesIO(base64.b64decode(out.png))) as png:
        levels = np.asarray(png.convert("L"), np.float32)
    return Heatmap(levels / np.float32(255.0), class_id, label, score)
