"""Execute a TFJS graph model (model.json + weight shards) in TensorFlow.

Used as the *source-framework reference* when checking a tf2onnx conversion.
Runs inside the throwaway conversion virtualenv (needs tensorflow + tf2onnx).

TFJS graph JSON written by older tfjs-converter releases omits node attributes
that current TensorFlow requires when importing a GraphDef (type attributes
such as ``TArgs`` on ``_FusedConv2D`` / ``_FusedMatMul``, ``Tperm`` on
``Transpose``, and attributes that only have registry defaults such as
``index_type``).  :func:`graph_def_from_tfjs` fills every missing attribute
generically from TensorFlow's op registry:

* type attributes (``type`` / ``list(type)``) are inferred from the dtypes of
  the tensors actually wired into the node (propagated in topological order);
* length attributes (``number_attr``) are inferred from the input count;
* everything else falls back to the OpDef's ``default_value``.
"""

from __future__ import annotations

import copy
import os

import numpy as np
import tensorflow as tf
from google.protobuf.json_format import ParseDict
from tensorflow.core.framework import graph_pb2, node_def_pb2
from tensorflow.python.framework import op_def_registry
from tf2onnx.tfjs_utils import fix_string_attr, read_model_json, read_tfjs_weight


def _load_weights(model_path: str, model: dict, zip_compressed: bool) -> dict:
    import gzip

    weights = {}
    for group in model["weightsManifest"]:
        data = b""
        for path in group["paths"]:
            with open(os.path.join(os.path.dirname(model_path), path), "rb") as f:
                shard = f.read()
            data += gzip.decompress(shard) if zip_compressed else shard
        offset = 0
        for weight in group["weights"]:
            name, arr, nbytes = read_tfjs_weight(weight, data, offset)
            weights[name] = arr
            offset += nbytes
        if offset != len(data):
            raise ValueError(f"weight bytes mismatch: read {offset} of {len(data)}")
    return weights


def _split_input(name: str) -> tuple[str, int]:
    """'node', 'node:1' or 'node:out_arg:0' -> (node, flat output index or -1 for by-arg)."""
    parts = name.split(":")
    if len(parts) == 1:
        return parts[0], 0
    if len(parts) == 2:
        return parts[0], int(parts[1])
    return parts[0], -1  # resolved later via OpDef output args


def _toposort(nodes: list) -> list:
    by_name = {n.name: n for n in nodes}
    order, state = [], {}

    def visit(n):
        stack = [(n, False)]
        while stack:
            node, done = stack.pop()
            if done:
                state[node.name] = 2
                order.append(node)
                continue
            if state.get(node.name):
                continue
            state[node.name] = 1
            stack.append((node, True))
            for inp in node.input:
                src = inp.lstrip("^").split(":")[0]
                if src in by_name and not state.get(src):
                    stack.append((by_name[src], False))

    for n in nodes:
        if not state.get(n.name):
            visit(n)
    return order


def _arg_lengths(op_def, node, n_inputs: int) -> list[int]:
    """Number of input tensors consumed by each input_arg of op_def."""
    lengths, unknown = [], []
    for i, arg in enumerate(op_def.input_arg):
        if arg.number_attr:
            if arg.number_attr in node.attr:
                lengths.append(node.attr[arg.number_attr].i)
                continue
            lengths.append(None)
            unknown.append(i)
        elif arg.type_list_attr:
            if arg.type_list_attr in node.attr:
                lengths.append(len(node.attr[arg.type_list_attr].list.type))
                continue
            lengths.append(None)
            unknown.append(i)
        else:
            lengths.append(1)
    if unknown:
        known = sum(x for x in lengths if x is not None)
        if len(unknown) == 1:
            lengths[unknown[0]] = n_inputs - known
        else:
            # Several open-ended args: use companion int attrs (e.g. num_args for TArgs)
            for i in unknown:
                arg = op_def.input_arg[i]
                hint = _count_hint(op_def, node, arg)
                if hint is None:
                    raise ValueError(
                        f"{node.name} ({node.op}): cannot infer length of input arg {arg.name}"
                    )
                lengths[i] = hint
    if sum(lengths) != n_inputs:
        raise ValueError(
            f"{node.name} ({node.op}): {n_inputs} inputs, op registry expects {lengths}"
        )
    return lengths


def _count_hint(op_def, node, arg):
    # _FusedConv2D style: list(type) arg whose length is given by an int attr named num_<arg>.
    for cand in (f"num_{arg.name}", "num_args"):
        if cand in node.attr:
            return node.attr[cand].i
        d = _default(op_def, cand)
        if d is not None and cand != "num_args":
            return d.i
    if arg.number_attr:
        d = _default(op_def, arg.number_attr)
        if d is not None:
            return d.i
    return None


def _default(op_def, attr_name):
    for a in op_def.attr:
        if a.name == attr_name and a.HasField("default_value"):
            return a.default_value
    return None


def _complete_node(node, op_def, in_dtypes: list[int]) -> list[str]:
    """Fill missing attrs of `node` in place; returns names of attrs added."""
    added = []
    lengths = _arg_lengths(op_def, node, len(in_dtypes))
    pos = 0
    for arg, n in zip(op_def.input_arg, lengths, strict=True):
        dts = in_dtypes[pos : pos + n]
        pos += n
        if arg.number_attr and arg.number_attr not in node.attr:
            node.attr[arg.number_attr].i = n
            added.append(arg.number_attr)
        if arg.type_attr and arg.type_attr not in node.attr and dts and dts[0] is not None:
            node.attr[arg.type_attr].type = dts[0]
            added.append(arg.type_attr)
        if (
            arg.type_list_attr
            and arg.type_list_attr not in node.attr
            and all(d is not None for d in dts)
        ):
            node.attr[arg.type_list_attr].list.type.extend(dts)
            added.append(arg.type_list_attr)
    for a in op_def.attr:
        if a.name not in node.attr and a.HasField("default_value"):
            node.attr[a.name].CopyFrom(a.default_value)
            added.append(a.name)
    missing = [a.name for a in op_def.attr if a.name not in node.attr]
    if missing:
        raise ValueError(f"{node.name} ({node.op}): cannot infer attrs {missing}")
    return added


