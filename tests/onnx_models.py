"""Tiny ONNX models built with onnx.helper, so tests need no downloaded weights.

Detectors output planted tensors (the same for every image; the input only sets the batch size).
The classifier and segmenters compute from the pixels, so colour in, answer out.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


def _input(size_hw: tuple[int, int], layout: str, dynamic: bool) -> onnx.ValueInfoProto:
    batch: int | str = "batch" if dynamic else 1
    h, w = size_hw
    shape = [batch, 3, h, w] if layout == "NCHW" else [batch, h, w, 3]
    return helper.make_tensor_value_info("images", TensorProto.FLOAT, shape)


def _save(
    path: Path,
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto],
    outputs: list[onnx.ValueInfoProto],
    inits: list[onnx.TensorProto],
) -> Path:
    graph = helper.make_graph(nodes, "fovea-test", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, path)
    return path


def planted_model(
    path: Path,
    outputs: Mapping[str, npt.NDArray[np.float32]],
    size_hw: tuple[int, int],
    layout: str = "NCHW",
    dynamic: bool = True,
) -> Path:
    """Each output is its planted array (first axis 1) repeated over the batch."""
    nodes = [
        helper.make_node("ReduceSum", ["images", "axes"], ["total"], keepdims=1),
        helper.make_node("Mul", ["total", "zero"], ["nothing"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([1, 2, 3], np.int64), "axes"),
        numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
    ]
    infos = []
    for name, array in outputs.items():
        shape = [-1] + [1] * (array.ndim - 1)
        inits += [
            numpy_helper.from_array(array.astype(np.float32), f"{name}_value"),
            numpy_helper.from_array(np.array(shape, np.int64), f"{name}_shape"),
        ]
        nodes += [
            helper.make_node("Reshape", ["nothing", f"{name}_shape"], [f"{name}_zero"]),
            helper.make_node("Add", [f"{name}_zero", f"{name}_value"], [name]),
        ]
        out_shape = ["batch" if dynamic else 1, *array.shape[1:]]
        infos.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, out_shape))
    return _save(path, nodes, [_input(size_hw, layout, dynamic)], infos, inits)


def colour_classifier(path: Path, size_hw: tuple[int, int] = (32, 32)) -> Path:
    """Logits (N, 3) = 10 x mean of R, G, B: the dominant colour wins."""
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["means"], axes=[2, 3], keepdims=0),
        helper.make_node("Mul", ["means", "ten"], ["logits"]),
    ]
    inits = [numpy_helper.from_array(np.array([10.0], np.float32), "ten")]
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])
    return _save(path, nodes, [_input(size_hw, "NCHW", True)], [out], inits)


def colour_cam_classifier(path: Path, size_hw: tuple[int, int] = (32, 32)) -> Path:
    """The colour classifier with an activation to explain: `features` (N, 3, H/4, W/4) = the
    image averaged over 4x4 cells, `logits` (N, 3) = 10 x the mean of each feature map."""
    nodes = [
        helper.make_node(
            "AveragePool", ["images"], ["features"], kernel_shape=[4, 4], strides=[4, 4]
        ),
        helper.make_node("ReduceMean", ["features"], ["means"], axes=[2, 3], keepdims=0),
        helper.make_node("Mul", ["means", "ten"], ["logits"]),
    ]
    inits = [numpy_helper.from_array(np.array([10.0], np.float32), "ten")]
    h, w = size_hw
    outputs = [
        helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3]),
        helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 3, h // 4, w // 4]),
    ]
    return _save(path, nodes, [_input(size_hw, "NCHW", True)], outputs, inits)


def red_segmenter(path: Path, size_hw: tuple[int, int] = (64, 64)) -> Path:
    """Logits (N, 1, H, W) = 10 x (R - G): red pixels are foreground."""
    weight = np.array([10.0, -10.0, 0.0], np.float32).reshape(1, 3, 1, 1)
    nodes = [helper.make_node("Conv", ["images", "w"], ["logits"])]
    inits = [numpy_helper.from_array(weight, "w")]
    h, w = size_hw
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1, h, w])
    return _save(path, nodes, [_input(size_hw, "NCHW", True)], [out], inits)


def channel_segmenter(path: Path, size_hw: tuple[int, int] = (64, 64)) -> Path:
    """Logits (N, 3, H, W) = the image itself: each pixel's class is its strongest channel."""
    nodes = [helper.make_node("Identity", ["images"], ["logits"])]
    h, w = size_hw
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3, h, w])
    return _save(path, nodes, [_input(size_hw, "NCHW", True)], [out], [])


def slow_planted_model(
    path: Path,
    outputs: Mapping[str, npt.NDArray[np.float32]],
    size_hw: tuple[int, int],
    layers: int = 5,
) -> Path:
    """Like planted_model, plus `layers` 512x512x512 MatMuls (~0.27 GFLOP each) that depend on
    the input, so inference takes real time; their result is multiplied by zero."""
    model = onnx.load(planted_model(path, outputs, size_hw))
    graph = model.graph
    weight = (np.eye(512, dtype=np.float32) * 0.5).astype(np.float32)
    graph.initializer.extend(
        [
            numpy_helper.from_array(weight, "slow_w"),
            numpy_helper.from_array(np.ones((1, 512, 512), np.float32), "slow_ones"),
            numpy_helper.from_array(np.array([-1, 1, 1], np.int64), "slow_shape"),
        ]
    )
    nodes = [
        helper.make_node("Reshape", ["total", "slow_shape"], ["slow_in"]),
        helper.make_node("Mul", ["slow_in", "slow_ones"], ["slow_0"]),
    ]
    for i in range(layers):
        nodes.append(helper.make_node("MatMul", [f"slow_{i}", "slow_w"], [f"slow_{i + 1}"]))
    nodes += [
        helper.make_node("ReduceSum", [f"slow_{layers}"], ["slow_sum"], keepdims=1),
        helper.make_node("Mul", ["slow_sum", "zero"], ["slow_zero"]),
    ]
    # Feed the zero into the first output so the runtime cannot skip the work.
    first = next(iter(outputs))
    final = next(n for n in graph.node if n.op_type == "Add" and n.output[0] == first)
    final.input[0] = f"{first}_slowed"
    nodes.append(helper.make_node("Add", [f"{first}_zero", "slow_zero"], [f"{first}_slowed"]))
    ordered = [n for n in graph.node if n is not final] + nodes + [final]
    del graph.node[:]
    graph.node.extend(ordered)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path
