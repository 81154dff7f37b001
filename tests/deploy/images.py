"""The images the container tests run: a stand-in for python:3.11-slim made with debootstrap (no
image registry is reachable here), and deploy/Dockerfile's targets built on it. Each image is
tagged with the hash of its inputs and reused while that hash holds."""

from __future__ import annotations

import ast
import configparser
import hashlib
import inspect
import os
import re
import shutil
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.deploy import DEPLOY, ROOT
from tests.deploy.dockerfile import ignore_patterns
from tests.deploy.podman import Podman

DOCKERFILE = DEPLOY / "Dockerfile"
IGNOREFILE = DEPLOY / "Dockerfile.dockerignore"
BASE_REPOSITORY = "localhost/fovea-test-python"
REPOSITORY = "localhost/fovea-test"
# A Python image to build on instead of the stand-in, e.g. python:3.11.14-slim-bookworm where a
# registry is reachable.
BASE_OVERRIDE = "FOVEA_TEST_PYTHON_IMAGE"
SUITE = "bookworm"  # the Debian of python:3.11-slim-bookworm: its python3 is 3.11
PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
KEEP = 3  # images kept per target: a few worktrees may test side by side
# debian:bookworm-slim, under python:3.11-slim, leaves these out; so do apt's downloads.
_SLIM_LEAVES_OUT = (
    *("usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale"),
    *("var/cache/apt/archives", "var/lib/apt/lists"),
)
_SKIPPED_NAMES = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}


class BaseUnavailable(RuntimeError):
    """The stand-in base image cannot be made here; the message says why."""


def debian_mirror() -> str | None:
    """This machine's Debian archive, read from apt's sources (one-line or deb822 format): the
    first `deb` entry for a release (not -security or -updates)."""
    apt = Path("/etc/apt")
    files = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*"))]
    for path in files:
        if not path.is_file() or path.suffix not in {".list", ".sources"}:
            continue
        text = path.read_text(errors="replace")
        for types, uris, suites in _entries(text, deb822=path.suffix == ".sources"):
            if "deb" in types and any("-" not in suite for suite in suites):
                return uris[0]
    return None


def _entries(text: str, *, deb822: bool) -> list[tuple[list[str], list[str], list[str]]]:
    if not deb822:
        lines = (re.sub(r"\[[^]]*\]", "", line).split() for line in text.splitlines())
        return [([w[0]], [w[1]], [w[2]]) for w in lines if len(w) >= 3 and w[0] == "deb"]
    found = []
    for block in re.split(r"\n\s*\n", text):
        fields = dict(
            (key.strip().lower(), value.split())
            for key, _, value in (
                line.partition(":") for line in block.splitlines() if not line.startswith("#")
            )
        )
        if fields.get("enabled", ["yes"]) != ["no"] and {"types", "uris", "suites"} <= set(fields):
            found.append((fields["types"], fields["uris"], fields["suites"]))
    return found


def _make_base(work: Path, tag: str, podman: Podman, mirror: str) -> None:
    """debootstrap, then what python:3.11-slim has and minbase lacks: `python` and `pip` on PATH,
    pip free to install into the system (Debian marks it externally managed), no apt caches."""
    rootfs = work / "rootfs"
    include = ",".join(PACKAGES)
    command = ["debootstrap", "--variant=minbase", f"--include={include}", SUITE, str(rootfs)]
    result = subprocess.run(
        [*command, mirror], capture_output=True, text=True, timeout=900, check=False
    )
    if result.returncode != 0:
        raise BaseUnavailable(f"debootstrap failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")
    for leftover in _SLIM_LEAVES_OUT:
        for path in (rootfs / leftover).glob("*"):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    (rootfs / "usr/bin/python").symlink_to("python3")
    tarball = work / "rootfs.tar"
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True, timeout=300)
    shutil.rmtree(rootfs)
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        'CMD ["python3"]',
    ]
    podman("import", *(f"--change={change}" for change in changes), str(tarball), tag, timeout=600)
    tarball.unlink()


def base_image(podman: Podman, work: Path) -> str:
    """The Python image the builds start from: $FOVEA_TEST_PYTHON_IMAGE, else the stand-in,
    made once (about a minute) and kept while its recipe is unchanged."""
    override = os.environ.get(BASE_OVERRIDE)
    if override:
        return override
    recipe = repr((SUITE, PACKAGES, _SLIM_LEAVES_OUT, inspect.getsource(_make_base)))
    tag = f"{BASE_REPOSITORY}:{SUITE}-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}"
    if podman.image_exists(tag):
        return tag
    if os.geteuid() != 0:
        raise BaseUnavailable(
            f"the stand-in base image is made with debootstrap, which needs root; "
            f"or set {BASE_OVERRIDE} to a Python 3.11 image"
        )
    if shutil.which("debootstrap") is None:
        raise BaseUnavailable("debootstrap is not installed (`make deploy-tools` installs it)")
    mirror = debian_mirror()
    if mirror is None:
        raise BaseUnavailable("no Debian mirror in apt's sources for debootstrap")
    _make_base(work, tag, podman, mirror)
    _prune(podman, BASE_REPOSITORY, f"{SUITE}-")
    return tag


