"""The model repository: one folder per model with `model.toml` and version folders `N/model.onnx`.

A model that fails to load is kept with its reason; the others still serve.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fovea.errors import FoveaError, ModelConfigError, ModelNotFound, ModelUnavailable
from fovea.models._pipeline import PipelineModel
from fovea.models._served import ServedModel
from fovea.models._spec import AnySpec, ModelSpec, PipelineModelSpec, load_spec
from fovea.runtime.onnx import OnnxModel, RuntimeOptions
from fovea.runtime.openvino import OpenVinoModel
from fovea.runtime.session import Session

log = logging.getLogger("fovea.repository")
BUNDLED = Path(__file__).parents[1] / "bundled_models"
Status = Literal["loading", "ready", "failed", "disabled"]
Servable = ServedModel | PipelineModel  # what `get` gives the serving layer


@dataclass
class ModelEntry:
    """What the repository knows of one model folder, loaded or not."""

    name: str
    path: Path
    spec: AnySpec | None = None
    versions: list[str] = field(default_factory=list)
    status: Status = "loading"
    error: str | None = None
    served: dict[str, Servable] = field(default_factory=dict)
    load_ms: float | None = None

    @property
    def default_version(self) -> str | None:
        if self.spec is not None and self.spec.version is not None:
            return self.spec.version
        return self.versions[-1] if self.versions else None


class Repository:
    """Scans a folder and loads every enabled model in it."""

    def __init__(self, root: Path, runtime: RuntimeOptions | None = None) -> None:
        self.root = root
        self.runtime = runtime or RuntimeOptions()
        self.entries: dict[str, ModelEntry] = {}
        self._sessions: dict[tuple[Path, RuntimeOptions, str | None, str], Session] = {}

    def scan(self) -> None:
        """Find model folders and read their specs, without loading any weights."""
        if not self.root.is_dir():
            raise ModelConfigError(f"model repository {self.root} is not a folder")
        self.entries = {}
        for folder in sorted(p for p in self.root.iterdir() if (p / "model.toml").is_file()):
            self.entries[folder.name] = self._describe(folder)

    def load_all(self, only: str | None = None) -> None:
        """Load every enabled model (or just `only`, with the stages it needs); failures are
        recorded, never raised. Pipelines load last: they need their stages."""
        wanted = [e for e in self.entries.values() if only in (None, e.name)]
        for entry in sorted(wanted, key=lambda e: isinstance(e.spec, PipelineModelSpec)):
            if entry.status == "loading":
                self._load(entry)

    def get(self, name: str, version: str | None = None) -> Servable:
        entry = self.entries.get(name)
        if entry is None:
            raise ModelNotFound(f"no model named {name!r}; try GET /v1/models")
        if entry.status != "ready":
            reason = f": {entry.error}" if entry.error else ""
            raise ModelUnavailable(f"model {name!r} is {entry.status}{reason}")
        wanted = version or entry.default_version
        if wanted not in entry.served:
            raise ModelNotFound(
                f"model {name!r} has no version {version!r}; it has {sorted(entry.served)}"
            )
        return entry.served[wanted]

    @property
    def ready(self) -> bool:
        return all(e.status in ("ready", "disabled") for e in self.entries.values())

    def _describe(self, folder: Path) -> ModelEntry:
        entry = ModelEntry(folder.name, folder)
        try:
            entry.spec = load_spec(folder)
            if isinstance(entry.spec, PipelineModelSpec):
                entry.versions = ["1"]  # a pipeline has no weights of its own
                entry.status = "loading" if entry.spec.enabled else "disabled"
                return entry
            entry.versions = _versions(folder / entry.spec.versions_dir)
            if not entry.versions:
                raise ModelConfigError(
                    f"{folder}: no version folder with a model.onnx (such as 1/model.onnx)"
                )
            if entry.spec.version is not None and entry.spec.version not in entry.versions:
                raise ModelConfigError(
                    f"{folder}: pinned version {entry.spec.version!r} is not among {entry.versions}"
                )
            if not entry.spec.enabled:
                entry.status = "disabled"
        except ModelConfigError as exc:
            entry.status, entry.error = "failed", exc.detail
            log.error("model %s failed: %s", folder.name, exc.detail)
        return entry

    def _load(self, entry: ModelEntry) -> None:
        assert entry.spec is not None
        start = time.perf_counter()
        spec = entry.spec
        served_versions = [spec.version] if spec.version else entry.versions
        try:
            if isinstance(spec, PipelineModelSpec):
                entry.served["1"] = self._pipeline(entry.name, spec)
            else:
                for version in served_versions:
                    entry.served[version] = self._version(entry, spec, version)
        except FoveaError as exc:
            entry.status, entry.error, entry.served = "failed", exc.detail, {}
            log.error("model %s failed to load: %s", entry.name, exc.detail)
            return
        entry.status, entry.load_ms = "ready", round((time.perf_counter() - start) * 1000, 1)
        log.info(
            "model %s ready: versions %s in %.0f ms", entry.name, served_versions, entry.load_ms
        )

    def _version(self, entry: ModelEntry, spec: ModelSpec, version: str) -> ServedModel:
        path = (entry.path / spec.versions_dir / version / "model.onnx").resolve()
        model = ServedModel(entry.name, version, spec, self._session(path, spec))
        model.warm_up()
        return model

    def _pipeline(self, name: str, spec: PipelineModelSpec) -> PipelineModel:
        for stage in (spec.pipeline.detector, spec.pipeline.classifier):
            entry = self.entries.get(stage)
            if entry is None:
                raise ModelConfigError(f"pipeline stage {stage!r} is not a model of the repository")
            if entry.status == "loading":
                self._load(entry)
            if entry.status != "ready":
                raise ModelConfigError(f"pipeline stage {stage!r} is {entry.status}: {entry.error}")
        model = PipelineModel(name, spec, self._stage)
        model.check()
        return model

    def _stage(self, name: str) -> ServedModel:
        model = self.get(name)
        assert isinstance(model, ServedModel), f"stage {name!r} is itself a pipeline"
        return model

    def _session(self, path: Path, spec: ModelSpec) -> Session:
        options = RuntimeOptions(
            spec.runtime.providers or self.runtime.providers,
            spec.runtime.intra_op_threads or self.runtime.intra_op_threads,
            self.runtime.idle_threads,
        )
        # Models that share weights (coco and coco-camtrap) share one session too.
        precision = spec.runtime.precision
        key = (path, options, spec.input.name, precision)
        if key not in self._sessions:
            self._sessions[key] = (
                OnnxModel(path, options, spec.input.name)
                if precision == "fp32"
                else OpenVinoModel(path, options, precision, spec.input.name)
            )
        return self._sessions[key]


def _versions(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    found = [p.name for p in folder.iterdir() if p.name.isdigit() and (p / "model.onnx").is_file()]
    return sorted(found, key=int)
