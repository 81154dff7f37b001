"""Output binding: each decoder role finds its graph output."""

from __future__ import annotations

import pytest

from fovea.errors import ModelConfigError
from fovea.models._outputs import resolve_outputs

NANODET = ("cls_8", "dis_8", "cls_16", "dis_16")


@pytest.mark.parametrize(
    ("roles", "graph", "explicit", "expected"),
    [
        (("output",), ["logits"], {}, {"output": "logits"}),  # one output: graph order
        (("output",), ["logits", "features"], {"output": "logits"}, {"output": "logits"}),
        (
            NANODET,
            ["dis_pred_stride_16", "cls_pred_stride_8", "dis_pred_stride_8", "cls_pred_stride_16"],
            {},
            {
                "cls_8": "cls_pred_stride_8",
                "dis_8": "dis_pred_stride_8",
                "cls_16": "cls_pred_stride_16",
                "dis_16": "dis_pred_stride_16",
            },
        ),
        (("boxes", "scores"), ["a", "b"], {"scores": "a"}, {"boxes": "b", "scores": "a"}),
    ],
)
def test_roles_bind_by_explicit_name_then_words_then_order(
    roles: tuple[str, ...], graph: list[str], explicit: dict[str, str], expected: dict[str, str]
) -> None:
    assert resolve_outputs(roles, graph, explicit) == expected


@pytest.mark.parametrize(
    ("roles", "graph", "explicit", "message"),
    [
        (("output",), ["a"], {"logits": "a"}, r"names roles \['logits'\]"),
        (("output",), ["a"], {"output": "b"}, r"outputs \['b'\] are not in the graph"),
        (("boxes", "scores"), ["a"], {}, r"no output for \['scores'\]"),
    ],
)
def test_binding_errors_name_what_is_wrong(
    roles: tuple[str, ...], graph: list[str], explicit: dict[str, str], message: str
) -> None:
    with pytest.raises(ModelConfigError, match=message):
        resolve_outputs(roles, graph, explicit)