@dataclass(frozen=True)
class PipAccess:
    """How this machine's pip reaches its package indexes, for pip inside a build: a pip.conf,
    and the local files and folders it names, mounted read-only at the same paths."""

    config: str
    mounts: tuple[str, ...]


def pip_access() -> PipAccess:
    """From `pip config list` (files and PIP_* variables alike), read at run time. Without a
    configured `cert`, the machine's own CA bundle, which pip trusts here through the system."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    rows = [line.partition("=") for line in listed.splitlines() if "=" in line]
    rows.sort(key=lambda row: row[0].startswith(":env:"))  # variables override files
    config = configparser.ConfigParser(interpolation=None)
    for key, _, raw in rows:
        section, _, name = key.rpartition(".")
        section = "global" if section == ":env:" else section
        if not config.has_section(section):
            config.add_section(section)
        config.set(section, name, str(ast.literal_eval(raw)))
    if not config.has_section("global"):
        config.add_section("global")
    cafile = ssl.get_default_verify_paths().cafile
    if not config.has_option("global", "cert") and cafile and Path(cafile).is_file():
        config.set("global", "cert", cafile)
    mounts: set[str] = set()
    for section in config.sections():
        for _, value in config.items(section):
            mounts |= _local_paths(value)
    text = "\n".join(
        f"[{s}]\n" + "".join(f"{k} = {v}\n" for k, v in config.items(s)) for s in config.sections()
    )
    return PipAccess(text, tuple(sorted(mounts)))


def _local_paths(value: str) -> set[str]:
    """Paths a pip option names. A file:// index's pages may link beside it (../../files), so
    the folder above the index is mounted."""
    paths = set()
    for token in value.split():
        if token.startswith("file://"):
            paths.add(str(Path(token.removeprefix("file://")).parent))
        elif token.startswith("/") and Path(token).exists():
            paths.add(token)
    return paths


def _context_digest() -> str:
    """Hash of the build context: the allowlisted paths of the ignore file, minus caches."""
    digest = hashlib.sha256()
    roots = [ROOT / p[1:] for p in ignore_patterns(DOCKERFILE) if p.startswith("!")]
    for root in sorted(roots):
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if _SKIPPED_NAMES & set(path.parts) or path.suffix in {".pyc", ".pyo", ".pyd"}:
                continue
            digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build(podman: Podman, target: str, base: str, pip: PipAccess, work: Path) -> tuple[str, bool]:
    """A `target` image of deploy/Dockerfile on `base`, and whether it was built: one built from
    the same inputs (Dockerfile, ignore file, context, base image, pip.conf) is reused."""
    base_id = podman("image", "inspect", "--format", "{{.Id}}", base).stdout.strip()
    inputs = [DOCKERFILE.read_bytes(), IGNOREFILE.read_bytes(), _context_digest().encode()]
    inputs += [target.encode(), base_id.encode(), pip.config.encode()]
    digest = hashlib.sha256(b"\0".join(inputs)).hexdigest()[:16]
    tag = f"{REPOSITORY}:{target}-{digest}"
    if podman.image_exists(tag):
        return tag, False
    pip_conf = work / f"pip-{target}.conf"
    pip_conf.write_text(pip.config)
    volumes = [f"{pip_conf}:/etc/pip.conf:ro", *(f"{path}:{path}:ro" for path in pip.mounts)]
    podman(
        "build",
        "--format=docker",  # OCI images drop HEALTHCHECK
        "--layers=false",  # no intermediate images: this hash is the cache
        "--network=host",
        *(f"--volume={volume}" for volume in volumes),
        f"--build-arg=PYTHON_IMAGE={base}",
        f"--ignorefile={IGNOREFILE}",
        f"--file={DOCKERFILE}",
        f"--target={target}",
        f"--tag={tag}",
        str(ROOT),
        timeout=1500,
    )
    _prune(podman, REPOSITORY, f"{target}-")
    return tag, True


def _prune(podman: Podman, repository: str, prefix: str) -> None:
    """Remove all but the KEEP newest images of repository:prefix*; one in use stays."""
    listed = podman(
        "images", "--format", "{{.Tag}} {{.CreatedAt}}", f"--filter=reference={repository}"
    ).stdout
    rows = [line.split(maxsplit=1) for line in listed.splitlines() if line.startswith(prefix)]
    rows.sort(key=lambda row: row[1], reverse=True)
    for tag, _ in rows[KEEP:]:
        podman("rmi", f"{repository}:{tag}", check=False)
