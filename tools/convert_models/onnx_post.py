"""Post-processing of tf2onnx / torch.onnx output: tensor renaming, output ordering, dynamic
batch, constant folding.

Runs inside the conversion virtualenv (needs onnx + numpy).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper


def rename_tensors(model: onnx.ModelProto, mapping: dict[str, str]) -> None:
    """Rename tensors everywhere in the main graph (inputs, outputs, node io, value_info)."""
    if not mapping:
        return
    g = model.graph
    for coll in (g.input, g.output, g.value_info):
        for vi in coll:
            if vi.name in mapping:
                vi.name = mapping[vi.name]
    for init in g.initializer:
        if init.name in mapping:
            init.name = mapping[init.name]
    for node in g.node:
        for i, name in enumerate(node.input):
            if name in mapping:
                node.input[i] = mapping[name]
        for i, name in enumerate(node.output):
            if name in mapping:
                node.output[i] = mapping[name]


def reorder_outputs(model: onnx.ModelProto, order: list[str]) -> None:
    outs = {o.name: o for o in model.graph.output}
    if sorted(outs) != sorted(order):
        raise ValueError(f"output names {sorted(outs)} != expected {sorted(order)}")
    new = [outs[n] for n in order]
    del model.graph.output[:]
    model.graph.output.extend(new)


def _fold_constants(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Values of every tensor computable from initializers alone (small reference evaluation)."""
    from onnx.reference import ReferenceEvaluator

    g = model.graph
    known = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    graph_inputs = {i.name for i in g.input} - set(known)
    done: set[int] = set()
    changed = True
    while changed:  # fixed point: does not rely on the node list being topologically sorted
        changed = False
        for idx, node in enumerate(g.node):
            if idx in done:
                continue
            ins = [i for i in node.input if i]
            if node.op_type != "Constant" and (
                not ins or any(i in graph_inputs or i not in known for i in ins)
            ):
                continue
            done.add(idx)
            if node.domain not in ("", "ai.onnx") or node.op_type in ("If", "Loop", "Scan"):
                continue
            try:
                vals = ReferenceEvaluator(node).run(None, {i: known[i] for i in ins})
            except Exception:
                continue
            for name, val in zip(node.output, vals, strict=False):
                known[name] = np.asarray(val)
            changed = True
    return known


def fold_constants(model: onnx.ModelProto) -> int:
    """Replace every node that computes only constants by initializers holding its results.

    torch.onnx leaves such subgraphs behind where its own folding gives up (the SAME-padding
    arithmetic of ported TensorFlow models: ConstantOfShape, Concat, Slice with step -1, ...).
    Returns the number of nodes removed.
    """
    g = model.graph
    known = _fold_constants(model)
    outputs = {o.name for o in g.output}
    keep = [
        n
        for n in g.node
        if not (n.output and all(o in known and o not in outputs for o in n.output))
    ]
    removed = len(g.node) - len(keep)
    have = {i.name for i in g.initializer}
    used = sorted({i for n in keep for i in n.input if i in known and i not in have})
    g.initializer.extend(numpy_helper.from_array(np.asarray(known[n]), n) for n in used)
    del g.node[:]
    g.node.extend(keep)
    _prune_dead_nodes(model)
    return removed


