"""Faster precisions of the bundled models against fp32, measured in one run: inference time on
one thread and agreement on the project's real photos (same labels, boxes matched at IoU >= 0.9,
the largest score change). int8 versions are written by `fovea models quantize` into a copy of
the bundled repository; bf16 runs on OpenVINO (CPUs with AVX-512 BF16 or AMX).

    .venv/bin/python benchmarks/precisions.py [--models coco,imagenet] > precisions.md
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from fovea.bench.agreement import Comparison, compare
from fovea.models import BUNDLED, Repository, ServedModel
from fovea.models._quantize import quantize
from fovea.runtime.openvino import cpu_has_bf16

ROOT = Path(__file__).parents[1]
PHOTOS = sorted((ROOT / "tests" / "fixtures" / "photos").glob("*.jpg"))
PHOTOS.append(ROOT / "benchmarks" / "photo-1280x960.jpg")


def _served(repository: Path, name: str, version: str | None = None) -> ServedModel:
    repo = Repository(repository)
    repo.scan()
    repo.load_all(only=name)
    model = repo.get(name, version)
    assert isinstance(model, ServedModel), repo.entries[name].error
    return model


def _row(name: str, precision: str, result: Comparison) -> str:
    found = result.total
    return (
        f"| {name} | {precision} | {result.reference_ms:.1f} | {result.variant_ms:.1f} "
        f"| {result.speedup:.2f}x | {found.matched}/{found.reference} | {found.extra} "
        f"| {found.max_score_delta:.3f} | {found.min_iou:.3f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="coco,person-segmentation,imagenet")
    args = parser.parse_args()
    images = [p.read_bytes() for p in PHOTOS]
    print(
        "| model | precision | fp32 ms | variant ms | speedup | matched | extra "
        "| largest score change | smallest IoU |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as scratch:
        repository = Path(scratch) / "models"
        shutil.copytree(BUNDLED, repository)
        for name in args.models.split(","):
            reference = _served(repository, name)
            version = quantize(reference, repository / name, PHOTOS)
            print(
                _row(name, "int8", compare(reference, _served(repository, name, version), images))
            )
            shutil.rmtree(repository / name / version)
            if not cpu_has_bf16():
                print(f"| {name} | bf16 | - | - | - | - | - | - | this CPU has no bf16 |")
                continue
            toml = repository / name / "model.toml"
            toml.write_text(toml.read_text() + '\n[runtime]\nprecision = "bf16"\n')
            print(
                _row(name, "bf16 (OpenVINO)", compare(reference, _served(repository, name), images))
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
