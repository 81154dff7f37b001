"""Debian's prometheus on deploy/prometheus against a real `fovea serve`: the target is up, every
query of the Grafana dashboard returns data after real traffic, the alert rules load and the
broken models of the test repository trip one; promtool checks and unit-tests the rules.

Prometheus runs the project's prometheus.yml with only its targets rewritten to this test's
loopback addresses. Dashboard variables are replaced as Grafana replaces them: $__rate_interval
by four scrape intervals (the provisioned datasource's timeInterval), $model by "All"."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.sync.client import connect

from fovea.bench.server import free_port
from tests.deploy import DEPLOY, ROOT, load_yaml
from tests.helpers import image_bytes
from tests.servers import fovea_server

pytestmark = [pytest.mark.prometheus, pytest.mark.timeout(300)]

PROMETHEUS_YML = DEPLOY / "prometheus/prometheus.yml"
ALERTS = DEPLOY / "prometheus/alerts.yml"
DASHBOARD = DEPLOY / "grafana/dashboards/fovea.json"
DATASOURCE = DEPLOY / "grafana/provisioning/datasources/prometheus.yaml"
GOOD_MODELS = ("yolov8-test", "yolov5-test", "colour-test", "colour-batched", "red-test")
BROKEN_MODELS = {"broken-onnx", "broken-toml", "pipeline-broken"}
TRAFFIC_S = 12.0  # per phase: two scrapes or more of every series it makes
IMAGE = image_bytes((320, 240))


@dataclass(frozen=True)
class Prometheus:
    url: str

    def get(self, path: str, **params: str) -> Any:
        body = httpx.get(f"{self.url}{path}", params=params, timeout=30).json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str, at: float) -> list[dict[str, Any]]:
        data = self.get("/api/v1/query", query=expr, time=f"{at:.3f}")
        result: list[dict[str, Any]] = data["result"]
        return result


@dataclass(frozen=True)
class Observed:
    prometheus: Prometheus
    healthy_at: float  # the end of traffic without errors
    busy_at: float  # the end of traffic with errors too


def _config(fovea: str, itself: str) -> dict[str, Any]:
    config: dict[str, Any] = load_yaml(PROMETHEUS_YML)
    targets = {"fovea": fovea, "prometheus": itself}
    for job in config["scrape_configs"]:
        for group in job["static_configs"]:
            group["targets"] = [targets[job["job_name"]]]
    config["rule_files"] = [str(PROMETHEUS_YML.parent / name) for name in config["rule_files"]]
    return config


@contextmanager
def _running(binary: str, fovea: str, work: Path) -> Iterator[Prometheus]:
    address = f"127.0.0.1:{free_port()}"
    config = work / "prometheus.yml"
    config.write_text(yaml.safe_dump(_config(fovea, address)))
    command = [binary, f"--config.file={config}", f"--web.listen-address={address}"]
    command += [f"--storage.tsdb.path={work / 'data'}", "--log.level=warn"]
    with (work / "prometheus.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            _until(lambda: _answers(f"http://{address}/-/ready"), 60, "Prometheus is not ready")
            yield Prometheus(f"http://{address}")
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _until(condition: Any, seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.5)


def _predict(url: str, model: str, body: bytes = IMAGE) -> int:
    files = {"files": ("a.jpg", body, "image/jpeg")}
    return httpx.post(f"{url}/v1/models/{model}/predict", files=files, timeout=60).status_code


# yolov8-test's planted dog against a pattern that expects it elsewhere: a NOK inspection.
PATTERN = '[[objects]]\nlabel = "dog"\nbox = [0.1, 0.1, 0.1, 0.1]\n'


def _inspect(url: str) -> int:
    files = {"file": ("a.jpg", IMAGE, "image/jpeg")}
    answer = httpx.post(
        f"{url}/v1/models/yolov8-test/inspect", files=files, data={"pattern": PATTERN}, timeout=30
    )
    return answer.status_code


def _stream(url: str) -> int:
    """One frame over the WebSocket stream: the stream panels' series."""
    with connect(url.replace("http", "ws") + "/v1/models/yolov8-test/stream") as ws:
        ws.recv(timeout=10)  # ready
        ws.send(IMAGE)
        answer = json.loads(ws.recv(timeout=30))
    return 200 if answer["type"] == "result" else 500


def _traffic(url: str, seconds: float, *, errors: bool) -> set[int]:
    """Predictions on every working model, an inspection and a streamed frame for `seconds`;
    with `errors`, bad images (422), an unknown model (404), a broken model (503) and more than
    overload-test admits (503)."""
    statuses: set[int] = set()
    deadline = time.monotonic() + seconds
    with ThreadPoolExecutor(6) as pool:
        while time.monotonic() < deadline:
            statuses |= {_predict(url, model) for model in GOOD_MODELS}
            statuses |= {_inspect(url), _stream(url)}
            if errors:
                statuses.add(_predict(url, "yolov8-test", b"not an image"))
                statuses.add(httpx.get(f"{url}/v1/models/no-such-model", timeout=10).status_code)
                statuses.add(_predict(url, "broken-onnx"))
                statuses |= set(pool.map(lambda _: _predict(url, "overload-test"), range(6)))
    return statuses


def _scraped_since(prometheus: Prometheus, moment: float) -> bool:
    found = prometheus.query('timestamp(up{job="fovea"})', time.time())
    return bool(found) and float(found[0]["value"][1]) >= moment


