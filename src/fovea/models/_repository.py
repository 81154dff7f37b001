"""The model repository: one folder per model with `model.toml` and version folders `N/model.onnx`
(or a `[backend]`, a remote KServe V2 server). A model that fails to load is kept with its
reason; the others still serve. `reload` brings the served set in line with the folder.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fovea.errors import (
    BackendUnavailable,
    FoveaError,
    ModelConfigError,
    ModelNotFound,
    ModelUnavailable,
)
from fovea.models._pipeline import PipelineModel
from fovea.models._served import ServedModel
from fovea.models._spec import AnySpec, ModelSpec, PipelineModelSpec, load_spec
from fovea.runtime.onnx import OnnxModel, RuntimeOptions
from fovea.runtime.openvino import OpenVinoModel
from fovea.runtime.session import Session

log = logging.getLogger("fovea.repository")
BUNDLED = Path(__file__).parents[1] / "bundled_models"
Status = Literal["loading", "ready", "failed", "disabled", "unavailable"]
_MAX_FILES = 1000  # files looked at per model folder for its fingerprint
Servable = ServedModel | PipelineModel  # what `get` gives the serving layer


@dataclass
class ModelEntry:
    """What the repository knows of one model folder, loaded or not. `status` is the load's
    outcome, except that a ready model whose remote backend is down reads `unavailable`."""

    name: str
    path: Path
    spec: AnySpec | None = None
    versions: list[str] = field(default_factory=list)
    loaded: Status = "loading"
    error: str | None = None
    served: dict[str, Servable] = field(default_factory=dict)
    load_ms: float | None = None
    fingerprint: str = ""  # of the folder's files: a reload reloads a model when it changes
    rejected: str | None = None  # fingerprint of a new config that failed while this one serves

    @property
    def status(self) -> Status:
        if self.loaded == "ready" and not all(_available(m) for m in self.served.values()):
            return "unavailable"
        return self.loaded

    @property
    def default_version(self) -> str | None:
        if self.spec is not None and self.spec.version is not None:
            return self.spec.version
        return self.versions[-1] if self.versions else None


@dataclass
class ReloadReport:
    """What a reload did. `retired` versions are no longer served: stop their batchers once their
    requests finish; `closed` sessions are used by no served version any more."""

    loaded: list[str] = field(default_factory=list)
    reloaded: list[str] = field(default_factory=list)
    unloaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    retired: list[Servable] = field(default_factory=list)
    closed: list[Session] = field(default_factory=list)


class Repository:
    """Scans a folder and loads every enabled model in it."""

    def __init__(self, root: Path, runtime: RuntimeOptions | None = None) -> None:
        self.root = root
        self.runtime = runtime or RuntimeOptions()
        self.entries: dict[str, ModelEntry] = {}  # replaced whole, never changed in place
        self.unloaded: set[str] = set()  # unloaded by request: a reload leaves them unloaded
        self._sessions: dict[tuple[object, ...], Session] = {}
        self._lock = threading.Lock()  # one reload at a time

    def scan(self) -> None:
        """Find model folders and read their specs, without loading any weights."""
        self.entries = {folder.name: self._describe(folder) for folder in self._folders()}

    def load_all(self, only: str | None = None) -> None:
        """Load every enabled model (or just `only`, with the stages it needs); failures are
        recorded, never raised. Pipelines load last: they need their stages."""
        wanted = [e for e in self.entries.values() if only in (None, e.name)]
        for entry in sorted(wanted, key=lambda e: isinstance(e.spec, PipelineModelSpec)):
            if entry.loaded == "loading":
                self._load(entry)

    def get(self, name: str, version: str | None = None) -> Servable:
        entry = self.entries.get(name)
        if entry is None:
            raise ModelNotFound(f"no model named {name!r}; try GET /v1/models")
        status = entry.status
        if status != "ready":
            reason = f": {entry.error}" if entry.error else ""
            raise ModelUnavailable(f"model {name!r} is {status}{reason}")
        wanted = version or entry.default_version
        if wanted not in entry.served:
            raise ModelNotFound(
                f"model {name!r} has no version {version!r}; it has {sorted(entry.served)}"
            )
        return entry.served[wanted]

    @property
    def ready(self) -> bool:
        return all(e.status in ("ready", "disabled") for e in self.entries.values())

    def reload(self, only: str | None = None, *, retry_failed: bool = True) -> ReloadReport:
        """Load new models, drop removed ones, reload changed ones (all of it, or `only`); slow,
        so run it in a worker thread. A changed model is loaded beside the old one and swapped
        in whole; if it fails while the old one serves, the old one keeps serving and the
        reason is reported (once per broken version of the files). `retry_failed` loads failed
        models again even if unchanged (a remote backend may be back)."""
        with self._lock:
            report = ReloadReport()
            folders = {f.name: f for f in self._folders() if only in (None, f.name)}
            entries = dict(self.entries)
            if only is not None and only not in folders and only not in entries:
                raise ModelNotFound(f"no model folder named {only!r} in {self.root}")
            names = set(folders) | ({only} & set(entries) if only else set(entries))
            for name in sorted(names - (self.unloaded - {only})):
                self._reconcile(name, folders.get(name), entries, report, retry_failed)
            self.unloaded.discard(only or "")
            self.entries = entries  # readers see the old set or the new one, never a mix
            report.closed = self._evict_sessions()
            return report

    def unload(self, name: str) -> ReloadReport:
        """Stop serving a model until it is loaded again (by name; a reload leaves it out)."""
        with self._lock:
            entries = dict(self.entries)
            old = entries.pop(name, None)
            if old is None:
                raise ModelNotFound(f"no model named {name!r} is loaded")
            self.unloaded.add(name)
            self.entries = entries
            report = ReloadReport(unloaded=[name], retired=list(old.served.values()))
            report.closed = self._evict_sessions()
            return report

    def _reconcile(
        self,
        name: str,
        folder: Path | None,
        entries: dict[str, ModelEntry],
        report: ReloadReport,
        retry_failed: bool,
    ) -> None:
        old = entries.get(name)
        if folder is None:
            if old is not None:
                del entries[name]
                report.unloaded.append(name)
                report.retired += old.served.values()
            return
        fingerprint = _fingerprint(folder)
        if old is not None:
            unchanged = fingerprint in (old.fingerprint, old.rejected)
            retry = old.loaded == "unavailable" or (retry_failed and old.loaded == "failed")
            if unchanged and not retry:
                return
        entry = self._describe(folder)
        if entry.loaded == "loading":
            self._load(entry)
        if old is not None and old.loaded == "ready" and entry.loaded == "failed":
            old.rejected = fingerprint  # the old version keeps serving
            report.failed[name] = entry.error or "failed"
            log.error("model %s: new files failed, the old ones still serve", name)
            return
        entries[name] = entry
        if entry.loaded == "failed":
            report.failed[name] = entry.error or "failed"
        (report.reloaded if old is not None else report.loaded).append(name)
        if old is not None:
            report.retired += old.served.values()

    def _folders(self) -> list[Path]:
        if not self.root.is_dir():
            raise ModelConfigError(f"model repository {self.root} is not a folder")
        return sorted(p for p in self.root.iterdir() if (p / "model.toml").is_file())

    def _describe(self, folder: Path) -> ModelEntry:
        entry = ModelEntry(folder.name, folder, fingerprint=_fingerprint(folder))
        try:
            entry.spec = load_spec(folder)
            if isinstance(entry.spec, PipelineModelSpec):
                entry.versions = ["1"]  # a pipeline has no weights of its own
                entry.loaded = "loading" if entry.spec.enabled else "disabled"
                return entry
            entry.versions = self._versions(folder, entry.spec)
            if not entry.versions:
                raise ModelConfigError(
                    f"{folder}: no version folder with a model.onnx (such as 1/model.onnx)"
                )
            if entry.spec.version is not None and entry.spec.version not in entry.versions:
                raise ModelConfigError(
                    f"{folder}: pinned version {entry.spec.version!r} is not among {entry.versions}"
                )
            if not entry.spec.enabled:
                entry.loaded = "disabled"
        except ModelConfigError as exc:
            entry.loaded, entry.error = "failed", exc.detail
            log.error("model %s failed: %s", folder.name, exc.detail)
        return entry

    def _versions(self, folder: Path, spec: ModelSpec) -> list[str]:
        if spec.backend is not None:  # one version, served by the remote
            return [spec.version or "1"]
        return _versions(folder / spec.versions_dir)

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
                    session = self._session(entry, spec, version)
                    model = ServedModel(entry.name, version, spec, session)
                    model.warm_up()
                    entry.served[version] = model
        except FoveaError as exc:
            # A backend that is down is not a broken config: every reload tries it again.
            down = isinstance(exc, BackendUnavailable)
            entry.loaded, entry.error, entry.served = (
                "unavailable" if down else "failed",
                exc.detail,
                {},
            )
            log.error("model %s failed to load: %s", entry.name, exc.detail)
            return
        entry.loaded, entry.load_ms = "ready", round((time.perf_counter() - start) * 1000, 1)
        log.info(
            "model %s ready: versions %s in %.0f ms", entry.name, served_versions, entry.load_ms
        )

    def _pipeline(self, name: str, spec: PipelineModelSpec) -> PipelineModel:
        for stage in (spec.pipeline.detector, spec.pipeline.classifier):
            entry = self.entries.get(stage)
            if entry is None:
                raise ModelConfigError(f"pipeline stage {stage!r} is not a model of the repository")
            if entry.loaded == "loading":
                self._load(entry)
            if entry.loaded != "ready":
                raise ModelConfigError(f"pipeline stage {stage!r} is {entry.loaded}: {entry.error}")
        model = PipelineModel(name, spec, self._stage)
        model.check()
        return model

    def _stage(self, name: str) -> ServedModel:
        model = self.get(name)
        if not isinstance(model, ServedModel):
            raise ModelConfigError(f"pipeline stage {name!r} is itself a pipeline")
        return model

    def _session(self, entry: ModelEntry, spec: ModelSpec, version: str) -> Session:
        if spec.backend is not None:
            from fovea.runtime.remote import RemoteModel  # httpx, or grpcio for protocol grpc

            key: tuple[object, ...] = ("remote", spec.backend, spec.input.name)
            if key not in self._sessions:
                self._sessions[key] = RemoteModel(spec.backend.options, spec.input.name)
            return self._sessions[key]
        path = (entry.path / spec.versions_dir / version / "model.onnx").resolve()
        options = RuntimeOptions(
            spec.runtime.providers or self.runtime.providers,
            spec.runtime.intra_op_threads or self.runtime.intra_op_threads,
            self.runtime.idle_threads,
        )
        # Models that share weights (coco and coco-camtrap) share one session too; a file
        # replaced in place is a new session.
        stat = path.stat()
        precision = spec.runtime.precision
        key = (path, stat.st_mtime_ns, stat.st_size, options, spec.input.name, precision)
        if key not in self._sessions:
            session: Session = (
                OnnxModel(path, options, spec.input.name)
                if precision == "fp32"
                else OpenVinoModel(path, options, precision, spec.input.name)
            )
            self._sessions[key] = session
        return self._sessions[key]

    def _evict_sessions(self) -> list[Session]:
        """Forget the sessions no served version uses; the caller closes them."""
        served = [m for e in self.entries.values() for m in e.served.values()]
        used = {id(m.session) for m in served if isinstance(m, ServedModel)}
        gone = [k for k, s in self._sessions.items() if id(s) not in used]
        return [self._sessions.pop(k) for k in gone]


def _available(model: Servable) -> bool:
    # A pipeline's stages are entries of their own, with their own status.
    return model.session.available if isinstance(model, ServedModel) else True


def _versions(folder: Path) -> list[str]:
    if not folder.is_dir():
        return []
    found = [p.name for p in folder.iterdir() if p.name.isdigit() and (p / "model.onnx").is_file()]
    return sorted(found, key=int)


def _fingerprint(folder: Path) -> str:
    """Names, sizes and modification times of a model folder's files (and of a shared versions
    folder's models): cheap to take every few seconds, and changes with any file."""
    digest = hashlib.sha256()
    toml = folder / "model.toml"
    try:
        digest.update(toml.read_bytes())
        paths = sorted(folder.rglob("*"))[:_MAX_FILES]
        shared = load_spec(folder).versions_dir
    except (OSError, FoveaError):
        paths, shared = [], "."
    if shared != ".":
        paths += sorted((folder / shared).glob("*/model.onnx"))
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