def _prune_dead_nodes(model: onnx.ModelProto) -> None:
    g = model.graph
    needed = {o.name for o in g.output}
    keep = []
    for node in reversed(g.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    keep.reverse()
    del g.node[:]
    g.node.extend(keep)
    inits = [i for i in g.initializer if i.name in needed]
    del g.initializer[:]
    g.initializer.extend(inits)


def make_batch_dynamic(model: onnx.ModelProto, dim_name: str = "N") -> list[str]:
    """Turn a batch-1 graph into a batch-N graph where possible.

    * graph inputs/outputs get a symbolic first dimension;
    * every Reshape whose target shape is a graph constant starting with 1 gets 0 there
      (ONNX: copy that dimension from the input), i.e. the batch is carried through;
    * stale value_info (shapes with batch 1 baked in) is dropped and re-inferred.

    Returns a list of human-readable changes. Whether the result is *correct* for N > 1 is
    checked separately by running it (see worker.check_batch).
    """
    g = model.graph
    changes = []
    init_names = {i.name for i in g.initializer}
    consts = _fold_constants(model)
    new_inits = []
    for node in g.node:
        if node.op_type != "Reshape" or len(node.input) < 2:
            continue
        data, shape_name = node.input[0], node.input[1]
        if data in consts or shape_name not in consts:
            continue  # reshaping a constant, or a data-dependent shape: leave alone
        shape = np.asarray(consts[shape_name]).astype(np.int64).reshape(-1)
        if shape.size == 0 or shape[0] != 1:
            continue
        new_shape = shape.copy()
        new_shape[0] = 0
        new_name = f"{node.name}__batch_shape"
        new_inits.append(numpy_helper.from_array(new_shape, new_name))
        node.input[1] = new_name
        changes.append(f"Reshape {node.name}: shape {shape.tolist()} -> {new_shape.tolist()}")
    g.initializer.extend(new_inits)
    for vi in list(g.input) + list(g.output):
        dims = vi.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_param = dim_name
    for vi in g.output:
        for d in vi.type.tensor_type.shape.dim[1:]:
            if d.dim_param.startswith("unk__"):
                d.Clear()
    del g.value_info[:]
    _prune_dead_nodes(model)
    del init_names
    return changes


def finalize(model: onnx.ModelProto) -> onnx.ModelProto:
    """Infer shapes (fills output dims) and validate."""
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    # value_info is an optional cache; keep the file lean and deterministic.
    del model.graph.value_info[:]
    onnx.checker.check_model(model, full_check=True)
    return model


def io_summary(model: onnx.ModelProto) -> tuple[list, list]:
    def desc(vi):
        t = vi.type.tensor_type
        dims = [
            d.dim_param if d.dim_param else (d.dim_value if d.HasField("dim_value") else "?")
            for d in t.shape.dim
        ]
        return vi.name, dims, helper.tensor_dtype_to_np_dtype(t.elem_type).name

    init = {i.name for i in model.graph.initializer}
    return (
        [desc(v) for v in model.graph.input if v.name not in init],
        [desc(v) for v in model.graph.output],
    )


def store_fp16_exact(model: onnx.ModelProto, min_elems: int = 16) -> int:
    """Store float32 initializers whose values are all exactly representable in float16 as
    float16 + a Cast to float32 (ONNX Runtime folds the Cast at load time).

    TFJS/TFLite sources often carry float16-quantised weights that tf2onnx widens to float32;
    this halves the file without changing a single computed value. Returns bytes saved.
    """
    g = model.graph
    saved = 0
    casts = []
    keep = []
    for init in g.initializer:
        if init.data_type != onnx.TensorProto.FLOAT:
            keep.append(init)
            continue
        arr = numpy_helper.to_array(init)
        if arr.size < min_elems:
            keep.append(init)
            continue
        with np.errstate(over="ignore"):
            half = arr.astype(np.float16)
        if not (np.isfinite(half).all() and np.array_equal(half.astype(np.float32), arr)):
            keep.append(init)
            continue
        new_name = init.name + "__fp16"
        keep.append(numpy_helper.from_array(half, new_name))
        casts.append(
            helper.make_node(
                "Cast",
                [new_name],
                [init.name],
                name=init.name + "__cast",
                to=onnx.TensorProto.FLOAT,
            )
        )
        saved += arr.size * 2
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    return saved


def canonicalize(model: onnx.ModelProto) -> None:
    """Deterministic node order and internal names.

    tf2onnx names generated tensors from counters whose order depends on set/dict iteration,
    so two runs give structurally identical graphs with different names/order (different
    sha256). Re-emit the graph in a structure-determined topological order and rename every
    internal node/tensor/initializer from that order; graph inputs/outputs keep their names.
    """
    import hashlib

    g = model.graph
    keep_names = {v.name for v in g.input} | {v.name for v in g.output}
    inits = {i.name: i for i in g.initializer}
    init_key = {
        n: "init:" + hashlib.sha1(i.SerializeToString().replace(n.encode(), b"")).hexdigest()
        for n, i in inits.items()
    }
    canon: dict[str, str] = {v.name: v.name for v in g.input}
    produced = {o for n in g.node for o in n.output if o}
    pending = list(g.node)
    ordered = []
    n_tensor = n_init = 0

    def ready(node):
        return all((not i) or i in canon or (i in inits) or (i not in produced) for i in node.input)

    def key(node):
        attrs = b"".join(
            a.SerializeToString() for a in sorted(node.attribute, key=lambda a: a.name)
        )
        ins = tuple(canon.get(i) or init_key.get(i) or i for i in node.input)
        return (node.op_type, node.domain, ins, hashlib.sha1(attrs).hexdigest())

    alias: dict[str, str] = {}  # outputs of dropped duplicate nodes -> surviving outputs
    seen: dict[tuple, onnx.NodeProto] = {}

    while pending:
        candidates = [n for n in pending if ready(n)]
        if not candidates:
            raise ValueError("graph is not a DAG")
        node = min(candidates, key=key)
        pending.remove(node)
        for i, name in enumerate(node.input):
            if name in alias:
                node.input[i] = alias[name]
        k = key(node)
        twin = seen.get(k)
        if twin is not None and not any(o in keep_names for o in node.output):
            # identical op on identical inputs (tf2onnx merges such duplicates only sometimes)
            for o, t in zip(node.output, twin.output, strict=True):
                alias[o] = t
            continue
        seen[k] = node
        for i in node.input:
            if i and i not in canon and i in inits:
                canon[i] = f"w{n_init}"
                n_init += 1
        for o in node.output:
            if o and o not in canon:
                if o in keep_names:
                    canon[o] = o
                else:
                    canon[o] = f"t{n_tensor}"
                    n_tensor += 1
        ordered.append(node)
    for idx, node in enumerate(ordered):
        node.name = f"{node.op_type}_{idx}"
    mapping = {k: v for k, v in canon.items() if k != v}
    del g.node[:]
    g.node.extend(ordered)
    used = {i for n in ordered for i in n.input}
    live = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(live)
    rename_tensors(model, mapping)
    order = {v: k for k, v in enumerate(canon.values())}
    sorted_inits = sorted(g.initializer, key=lambda i: order.get(i.name, len(order)))
    del g.initializer[:]
    g.initializer.extend(sorted_inits)


def drop_noop_reshapes(model: onnx.ModelProto) -> int:
    """Remove Reshape nodes whose (static) input shape already equals the constant target shape.

    tf2onnx removes such identity reshapes only in some runs (its optimiser is order dependent),
    so normalising them away is needed for byte-identical re-runs. Returns the number removed.
    """
    g = model.graph
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in (
        list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    ):
        dims = vi.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            shapes[vi.name] = [d.dim_value for d in dims]
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    outputs = {o.name for o in g.output}
    alias = {}
    keep = []
    for node in g.node:
        for i, name in enumerate(node.input):
            if name in alias:
                node.input[i] = alias[name]
        if (
            node.op_type == "Reshape"
            and node.input[1] in inits
            and node.output[0] not in outputs
            and node.input[0] in shapes
            and inits[node.input[1]].reshape(-1).tolist() == shapes[node.input[0]]
        ):
            alias[node.output[0]] = node.input[0]
            continue
        keep.append(node)
    for node in keep:  # consumers listed before producers (non-topological input) still get fixed
        for i, name in enumerate(node.input):
            while name in alias:
                name = alias[name]
            node.input[i] = name
    del g.node[:]
    g.node.extend(keep)
    used = {i for n in keep for i in n.input}
    live = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(live)
    return len(alias)