def _output_dtypes(node, op_def) -> list[int]:
    out = []
    for arg in op_def.output_arg:
        if arg.type_list_attr:
            out.extend(node.attr[arg.type_list_attr].list.type)
            continue
        dt = arg.type if arg.type else node.attr[arg.type_attr].type
        n = node.attr[arg.number_attr].i if arg.number_attr else 1
        out.extend([dt] * n)
    return out


def _output_arg_offsets(node, op_def) -> dict:
    offs, pos = {}, 0
    for arg in op_def.output_arg:
        offs[arg.name] = pos
        if arg.type_list_attr:
            pos += len(node.attr[arg.type_list_attr].list.type)
        elif arg.number_attr:
            pos += node.attr[arg.number_attr].i
        else:
            pos += 1
    return offs


def graph_def_from_tfjs(model_path: str):
    """Return (GraphDef, parsed model.json, {op: attrs added}, {node: attrs added})."""
    model, zipped = read_model_json(model_path)
    topo = model["modelTopology"]
    if topo.get("library", {}).get("function"):
        raise NotImplementedError("TFJS models with function libraries are not supported here")
    weights = _load_weights(model_path, model, zipped)

    nodes = []
    for raw in topo["node"]:
        raw = copy.deepcopy(raw)
        fix_string_attr(raw)
        if raw["op"] == "Const":  # the tensor content comes from the weight shards below
            raw.get("attr", {}).pop("value", None)
        nd = node_def_pb2.NodeDef()
        ParseDict(raw, nd)
        if raw["op"] == "Const":
            arr = weights[raw["name"]]
            dtype = tf.as_dtype(nd.attr["dtype"].type)
            arr = np.asarray(arr).astype(dtype.as_numpy_dtype) if dtype != tf.string else arr
            nd.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(arr, dtype=dtype))
        nodes.append(nd)

    out_dtypes: dict[str, list[int]] = {}
    by_name = {n.name: n for n in nodes}
    added_report: dict[str, set] = {}
    added_by_node: dict[str, list[str]] = {}
    for nd in _toposort(nodes):
        op_def = op_def_registry.get(nd.op)
        if op_def is None:
            raise ValueError(f"op {nd.op} is not registered in this TensorFlow build")
        in_dts = []
        for inp in nd.input:
            if inp.startswith("^"):
                continue
            src, idx = _split_input(inp)
            if idx == -1:  # node:arg_name:i form -> flat index
                _, arg_name, sub = inp.split(":")
                src_node = by_name[src]
                idx = _output_arg_offsets(src_node, op_def_registry.get(src_node.op))[
                    arg_name
                ] + int(sub)
            in_dts.append(out_dtypes[src][idx] if src in out_dtypes else None)
        added = _complete_node(nd, op_def, in_dts)
        if added:
            added_by_node[nd.name] = added
        for a in added:
            added_report.setdefault(nd.op, set()).add(a)
        out_dtypes[nd.name] = _output_dtypes(nd, op_def)

    # Rewrite 'node:arg:i' inputs into flat 'node:k' form understood by GraphDef import.
    for nd in nodes:
        for i, inp in enumerate(nd.input):
            if inp.count(":") == 2:
                src, arg_name, sub = inp.lstrip("^").split(":")
                src_node = by_name[src]
                k = _output_arg_offsets(src_node, op_def_registry.get(src_node.op))[arg_name] + int(
                    sub
                )
                nd.input[i] = f"{src}:{k}"

    gd = graph_pb2.GraphDef()
    gd.node.extend(nodes)
    report = {k: sorted(v) for k, v in sorted(added_report.items())}
    return gd, model, report, added_by_node


def patch_model_json(model_path: str, out_path: str) -> dict:
    """Write a copy of model.json with every missing attribute filled in (weights are untouched:
    copy the shards next to out_path). Returns {op: [attrs added]}."""
    import json

    from google.protobuf.json_format import MessageToDict

    gd, model, report, added_by_node = graph_def_from_tfjs(model_path)
    by_name = {n.name: n for n in gd.node}
    for raw in model["modelTopology"]["node"]:
        for attr in added_by_node.get(raw["name"], []):
            raw.setdefault("attr", {})[attr] = MessageToDict(by_name[raw["name"]].attr[attr])
    with open(out_path, "w") as f:
        json.dump(model, f, separators=(",", ":"))
    return report


def run_tfjs(model_path: str, feeds: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict]:
    """Execute the TFJS graph in TensorFlow.

    Returns ({signature output key: array}, {op: attrs filled in}).
    """
    gd, model, report, _ = graph_def_from_tfjs(model_path)
    outputs = {k: v["name"] for k, v in model["signature"]["outputs"].items()}
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        fetch = {
            k: graph.get_tensor_by_name(v if ":" in v else v + ":0") for k, v in outputs.items()
        }
        feed = {graph.get_tensor_by_name(k if ":" in k else k + ":0"): v for k, v in feeds.items()}
        res = sess.run(fetch, feed_dict=feed)
    return res, report
