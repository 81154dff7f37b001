"""ExplainParams: one definition with bounds, query strings read like JSON, and merging."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from fovea.core import ExplainParams, ExplainQuery
from fovea.errors import InvalidParameter


def test_defaults_fit_the_budget_and_nothing_is_given() -> None:
    params = ExplainParams()
    assert (params.method, params.masks, params.channels, params.window, params.stride) == (
        None,
        64,
        32,
        64,
        32,
    )
    assert params.given() == {}


@pytest.mark.parametrize(
    "given",
    [
        {"masks": 7},
        {"masks": 4001},
        {"grid": 1},
        {"keep": 1.0},
        {"keep": 0.0},
        {"channels": 0},
        {"window": 3},
        {"stride": 1},
        {"opacity": 1.5},
        {"colormap": "jet"},
        {"method": "gradcam"},
        {"box": [1, 2, 3]},
        {"box_index": -1},
        {"target": "x" * 257},
        {"surprise": 1},
    ],
)
def test_out_of_bounds_is_refused(given: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ExplainParams.model_validate(given)


@pytest.mark.parametrize(
    "box", ["10,20,30,40", ["10", "20", "30", "40"], ["10,20", "30,40"], [10, 20, 30, 40]]
)
def test_a_box_reads_from_a_query_string_or_a_list(box: Any) -> None:
    assert ExplainParams.model_validate({"box": box}).box == (10.0, 20.0, 30.0, 40.0)


def test_merging_keeps_what_each_gave_and_refuses_clashes() -> None:
    query = ExplainQuery.model_validate({"method": "rise", "version": "2"}).plain()
    assert query.given() == {"method": "rise"}
    merged = query.merged(ExplainParams(masks=128))
    assert (merged.method, merged.masks, merged.given()) == (
        "rise",
        128,
        {"method": "rise", "masks": 128},
    )
    assert query.merged(ExplainParams(method="rise")).method == "rise"
    with pytest.raises(InvalidParameter, match="method given twice"):
        query.merged(ExplainParams(method="occlusion"))
