"""Prometheus scrape config and Grafana provisioning: they parse and point at the stack."""

from __future__ import annotations

import json

from tests.deploy import COMPOSE, DEPLOY, ROOT, load_yaml

PROVISIONING = DEPLOY / "grafana/provisioning"


def test_prometheus_scrapes_the_api_every_5s() -> None:
    config = load_yaml(DEPLOY / "prometheus/prometheus.yml")
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "fovea"]
    assert job["scrape_interval"] == "5s"
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for group in job["static_configs"] for t in group["targets"]]
    assert targets == ["api:8000"]
    services = load_yaml(COMPOSE)["services"]
    host, port = targets[0].split(":")
    assert host in services
    assert services[host]["ports"] == [f"{port}:{port}"]


def test_grafana_datasource_is_the_compose_prometheus() -> None:
    files = sorted((PROVISIONING / "datasources").glob("*.yaml"))
    assert files
    sources = [s for f in files for s in load_yaml(f)["datasources"]]
    assert [s["type"] for s in sources] == ["prometheus"]
    assert sources[0]["url"] == "http://prometheus:9090"
    assert sources[0]["uid"]
    assert load_yaml(files[0])["apiVersion"] == 1


def test_grafana_dashboards_provider_loads_fovea_json() -> None:
    files = sorted((PROVISIONING / "dashboards").glob("*.yaml"))
    assert files
    providers = [p for f in files for p in load_yaml(f)["providers"]]
    assert [p["type"] for p in providers] == ["file"]
    assert providers[0]["options"]["path"]
    dashboard = json.loads((DEPLOY / "grafana/dashboards/fovea.json").read_text())
    assert dashboard["uid"] == "fovea"
    assert dashboard["title"] == "Fovea"


def test_the_alert_rules_are_loaded_and_mounted_beside_the_config() -> None:
    config = load_yaml(DEPLOY / "prometheus/prometheus.yml")
    assert config["rule_files"] == ["alerts.yml"]
    prometheus = load_yaml(COMPOSE)["services"]["prometheus"]
    mounted = dict(v.split(":")[:2][::-1] for v in prometheus["volumes"] if v.startswith("."))
    assert mounted["/etc/prometheus/alerts.yml"] == "./prometheus/alerts.yml"
    assert mounted["/etc/prometheus/prometheus.yml"] == "./prometheus/prometheus.yml"


def test_every_alert_is_unit_tested_and_documented() -> None:
    rules = load_yaml(DEPLOY / "prometheus/alerts.yml")["groups"]
    alerts = {rule["alert"] for group in rules for rule in group["rules"]}
    assert len(alerts) >= 5
    cases = load_yaml(ROOT / "tests/deploy/alerts.test.yml")["tests"]
    firing = {
        case["alertname"]
        for test in cases
        for case in test.get("alert_rule_test", [])
        if case["exp_alerts"]
    }
    assert firing == alerts
    readme = (ROOT / "README.md").read_text()
    assert [alert for alert in sorted(alerts) if f"`{alert}`" not in readme] == []
