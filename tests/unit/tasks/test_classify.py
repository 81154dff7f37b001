from __future__ import annotations

import numpy as np
import pytest

from fovea.tasks.classify import remap_scores, to_scores, top_k


def test_softmax_sigmoid_and_none() -> None:
    logits = np.array([1.0, 2.0, 3.0], np.float32)
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(to_scores(logits, "softmax"), e / e.sum(), rtol=1e-6)
    np.testing.assert_allclose(to_scores(logits, "sigmoid"), 1 / (1 + np.exp(-logits)), rtol=1e-6)
    np.testing.assert_array_equal(to_scores(logits.reshape(3, 1, 1), "none"), logits)


def test_softmax_is_stable_for_large_logits() -> None:
    scores = to_scores(np.array([1000.0, 0.0], np.float32), "softmax")
    assert scores.tolist() == pytest.approx([1.0, 0.0])


def test_top_k_best_first_and_filtered() -> None:
    scores = np.array([0.1, 0.5, 0.3, 0.05], np.float32)
    best = top_k(scores, 2)
    assert best.class_id.tolist() == [1, 2]
    assert best.score.tolist() == pytest.approx([0.5, 0.3])
    only = top_k(scores, 5, allowed=frozenset({0, 3}))
    assert only.class_id.tolist() == [0, 3]


def test_remap_adds_softmax_and_maxes_sigmoid() -> None:
    scores = np.array([0.2, 0.3, 0.5], np.float32)
    remap = np.array([0, 0, -1], np.int64)
    assert remap_scores(scores, remap, 1, "softmax").tolist() == pytest.approx([0.5])
    assert remap_scores(scores, remap, 1, "sigmoid").tolist() == pytest.approx([0.3])
