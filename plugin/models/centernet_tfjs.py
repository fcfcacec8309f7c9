"""Convert the CenterNet TFJS graph model of ``@vladmandic/human`` into ONNX, once, at set-up.

Run by :mod:`plugin.models.detector_build` with the interpreter of a throw-away virtual
environment that holds TensorFlow and tf2onnx, so TensorFlow never becomes a runtime
dependency; nothing here is imported by the product at run time.

``python centernet_tfjs.py MODEL_JSON OUTPUT_ONNX SIZE``

The TFJS graph needs two repairs before tf2onnx reads it: fused convolutions lack the
``TArgs`` attribute (one ``DT_FLOAT`` per extra argument), and some nodes lack attributes
that current TensorFlow gives defaults to (``filter_format``, ``leakyrelu_alpha``, ``Tk``,
``index_type``); both are filled in from TensorFlow's own op registry.

The graph is fixed to 512-pixel inputs by its placeholder and by the sizes its three
up-sampling steps resize to (constants in the weights). Both are rewritten for *SIZE* (a
multiple of 32): the network itself is convolutional, and a smaller input costs less in
proportion to its area. Only the class heat map (``keypoints``, stride 4) and the box sizes
(``wh``) are kept as outputs; the graph's own decoding has the 512-pixel layout baked into
more constants, and the product decodes the two maps itself (:mod:`plugin.models.detector`).
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

FUSED = {"_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedDepthwiseConv2dNative"}
OPSET = "17"
OUTPUTS = "tower_0/keypoints:0,tower_0/wh:0"
#: The up-sampling steps of the head, and the stride of the feature map each one resizes to.
UPSAMPLING = {
    "tower_0/CenternetHead/c5_upsample/up_sampling2d/mul": 16,
    "tower_0/CenternetHead/c4_upsample/up_sampling2d_1/mul": 8,
    "tower_0/CenternetHead/c3_upsample/up_sampling2d_2/mul": 4,
}


def repaired(model: dict[str, Any]) -> dict[str, Any]:
    """*model* (a TFJS graph-model JSON) with the attributes current TensorFlow expects."""
    from google.protobuf import json_format
    from tensorflow.core.framework import attr_value_pb2
    from tensorflow.python.framework import op_def_registry

    for node in model["modelTopology"]["node"]:
        attrs = node.setdefault("attr", {})
        if node["op"] in FUSED and "TArgs" not in attrs:
            extra = int(attrs.get("num_args", {}).get("i", "0"))
            attrs["TArgs"] = {"list": {"type": ["DT_FLOAT"] * extra}}
        op_def = op_def_registry.get(node["op"])
        if op_def is None:
            continue
        for attr in op_def.attr:
            if attr.name not in attrs and attr.HasField("default_value"):
                value = attr_value_pb2.AttrValue()
                value.CopyFrom(attr.default_value)
                attrs[attr.name] = json_format.MessageToDict(value)
    return model


def resized(model: dict[str, Any], weights: bytearray, size: int) -> None:
    """Rewrite *model*'s placeholder and *weights*' up-sampling sizes for *size*-pixel inputs, in place."""
    if size % 32:
        raise ValueError(f"the input size must be a multiple of 32, not {size}")
    for node in model["modelTopology"]["node"]:
        if node["op"] == "Placeholder":
            node["attr"]["shape"]["shape"]["dim"] = [{"size": str(n)} for n in (1, size, size, 3)]
    offset = 0
    for group in model["weightsManifest"]:
        for weight in group["weights"]:
            count = 1
            for dim in weight["shape"]:
                count *= dim
            width = 2 if "quantization" in weight else 4  # float16-quantized floats, else 32-bit
            if weight["name"] in UPSAMPLING:
                side = size // UPSAMPLING[weight["name"]]
                struct.pack_into("<2i", weights, offset, side, side)
            offset += count * width


def pruned(model: dict[str, Any]) -> None:
    """Drop the nodes that the kept outputs do not need (the decoding, with its 512-pixel layout), in place."""
    nodes = {node["name"]: node for node in model["modelTopology"]["node"]}
    needed: set[str] = set()
    stack = [name.split(":")[0] for name in OUTPUTS.split(",")]
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        stack += [source.lstrip("^").split(":")[0] for source in nodes[name].get("input", [])]
    model["modelTopology"]["node"] = [node for node in model["modelTopology"]["node"] if node["name"] in needed]


def convert(model_json: Path, output: Path, size: int) -> None:
    model = json.loads(model_json.read_text(encoding="utf-8"))
    shards = [path for group in model["weightsManifest"] for path in group["paths"]]
    if len(shards) != 1:
        raise ValueError(f"expected the weights in one file, found {len(shards)}")
    weights = bytearray((model_json.parent / shards[0]).read_bytes())
    resized(model, weights, size)
    pruned(model)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        (folder / "model.json").write_text(json.dumps(repaired(model)), encoding="utf-8")
        (folder / shards[0]).write_bytes(bytes(weights))
        subprocess.run(
            [
                sys.executable, "-m", "tf2onnx.convert", "--tfjs", str(folder / "model.json"), "--output", str(output),
                "--opset", OPSET, "--outputs", OUTPUTS,
            ],
            check=True,
        )


if __name__ == "__main__":
    convert(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]))
