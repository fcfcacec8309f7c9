"""Boxes around the objects in a photo, from the MobileNetV3 CenterNet run by ONNX Runtime.

The network (:mod:`plugin.models.detector_build` converts it once) gives two maps at a
quarter of its input's resolution: a heat map per COCO class, whose local peaks are object
centres, and four distances from each centre to the box's edges. Decoding them is a few
numpy steps: peaks of the heat map, the strongest of them, boxes from the distances, and
non-maximum suppression across classes (the class names are weak; boxes are what the
search uses).
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from pathlib import Path

import numpy as np
from cachetools import LRUCache
from PIL import Image

#: COCO's 80 class names, in the network's order.
COCO = (
    "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant stop_sign parking_meter "
    "bench bird cat dog horse sheep cow elephant bear zebra giraffe backpack umbrella handbag tie suitcase frisbee "
    "skis snowboard sports_ball kite baseball_bat baseball_glove skateboard surfboard tennis_racket bottle wine_glass "
    "cup fork knife spoon bowl banana apple sandwich orange broccoli carrot hot_dog pizza donut cake chair couch "
    "potted_plant bed dining_table toilet tv laptop mouse remote keyboard cell_phone microwave oven toaster sink "
    "refrigerator book clock vase scissors teddy_bear hair_drier toothbrush"
).split()
#: The maps' stride: one heat-map cell per 4×4 input pixels.
STRIDE = 4
#: Strongest peaks decoded before suppression.
CANDIDATES = 100


@dataclasses.dataclass(frozen=True)
class Box:
    """An object's box as fractions of the photo's width and height, with the network's confidence."""

    left: float
    top: float
    right: float
    bottom: float
    score: float
    label: str

    @property
    def area(self) -> float:
        return max(0.0, self.right - self.left) * max(0.0, self.bottom - self.top)

    def coords(self) -> list[float]:
        return [round(self.left, 4), round(self.top, 4), round(self.right, 4), round(self.bottom, 4)]

    def iou(self, other: Box) -> float:
        width = min(self.right, other.right) - max(self.left, other.left)
        height = min(self.bottom, other.bottom) - max(self.top, other.top)
        if width <= 0 or height <= 0:
            return 0.0
        inter = width * height
        return inter / (self.area + other.area - inter)


class Detector:
    """One ONNX Runtime session of the converted CenterNet; safe to call from several threads."""

    def __init__(self, path: Path, threads: int = 0, min_score: float = 0.15, iou: float = 0.5, max_boxes: int = 8) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        entry = self.session.get_inputs()[0]
        self.input_name = entry.name
        self.size = int(entry.shape[1])
        outputs = {node.name.split(":")[0]: node.name for node in self.session.get_outputs()}
        self.outputs = [outputs["tower_0/keypoints"], outputs["tower_0/wh"]]
        self.path, self.min_score, self.iou, self.max_boxes = path, min_score, iou, max_boxes
        # The same photo searched again (another page, other words, other filters) is not detected again.
        self._recent: LRUCache[str, list[Box]] = LRUCache(maxsize=256)
        self._lock = threading.Lock()

    def detect(self, image: Image.Image) -> list[Box]:
        """The objects in *image*, strongest first, at most ``max_boxes`` after suppression."""
        key = hashlib.sha256(image.tobytes() + repr((image.mode, image.size)).encode()).hexdigest()
        with self._lock:
            found = self._recent.get(key)
        if found is None:
            found = self._detect(image)
            with self._lock:
                self._recent[key] = found
        return list(found)

    def forget(self) -> None:
        """Forget the photos detected recently (an evaluation timing new photos, say)."""
        with self._lock:
            self._recent.clear()

    def _detect(self, image: Image.Image) -> list[Box]:
        # Stretched to the square input, as the network was trained and as the TFJS runtime feeds it;
        # pixel values 0..255 (scaled inputs give no detections at all).
        pixels = np.asarray(image.convert("RGB").resize((self.size, self.size), Image.BILINEAR), np.float32)[None]
        heat, distances = self.session.run(self.outputs, {self.input_name: pixels})
        return suppress(decode(heat[0], distances[0], self.size), self.iou, self.max_boxes, self.min_score)


def decode(heat: np.ndarray, distances: np.ndarray, size: int) -> list[Box]:
    """The strongest peaks of *heat* (``[H, W, classes]``) as boxes, from *distances* (``[H, W, 4]``)."""
    height, width, _ = heat.shape
    # Class-agnostic: each cell's strongest class, then the cells that are 3×3 maxima. Peaks
    # per class (the original decoding) cost nine 80-class comparisons per cell for boxes
    # that suppression across classes would mostly merge anyway.
    labels = heat.argmax(axis=2)
    best = np.take_along_axis(heat, labels[..., None], axis=2)[..., 0]
    padded = np.pad(best, 1, constant_values=-np.inf)
    pooled = np.max([padded[dy : dy + height, dx : dx + width] for dy in range(3) for dx in range(3)], axis=0)
    peaks = np.where(best == pooled, best, 0.0).ravel()
    strongest = np.argpartition(-peaks, CANDIDATES)[:CANDIDATES] if peaks.size > CANDIDATES else np.arange(peaks.size)
    strongest = strongest[np.argsort(-peaks[strongest])]
    boxes = []
    for cell in strongest:
        score = float(peaks[cell])
        if score <= 0:
            break
        y, x = divmod(int(cell), width)
        label = int(labels[y, x])
        left, top, right, bottom = distances[y, x]
        cx, cy = x * STRIDE, y * STRIDE
        box = np.clip([(cx - left) / size, (cy - top) / size, (cx + right) / size, (cy + bottom) / size], 0.0, 1.0)
        boxes.append(Box(*map(float, box), score=score, label=COCO[label] if label < len(COCO) else str(label)))
    return boxes


def suppress(boxes: list[Box], iou: float, limit: int, min_score: float) -> list[Box]:
    """Greedy non-maximum suppression across classes, strongest first, above *min_score*."""
    kept: list[Box] = []
    for box in boxes:
        if box.score < min_score or box.area <= 0:
            continue
        if all(box.iou(other) < iou for other in kept):
            kept.append(box)
            if len(kept) == limit:
                break
    return kept
