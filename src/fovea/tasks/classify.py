"""Classifier output (C,) or (C, 1, 1) per image -> top-k Classes.

`softmax` and `sigmoid` take logits; `none` takes scores that are already probabilities.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

from fovea.core import Classes
from fovea.tasks._base import DecodeContext, Decoder, Outputs, Task

KINDS = ("softmax", "sigmoid", "none")


def to_scores(logits: npt.NDArray[np.float32], kind: str) -> npt.NDArray[np.float32]:
    values = np.asarray(logits, np.float64).reshape(-1)
    if kind == "softmax":
        exp = np.exp(values - values.max(initial=0.0))
        values = exp / exp.sum()
    elif kind == "sigmoid":
        values = 1.0 / (1.0 + np.exp(-values))
    return values.astype(np.float32)


def remap_scores(
    scores: npt.NDArray[np.float32], remap: npt.NDArray[np.int64], num_reported: int, kind: str
) -> npt.NDArray[np.float32]:
    """Scores per reported class: softmax probabilities add up, independent scores take the max."""
    keep = remap[: len(scores)] >= 0
    target, values = remap[: len(scores)][keep], scores[keep]
    out = np.zeros(num_reported, np.float32)
    if kind == "softmax":
        np.add.at(out, target, values)
    else:
        np.maximum.at(out, target, values)
    return out


def top_k(
    scores: npt.NDArray[np.float32],
    k: int,
    allowed: frozenset[int] | None = None,
    labels: tuple[str, ...] = (),
) -> Classes:
    candidates = np.arange(len(scores)) if allowed is None else np.array(sorted(allowed), np.int64)
    candidates = candidates[candidates < len(scores)]
    order = candidates[np.argsort(-scores[candidates], kind="stable")][:k]
    return Classes(order.astype(np.int64), scores[order].astype(np.float32), labels)


def decode(outputs: Outputs, context: DecodeContext, kind: str) -> Classes:
    scores = to_scores(outputs["output"], kind)
    if context.remap is not None:
        scores = remap_scores(scores, context.remap, len(context.labels), kind)
    return top_k(scores, context.top_k, context.allowed, context.labels)


TASK = Task("classify", {kind: Decoder(functools.partial(decode, kind=kind)) for kind in KINDS})