@pytest.fixture(scope="module")
def observed(
    prometheus: str, model_repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Observed]:
    work = tmp_path_factory.mktemp("prometheus")
    with (
        fovea_server(model_repo, work) as fovea,
        _running(prometheus, fovea.url.removeprefix("http://"), work) as running,
    ):
        _until(lambda: _target_health(running) == "up", 30, "the fovea target is not up")
        assert _traffic(fovea.url, TRAFFIC_S, errors=False) == {200}
        healthy_at = time.time()
        assert {200, 404, 422, 503} <= _traffic(fovea.url, TRAFFIC_S, errors=True)
        busy_at = time.time()
        _until(lambda: _scraped_since(running, busy_at), 20, "no scrape after the traffic")
        yield Observed(running, healthy_at, busy_at)


def _target_health(prometheus: Prometheus) -> str | None:
    targets = prometheus.get("/api/v1/targets")["activeTargets"]
    health = [t["health"] for t in targets if t["labels"]["job"] == "fovea"]
    return health[0] if health else None


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # collapsed rows hold their panels


def _grafana_variables(dashboard: dict[str, Any]) -> dict[str, str]:
    scrape = load_yaml(DATASOURCE)["datasources"][0]["jsonData"]["timeInterval"]
    seconds = int(str(scrape).removesuffix("s"))
    values = {"__rate_interval": f"{4 * seconds}s", "__interval": f"{seconds}s"}
    for variable in dashboard["templating"]["list"]:
        values[variable["name"]] = variable.get("allValue") or ".*"
    return values


def _queries(only: str | None = None) -> list[tuple[str, str]]:
    """(panel and refId, PromQL as Grafana sends it) for every panel target."""
    dashboard = json.loads(DASHBOARD.read_text())
    values = _grafana_variables(dashboard)
    found = []
    for panel in _panels(dashboard):
        if only is not None and panel["type"] != only:
            continue
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name in sorted(values, key=len, reverse=True):
                expr = expr.replace(f"${{{name}}}", values[name]).replace(f"${name}", values[name])
            assert "$" not in expr, f"{panel['title']}: a variable is left in {expr}"
            found.append((f"{panel['title']!r} {target['refId']}", expr))
    return found


def _empty(prometheus: Prometheus, queries: list[tuple[str, str]], at: float) -> list[str]:
    """The queries without one finite value at `at` (NaN is what an empty histogram gives)."""
    empty = []
    for where, expr in queries:
        values = [float(sample["value"][1]) for sample in prometheus.query(expr, at)]
        if not any(math.isfinite(value) for value in values):
            empty.append(f"{where}: {expr} -> {values}")
    return empty


def test_prometheus_scrapes_fovea_with_the_project_config(observed: Observed) -> None:
    targets = observed.prometheus.get("/api/v1/targets")["activeTargets"]
    (fovea,) = [t for t in targets if t["labels"]["job"] == "fovea"]
    assert fovea["health"] == "up"
    assert fovea["lastError"] == ""
    assert fovea["scrapeInterval"] == "5s"


def test_every_dashboard_query_returns_data_under_traffic(observed: Observed) -> None:
    queries = _queries()
    assert len(queries) >= 20
    assert _empty(observed.prometheus, queries, observed.busy_at) == []


def test_the_stat_panels_show_a_number_when_nothing_fails(observed: Observed) -> None:
    """No 5xx yet: '5xx share' must say 0, not 'No data'."""
    queries = _queries(only="stat")
    assert len(queries) >= 6
    assert _empty(observed.prometheus, queries, observed.healthy_at) == []
    (share,) = [expr for where, expr in queries if where.startswith("'5xx share'")]
    value = observed.prometheus.query(share, observed.healthy_at)[0]["value"][1]
    assert float(value) == 0


def test_the_model_variable_lists_the_served_models(observed: Observed) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    (variable,) = dashboard["templating"]["list"]
    assert variable["definition"] == "label_values(fovea_model_loaded, model)"
    match = {"match[]": "fovea_model_loaded"}
    found = observed.prometheus.get("/api/v1/label/model/values", **match)
    assert set(GOOD_MODELS) | BROKEN_MODELS <= set(found)


def test_the_alert_rules_load_and_a_failed_model_fires(observed: Observed) -> None:
    groups = observed.prometheus.get("/api/v1/rules")["groups"]
    loaded = {rule["name"]: rule["health"] for group in groups for rule in group["rules"]}
    declared = load_yaml(ALERTS)["groups"]
    assert loaded == {rule["alert"]: "ok" for group in declared for rule in group["rules"]}

    def failed_models() -> set[str]:
        alerts = observed.prometheus.get("/api/v1/alerts")["alerts"]
        return {
            a["labels"]["model"]
            for a in alerts
            if a["labels"]["alertname"] == "FoveaModelFailedToLoad" and a["state"] == "firing"
        }

    # Rules run every evaluation_interval (15 s).
    _until(lambda: failed_models() == BROKEN_MODELS, 40, "FoveaModelFailedToLoad did not fire")


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool is not None
    return subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )


def test_promtool_checks_the_config_and_its_rules(prometheus: str) -> None:
    checked = _promtool("check", "config", str(PROMETHEUS_YML))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 rule files found" in checked.stdout
    rules = _promtool("check", "rules", str(ALERTS))
    assert rules.returncode == 0, rules.stdout + rules.stderr


def test_the_alert_rules_pass_their_unit_tests(prometheus: str) -> None:
    result = _promtool("test", "rules", str(ROOT / "tests/deploy/alerts.test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
