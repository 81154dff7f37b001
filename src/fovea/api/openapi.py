"""Helpers for request bodies that routes read themselves and declare in `openapi_extra`."""

from __future__ import annotations

from typing import Any


def inline_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its `$defs` substituted in, fit for an OpenAPI request body
    (there, `#/$defs/...` would point at the OpenAPI document's root, not at the schema)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                rest = {key: value for key, value in node.items() if key != "$ref"}
                return walk({**defs[ref.removeprefix("#/$defs/")], **rest})
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    inlined: dict[str, Any] = walk(schema)
    return inlined
