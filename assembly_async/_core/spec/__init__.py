"""The vendored Assembly Platform API description (OpenAPI 3.1).

A copy of the spec ships inside the package so that the model generator, the
drift tests and the fake server work without any file outside the repo.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

__all__ = ["load_spec"]


@functools.lru_cache(maxsize=1)
def load_spec() -> dict[str, Any]:
    """Return the parsed vendored OpenAPI document (read once, then cached)."""
    text = resources.files(__name__).joinpath("openapi.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data
