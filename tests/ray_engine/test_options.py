"""The Ray engine without a cluster: deploy/ray/serve.yaml is a valid Serve config file whose
`import_path` builds Fovea's application (through Serve's own builder call); the command's
layout options and their errors; `--engine` mistakes said before Ray starts."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml
from ray.serve import Application
from ray.serve._private.api import call_user_app_builder_with_args_if_necessary
from ray.serve.schema import ServeDeploySchema
from typer.testing import CliRunner

from fovea.cli import app
from fovea.config import Settings
from fovea.engines.ray import run
from fovea.engines.ray.deployments import cpus_needed, deployed_models
from fovea.engines.ray.run import RayOptions, parse_autoscale
from fovea.errors import ModelConfigError

CONFIG = Path(__file__).parents[2] / "deploy" / "ray" / "serve.yaml"
runner = CliRunner()


def test_the_serve_config_file_loads_and_builds_fovea_s_application(coco_repo: Path) -> None:
    schema = ServeDeploySchema.model_validate(yaml.safe_load(CONFIG.read_text()))
    assert schema.http_options.host == "127.0.0.1"  # Serve's file default is 0.0.0.0
    [application] = schema.applications
    module, name = application.import_path.split(":")
    builder = getattr(importlib.import_module(module), name)
    args: dict[str, Any] = {**(application.args or {}), "model_repository": str(coco_repo)}
    built = call_user_app_builder_with_args_if_necessary(builder, args)
    assert isinstance(built, Application)
    deployments = {d.name for d in application.deployments}
    assert deployments <= {"ingress", "model-coco"}
    with pytest.raises(ValueError, match="replica"):
        builder({"replicas": 0})


def test_layout_options() -> None:
    fixed = RayOptions(replicas=3, replica_cpus=0.5).model_config()
    assert fixed["num_replicas"] == 3
    assert fixed["ray_actor_options"] == {"num_cpus": 0.5}
    scaled = RayOptions(autoscale=(1, 4)).model_config()
    assert "num_replicas" not in scaled
    assert scaled["autoscaling_config"]["min_replicas"] == 1
    assert scaled["autoscaling_config"]["max_replicas"] == 4
    assert parse_autoscale(None) is None
    assert parse_autoscale("0,2") == (0, 2)
    for bad in ("2", "a,b", "3,1", "0,0"):
        with pytest.raises(ModelConfigError):
            parse_autoscale(bad)


def test_the_models_deployed_and_the_cpus_they_need(coco_repo: Path) -> None:
    settings = Settings(model_repository=coco_repo)
    assert deployed_models(settings) == ["coco"]
    with pytest.raises(ModelConfigError, match="nope"):
        deployed_models(settings, ("nope",))
    assert cpus_needed(settings, RayOptions(replicas=2, replica_cpus=0.5)) == 1.0
    assert cpus_needed(settings, RayOptions(autoscale=(0, 3))) == 0.0


def test_loopback_addresses() -> None:
    assert run._is_loopback("127.0.0.1:6379")
    assert run._is_loopback("ray://localhost:10001")
    assert not run._is_loopback("10.0.0.5:6379")


def test_engine_mistakes_are_said_before_ray_starts(coco_repo: Path, tmp_path: Path) -> None:
    serve = runner.invoke(app, ["serve", "--engine", "spark", "--repository", str(coco_repo)])
    assert serve.exit_code == 2
    assert "local or ray" in serve.output
    scale = ["serve", "--engine", "ray", "--autoscale", "3,1", "--repository", str(coco_repo)]
    assert runner.invoke(app, scale).exit_code == 2
    job = ["jobs", "run", str(tmp_path), "-m", "coco", "-o", str(tmp_path / "o.json")]
    assert runner.invoke(app, [*job, "--engine", "ray", "--server", "http://x"]).exit_code == 2
    unknown = runner.invoke(
        app, [*job[:4], "nope", *job[5:], "--engine", "ray", "-r", str(coco_repo)]
    )
    assert unknown.exit_code != 0
    assert "nope" in unknown.output


def test_a_model_actor_runs_the_local_engine_s_path_in_process(tmp_path: Path) -> None:
    """What each Ray Data actor does with a batch, here without Ray: the entries it returns
    are the local engine's (a corrupt file is a failure entry, decoded in the actor)."""
    import json

    import anyio
    import numpy as np

    from fovea.engines.ray.data import ModelActor, RayDataEngine
    from fovea.formats import megadetector
    from fovea.jobs.engine import JobOptions
    from fovea.jobs.sources import open_source
    from fovea.models import Repository
    from tests.jobs.camera import nested_folder

    _, items = open_source(nested_folder(tmp_path / "traps"))
    options = JobOptions("coco-camtrap")
    settings = Settings(workers=1)
    actor = ModelActor(settings, options)
    batch = {
        "seq": np.arange(len(items), dtype=np.int64),
        "file": np.array([i.file for i in items], object),
        "location": np.array([i.location for i in items], object),
        "kind": np.array([i.kind for i in items], object),
    }
    out = actor(batch)
    assert out["seq"].tolist() == list(range(len(items)))
    entries = {e["file"]: e for e in (json.loads(text) for text in out["entry"])}
    assert entries["cam2/corrupt.jpg"]["failure"] == megadetector.FAILURE_IMAGE_OPEN
    assert entries["cam1/a.jpg"]["detections"][0]["category"] == "1"
    repository = Repository(settings.repository_path, settings.runtime)
    repository.scan()
    repository.load_all(only="coco-camtrap")
    header = anyio.run(RayDataEngine(settings, repository).header, options)
    assert header.detection_categories == {"1": "animal", "2": "person", "3": "vehicle"}


def test_ray_is_an_extra_the_base_install_does_not_pull_in() -> None:
    import tomllib

    project = tomllib.loads((CONFIG.parents[2] / "pyproject.toml").read_text())["project"]
    assert not [d for d in project["dependencies"] if d.lower().startswith("ray")]
    extras = project["optional-dependencies"]
    assert any(d.startswith("ray[serve,data]") for d in extras["ray"])
    assert any("ray" in d.split("[", 1)[1] for d in extras["dev"] if d.startswith("fovea-serve["))
