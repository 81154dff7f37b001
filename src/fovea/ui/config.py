"""Where the UI finds the API: FOVEA_API_URL and FOVEA_API_KEY, from the environment, then a
`.env` file in the working directory, then the defaults.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from fovea.client import DEFAULT_URL


@dataclass(frozen=True)
class UISettings:
    api_url: str = DEFAULT_URL
    api_key: str | None = None


def load_settings(
    environ: Mapping[str, str] | None = None, dotenv_path: Path = Path(".env")
) -> UISettings:
    """The environment wins over `.env`; empty values count as unset."""
    values: dict[str, str | None] = {**dotenv_values(dotenv_path)}
    values.update(os.environ if environ is None else environ)
    url = (values.get("FOVEA_API_URL") or "").strip().rstrip("/")
    key = (values.get("FOVEA_API_KEY") or "").strip()
    return UISettings(api_url=url or DEFAULT_URL, api_key=key or None)
