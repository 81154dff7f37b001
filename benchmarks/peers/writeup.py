"""The peers comparison written out: results.json, a section of docs/benchmarks.md, a plot."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HEADING = "## Fovea against the peers"
PLOT = "benchmarks-peers.png"


@dataclass(frozen=True)
class Report:
    command: str
    settings: dict[str, Any]
    servers: list[dict[str, Any]]  # name, how, problem (why it was not measured, or None)
    answers: dict[str, bool]  # server -> answered the same detections as Fovea
    versions: dict[str, dict[str, str]]  # venv -> package -> version
    lifecycle: list[dict[str, Any]]  # per server and round: seconds to answer, to stop
    rounds: list[dict[str, Any]]  # every cell of every round
    medians: list[dict[str, Any]]  # one cell per server and concurrency


def versions(python: str, packages: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of `packages` in the venv of `python` ('-' where missing)."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "def v(p):\n"
        "    try: return m.version(p)\n"
        "    except m.PackageNotFoundError: return '-'\n"
        "print(json.dumps({p: v(p) for p in sys.argv[1:]}))"
    )
    try:
        out = subprocess.run([python, "-c", code, *packages], capture_output=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return {}
    return dict(json.loads(out.stdout))


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    cores = len(os.sched_getaffinity(0))
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{cores} cores ({cpu}), {memory_kb / 1024**2:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def write(repo: Path, report: Report) -> None:
    body = {"date": _today(), "machine": machine(), **asdict(report)}
    (repo / "benchmarks" / "peers" / "results.json").write_text(json.dumps(body, indent=2) + "\n")
    docs = repo / "docs"
    docs.mkdir(exist_ok=True)
    plotted = _plot(docs / PLOT, report)
    page = docs / "benchmarks.md"
    old = page.read_text() if page.exists() else "# Benchmarks\n"
    page.write_text(replace_section(old, section(report, plotted)))


def replace_section(page: str, new: str) -> str:
    """Put `new` in place of this section (up to the next `## ` heading), or at the end."""
    lines = page.splitlines()
    if HEADING not in lines:
        return page.rstrip("\n") + "\n\n" + new
    start = lines.index(HEADING)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    after = "\n".join(lines[end:])
    return "\n".join(lines[:start]) + "\n" + new + ("\n" + after + "\n" if after else "")


def section(report: Report, plotted: bool) -> str:
    settings = report.settings
    measured = {m["server"] for m in report.medians}
    lines = [
        HEADING,
        "",
        "The same model, the same photo and the same work per image, served by Fovea and by the "
        "usual ways to serve a Python model, driven by the same load generator with the same "
        "settings. Every peer loads the bundled `coco` model (NanoDet-g 416, ONNX Runtime on the "
        "CPU, one intra-op thread per session as in Fovea) through Fovea's own code "
        "([`benchmarks/peers/fovea_peer.py`](../benchmarks/peers/fovea_peer.py)): decoding, "
        "preprocessing, session options, postprocessing and the JSON answer are Fovea's, and "
        "every peer serves `POST /v1/models/coco/predict` with a multipart `files` field as "
        "Fovea does. Only the serving around the model differs.",
        "",
        f"- Machine: {machine()}. The load generator shares these cores with the server; its "
        "own CPU use is in the table (percent of one core over the run).",
        f"- Date: {_today()}. Command: `{report.command}` "
        f"({settings.get('minutes', '?')} minutes).",
        f"- Input: `benchmarks/photo-1280x960.jpg` (1280x960 JPEG, {settings['image_kb']} kB), "
        f"{settings['images_per_request']} image per request.",
        f"- Load: `fovea.bench.load.run_load`, closed loop, at {_list(settings['concurrency'])} "
        f"concurrent clients, {settings['warmup_s']:.0f} s warm-up then "
        f"{settings['duration_s']:g} s measured per run. Every round starts each server in turn "
        "(the order reversed every other round), loads it at each concurrency and stops it "
        f"with all its processes; the table gives the median of {settings['rounds']} round(s).",
        "- Peak RSS: the server's whole process tree (all of Ray's and BentoML's processes), "
        "sampled every 0.5 s during the run.",
        f"- Versions: {_versions(report.versions)}.",
        "",
        "| server | how it serves |",
        "| --- | --- |",
        *(_server_row(s, report.answers, measured) for s in report.servers),
        "",
        *_table(report),
        "",
    ]
    if plotted:
        lines += [f"![img/s and p99 latency against concurrency, per server]({PLOT})", ""]
    lines += [*_notes(report), ""]
    return "\n".join(lines)


def _server_row(server: dict[str, Any], answers: dict[str, bool], measured: set[str]) -> str:
    how = server["how"]
    if server["problem"]:
        how += ". **Not measured**" if server["name"] not in measured else ". **Problem**"
        how += f": {server['problem']}"
    if server["name"] in answers and not answers[server["name"]]:
        how += ". **Its answer differed from Fovea's**"
    return f"| {server['name']} | {how} |"


def _table(report: Report) -> list[str]:
    fovea = {m["concurrency"]: m for m in report.medians if m["server"] == "fovea"}
    order = [s["name"] for s in report.servers]
    rows = sorted(report.medians, key=lambda m: (order.index(m["server"]), m["concurrency"]))
    lines = [
        "| server | clients | img/s | x Fovea | p50 ms | p95 ms | p99 ms | p99 x Fovea "
        "| errors | generator CPU | peak RSS MB |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in rows:
        base = fovea.get(m["concurrency"], {})
        lines.append(
            f"| {m['server']} | {m['concurrency']} | {m['images_per_s']:.1f} "
            f"| {_ratio(m['images_per_s'], base.get('images_per_s'))} "
            f"| {_ms(m['p50_ms'])} | {_ms(m['p95_ms'])} | {_ms(m['p99_ms'])} "
            f"| {_ratio(m['p99_ms'], base.get('p99_ms'))} | {m['errors']:g} "
            f"| {m['generator_cpu_pct']:.0f}% | {m['peak_rss_mb']:.0f} |"
        )
    return lines


def _notes(report: Report) -> list[str]:
    return [
        "Notes on the method:",
        "",
        "- Fovea tunes glibc malloc when it starts (fixed mmap and trim thresholds: see "
        "`fovea.runtime.memory`); that is part of Fovea. The peers run with their frameworks' "
        "defaults, except that per-request access logs are off everywhere (Fovea runs with "
        "`FOVEA_LOG_LEVEL=warning`, as `fovea bench` starts it).",
        "- Fovea serves a repository holding only `coco`, so it loads what the peers load.",
        "- Ray Serve is made to listen on loopback only: `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` "
        "(Ray's gRPC servers then bind 127.0.0.1) and a two-line shim in "
        "[`rayserve_app.py`](../benchmarks/peers/rayserve_app.py) for the replica's internal "
        "gRPC server, which Ray Serve binds to every interface. Neither changes the request "
        "path.",
        "- Errors are answers other than 200. Rounds on a 2-core machine differ by up to ~10%: "
        "read the ratios, measured in one run, rather than the absolute figures.",
        "- Every number of every round: "
        "[`benchmarks/peers/results.json`](../benchmarks/peers/results.json).",
    ]


def _ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.2f}" if value is not None and base else "-"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _list(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)


def _versions(by_venv: dict[str, dict[str, str]]) -> str:
    peers = by_venv.get("peers", {})
    fovea = by_venv.get("fovea", {})
    shared = [f"{p} {v}" for p, v in peers.items() if p in fovea]
    differ = [f"{p} {fovea[p]} for Fovea" for p, v in peers.items() if fovea.get(p, v) != v]
    own = [f"{p} {v}" for p, v in peers.items() if p not in fovea]
    text = ", ".join(shared + own)
    return text + (f" (but {', '.join(differ)})" if differ else "")


def _today() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d")


def _plot(path: Path, report: Report) -> bool:
    try:
        import matplotlib
        import matplotlib.ticker

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # matplotlib comes with the `bench` extra
        return False
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for server in (s["name"] for s in report.servers):
        rows = sorted(
            (m for m in report.medians if m["server"] == server), key=lambda m: m["concurrency"]
        )
        if not rows:
            continue
        style = {"color": "black", "linewidth": 2.5} if server == "fovea" else {}
        left.plot(*_xy(rows, "images_per_s"), marker="o", label=server, **style)
        right.plot(*_xy(rows, "p99_ms"), marker="o", label=server, **style)
    ticks = sorted({m["concurrency"] for m in report.medians})
    for axis, title in ((left, "throughput (img/s)"), (right, "p99 latency (ms, log scale)")):
        axis.set_xscale("log", base=2)
        axis.set_xticks(ticks, [str(t) for t in ticks])
        axis.set_xlabel("concurrent clients")
        axis.set_title(title)
        axis.grid(True, alpha=0.3)
    right.set_yscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}")
    right.yaxis.set_major_formatter(plain)
    right.yaxis.set_minor_formatter(plain)
    left.set_ylim(bottom=0)
    if report.medians:
        left.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def _xy(rows: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    known = [m for m in rows if m[key] is not None]
    return [m["concurrency"] for m in known], [m[key] for m in known]
