"""Every series the Grafana dashboard queries is one Fovea really exports, with those labels."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from fovea.api.app import create_app
from fovea.config import Settings
from tests.deploy import DEPLOY, load_yaml
from tests.helpers import image_bytes

DASHBOARD = DEPLOY / "grafana/dashboards/fovea.json"
# Labels Prometheus adds to every scraped series; the app does not export them.
TARGET_LABELS = {"instance", "job"}
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
_KEYWORDS |= {"group_left", "group_right", "inf", "nan", "atan2"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{([^}]*)\}")
_MATCHER_LABEL = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENTIFIER = re.compile(r"(?<![\w$.])([A-Za-z_:][\w:]*)(\s*\()?")


def promql_names(expr: str) -> tuple[set[str], set[str]]:
    """The metric names and the label names a PromQL expression uses."""
    labels: set[str] = set()
    text = _STRING.sub('""', expr)
    for body in _MATCHERS.findall(text):
        labels |= set(_MATCHER_LABEL.findall(body))
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)  # [5m], [$__rate_interval]
    for body in _GROUPING.findall(text):
        labels |= {label.strip() for label in body.split(",") if label.strip()}
    text = _GROUPING.sub(" ", text)
    metrics = {
        name
        for name, call in _IDENTIFIER.findall(text)
        if not call and name.lower() not in _KEYWORDS
    }
    return metrics, labels


def test_promql_names_reads_metrics_and_labels() -> None:
    metrics, labels = promql_names(
        'histogram_quantile(0.95, sum by (le, model) (rate(x_bucket{model=~"$m", a!="b"}'
        "[$__rate_interval]))) / on (model) group_left sum(y_total offset 5m) or vector(0)"
    )
    assert metrics == {"x_bucket", "y_total"}
    assert labels == {"le", "model", "a"}


def _dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # collapsed rows hold their panels


def _queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, expr) for every panel target."""
    for panel in _panels(dashboard):
        for target in panel.get("targets", []):
            yield f"{panel['title']!r} {target['refId']}", target["expr"]


# An inline pattern for yolov8-test's planted dog: misplaced, and the person extra.
PATTERN = '[[objects]]\nlabel = "dog"\nbox = [0.1, 0.1, 0.1, 0.1]\n'


@pytest.fixture(scope="module")
def exported(model_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Series name -> label names, from /metrics after a prediction, an inspection, an error,
    a 404 and a WebSocket stream's frame."""
    data = tmp_path_factory.mktemp("data")
    settings = Settings(model_repository=model_repo, workers=2, data_dir=data)
    with TestClient(create_app(settings)) as client:
        good = {"files": ("a.jpg", image_bytes((64, 64)), "image/jpeg")}
        assert client.post("/v1/models/yolov8-test/predict", files=good).status_code == 200
        inspected = client.post(
            "/v1/models/yolov8-test/inspect",
            files={"file": good["files"]},
            data={"pattern": PATTERN},
        )
        assert inspected.status_code == 200
        bad = {"files": ("x", b"not an image")}
        assert client.post("/v1/models/yolov8-test/predict", files=bad).status_code == 422
        assert client.get("/v1/models/no-such-model").status_code == 404
        with client.websocket_connect("/v1/models/yolov8-test/stream") as stream:
            stream.receive_text()  # ready
            stream.send_bytes(good["files"][1])
            stream.receive_text()  # its answer
        response = client.get("/metrics")
    assert response.status_code == 200
    series: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


def test_every_queried_series_is_exported_with_its_labels(exported: dict[str, set[str]]) -> None:
    dashboard = _dashboard()
    queries = list(_queries(dashboard))
    assert len(queries) >= 10
    problems = []
    for where, expr in queries:
        metrics, labels = promql_names(expr)
        if not metrics:
            problems.append(f"{where}: no metric in {expr}")
        problems += [f"{where}: {m} is not exported" for m in sorted(metrics - set(exported))]
        known = set().union(*(exported.get(m, set()) for m in metrics)) | TARGET_LABELS
        problems += [f"{where}: no label {label} on {sorted(metrics)}" for label in labels - known]
    assert problems == []


def test_the_model_variable_reads_an_exported_label(exported: dict[str, set[str]]) -> None:
    variables = _dashboard()["templating"]["list"]
    assert variables
    for variable in variables:
        match = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variable["definition"])
        assert match, variable["definition"]
        assert match[2] in exported[match[1]]


def test_every_exported_metric_has_a_panel(exported: dict[str, set[str]]) -> None:
    """Fovea's metric names are a contract: a new metric needs a panel in fovea.json."""
    queried = set().union(*(promql_names(expr)[0] for _, expr in _queries(_dashboard())))
    families: dict[str, set[str]] = {}
    for name in exported:
        family = re.sub(r"_(total|created|bucket|sum|count)$", "", name)
        families.setdefault(family, set()).add(name)
    unused = [family for family, names in sorted(families.items()) if not names & queried]
    assert unused == []


def test_panels_use_the_provisioned_datasource_by_uid() -> None:
    provisioned = load_yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yaml")
    (source,) = provisioned["datasources"]
    expected = {"type": "prometheus", "uid": source["uid"]}
    dashboard = _dashboard()
    for panel in _panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == expected, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == expected, panel["title"]
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"] == expected


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    panels = list(_panels(_dashboard()))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        x, y, w, h = (panel["gridPos"][k] for k in "xywh")
        assert x >= 0, panel["title"]
        assert x + w <= 24, panel["title"]
        area = {(col, row) for col in range(x, x + w) for row in range(y, y + h)}
        assert not area & cells, f"{panel['title']} overlaps another panel"
        cells |= area
