"""The `megadetector` package's own validator, called from Python (its CLI always exits 0)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def megadetector_problems(path: Path, image_root: Path | None = None) -> list[str]:
    """The validator's errors and warnings for a results file (none: it is accepted)."""
    from PIL import ImageFile

    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    # megadetector's visualization_utils sets this process-wide flag at import (Pillow then
    # "decodes" truncated JPEGs); the rest of the suite must see Pillow's default.
    from megadetector.postprocessing.validate_batch_results import (
        ValidateBatchResultsOptions,
        validate_batch_results,
    )

    ImageFile.LOAD_TRUNCATED_IMAGES = truncated

    options = ValidateBatchResultsOptions()
    if image_root is not None:
        options.check_image_existence = True
        options.relative_path_base = str(image_root)
    report: dict[str, Any] = validate_batch_results(str(path), options)["validation_results"]
    return [*report["errors"], *report["warnings"]]
