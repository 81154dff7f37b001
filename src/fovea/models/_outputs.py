"""Output binding: the graph output each decoder role reads (`cls_8` finds `cls_pred_stride_8`)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from fovea.errors import ModelConfigError


def resolve_outputs(
    roles: Sequence[str], graph_outputs: Sequence[str], explicit: Mapping[str, str]
) -> dict[str, str]:
    """Map each decoder role to a graph output: model.toml's `outputs` first, then the output whose
    name holds every word of the role (`cls_8` finds `cls_pred_stride_8`), then graph order."""
    unknown_roles = sorted(set(explicit) - set(roles))
    if unknown_roles:
        raise ModelConfigError(
            f"outputs names roles {unknown_roles}; the decoder has {list(roles)}"
        )
    missing = sorted(set(explicit.values()) - set(graph_outputs))
    if missing:
        raise ModelConfigError(
            f"outputs {missing} are not in the graph; it has {list(graph_outputs)}"
        )
    chosen: dict[str, str] = dict(explicit)
    free = [name for name in graph_outputs if name not in chosen.values()]
    for role in roles:
        if role in chosen or not free:
            continue
        named = [name for name in free if _words(role) <= _words(name)]
        chosen[role] = (named or free)[0]
        free.remove(chosen[role])
    absent = [r for r in roles if r not in chosen]
    if absent:
        raise ModelConfigError(
            f"the graph has no output for {absent}; it has {list(graph_outputs)}"
        )
    return {role: chosen[role] for role in roles}


def _words(name: str) -> set[str]:
    return set(re.split(r"[^a-z0-9]+", name.lower())) - {""}
